/**
 * Connecting like every Temporal tool does, for real: a TLS front before the dev server requires a
 * client certificate (mTLS) or an API key; `npm run worker` and `npm run api` complete a saga through
 * each, configured by environment variables or a temporal.toml profile. Each wrong setting stops
 * both processes at start with a non-zero exit and a message naming it, never quoting a key.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { ConnectionStatus } from '../common/messages.js';
import { ConfigError } from '../lib/config.js';
import { freePort } from '../dev/free-port.js';
import { loadTemporalConnection, warnIgnoredKeys } from '../lib/temporal-connection.js';
import { explainConnectFailure } from '../lib/temporal-connection-check.js';
import { x509Version } from '../lib/temporal-tls-files.js';
import { deadAddress } from './helpers/dead-address.js';
import { diagnoseOutages } from '../api/temporal-diagnosis.js';
import { noteReachable } from '../api/temporal-rpc.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { WEBHOOK_PATH } from '../api/webhook.js';
import { randomWebhookSecret, startEmulator } from './helpers/emulator.js';
import { startApiProcess } from './helpers/worker-process.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { createTestPki, startTlsFront } from './helpers/tls-front.js';

const API_KEY = `tk_${uniqueId('key').replace(/-/g, '')}_very_secret`;
const { address: devAddress, namespace } = await devServer();
const pki = createTestPki();
after(() => pki.remove());
const pem = (path: string) => readFileSync(path);
const server = { cert: pem(pki.serverCert), key: pem(pki.serverKey), ca: pem(pki.caCert) };
const mtlsFront = await startTlsFront({ upstream: devAddress, mode: 'mtls', ...server });
const keyFront = await startTlsFront({ upstream: devAddress, mode: 'api-key', apiKey: API_KEY, ...server });
after(() => Promise.all([mtlsFront.close(), keyFront.close()]));
/** An X.509 v1 server certificate: Node's TLS takes it (CN=localhost), the worker's refuses it. */
const v1Front = await startTlsFront({
  upstream: devAddress,
  mode: 'api-key',
  apiKey: API_KEY,
  cert: pem(pki.serverCertV1),
  key: pem(pki.serverKeyV1),
  ca: server.ca,
});
after(() => v1Front.close());

/** The base64 body of a PEM file: what would show if a key were ever printed. */
function pemBody(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'));
}
const SECRETS = [API_KEY, ...[pki.clientKey, pki.otherClientKey, pki.strayKey].flatMap(pemBody)];

function assertNoSecret(text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), 'a key or the API key was printed');
}

const MTLS_ENV = {
  TEMPORAL_ADDRESS: mtlsFront.address,
  TEMPORAL_NAMESPACE: namespace,
  TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
};

/** A temporal.toml with an API-key profile for the front (CA given as data, server name by override). */
const CONFIG_FILE = join(pki.dir, 'temporal.toml');
writeFileSync(
  CONFIG_FILE,
  [
    '[profile.cloud]',
    `address = "${keyFront.address}"`,
    `namespace = "${namespace}"`,
    `api_key = "${API_KEY}"`,
    '[profile.cloud.tls]',
    `server_ca_cert_data = """\n${readFileSync(pki.caCert, 'utf8')}"""`,
    'server_name = "localhost"',
    '',
  ].join('\n'),
);
const NOT_PEM = join(pki.dir, 'not-pem.txt');
writeFileSync(NOT_PEM, 'certificate: see the wiki\n');
const PROFILE_ENV = { TEMPORAL_CONFIG_FILE: CONFIG_FILE, TEMPORAL_PROFILE: 'cloud' };

interface Started {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/** Runs a process entry point with exactly `env` (plus PATH), as worker-config.test.ts does. */
function start(entry: 'worker/main.ts' | 'api/main.ts', env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => text, exit };
}

const TRAY_ENV = { TRAY_MASTER_TOKEN: 'mt_unused', TRAY_EMBEDDED_ID: 'emb-unused' };

/** Worker and API with `env`: both must stop at start, exit ≠ 0, naming `variable`, quoting no key. */
async function bothRefuse(env: Record<string, string>, variable: string, why: RegExp): Promise<void> {
  const worker = start('worker/main.ts', { ...env, ...TRAY_ENV });
  const api = start('api/main.ts', { ...env, API_PORT: String(await freePort()), API_HOST: '127.0.0.1' });
  for (const [name, proc] of [
    ['worker', worker],
    ['api', api],
  ] as const) {
    const code = await proc.exit;
    const text = proc.output();
    assert.notEqual(code, 0, `${name} exited 0:\n${text}`);
    assert.match(text, new RegExp(`${variable}: `), `${name} does not name ${variable}:\n${text}`);
    assert.match(text, why, `${name} does not say why:\n${text}`);
    assert.doesNotMatch(text, /listening|worker serving/, `${name} started work:\n${text}`);
    assertNoSecret(text);
  }
}

/** `npm run worker` and `npm run api` with `env`; a saga through the API completes via the dialog. */
async function sagaThroughProcesses(env: Record<string, string>): Promise<void> {
  const webhookSecret = randomWebhookSecret();
  const common = { ...env, TEMPORAL_TASK_QUEUE: uniqueId('tls-tq') };
  // First, so the emulator is given the port the API got rather than one it may not get.
  const api = await startApiProcess({ ...common, WEBHOOK_SECRET: webhookSecret });
  const apiUrl = api.url;
  const emu = await startEmulator({ webhookUrl: `${apiUrl}${WEBHOOK_PATH}`, webhookSecret });
  after(() => emu.close());
  const worker = start('worker/main.ts', {
    ...common,
    TRAY_GRAPHQL_URL: emu.graphqlUrl,
    TRAY_AUTH_DIALOG_URL: emu.url,
    TRAY_MASTER_TOKEN: emu.masterToken,
    TRAY_EMBEDDED_ID: emu.embeddedId,
  });
  const alive = (proc: Pick<Started, 'child' | 'output'>, name: string) => {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited:\n${proc.output()}`);
  };
  await pollUntil(
    async () => {
      alive(worker, 'worker');
      return worker.output().includes('worker serving');
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'the worker to serve through the TLS front' },
  );
  await pollUntil(
    async () => {
      alive(api, 'api');
      return (await fetch(`${apiUrl}/readyz`)).status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'the API to reach Temporal through the TLS front' },
  );
  // The document's local server is the port this process listens on, not the default 3000.
  const openApi = (await (await fetch(`${apiUrl}/openapi.json`)).json()) as { servers: { url: string }[] };
  assert.equal(openApi.servers[1]?.url, `http://localhost:${new URL(apiUrl).port}`);

  const created = await fetch(`${apiUrl}/v1/connections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      externalUserId: uniqueId('tls-user'),
      userName: 'Ada',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    }),
  });
  const status = (await created.json()) as ConnectionStatus;
  assert.equal(created.status, 201, JSON.stringify(status));
  const url = new URL(status.authSlots[0]?.url ?? '');
  const dialog = await fetch(`${url.origin}${url.pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code: url.searchParams.get('code') ?? '' }).toString(),
  });
  assert.equal(dialog.status, 200);
  const done = await pollUntil(
    async () => {
      const res = await fetch(`${apiUrl}/v1/connections/${encodeURIComponent(status.connectionId)}`);
      const body = (await res.json()) as ConnectionStatus;
      return body.step === 'completed' || body.step === 'failed' ? body : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'the saga to complete' },
  );
  assert.equal(done.step, 'completed', JSON.stringify(done));

  worker.child.kill('SIGTERM');
  api.child.kill('SIGTERM');
  assert.equal(await worker.exit, 0, worker.output());
  assert.equal(await api.exited, 0, api.output());
  assertNoSecret(worker.output() + api.output());
}

describe('a saga through the TLS front', () => {
  test('mTLS: client certificate, key and CA from TEMPORAL_TLS_*_PATH', async () => {
    const before = mtlsFront.forwarded;
    await sagaThroughProcesses(MTLS_ENV);
    assert.ok(mtlsFront.forwarded > before, 'the calls went through the front');
  });

  test('API key: a temporal.toml profile chosen by TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE', async () => {
    const before = keyFront.forwarded;
    await sagaThroughProcesses(PROFILE_ENV);
    assert.ok(keyFront.forwarded > before, 'the calls went through the front');
  });
});

describe('a wrong setting stops the worker and the API at start', () => {
  test('a client certificate the server does not trust', () =>
    bothRefuse(
      {
        ...MTLS_ENV,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.otherClientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.otherClientKey,
      },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /refused/,
    ));

  test('an X.509 v1 client certificate, which the worker’s TLS refuses and the API’s would send', () =>
    bothRefuse(
      { ...MTLS_ENV, TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCertV1 },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /is an X\.509 v1 certificate .*accepts only X\.509 v3/,
    ));

  test('a server name the certificate does not hold', () =>
    bothRefuse(
      { ...MTLS_ENV, TEMPORAL_TLS_SERVER_NAME: 'elsewhere.example' },
      'TEMPORAL_TLS_SERVER_NAME',
      /is not valid for "elsewhere\.example"/,
    ));

  test('a CA that did not sign the server certificate', () =>
    bothRefuse(
      { ...MTLS_ENV, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert },
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      /does not verify the certificate/,
    ));

  test('an API that finds Temporal unreachable says so once a wrong CA shows up as the cause', async () => {
    const wrongCa = loadTemporalConnection({
      ...MTLS_ENV,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert,
    });
    const connection = Connection.lazy(wrongCa.connectionOptions);
    after(() => connection.close());
    const client = new Client({ connection, namespace });
    noteReachable(client, false);
    const errors: { problems: { variable: string }[] }[] = [];
    const logger = { error: (o: (typeof errors)[number]) => void errors.push(o) } as unknown as Logger;
    const stop = diagnoseOutages(client, wrongCa, logger, 100);
    try {
      await pollUntil(async () => errors.length > 0, { timeoutMs: 30_000, what: 'the diagnosis' });
    } finally {
      stop();
    }
    assert.deepEqual(
      errors[0]?.problems.map((p) => p.variable),
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
    );
    assertNoSecret(JSON.stringify(errors));
  });

  test('TLS turned on by a TEMPORAL_TLS_* variable against a plaintext server', () =>
    bothRefuse(
      { HOME: pki.dir, TEMPORAL_ADDRESS: devAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert },
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      /turns TLS on, but .* does not answer TLS/,
    ));

  test('a key that is not the client certificate’s', () =>
    bothRefuse(
      { ...MTLS_ENV, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.strayKey },
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      /is not the private key of the certificate/,
    ));

  test('no client certificate where mTLS is required', () =>
    bothRefuse(
      {
        TEMPORAL_ADDRESS: mtlsFront.address,
        TEMPORAL_TLS: 'true',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /client certificate/,
    ));

  test('an API key the server refuses (the profile’s key overridden by TEMPORAL_API_KEY)', () =>
    bothRefuse(
      { ...PROFILE_ENV, TEMPORAL_API_KEY: `${API_KEY}_wrong` },
      'TEMPORAL_API_KEY',
      /UNAUTHENTICATED/,
    ));

  test('a namespace the server does not have', () =>
    bothRefuse(
      { ...MTLS_ENV, TEMPORAL_NAMESPACE: uniqueId('no-such-ns') },
      'TEMPORAL_NAMESPACE',
      /not found/,
    ));

  test('an unreadable file and a file that is not PEM', () =>
    bothRefuse(
      {
        ...MTLS_ENV,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(pki.dir, 'missing.pem'),
        TEMPORAL_TLS_CLIENT_CERT_PATH: NOT_PEM,
      },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /is not a PEM certificate[\s\S]*TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .*missing\.pem: no such file/,
    ));
});

describe('loadTemporalConnection', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadTemporalConnection(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assertNoSecret(error.message);
      return error.problems;
    }
    assert.fail('no ConfigError');
  };

  test('defaults: localhost:7233, namespace default, plaintext', () => {
    const config = loadTemporalConnection({});
    assert.equal(config.address, 'localhost:7233');
    assert.equal(config.namespace, 'default');
    assert.deepEqual(config.connectionOptions, { address: 'localhost:7233' });
  });

  test('an API key turns TLS on; TEMPORAL_TLS=false turns it off', () => {
    const on = loadTemporalConnection({ TEMPORAL_ADDRESS: 'x.tmprl.cloud:7233', TEMPORAL_API_KEY: API_KEY });
    assert.equal(on.connectionOptions.tls, true);
    assert.equal(on.connectionOptions.apiKey, API_KEY);
    const off = loadTemporalConnection({ TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' });
    assert.equal(off.connectionOptions.tls, false);
  });

  test('TEMPORAL_TLS=false beside TLS settings is refused, naming both, rather than silently plaintext', () => {
    const problems = problemsOf({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS: 'False',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    assert.deepEqual(
      problems.map((p) => p.variable),
      ['TEMPORAL_TLS'],
    );
    assert.match(problems[0]!.problem, /is false, so TEMPORAL_TLS_SERVER_NAME would be ignored/);
    // Turning TLS off with nothing that needs it stays allowed, as does TLS on with its settings.
    assert.equal(loadTemporalConnection({ TEMPORAL_TLS: 'false' }).connectionOptions.tls, false);
    assert.ok(
      loadTemporalConnection({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_NAME: 'x' }).connectionOptions.tls,
    );
  });

  test('an API key a gRPC header cannot carry is refused at start, naming it but not printing it', () => {
    for (const key of [
      `${API_KEY}\u201d`,
      `${API_KEY.slice(0, 4)}\n${API_KEY.slice(4)}`,
      `caf\u00e9-${API_KEY}`,
    ]) {
      assert.throws(
        () => loadTemporalConnection({ TEMPORAL_ADDRESS: 'x.tmprl.cloud:7233', TEMPORAL_API_KEY: key }),
        (err: unknown) =>
          err instanceof ConfigError &&
          /TEMPORAL_API_KEY.*gRPC header/.test(err.message) &&
          !err.message.includes(API_KEY),
      );
    }
  });

  test('gRPC metadata the API could not send is refused at start, naming it but not printing it', () => {
    const address = { TEMPORAL_ADDRESS: 'x.tmprl.cloud:7233' };
    const accented = `caf\u00e9-${API_KEY}`;
    const [value] = problemsOf({ ...address, TEMPORAL_GRPC_META_X_TENANT: accented });
    assert.equal(value?.variable, 'TEMPORAL_GRPC_META_X_TENANT');
    assert.match(value?.problem ?? '', /gRPC header cannot carry/);
    const [binary] = problemsOf({ ...address, TEMPORAL_GRPC_META_TRACE_BIN: 'abc' });
    assert.equal(binary?.variable, 'TEMPORAL_GRPC_META_TRACE_BIN');
    assert.match(binary?.problem ?? '', /binary header "trace-bin"/);
    const file = join(pki.dir, 'grpc-meta.toml');
    writeFileSync(
      file,
      `[profile.default]\naddress = "x.tmprl.cloud:7233"\n[profile.default.grpc_meta]\n` +
        `"x tenant" = "acme"\nx-other = "${accented}"\n`,
    );
    assert.deepEqual(
      problemsOf({ TEMPORAL_CONFIG_FILE: file }).map((p) => p.variable),
      [
        `grpc_meta.x tenant of profile "default" in ${file}`,
        `grpc_meta.x-other of profile "default" in ${file}`,
      ],
    );
    const sendable = loadTemporalConnection({ ...address, TEMPORAL_GRPC_META_X_TENANT_ID: 'acme 1' });
    assert.deepEqual(sendable.connectionOptions.metadata, { 'x-tenant-id': 'acme 1' });
  });

  test('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true is refused with what to set instead', () => {
    assert.throws(
      () => loadTemporalConnection({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }),
      /TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: .*TEMPORAL_TLS_SERVER_NAME/,
    );
    assert.doesNotThrow(() => loadTemporalConnection({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'false' }));
  });

  test('the environment wins over the profile, and each problem names its origin', () => {
    const config = loadTemporalConnection({ ...PROFILE_ENV, TEMPORAL_NAMESPACE: 'elsewhere' });
    assert.equal(config.address, keyFront.address);
    assert.equal(config.namespace, 'elsewhere');
    assert.equal(config.connectionOptions.apiKey, API_KEY);
    assert.deepEqual(
      problemsOf({ ...PROFILE_ENV, TEMPORAL_PROFILE: 'nope' }).map((p) => p.variable),
      ['TEMPORAL_PROFILE'],
    );
    assert.deepEqual(
      problemsOf({ TEMPORAL_CONFIG_FILE: join(pki.dir, 'none.toml') }).map((p) => p.variable),
      ['TEMPORAL_CONFIG_FILE'],
    );
  });

  test('a broken temporal.toml is named by position, without quoting its lines', () => {
    const broken = join(pki.dir, 'broken.toml');
    writeFileSync(broken, `[profile.default]\napi_key = "${API_KEY}\n`);
    const [problem] = problemsOf({ TEMPORAL_CONFIG_FILE: broken });
    assert.equal(problem?.variable, 'TEMPORAL_CONFIG_FILE');
    assert.match(problem?.problem ?? '', /not valid TOML \(line \d+/);
  });

  test('a misspelt temporal.toml key is named for a warning, without its value', () => {
    const misspelt = join(pki.dir, 'misspelt.toml');
    writeFileSync(misspelt, `[profile.default]\nadress = "far.example:7233"\nnamespace = "ns"\n`);
    const config = loadTemporalConnection({ TEMPORAL_CONFIG_FILE: misspelt });
    assert.equal(config.address, 'localhost:7233', 'the misspelt key is not read');
    assert.match(config.ignoredKeys ?? '', /adress/);
    assert.ok(!config.ignoredKeys?.includes('far.example'));
    const warned: string[] = [];
    warnIgnoredKeys(config, { warn: (_o, m) => void warned.push(m) });
    assert.match(warned.join(), /temporal\.toml: .*adress.*ignored/);
    writeFileSync(misspelt, `[profile.default]\naddress = "far.example:7233"\n`);
    assert.equal(loadTemporalConnection({ TEMPORAL_CONFIG_FILE: misspelt }).ignoredKeys, undefined);
  });

  test('only the selected profile’s misspelt keys are named', () => {
    const file = join(pki.dir, 'profiles.toml');
    writeFileSync(
      file,
      [
        '[profile.typo]',
        'adress = "far.example:7233"',
        `api_key = "${API_KEY}"`,
        '[profile.good]',
        `address = "${mtlsFront.address}"`,
        '[profile.good.tls]',
        `server_ca_cert_path = "${pki.caCert}"`,
        '[profile.other]',
        `address = "${mtlsFront.address}"`,
        'namespce = "elsewhere"',
        '',
      ].join('\n'),
    );
    const env = (profile: string) => ({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: profile });
    assert.equal(loadTemporalConnection(env('good')).ignoredKeys, undefined);
    // The first profile's misspelling does not hide this one's.
    const other = loadTemporalConnection(env('other')).ignoredKeys ?? '';
    assert.match(other, /profile\.other: namespce/);
    assert.doesNotMatch(other, /adress/);
  });

  test('a profile with an API key but no address is refused, naming the missing key', () => {
    const file = join(pki.dir, 'no-address.toml');
    writeFileSync(file, `[profile.typo]\nadress = "far.example:7233"\napi_key = "${API_KEY}"\n`);
    const problems = problemsOf({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'typo' });
    assert.deepEqual(
      problems.map((p) => p.variable),
      [`address of profile "typo" in ${file}`],
    );
    assert.match(problems[0]!.problem, /api_key would go to the default localhost:7233.*adress/);
    writeFileSync(file, `[profile.typo.tls]\nserver_name = "far.example"\n`);
    assert.match(
      problemsOf({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'typo' })[0]!.problem,
      /profile's tls would go to the default/,
    );
    // A tls table that only turns TLS off sends nothing: the default address is fine.
    writeFileSync(file, `[profile.typo.tls]\ndisabled = true\n`);
    assert.equal(
      loadTemporalConnection({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'typo' }).address,
      'localhost:7233',
    );
    // TEMPORAL_ADDRESS gives the address: nothing is missing.
    const config = loadTemporalConnection({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'typo',
      TEMPORAL_ADDRESS: mtlsFront.address,
    });
    assert.equal(config.address, mtlsFront.address);
  });

  test('each origin is the variable that set it, or a key the profile holds', () => {
    const file = join(pki.dir, 'origins.toml');
    writeFileSync(
      file,
      `[profile.p]\naddress = "${mtlsFront.address}"\n[profile.p.tls]\nserver_name = "localhost"\n`,
    );
    const key = (name: string) => `${name} of profile "p" in ${file}`;
    const fromProfile = loadTemporalConnection({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'p' }).origins;
    assert.equal(fromProfile.address, key('address'));
    assert.equal(fromProfile.tls, key('tls.server_name'));
    assert.equal(fromProfile.serverName, key('tls.server_name'));
    assert.equal(fromProfile.namespace, 'TEMPORAL_NAMESPACE', 'the profile has no namespace key');
    assert.equal(fromProfile.serverCa, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    const home = { HOME: pki.dir }; // no .config/temporalio/temporal.toml there
    assert.equal(
      loadTemporalConnection({ ...home, TEMPORAL_API_KEY: API_KEY }).origins.tls,
      'TEMPORAL_API_KEY',
    );
    assert.equal(loadTemporalConnection(home).origins.tls, 'TEMPORAL_TLS');
    for (const origin of Object.values(loadTemporalConnection(home).origins)) {
      assert.doesNotMatch(origin, /temporal\.toml/);
    }
  });

  test('TLS turned on by TEMPORAL_TLS_SERVER_CA_CERT_PATH against a plaintext server names that variable', async () => {
    const config = loadTemporalConnection({
      HOME: pki.dir,
      TEMPORAL_ADDRESS: devAddress,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    });
    assert.equal(config.origins.tls, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    const verdict = await explainConnectFailure(new Error('Failed to connect before the deadline'), config);
    assert.ok(verdict instanceof ConfigError, String(verdict));
    assert.deepEqual(
      verdict.problems.map((p) => p.variable),
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
    );
    assert.match(verdict.message, /turns TLS on, but .* does not answer TLS/);
  });

  test('half a certificate pair, bad flags and both path and data are refused', () => {
    assert.deepEqual(
      problemsOf({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert }).map((p) => p.variable),
      ['TEMPORAL_TLS_CLIENT_KEY_PATH'],
    );
    assert.deepEqual(
      problemsOf({ TEMPORAL_TLS_CLIENT_KEY_DATA: readFileSync(pki.clientKey, 'utf8') }).map(
        (p) => p.variable,
      ),
      ['TEMPORAL_TLS_CLIENT_CERT_PATH'],
    );
    assert.deepEqual(
      problemsOf({ TEMPORAL_TLS: 'yes' }).map((p) => p.variable),
      ['TEMPORAL_TLS'],
    );
    // A bad flag is named with the other settings' problems, not alone.
    assert.deepEqual(
      problemsOf({
        TEMPORAL_TLS: 'yes',
        TEMPORAL_ADDRESS: 'nohost',
        TEMPORAL_TLS_CLIENT_CERT_PATH: join(pki.dir, 'no-such.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
      }).map((p) => p.variable),
      ['TEMPORAL_TLS', 'TEMPORAL_ADDRESS', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
    );
    assert.deepEqual(
      problemsOf({ TEMPORAL_TLS: 'on', TEMPORAL_PROFILE: 'nope', HOME: pki.dir }).map((p) => p.variable),
      ['TEMPORAL_TLS', 'TEMPORAL_PROFILE'],
    );
    assert.deepEqual(
      problemsOf({
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
        TEMPORAL_TLS_SERVER_CA_CERT_DATA: readFileSync(pki.caCert, 'utf8'),
      }).map((p) => p.variable),
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA'],
    );
    assert.deepEqual(
      problemsOf({
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_DATA: 'not a key',
      }).map((p) => p.variable),
      ['TEMPORAL_TLS_CLIENT_KEY_DATA'],
    );
  });
});

describe('the worker’s TLS (rustls) refusing a certificate', () => {
  /** What explainConnectFailure makes of the worker's own connection failing with `config`. */
  async function workerVerdict(config: ReturnType<typeof loadTemporalConnection>) {
    const failure = await NativeConnection.connect(config.connectionOptions).then(
      async (connection) => {
        await connection.close();
        assert.fail('the worker connected');
      },
      (error: unknown) => error,
    );
    return explainConnectFailure(failure, config);
  }

  test('x509Version reads the version of a certificate’s DER', () => {
    const der = (path: string) => new X509Certificate(readFileSync(path)).raw;
    assert.equal(x509Version(der(pki.clientCert)), 3);
    assert.equal(x509Version(der(pki.clientCertV1)), 1);
    assert.equal(x509Version(der(pki.caCert)), 3);
    assert.equal(x509Version(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])), undefined);
  });

  test('an X.509 v1 client certificate from a profile key is named by that key', () => {
    const file = join(pki.dir, 'v1.toml');
    writeFileSync(
      file,
      [
        '[profile.mtls]',
        `address = "${mtlsFront.address}"`,
        '[profile.mtls.tls]',
        `client_cert_path = "${pki.clientCertV1}"`,
        `client_key_path = "${pki.clientKey}"`,
        '',
      ].join('\n'),
    );
    assert.throws(
      () => loadTemporalConnection({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 1 &&
        error.problems[0]!.variable === `tls.client_cert_path of profile "mtls" in ${file}` &&
        /X\.509 v1 .*v3/.test(error.problems[0]!.problem),
    );
  });

  test('its refusal of a v1 client certificate (past the start-up check) stops at once, named', async () => {
    const config = loadTemporalConnection(MTLS_ENV);
    const crt = readFileSync(pki.clientCertV1);
    const tls = {
      ...(config.connectionOptions.tls as object),
      clientCertPair: { crt, key: pem(pki.clientKey) },
    };
    const verdict = await workerVerdict({
      ...config,
      connectionOptions: { ...config.connectionOptions, tls },
    });
    assert.ok(verdict instanceof ConfigError, String(verdict));
    assert.equal(verdict.problems[0]?.variable, 'TEMPORAL_TLS_CLIENT_CERT_PATH');
    assert.match(verdict.message, /not an X\.509 v3 certificate.*UnsupportedCertVersion/);
  });

  test('a v1 server certificate Node accepts but the worker refuses is a setting, not an outage', async () => {
    const config = loadTemporalConnection({
      TEMPORAL_ADDRESS: v1Front.address,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    const verdict = await workerVerdict(config);
    assert.ok(verdict instanceof ConfigError, String(verdict));
    assert.equal(verdict.problems[0]?.variable, 'TEMPORAL_ADDRESS');
    assert.match(verdict.message, /presents a certificate that is not X\.509 v3/);
    assertNoSecret(verdict.message);
  });

  test('each rustls certificate refusal names its setting, whatever the probe finds', async () => {
    const config = loadTemporalConnection({
      TEMPORAL_ADDRESS: await deadAddress(),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    });
    const inHandshake = (refusal: string) =>
      new Error(
        `tonic::transport::Error(Transport, ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(${refusal}) }))`,
      );
    for (const [refusal, variable, why] of [
      ['UnknownIssuer', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', /does not verify the certificate/],
      [
        'NotValidForNameContext { expected: DnsName("temporal.test"), presented: [] }',
        'TEMPORAL_TLS_SERVER_NAME',
        /not valid for "temporal\.test"/,
      ],
      ['ExpiredContext { time: UnixTime(1), not_after: UnixTime(0) }', 'TEMPORAL_ADDRESS', /has expired/],
      ['BadEncoding', 'TEMPORAL_ADDRESS', /refuses \(BadEncoding\)/],
      ['Other(OtherError(UnsupportedCertVersion))', 'TEMPORAL_ADDRESS', /not X\.509 v3/],
    ] as const) {
      const verdict = await explainConnectFailure(inHandshake(refusal), config);
      assert.ok(verdict instanceof ConfigError, `${refusal}: ${String(verdict)}`);
      assert.equal(verdict.problems[0]?.variable, variable, refusal);
      assert.match(verdict.problems[0]?.problem ?? '', why, refusal);
    }
    // rustls' other wording of the same refusal.
    const worded = await explainConnectFailure(
      new Error('transport error: invalid peer certificate: Other(OtherError(UnsupportedCertVersion))'),
      config,
    );
    assert.ok(worded instanceof ConfigError, String(worded));
    assert.match(worded.problems[0]?.problem ?? '', /not X\.509 v3/);
  });
});
