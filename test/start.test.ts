/**
 * `npm start` as a newcomer uses it, against the test run's Temporal server (TEMPORAL_ADDRESS mode,
 * so the test does not need ports 7233/8233): it prints what runs where, a saga started with the
 * printed request completes through the emulator's dialog, and SIGTERM stops every part. Against a
 * secured server (a TLS front wanting an API key) it connects with the same loader as the worker and
 * the API; against its own dev server it drops the shell's TLS and API-key settings.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ConnectionStatus } from '../common/messages.js';
import { freePort } from '../dev/free-port.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { childEnvs, unusedConnectionVariables } from '../scripts/child-env.js';
import { humanizeLine } from '../scripts/output.js';
import { dataDirOf, makeDataDir } from '../scripts/leftovers.js';
import { takenPorts } from '../scripts/readiness.js';
import { ancestorChain, chainBroken } from '../scripts/stopping.js';
import { withFreshPorts } from './helpers/fresh-ports.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { createTestPki, startTlsFront, type TlsFront } from './helpers/tls-front.js';

// npm start's state for this file's runs, not the developer's own .data/.
const DATA_DIR = mkdtempSync(join(tmpdir(), 'start-test-'));
after(() => rmSync(DATA_DIR, { recursive: true, force: true }));

type StartPorts = Record<'api' | 'emulator' | 'metrics', number>;

/** `npm start` with `env` (plus `ports`, else ports of its own); its output so far, its exit. */
async function spawnStart(extra: NodeJS.ProcessEnv, given?: StartPorts) {
  const ports = given ?? {
    api: await freePort(),
    emulator: await freePort(),
    metrics: await freePort(),
  };
  // The shell's secrets stay out; a test's own `extra` may still set them.
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  const secrets = ['TRAY_MASTER_TOKEN', 'TRAY_EMBEDDED_ID', 'API_TOKEN', 'CODEC_API_TOKEN'];
  for (const name of [...secrets, 'WEBHOOK_SECRET', 'PAYLOAD_ENCRYPTION_KEYS']) delete inherited[name];
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    TEMPORAL_TASK_QUEUE: uniqueId('start-tq'),
    API_PORT: String(ports.api),
    TRAY_EMULATOR_PORT: String(ports.emulator),
    METRICS_PORT: String(ports.metrics),
    NO_COLOR: '1',
    CONNECT_SAGA_DATA_DIR: DATA_DIR,
    ...extra,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const state: { exitCode?: number | null } = {};
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  void exited.then((code) => (state.exitCode = code));
  // Its output can still come in after the exit.
  const closed = new Promise((r) => child.once('close', r));
  after(() => {
    if (state.exitCode === undefined) child.kill('SIGKILL');
  });
  const running = async () => {
    const seen = await pollUntil(
      async () =>
        state.exitCode !== undefined ? 'exited' : output.includes('connect-saga is running') && 'running',
      { timeoutMs: 150_000, intervalMs: 200, what: 'npm start to say it is running' },
    );
    if (seen === 'exited') {
      await closed;
      throw new Error(`npm start exited early (${state.exitCode}):\n${output}`);
    }
  };
  return { child, ports, state, exited, running, output: () => output };
}

/**
 * `npm start` with `extra`, once it says it is running. Its ports were free when picked, but a test
 * file in another process can take one before it binds it: then it is started again on new ones.
 */
function startRunning(extra: NodeJS.ProcessEnv) {
  return withFreshPorts(['api', 'emulator', 'metrics'], async (ports) => {
    const start = await spawnStart(extra, ports);
    await start.running();
    return start;
  });
}

test('npm start runs the stack, a saga completes through the dialog, SIGTERM stops it all', async () => {
  const { address, namespace } = await devServer();
  const start = await startRunning({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace });
  const { child, exited, output: text } = start;
  const { api: apiPort, emulator: emulatorPort, metrics: metricsPort } = start.ports;

  try {
    const output = text();
    const api = `http://localhost:${apiPort}`;
    assert.match(output, new RegExp(`API +${api}`));
    assert.match(output, new RegExp(`Tray emulator +http://127\\.0\\.0\\.1:${emulatorPort}`));
    // Which server it runs: a `temporal` on PATH can be older than the pinned CLI's.
    assert.match(output, /Temporal gRPC +127\.0\.0\.1:\d+ \(server \d+\.\d+\.\d+\)/);
    assert.match(output, new RegExp(`curl -s -X POST ${api}/v1/connections`));
    assert.match(output, /^\[worker\] /m, 'worker lines are prefixed');
    assert.match(output, /^\[api\] /m, 'API lines are prefixed');
    // The address npm start binds the API to, not only its port.
    assert.match(output, new RegExp(`^\\[api\\] .*API listening on 127\\.0\\.0\\.1:${apiPort};`, 'm'));
    assert.match(output, new RegExp(`credentials in ${DATA_DIR}/dev-secrets\\.json`));
    const secrets = statSync(join(DATA_DIR, 'dev-secrets.json'));
    assert.equal(secrets.mode & 0o777, 0o600, 'dev secrets are readable by their owner only');

    const externalUserId = uniqueId('start-user');
    const created = await fetch(`${api}/v1/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ externalUserId, userName: 'Ada', solutionId: 'sol-1', authSlots: ['slack'] }),
    });
    const status = (await created.json()) as ConnectionStatus;
    assert.equal(created.status, 201, JSON.stringify(status));
    const url = new URL(status.authSlots[0]?.url ?? '');
    assert.equal(url.origin, `http://127.0.0.1:${emulatorPort}`);

    // What the dialog's Authorize button posts.
    const code = url.searchParams.get('code') ?? '';
    const dialog = await fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code }).toString(),
    });
    assert.equal(dialog.status, 200);
    assert.match(await dialog.text(), /Connected/);

    const done = await pollUntil(
      async () => {
        const response = await fetch(`${api}/v1/connections/${encodeURIComponent(status.connectionId)}`);
        const body = (await response.json()) as ConnectionStatus;
        return body.step === 'completed' || body.step === 'failed' ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the saga to complete' },
    );
    assert.equal(done.step, 'completed', JSON.stringify(done));
    // The access line names the whole path, though a router under /v1/connections answered.
    assert.match(text(), /^\[api\] info +request .*method=POST +path=\/v1\/connections +status=201/m);

    const workerMetrics = `http://localhost:${metricsPort}/metrics`;
    assert.match(output, new RegExp(`Metrics +${api}/metrics \\(API\\), ${workerMetrics} \\(worker\\)`));
    await pollUntil(
      async () =>
        /connect_saga_sagas_finished\{[^}]*outcome="completed"[^}]*\} 1/.test(
          await (await fetch(workerMetrics)).text(),
        ),
      {
        timeoutMs: 30_000,
        what: 'the worker metrics to count the completed saga',
      },
    );
    assert.match(
      await (await fetch(`${api}/metrics`)).text(),
      /connect_saga_http_requests_total\{method="POST",route="\/v1\/connections",status="201"\} 1/,
    );
  } finally {
    if (start.state.exitCode === undefined) child.kill('SIGTERM');
  }

  assert.equal(await exited, 0, text().slice(-3000));
  assert.match(text(), /SIGTERM received, stopping/);
  assert.match(text(), /\[start\] stopped/);
  await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/healthz`), 'the API is gone');
});

test('two port variables with one value: npm start names both and starts nothing', async () => {
  const port = String(await freePort());
  const start = await spawnStart({ TEMPORAL_ADDRESS: '127.0.0.1:1', API_PORT: port, METRICS_PORT: port });
  assert.equal(await start.exited, 1);
  assert.match(start.output(), new RegExp(`API_PORT and METRICS_PORT are both ${port}`));
});

test('a port held on 127.0.0.1 or on [::1] alone counts as taken, since localhost may mean either', async (t) => {
  const hold = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
      after(() => server.close());
    });
  const v4 = await hold('127.0.0.1');
  const v6 = await hold('::1').catch(() => undefined);
  if (v6 === undefined) t.diagnostic('this host has no IPv6 loopback: only 127.0.0.1 checked');
  const free = await freePort();
  const ports: [number, string][] = [
    [v4, 'API_PORT'],
    [free, 'TRAY_EMULATOR_PORT'],
  ];
  if (v6 !== undefined) ports.push([v6, 'METRICS_PORT']);
  const expected = [`${v4} (API_PORT)`, ...(v6 === undefined ? [] : [`${v6} (METRICS_PORT)`])];
  assert.deepEqual(await takenPorts(ports), expected);
});

test('a bad worker or API setting stops npm start before anything starts, named with the others', async () => {
  const start = await spawnStart({
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    TRAY_REGION: 'mars',
    SHUTDOWN_GRACE: 'soon',
    LOG_LEVEL: 'verbose',
    // The API's own rule for its token, and a variable npm start reads itself, in the same message.
    API_TOKEN: 'two words',
    METRICS_PORT: 'nine',
  });
  assert.equal(await start.exited, 1);
  const output = start.output();
  for (const name of ['TRAY_REGION', 'SHUTDOWN_GRACE', 'LOG_LEVEL', 'API_TOKEN', 'METRICS_PORT'])
    assert.match(output, new RegExp(`- ${name}: `));
  assert.doesNotMatch(output, /two words/, 'the token is not printed');
  assert.doesNotMatch(output, /^\[(worker|api|emulator)\]/m, 'no part was started');
});

test('after a kill -9 of npm start, the next npm start stops the parts it left running', async () => {
  const { address, namespace } = await devServer();
  const temporal = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
  const first = await startRunning(temporal);
  first.child.kill('SIGKILL');
  await first.exited;
  const api = `http://127.0.0.1:${first.ports.api}`;
  assert.equal((await fetch(`${api}/healthz`)).status, 200, 'the API outlived npm start');

  // The same ports: the port check would refuse them while the leftovers hold them.
  const second = await spawnStart({
    ...temporal,
    API_PORT: String(first.ports.api),
    TRAY_EMULATOR_PORT: String(first.ports.emulator),
    METRICS_PORT: String(first.ports.metrics),
  });
  try {
    await second.running();
    const output = second.output();
    assert.match(output, /stopped the api \(pid \d+\) that an earlier npm start left running/);
    assert.match(output, /stopped the worker \(pid \d+\) that an earlier npm start left running/);
  } finally {
    if (second.state.exitCode === undefined) second.child.kill('SIGTERM');
  }
  assert.equal(await second.exited, 0, second.output().slice(-3000));
  await assert.rejects(fetch(`${api}/healthz`), 'the API is gone');
});

test('a second npm start on the same state refuses; the first stops cleanly once nobody reads its output', async () => {
  const { address, namespace } = await devServer();
  const temporal = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
  const first = await startRunning(temporal);

  const second = await spawnStart(temporal);
  await pollUntil(async () => second.state.exitCode !== undefined, {
    timeoutMs: 60_000,
    what: 'the second npm start to refuse',
  });
  assert.equal(second.state.exitCode, 1, second.output());
  assert.match(second.output(), new RegExp(`another npm start \\(pid ${first.child.pid}\\) is running`));
  assert.equal((await fetch(`http://127.0.0.1:${first.ports.api}/healthz`)).status, 200, 'the first runs on');

  // `npm start | head`, or a tee that the Ctrl-C ended first: writing "SIGINT received" then fails.
  first.child.stdout.destroy();
  first.child.stderr.destroy();
  first.child.kill('SIGINT');
  assert.equal(await first.exited, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${first.ports.api}/healthz`), 'the API is gone');
});

test('npm start against a server that wants TLS and an API key connects with the loader', async () => {
  const { address: devAddress, namespace } = await devServer();
  const pki = createTestPki();
  const apiKey = `tk_${uniqueId('start').replace(/-/g, '')}_secret`;
  const front = await startTlsFront({
    upstream: devAddress,
    mode: 'api-key',
    apiKey,
    cert: readFileSync(pki.serverCert),
    key: readFileSync(pki.serverKey),
    ca: readFileSync(pki.caCert),
  });
  try {
    await startThroughFront(front, pki.caCert, apiKey, namespace);
  } finally {
    await front.close();
    pki.remove();
  }
});

/** npm start against the API-key front: refused with a wrong key, running with the right one. */
async function startThroughFront(front: TlsFront, caCert: string, apiKey: string, namespace: string) {
  const secured = {
    TEMPORAL_ADDRESS: front.address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: caCert,
  };

  // A wrong key: npm start stops with the variable named, never the key.
  const refused = await spawnStart({ ...secured, TEMPORAL_API_KEY: `${apiKey}_wrong` });
  assert.notEqual(await refused.exited, 0, refused.output());
  assert.match(refused.output(), /TEMPORAL_API_KEY: was refused/);
  assert.ok(!refused.output().includes(apiKey), 'the API key was printed');

  // The right key: the readiness check (this script's own connection), worker and API all get through.
  const start = await startRunning({ ...secured, TEMPORAL_API_KEY: apiKey });
  assert.match(
    start.output(),
    new RegExp(`Temporal server at ${front.address}, namespace ${namespace} \\(TLS \\+ API key\\)`),
  );
  assert.ok(front.forwarded > 0, 'the calls went through the front');
  start.child.kill('SIGTERM');
  assert.equal(await start.exited, 0, start.output().slice(-3000));
  assert.ok(!start.output().includes(apiKey), 'the API key was printed');
}

test('the embedded dev server gets no TLS, API key or profile from the shell; a given server does', () => {
  const shell = {
    PATH: '/usr/bin',
    TEMPORAL_API_KEY: 'tk_cloud',
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/etc/ca.pem',
    TEMPORAL_PROFILE: 'cloud',
    TEMPORAL_CONFIG_FILE: '/etc/temporal.toml',
    TEMPORAL_GRPC_META_X_TENANT: 'a',
  };
  const options = {
    temporalAddress: '127.0.0.1:7233',
    namespace: 'default',
    taskQueue: 'q',
    apiPort: 3000,
    tray: { masterToken: 'mt', embeddedId: 'emb' },
  };
  const embedded = childEnvs({ ...options, embeddedServer: true }, shell);
  for (const env of [embedded.worker, embedded.api]) {
    assert.deepEqual(
      Object.keys(env)
        .filter((k) => k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_TASK_QUEUE_PARTITIONS')
        .sort(),
      ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'TEMPORAL_TLS'],
    );
    assert.equal(env.TEMPORAL_TLS, 'false');
    assert.equal(env.PATH, '/usr/bin');
  }
  const given = childEnvs(options, shell);
  for (const env of [given.worker, given.api]) {
    assert.equal(env.TEMPORAL_API_KEY, 'tk_cloud');
    assert.equal(env.TEMPORAL_PROFILE, 'cloud');
    assert.equal(env.TEMPORAL_TLS, 'true');
  }
  // npm start says which it leaves unused, so a profile meant for Cloud is not dropped silently.
  assert.deepEqual(unusedConnectionVariables({ ...shell, TEMPORAL_TLS_SERVER_NAME: ' ' }), [
    'TEMPORAL_API_KEY',
    'TEMPORAL_CONFIG_FILE',
    'TEMPORAL_GRPC_META_X_TENANT',
    'TEMPORAL_PROFILE',
    'TEMPORAL_TLS',
    'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  ]);
});

test("a blank API_HOST, METRICS_HOST, partitions or codec origins get npm start's own defaults", () => {
  const options = {
    temporalAddress: '127.0.0.1:7233',
    namespace: 'default',
    taskQueue: 'q',
    apiPort: 3000,
    webUiPort: 8300,
    embeddedServer: true,
    tray: { masterToken: 'mt', embeddedId: 'emb' },
  };
  // A value of spaces reads as unset in the worker and the API, whose own defaults are every
  // interface, four partitions and port 8233's origins: npm start's defaults must win instead.
  for (const blank of ['', ' ', '\t']) {
    const { worker, api } = childEnvs(options, {
      API_HOST: blank,
      METRICS_HOST: blank,
      TEMPORAL_TASK_QUEUE_PARTITIONS: blank,
      CODEC_CORS_ORIGIN: blank,
    });
    assert.equal(api.API_HOST, '127.0.0.1');
    assert.equal(worker.METRICS_HOST, '127.0.0.1');
    assert.equal(worker.TEMPORAL_TASK_QUEUE_PARTITIONS, '1');
    assert.equal(api.CODEC_CORS_ORIGIN, 'http://localhost:8300,http://127.0.0.1:8300');
  }
  const given = childEnvs(options, {
    API_HOST: '0.0.0.0',
    METRICS_HOST: '::',
    TEMPORAL_TASK_QUEUE_PARTITIONS: '4',
    CODEC_CORS_ORIGIN: 'http://ui:8080',
  });
  assert.equal(given.api.API_HOST, '0.0.0.0');
  assert.equal(given.worker.METRICS_HOST, '::');
  assert.equal(given.worker.TEMPORAL_TASK_QUEUE_PARTITIONS, '4');
  assert.equal(given.api.CODEC_CORS_ORIGIN, 'http://ui:8080');
  // A server of yours keeps the worker's own default of four partitions.
  const external = childEnvs({ ...options, embeddedServer: false }, {});
  assert.equal(external.worker.TEMPORAL_TASK_QUEUE_PARTITIONS, undefined);
});

test("npm start prints the worker's JSON lines, pino's and the SDK core's, as readable ones", () => {
  assert.equal(
    humanizeLine('{"level":40,"time":1,"pid":2,"hostname":"h","name":"n","msg":"slow","ms":900}'),
    'warn   slow  ms=900',
  );
  assert.equal(
    humanizeLine(
      '{"timestamp":"2026-01-01T00:00:00Z","level":"WARN","fields":{"message":"shutdown_worker rpc errored","attempt":2}}',
    ),
    'warn   shutdown_worker rpc errored  attempt=2',
  );
  assert.equal(humanizeLine('plain text'), 'plain text');
});

test('the launcher chain ends at npm: npm killed stops npm start, npm re-parented (nohup) does not', () => {
  // bash 10 → npm 20 → sh 30 → tsx 40 → (npm start, whose parent is 40).
  const table = new Map<number, number>([
    [10, 1],
    [20, 10],
    [30, 20],
    [40, 30],
  ]);
  const parentOfPid = (pid: number) => table.get(pid);
  const isNpm = (pid: number) => pid === 20;
  const chain = ancestorChain(40, parentOfPid, isNpm);
  assert.deepEqual(chain, [
    [40, 30],
    [30, 20],
  ]);
  assert.equal(chainBroken(chain, parentOfPid), false);
  // The shell npm ran in has gone (nohup npm start &, then exit): npm lives on under init.
  table.delete(10);
  table.set(20, 1);
  assert.equal(chainBroken(chain, parentOfPid), false);
  // kill -9 of npm: its sh is re-parented to init.
  table.delete(20);
  table.set(30, 1);
  assert.equal(chainBroken(chain, parentOfPid), true);
  // No npm above (node --import tsx scripts/start.ts): the parent's own parent, as before.
  const plain = new Map<number, number>([
    [40, 30],
    [30, 20],
    [20, 10],
  ]);
  assert.deepEqual(
    ancestorChain(
      40,
      (pid) => plain.get(pid),
      () => false,
    ),
    [[40, 30]],
  );
});

test('a state folder that is a file stops npm start naming CONNECT_SAGA_DATA_DIR; a new one is owner-only', async () => {
  const file = join(DATA_DIR, 'not-a-folder');
  writeFileSync(file, '');
  assert.throws(
    () => makeDataDir(file),
    /CONNECT_SAGA_DATA_DIR: .*not-a-folder cannot hold npm start's state/,
  );
  const start = await spawnStart({ TEMPORAL_ADDRESS: '127.0.0.1:1', CONNECT_SAGA_DATA_DIR: file });
  assert.equal(await start.exited, 1);
  assert.match(start.output(), /CONNECT_SAGA_DATA_DIR/);
  const fresh = join(DATA_DIR, 'fresh', 'state');
  makeDataDir(fresh);
  assert.equal(statSync(fresh).mode & 0o777, 0o700);
});

// Node's recursive mkdir never returns for a folder whose parent exists but takes no new entries
// (ENOENT from /proc): npm start hung there, printing nothing.
test('a state folder that cannot be made (/proc/x) stops npm start at once, naming CONNECT_SAGA_DATA_DIR', async () => {
  const start = await spawnStart({ TEMPORAL_ADDRESS: '127.0.0.1:1', CONNECT_SAGA_DATA_DIR: '/proc/x' });
  const code = await pollUntil(
    async () => start.state.exitCode !== undefined && { code: start.state.exitCode },
    {
      timeoutMs: 30_000,
      what: 'npm start to exit',
    },
  );
  assert.equal(code.code, 1);
  assert.match(start.output(), /CONNECT_SAGA_DATA_DIR: \/proc\/x cannot hold npm start's state \(ENOENT\)/);
});

test('CONNECT_SAGA_DATA_DIR: blank means .data in the project, spaces around a path are dropped', () => {
  for (const blank of [undefined, '', '  '])
    assert.equal(dataDirOf({ CONNECT_SAGA_DATA_DIR: blank }), join(PROJECT_ROOT, '.data'));
  assert.equal(dataDirOf({ CONNECT_SAGA_DATA_DIR: ' /srv/saga-state ' }), '/srv/saga-state');
  assert.equal(dataDirOf({ CONNECT_SAGA_DATA_DIR: 'other' }), join(PROJECT_ROOT, 'other'));
});
