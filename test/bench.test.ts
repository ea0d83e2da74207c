/**
 * `npm run bench` end to end with two sagas (one new user, one known user): it must finish, and each
 * saga must stay within the Tray request budget (docs/design.md#one-tray-request-per-activity). Timings are the bench's business, not a
 * test's: nothing here asserts a duration.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { NativeConnection } from '@temporalio/worker';
import { BENCH_ENV, readBenchEnv } from '../bench/env.js';
import { startFloorWorker } from '../bench/floor.js';
import { benchServerConnection } from '../bench/harness.js';
import { configOf, type ModeResult } from '../bench/mode-result.js';
import { parseBenchOptions, type BenchOptions } from '../bench/options.js';
import { buildResult } from '../bench/report.js';
import { sampleMemory, type BenchResult, type Observations } from '../bench/result.js';
import { BUNDLE_FILE, imageWorkerBuild, workerBuildKey } from '../bench/worker-build.js';
import type { MeteredRequest } from '../bench/request-meter.js';
import type { ProbeCall } from '../bench/workers-down.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { ConfigError } from '../lib/config.js';
import { WORKER_ENV } from '../worker/config.js';
import { exitOf } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { createTestPki, startTlsFront } from './helpers/tls-front.js';

const server = await devServer();
const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// One CA and server certificate for the tests that reach the server through a TLS front.
const pki = createTestPki();
after(() => pki.remove());
const serverPem = {
  cert: readFileSync(pki.serverCert),
  key: readFileSync(pki.serverKey),
  ca: readFileSync(pki.caCert),
};

function runBench(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('two sagas stay within the 8 (new user) / 7 (known user) Tray request budget', async () => {
  const out = join(dir, 'result.json');
  const { code, stdout, stderr } = await runBench([
    '--sagas',
    '2',
    '--json',
    '--out',
    out,
    '--temporal-address',
    server.address,
    '--timeout',
    '90',
  ]);
  assert.equal(code, 0, `bench exited ${code}:\n${stderr}`);

  const result = JSON.parse(stdout) as BenchResult;
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), result, 'the --out file holds the printed result');
  assert.equal(result.sagas.completed, 2);
  assert.deepEqual(result.problems, []);

  assert.equal(result.requests.new.sagas, 1);
  assert.equal(result.requests.known.sagas, 1);
  assert.ok(result.requests.new.perSaga.max <= 8, `new user: ${result.requests.new.perSaga.max} requests`);
  assert.ok(
    result.requests.known.perSaga.max <= 7,
    `known user: ${result.requests.known.perSaga.max} requests`,
  );
  // Only a new user is created; a known user's saga never tries.
  assert.equal(result.requests.new.byOperation.CreateUser, 1);
  assert.equal(result.requests.known.byOperation.CreateUser, undefined);
  // The worker's count and the emulator's agree, so the per-saga numbers are the wire's truth.
  assert.equal(result.requests.total, result.requests.seenByEmulator);
  assert.equal(result.requests.total, result.requests.new.perSaga.max + result.requests.known.perSaga.max);

  assert.match(stderr, /Tray requests per saga/, 'the table goes to stderr with --json');

  // The workers-down probe ran by default and every call answered as docs/design.md#workers-down-answers says (no timing asserted).
  const down = result.workersDown;
  assert.ok(down, 'the workers-down probe is in the result');
  assert.equal(down.started, 5);
  assert.deepEqual(down.failures, []);
  assert.equal(down.get.all.count, 10);
  assert.deepEqual(down.statusCodes, {
    start: { '201': 5 },
    get: { '200': 5 },
    'get-concurrent': { '200': 5 },
    webhook: { '202': 1 },
  });
  assert.match(stderr, /Workers down \(5\/5 sagas started/);
});

test('--worker image compiles once for the same sources', async () => {
  const { signal } = new AbortController();
  const first = await imageWorkerBuild(signal, () => undefined);
  const lines: string[] = [];
  const second = await imageWorkerBuild(signal, (line) => lines.push(line));
  assert.equal(second, first);
  assert.match(lines.join('\n'), /the worker compiled for these sources is there/);
  assert.doesNotMatch(lines.join('\n'), /compiling/);
  for (const file of [join('worker', 'main.js'), BUNDLE_FILE]) assert.ok(existsSync(join(first, file)), file);
});

test('the build key follows the compiled folders, the compiler settings and the lock file, nothing else', () => {
  const root = mkdtempSync(join(dir, 'key-'));
  const put = (file: string, text: string) => {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  put('tsconfig.build.json', JSON.stringify({ include: ['src'] }));
  put('tsconfig.json', '{}');
  put('package-lock.json', '{"lockfileVersion":3}');
  put('src/a.ts', 'export const a = 1;');
  put('test/a.test.ts', 'one');
  const key = workerBuildKey(root);
  assert.equal(workerBuildKey(root), key);
  put('test/a.test.ts', 'two');
  assert.equal(workerBuildKey(root), key, 'a file outside the compiled folders');
  put('src/a.ts', 'export const a = 2;');
  assert.notEqual(workerBuildKey(root), key, 'a compiled file changed');
  put('src/a.ts', 'export const a = 1;');
  assert.equal(workerBuildKey(root), key);
  put('src/deep/b.ts', '');
  const withB = workerBuildKey(root);
  assert.notEqual(withB, key, 'a compiled file added');
  put('package-lock.json', '{"lockfileVersion":3,"packages":{}}');
  assert.notEqual(workerBuildKey(root), withB, 'a dependency changed');
});

/** Runs an API mode at a tiny size; checks it passed and its JSON has the fields (never a timing). */
async function runMode(mode: string, extra: string[]): Promise<ModeResult> {
  const out = join(dir, `${mode}.json`);
  const { code, stdout, stderr } = await runBench([
    ...['--mode', mode, ...extra, '--json', '--out', out],
    ...['--temporal-address', server.address, '--timeout', '240'],
  ]);
  assert.equal(code, 0, `bench --mode ${mode} exited ${code}:\n${stderr}`);
  // A warm-up saga goes first; the counts below (nothing unattributed, one webhook per slot of the
  // measured sagas) show it stays out of the figures.
  assert.match(stderr, /API: one warm-up saga first \(not counted\)/);
  assert.match(
    stderr,
    /compiling the worker and writing the workflow bundle|the worker compiled for these sources is there/,
  );
  const result = JSON.parse(stdout) as ModeResult;
  assert.equal(result.mode, mode);
  assert.deepEqual(result.problems, []);
  assert.equal(result.product.sagas.completed, result.config.sagas);
  for (const key of ['p10', 'p50', 'p90', 'p99', 'max', 'medianOverMax'] as const) {
    assert.equal(typeof result.product.startToUrlsMs[key], 'number', `startToUrlsMs.${key}`);
  }
  assert.equal(result.product.webhookToCompletedMs.count, result.config.sagas);
  assert.ok(result.product.perSecond.length > 0 && typeof result.product.busiest5s.perSecond === 'number');
  // Counted on the wire, in front of the emulator: every request belongs to a saga and both logs agree.
  assert.equal(result.requests.metered, result.requests.seenByEmulator);
  // Every request carried when its worker sent it, so the rate is the workers' pacing, not the tap's reading.
  assert.equal(result.requests.stamped, result.requests.metered, 'every Tray request carried its send time');
  assert.equal(typeof result.requests.busiest5sOnArrival.perSecond, 'number');
  assert.equal(result.requests.unattributed, 0);
  assert.ok(result.requests.new.max <= 8 && result.requests.known.max <= 7);
  assert.ok(result.memory.samples.length > 0, 'worker RSS was sampled');
  assert.equal(result.config.workerRuntime, 'image', 'the workers ran as the image runs them');
  assert.equal(result.webhookAnswerMs?.count, result.config.sagas * result.config.slots);
  for (const chart of result.charts) assert.match(readFileSync(join(dir, chart), 'utf8'), /^<svg /);
  if (process.platform === 'linux') {
    // Read from /proc over the timed phase: the workers and the bench's process (the API) did work.
    const used = result.cpu?.product.coreSeconds ?? {};
    assert.ok(
      (used.workers ?? 0) > 0 && (used.bench ?? 0) > 0,
      `CPU over the phase: ${JSON.stringify(used)}`,
    );
    assert.equal(used['dev server'], undefined, 'a server of yours is not charged to the run');
    assert.match(stderr, /^CPU \(\d+ CPUs;/m);
  }
  return result;
}

test('--mode burst with --floor: three sagas through the API, the floor beside them, charts written', async () => {
  const result = await runMode('burst', ['--sagas', '3', '--floor']);
  assert.equal(result.config.rateLimitPerSecond, 25);
  assert.equal(result.floor?.sagas.completed, 3);
  assert.equal(typeof result.floor?.ratios.startToUrlsP50, 'number');
  if (process.platform === 'linux')
    assert.ok((result.cpu?.floor?.coreSeconds.bench ?? 0) > 0, 'the floor phase');
  assert.deepEqual(
    result.charts.map((c) => c.replace(/^burst-/, '')),
    ['requests.svg', 'latency.svg', 'rss.svg', ...(process.platform === 'linux' ? ['cpu.svg'] : [])],
  );
  if (process.platform === 'linux') {
    // The machine's busy share each second of both phases, charted with the floor dashed.
    const busy = result.cpu?.product.busyBySecond ?? [];
    assert.ok(busy.length > 0 && busy.every((b) => b.pct >= 0 && b.pct <= 100), JSON.stringify(busy));
    assert.ok((result.cpu?.floor?.busyBySecond ?? []).length > 0, 'the floor phase sampled too');
    const cpuSvg = readFileSync(join(dir, result.charts[3] as string), 'utf8');
    assert.match(cpuSvg, /The machine's CPU/);
    assert.match(cpuSvg, /floor/);
  }
});

test('--mode idle: sagas one at a time', async () => {
  const result = await runMode('idle', ['--sagas', '2']);
  assert.deepEqual(result.config.thinkMs, [0, 0]);
  assert.equal(result.floor, null);
});

test('--mode waiting: sagas left waiting, RSS noted, then all completed', async () => {
  const result = await runMode('waiting', ['--sagas', '3']);
  assert.equal(typeof result.memory.rssAtWaitingMb?.all, 'number');
  assert.equal(result.completion?.sagas, 3);
});

test('--temporal-address is reached with the TEMPORAL_* settings: through a TLS front wanting an API key', async () => {
  const apiKey = `tk_${uniqueId('bench').replace(/-/g, '')}_secret`;
  const front = await startTlsFront({ upstream: server.address, mode: 'api-key', apiKey, ...serverPem });
  try {
    const env = {
      ...process.env,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_NAMESPACE: server.namespace,
    };
    const args = ['--sagas', '2', '--probe-sagas', '0', '--json', '--out', join(dir, 'tls.json')];
    const flags = [...args, '--temporal-address', front.address, '--timeout', '90'];

    const refused = await runBench(flags, { ...env, TEMPORAL_API_KEY: `${apiKey}_wrong` });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /TEMPORAL_API_KEY: was refused/);
    assert.ok(!refused.stderr.includes(apiKey), 'the API key was printed');

    const { code, stdout, stderr } = await runBench(flags, { ...env, TEMPORAL_API_KEY: apiKey });
    assert.equal(code, 0, `bench exited ${code}:\n${stderr}`);
    assert.equal((JSON.parse(stdout) as BenchResult).sagas.completed, 2);
    assert.ok(front.forwarded > 0, 'the bench went through the front');
    assert.ok(!(stdout + stderr).includes(apiKey), 'the API key was printed');
  } finally {
    await front.close();
  }
});

test('an API mode reaches --temporal-address with the TEMPORAL_* settings, its worker processes too (mTLS)', async () => {
  const front = await startTlsFront({ upstream: server.address, mode: 'mtls', ...serverPem });
  try {
    const env = {
      ...process.env,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
      TEMPORAL_NAMESPACE: server.namespace,
    };
    const { code, stdout, stderr } = await runBench(
      [
        ...['--mode', 'idle', '--sagas', '1', '--worker', 'tsx', '--json', '--out', join(dir, 'mtls.json')],
        ...['--temporal-address', front.address, '--timeout', '240'],
      ],
      env,
    );
    assert.equal(code, 0, `bench exited ${code}:\n${stderr}`);
    assert.equal((JSON.parse(stdout) as ModeResult).product.sagas.completed, 1);
    assert.ok(front.forwarded > 0, 'the bench went through the front');
  } finally {
    await front.close();
  }
});

test('the bench reads its server connection with the loader (namespace, API key, TLS)', () => {
  const config = benchServerConnection('temporal.example:7233', {
    TEMPORAL_NAMESPACE: 'bench-ns',
    TEMPORAL_API_KEY: 'tk_bench',
  });
  assert.equal(config.namespace, 'bench-ns');
  assert.deepEqual(config.connectionOptions, {
    address: 'temporal.example:7233',
    tls: true,
    apiKey: 'tk_bench',
  });
  assert.throws(
    () => benchServerConnection('temporal.example:7233', { TEMPORAL_TLS: 'sometimes' }),
    (error) => error instanceof ConfigError && error.problems[0]?.variable === 'TEMPORAL_TLS',
  );
});

test('a run whose output loses its reader (`| head`) stops its workers and exits 141', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/main.ts',
      '--mode',
      'burst',
      '--sagas',
      '2',
      '--temporal-address',
      server.address,
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let seen = '';
  const workerPid = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const started = /worker process\(es\) (\d+) on task queue/.exec(seen);
      if (started) resolve(Number(started[1]));
    });
    void exited.then((code) => reject(new Error(`exited ${code} before its worker started:\n${seen}`)));
  });
  // Hang up, as `head` does once it has its lines: every later write fails with EPIPE.
  child.stdout.destroy();
  child.stderr.destroy();
  // The fault to catch is a hang: each failed write raising another, spinning a core for ever.
  const ended = await exitOf(child, {
    timeoutMs: 60_000,
    what: 'the bench to exit once its output had no reader',
  });
  assert.deepEqual(ended, { code: 141, signal: null });
  assert.throws(() => process.kill(workerPid, 0), { code: 'ESRCH' }, 'its worker process was stopped');
});

test("the floor's worker caches sagas and takes workflow tasks as each product worker does", async () => {
  const env = readBenchEnv({ WORKER_MAX_CACHED_WORKFLOWS: '7', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '3' });
  const connection = await NativeConnection.connect({ address: server.address });
  const floor = await startFloorWorker({
    connection,
    namespace: server.namespace,
    rateLimitPerSecond: 25,
    ...env,
  });
  try {
    // As the SDK compiled them, not as passed: the floor is the product's worker less the work.
    assert.deepEqual(floor.capacity, { maxCachedWorkflows: 7, workflowTaskSlots: 3 });
  } finally {
    await floor.close();
    await connection.close();
  }
  const options = parseBenchOptions(['--mode', 'burst', '--sagas', '3']) as BenchOptions;
  const config = configOf(options, [2000, 8000], true, env);
  assert.equal(config.cachedSagas, 7);
  assert.equal(config.workflowTasks, 3);
});

test('a bad flag exits 2 with the usage text and starts nothing', async () => {
  const { code, stderr } = await runBench(['--sagas', 'many']);
  assert.equal(code, 2);
  assert.match(stderr, /--sagas must be a whole number/);
  assert.match(stderr, /Usage: npm run bench/);
  // Named as the flag it was given as, not as the TEMPORAL_ADDRESS the bench makes of it.
  const address = await runBench(['--temporal-address', 'localhost']);
  assert.equal(address.code, 2, address.stderr);
  assert.match(address.stderr, /--temporal-address must be host:port, e.g. localhost:7233, got "localhost"/);
  assert.doesNotMatch(address.stderr, /TEMPORAL_ADDRESS/);
  for (const ok of ['127.0.0.1:7233', '[::1]:7233', 'temporal.example.com:443'])
    assert.equal((parseBenchOptions(['--temporal-address', ok]) as BenchOptions).temporalAddress, ok);
});

test('bad worker variables (partitions, cache, workflow tasks) exit 2 naming each, starting nothing', async () => {
  const { code, stderr } = await runBench(['--sagas', '1', '--probe-sagas', '0'], {
    ...process.env,
    TEMPORAL_TASK_QUEUE_PARTITIONS: 'abc',
    WORKER_MAX_CACHED_WORKFLOWS: '1.5',
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1',
  });
  assert.equal(code, 2, stderr);
  assert.match(stderr, /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: must be a whole number ≥ 2/);
  assert.match(stderr, /TEMPORAL_TASK_QUEUE_PARTITIONS: must be a whole number/);
  assert.match(stderr, /WORKER_MAX_CACHED_WORKFLOWS: must be a whole number/);
  assert.doesNotMatch(stderr, /dev server/);
  // Blank reads as unset, as in the worker: the bench's own dev server's one partition.
  assert.deepEqual(readBenchEnv({ TEMPORAL_TASK_QUEUE_PARTITIONS: ' ', WORKER_MAX_CACHED_WORKFLOWS: '' }), {
    taskQueuePartitions: 1,
    maxCachedWorkflows: 200,
    maxWorkflowTasks: 8,
  });
  assert.equal(readBenchEnv({ TEMPORAL_TASK_QUEUE_PARTITIONS: '4' }).taskQueuePartitions, 4);
  // The worker's rule itself, so the bench cannot take a value its workers would refuse.
  assert.equal(BENCH_ENV.WORKER_MAX_CACHED_WORKFLOWS, WORKER_ENV.WORKER_MAX_CACHED_WORKFLOWS);
  assert.equal(
    BENCH_ENV.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    WORKER_ENV.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
  );
});

test('mode flags: defaults per mode, --rate-limit 0 lifts the limit, a flag the mode does not use is refused', () => {
  const burst = parseBenchOptions(['--mode', 'burst']) as BenchOptions;
  assert.equal(burst.sagas, 100);
  assert.equal(burst.workers, 1);
  assert.equal(burst.workerRuntime, 'image', 'worker processes run as the image runs them by default');
  assert.equal(
    (parseBenchOptions(['--mode', 'idle', '--worker', 'tsx']) as BenchOptions).workerRuntime,
    'tsx',
  );
  assert.throws(
    () => parseBenchOptions(['--mode', 'idle', '--worker', 'docker']),
    /--worker must be one of image, tsx/,
  );
  assert.throws(() => parseBenchOptions(['--worker', 'tsx']), /need --mode burst, idle or waiting/);
  assert.equal((parseBenchOptions(['--mode', 'waiting']) as BenchOptions).sagas, 1000);
  assert.equal((parseBenchOptions(['--mode', 'idle', '--rate-limit', '0']) as BenchOptions).noLimit, true);
  assert.throws(() => parseBenchOptions(['--mode', 'fast']), /--mode must be one of/);
  assert.throws(() => parseBenchOptions(['--floor']), /need --mode burst, idle or waiting/);
  assert.throws(() => parseBenchOptions(['--rate-limit', '0']), /--rate-limit must be a positive number/);
  // A flag the mode has no use for is refused, each named, rather than ignored.
  assert.throws(
    () =>
      parseBenchOptions([
        '--mode',
        'waiting',
        '--floor',
        '--concurrency',
        '5',
        '--probe-sagas',
        '0',
        '--seed',
        '2',
      ]),
    (error: Error) =>
      /--concurrency and --probe-sagas apply to --mode sagas only/.test(error.message) &&
      /--seed applies to --mode burst only/.test(error.message) &&
      /--floor has no phase in --mode waiting/.test(error.message),
  );
  assert.throws(() => parseBenchOptions(['--seed', '3']), /--seed applies to --mode burst only/);
  assert.equal((parseBenchOptions(['--mode', 'burst', '--seed', '3', '--floor']) as BenchOptions).seed, 3);
  assert.equal((parseBenchOptions(['--mode', 'idle', '--floor']) as BenchOptions).floor, true);
  assert.equal(
    (parseBenchOptions(['--concurrency', '5', '--probe-sagas', '0']) as BenchOptions).concurrency,
    5,
  );
});

test('a saga one request over budget fails the result (exit 1), naming the saga kind', () => {
  const options = parseBenchOptions(['--sagas', '2']) as BenchOptions;
  const request = (workflowId: string, operation: string, at: number): MeteredRequest => ({
    at,
    workflowId,
    activity: `a#${at}/1`,
    fields: [],
    operation,
    ok: true,
  });
  const newOps = ['FindUser', 'CreateUser', 'AuthorizeUser', 'CreateInstance', 'IssueAuthorizationCodes'];
  const tail = ['ListAuthentications', 'AttachAuths', 'EnableInstance'];
  // The new user's saga sends one FindUser too many: 9 requests.
  const metered = [
    ...[...newOps, 'FindUser', ...tail].map((op, i) => request('w-new', op, 1000 + i)),
    ...['FindUser', 'AuthorizeUser', 'CreateInstance', 'IssueAuthorizationCodes', ...tail].map((op, i) =>
      request('w-known', op, 2000 + i),
    ),
  ];
  const memory = sampleMemory();
  const result = buildResult({
    options,
    ownDevServer: true,
    startedAt: 0,
    finishedAt: 10_000,
    outcomes: [
      { workflowId: 'w-new', kind: 'new', startedAt: 0, authUrlsAt: 500, completedAt: 3000 },
      { workflowId: 'w-known', kind: 'known', startedAt: 0, authUrlsAt: 500, completedAt: 3000 },
    ],
    metered,
    emulatorRequests: metered.map((r) => ({
      at: r.at,
      operations: [],
      tokenKind: 'master',
      ok: true,
      status: 200,
    })),
    memoryBefore: memory,
    memoryAfter: memory,
    peakRssMb: memory.rssMb,
    loadBefore: 0,
    loadAfter: 0,
  });
  assert.equal(result.requests.new.perSaga.max, 9);
  assert.equal(result.requests.new.withinBudget, false);
  assert.equal(result.requests.known.withinBudget, true);
  assert.deepEqual(result.problems, ['a new-user saga spent 9 Tray requests; the budget is 8']);
});

test('workers down: a slow GET is a warning, a GET that does not answer 200 fails the run', () => {
  const options = parseBenchOptions(['--sagas', '1']) as BenchOptions;
  const memory = sampleMemory();
  const base: Observations = {
    options,
    ownDevServer: true,
    startedAt: 0,
    finishedAt: 10_000,
    outcomes: [{ workflowId: 'w-new', kind: 'new', startedAt: 0, completedAt: 3000 }],
    metered: [],
    emulatorRequests: [],
    memoryBefore: memory,
    memoryAfter: memory,
    peakRssMb: memory.rssMb,
    loadBefore: 0,
    loadAfter: 0,
  };
  const call = (kind: ProbeCall['kind'], ms: number, status: number, error?: string): ProbeCall => ({
    kind,
    connectionId: 'connect:u:s',
    ms,
    status,
    ...(kind === 'webhook' ? {} : { step: 'ensuring_user' }),
    ...(error ? { error } : {}),
  });
  const probe = (calls: ProbeCall[]) =>
    buildResult({ ...base, workersDown: { sagas: 1, taskQueue: 'q', calls } });

  const slow = probe([call('start', 40, 201), call('get', 3500, 200), call('get-concurrent', 2000, 200)]);
  assert.deepEqual(slow.problems, []);
  assert.equal(slow.workersDown?.withinTarget, false);
  assert.equal(slow.workersDown?.get.all.max, 3500);
  assert.equal(slow.warnings.length, 1);
  assert.match(slow.warnings[0] ?? '', /took up to 3500 ms .* above the 3000 ms target/);

  const broken = probe([
    call('start', 40, 201),
    call('get', 100, 503, 'answered 503, expected 200'),
    call('webhook', 20, 202),
  ]);
  assert.equal(broken.workersDown?.withinTarget, true);
  assert.deepEqual(broken.warnings, []);
  assert.equal(broken.problems.length, 1);
  assert.match(broken.problems[0] ?? '', /1 workers-down call\(s\) did not answer as expected \(first: get /);

  const skipped = buildResult(base);
  assert.equal(skipped.workersDown, null);
  assert.deepEqual(skipped.problems, []);
});
