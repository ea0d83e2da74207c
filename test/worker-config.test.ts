/**
 * The worker's configuration and process life: a bad environment is refused with one message naming
 * every bad variable (and no secret), exit code 1; `npm run worker` waits for Temporal, serves, and
 * stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { REGION_ENDPOINTS } from '../activities/tray-client.js';
import { authCompletedSignal, connectionIdFor, statusQuery, WORKFLOW_TYPE } from '../common/messages.js';
import { ConfigError } from '../lib/config.js';
import { describeWorkerConfig, loadWorkerConfig } from '../worker/config.js';
import { drainOptions } from '../worker/shutdown.js';
import { workflowTaskSlots } from '../worker/create-worker.js';
import { runtimeOptions } from '../worker/telemetry.js';
import {
  RATE_WINDOW_SECONDS,
  TASK_QUEUE_PARTITIONS,
  BURST_SLACK,
  taskQueueActivitiesPerSecond,
} from '../worker/rate-limit.js';
import { startEmulator } from './helpers/emulator.js';
import { forward } from './helpers/tls-front.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'mt_super_secret_value_123';

describe('loadWorkerConfig', () => {
  test('defaults and region endpoints', () => {
    const config = loadWorkerConfig({
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
      TRAY_REGION: 'eu',
    });
    assert.deepEqual(config, {
      temporalAddress: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'connect-integration',
      region: 'eu',
      graphqlUrl: REGION_ENDPOINTS.eu.graphqlUrl,
      dialogBaseUrl: REGION_ENDPOINTS.eu.dialogBaseUrl,
      masterToken: SECRET,
      embeddedId: 'emb-1',
      rateLimitPerSecond: 25,
      shutdownGraceMs: 30_000,
      metricsHost: '0.0.0.0',
      maxCachedWorkflows: 200,
      maxWorkflowTasks: 8,
      taskQueuePartitions: 4,
    });
  });

  test('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: 2 or more, and the worker never holds more than its cache', () => {
    const base = { TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' };
    assert.equal(
      loadWorkerConfig({ ...base, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '16' }).maxWorkflowTasks,
      16,
    );
    for (const value of ['1', '0', '2.5', 'eight', '-4']) {
      assert.throws(
        () => loadWorkerConfig({ ...base, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: value }),
        /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: must be a whole number ≥ 2/,
        value,
      );
    }
    // What the SDK would correct with a warning, given already corrected.
    assert.deepEqual(workflowTaskSlots(8, 200), { maxConcurrentWorkflowTaskExecutions: 8 });
    assert.deepEqual(workflowTaskSlots(8, 5), { maxConcurrentWorkflowTaskExecutions: 5 });
    assert.deepEqual(workflowTaskSlots(2, 2), { maxConcurrentWorkflowTaskExecutions: 2 });
    assert.deepEqual(workflowTaskSlots(8, 1), {});
  });

  test('SHUTDOWN_GRACE, METRICS_PORT and the OTLP endpoint are read and checked', () => {
    const base = { TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' };
    const config = loadWorkerConfig({
      ...base,
      SHUTDOWN_GRACE: '2m',
      METRICS_PORT: '9464',
      METRICS_HOST: '127.0.0.1',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    assert.equal(config.shutdownGraceMs, 120_000);
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.metricsHost, '127.0.0.1');
    assert.equal(config.otlpEndpoint, 'http://collector:4318');
    assert.deepEqual(drainOptions(config.shutdownGraceMs), {
      shutdownGraceTime: 120_000,
      shutdownForceTime: 135_000,
    });
    for (const [name, value] of [
      ['SHUTDOWN_GRACE', '30'],
      ['SHUTDOWN_GRACE', '0s'],
      ['SHUTDOWN_GRACE', '2h'],
      ['METRICS_PORT', '99999'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ] as const) {
      assert.throws(
        () => loadWorkerConfig({ ...base, [name]: value }),
        (error: unknown) =>
          error instanceof ConfigError && error.problems.length === 1 && error.problems[0]?.variable === name,
        `${name}=${value}`,
      );
    }
    // 0s has the form of a duration: what is wrong is its size, and the message says so.
    assert.throws(
      () => loadWorkerConfig({ ...base, SHUTDOWN_GRACE: '0s' }),
      /SHUTDOWN_GRACE: must be at least 1s \(got "0s"\)/,
    );
  });

  test('overrides win over the region', () => {
    const config = loadWorkerConfig({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TASK_QUEUE: 'q',
      TRAY_GRAPHQL_URL: 'http://127.0.0.1:4000/graphql',
      TRAY_AUTH_DIALOG_URL: 'https://connect.partner.example/',
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
      TRAY_RATE_LIMIT_PER_SECOND: '12.5',
      WORKER_MAX_CACHED_WORKFLOWS: '50',
      TEMPORAL_TASK_QUEUE_PARTITIONS: '1',
    });
    assert.equal(config.maxCachedWorkflows, 50);
    assert.equal(config.taskQueuePartitions, 1);
    assert.equal(config.temporalAddress, 'temporal:7233');
    assert.equal(config.namespace, 'prod');
    assert.equal(config.taskQueue, 'q');
    assert.equal(config.region, 'us');
    assert.equal(config.graphqlUrl, 'http://127.0.0.1:4000/graphql');
    assert.equal(config.dialogBaseUrl, 'https://connect.partner.example');
    assert.equal(config.rateLimitPerSecond, 12.5);
  });

  test('TRAY_REGION in any letter case and padded picks the same region; another word is refused', () => {
    for (const written of ['EU', ' Eu ', 'eu']) {
      const config = loadWorkerConfig({
        TRAY_MASTER_TOKEN: SECRET,
        TRAY_EMBEDDED_ID: 'e',
        TRAY_REGION: written,
      });
      assert.equal(config.region, 'eu', written);
      assert.equal(config.graphqlUrl, REGION_ENDPOINTS.eu.graphqlUrl, written);
    }
    assert.throws(
      () => loadWorkerConfig({ TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'e', TRAY_REGION: 'europe' }),
      /TRAY_REGION: must be one of us, eu, apac \(any letter case\) \(got "europe"\)/,
    );
  });

  test('a bad environment names every bad variable and never the secret', () => {
    const env = {
      TEMPORAL_ADDRESS: 'no-port',
      TRAY_REGION: 'mars',
      TRAY_GRAPHQL_URL: 'not a url',
      TRAY_AUTH_DIALOG_URL: 'ftp://files.example',
      TRAY_EMBEDDED_ID: '   ',
      TRAY_RATE_LIMIT_PER_SECOND: '-3',
      WORKER_MAX_CACHED_WORKFLOWS: '0',
      TEMPORAL_TASK_QUEUE_PARTITIONS: '1.5',
      LOG_LEVEL: 'verbose',
    };
    assert.throws(
      () => loadWorkerConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((p) => p.variable).sort(), [
          'LOG_LEVEL',
          'TEMPORAL_ADDRESS',
          'TEMPORAL_TASK_QUEUE_PARTITIONS',
          'TRAY_AUTH_DIALOG_URL',
          'TRAY_EMBEDDED_ID',
          'TRAY_GRAPHQL_URL',
          'TRAY_MASTER_TOKEN',
          'TRAY_RATE_LIMIT_PER_SECOND',
          'TRAY_REGION',
          'WORKER_MAX_CACHED_WORKFLOWS',
        ]);
        return true;
      },
    );
  });

  test('a WORKFLOW_BUNDLE_PATH that names no file is named with the rest, before any connection', () => {
    const base = { TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' };
    assert.throws(
      () => loadWorkerConfig({ ...base, TRAY_REGION: 'mars', WORKFLOW_BUNDLE_PATH: '/no/such/bundle.js' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.map((p) => p.variable).join() === 'TRAY_REGION,WORKFLOW_BUNDLE_PATH',
    );
    assert.throws(
      () => loadWorkerConfig({ ...base, WORKFLOW_BUNDLE_PATH: ROOT }),
      (error: unknown) =>
        error instanceof ConfigError && /WORKFLOW_BUNDLE_PATH: names no file/.test(error.message),
      'a folder is no bundle',
    );
    // The worker's own main.js instead of the bundle: the SDK would refuse it later with a stack trace.
    assert.throws(
      () => loadWorkerConfig({ ...base, WORKFLOW_BUNDLE_PATH: join(ROOT, 'package.json') }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /WORKFLOW_BUNDLE_PATH: is no workflow bundle.*package\.json/.test(error.message),
      'a file that is no bundle',
    );
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    try {
      const bundle = join(dir, 'workflow-bundle.js');
      writeFileSync(bundle, 'var x = 1;\n//# sourceMappingURL=data:application/json;base64,e30=\n');
      assert.equal(loadWorkerConfig({ ...base, WORKFLOW_BUNDLE_PATH: bundle }).maxCachedWorkflows, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a master token no Authorization header can carry is refused at start, never echoed', () => {
    // Smart quotes and line breaks from copy-paste, a space in the middle, a non-breaking space.
    for (const token of ['\u201cmt_abc\u201d', 'mt_abc\nmt_def', 'mt abc', 'mt_\u00a0abc']) {
      assert.throws(
        () => loadWorkerConfig({ TRAY_MASTER_TOKEN: token, TRAY_EMBEDDED_ID: 'emb-1' }),
        (error: unknown) =>
          error instanceof ConfigError &&
          /TRAY_MASTER_TOKEN: must be printable ASCII without spaces/.test(error.message) &&
          !error.message.includes('mt_abc') &&
          !error.message.includes('abc'),
        JSON.stringify(token),
      );
    }
    // Whitespace around it is trimmed, as for every variable.
    assert.equal(
      loadWorkerConfig({ TRAY_MASTER_TOKEN: ` ${SECRET}\r\n`, TRAY_EMBEDDED_ID: 'e' }).masterToken,
      SECRET,
    );
  });

  test("HEALTH_PORT on METRICS_PORT's port is named at start, with the other problems", () => {
    const base = { TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1', METRICS_PORT: '9464' };
    assert.throws(
      () => loadWorkerConfig({ ...base, HEALTH_PORT: ' 9464' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 1 &&
        /HEALTH_PORT: is METRICS_PORT's port too \(9464\)/.test(error.message),
    );
    assert.throws(
      () => loadWorkerConfig({ ...base, HEALTH_PORT: '9464', TRAY_REGION: 'mars' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.map((p) => p.variable).join() === 'TRAY_REGION,HEALTH_PORT',
    );
    assert.equal(loadWorkerConfig({ ...base, HEALTH_PORT: '8080' }).healthPort, 8080);
    // Written differently, the same port is still one port, shown as the number it is.
    assert.throws(
      () => loadWorkerConfig({ ...base, METRICS_PORT: '09464 ', HEALTH_PORT: '009464' }),
      /HEALTH_PORT: is METRICS_PORT's port too \(9464\)/,
    );
    // A METRICS_PORT that is no port is named for that, not as a port HEALTH_PORT shares.
    for (const metrics of ['0x24F8', '9464.0', '+9464']) {
      assert.throws(
        () => loadWorkerConfig({ ...base, METRICS_PORT: metrics, HEALTH_PORT: '9464' }),
        (error: unknown) =>
          error instanceof ConfigError && error.problems.map((p) => p.variable).join() === 'METRICS_PORT',
        metrics,
      );
    }
  });

  test('numbers are written in decimal: no hex, exponent or Infinity', () => {
    const base = { TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' };
    for (const raw of ['0x10', '1e3', 'Infinity', '1_000']) {
      for (const name of ['TRAY_RATE_LIMIT_PER_SECOND', 'WORKER_MAX_CACHED_WORKFLOWS']) {
        assert.throws(
          () => loadWorkerConfig({ ...base, [name]: raw }),
          (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.variable === name),
          `${name}=${raw}`,
        );
      }
    }
    const spaced = loadWorkerConfig({
      ...base,
      TRAY_RATE_LIMIT_PER_SECOND: ' 5 ',
      WORKER_MAX_CACHED_WORKFLOWS: '40',
    });
    assert.equal(spaced.rateLimitPerSecond, 5);
    assert.equal(spaced.maxCachedWorkflows, 40);
    assert.equal(loadWorkerConfig({ ...base, TRAY_RATE_LIMIT_PER_SECOND: '.5' }).rateLimitPerSecond, 0.5);
  });
});

/** Runs `npm run worker`'s entry point with exactly `env` (plus PATH), collecting its output. */
function startWorker(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => text };
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('describeWorkerConfig', () => {
  test('shows the encryption key ids, never the keys, in the start-up line', () => {
    const key = randomBytes(32).toString('base64');
    const config = loadWorkerConfig({
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
      PAYLOAD_ENCRYPTION_KEYS: `k2026b:${key},k2026a:${randomBytes(32).toString('base64')}`,
      LOG_LEVEL: 'INFO',
    });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    logger.info(describeWorkerConfig(config), 'worker serving');
    const logged = JSON.parse(lines[0]!) as { payloadKeys?: unknown };
    assert.deepEqual(logged.payloadKeys, { keyIds: ['k2026b', 'k2026a'], primaryKeyId: 'k2026b' });
    assert.ok(!lines[0]!.includes(key) && !lines[0]!.includes(SECRET));
  });

  test('says encryption is off when PAYLOAD_ENCRYPTION_KEYS is unset', () => {
    const config = loadWorkerConfig({ TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' });
    const described = describeWorkerConfig(config);
    assert.match(String(described.payloadKeys), /^off \(PAYLOAD_ENCRYPTION_KEYS unset/);
    assert.ok(!JSON.stringify(described).includes(SECRET));
  });
});

describe('taskQueueActivitiesPerSecond', () => {
  /**
   * The most activities Temporal can dispatch in one window: the task-queue rate over the window
   * plus every partition's full bucket (burst ceil(rate / partitions), at least 1).
   */
  function worstWindow(rate: number, partitions: number): number {
    const burst = Math.max(1, Math.ceil(rate / partitions));
    return rate * RATE_WINDOW_SECONDS + partitions * burst;
  }

  test('keeps the worst 5 s window, bursts included, at or under the Tray limit', () => {
    for (const limit of [1, 2.5, 5, 10, 12.5, 25, 30, 100, 1000]) {
      for (const configured of [1, 2, TASK_QUEUE_PARTITIONS]) {
        const rate = taskQueueActivitiesPerSecond(limit, configured);
        assert.ok(rate > 0 && rate < limit, `limit ${limit}: rate ${rate}`);
        // A server with fewer partitions than configured only bursts less.
        for (let partitions = 1; partitions <= configured; partitions++) {
          // The measured slack is a second's extra dispatch at Tray-sized rates; at 1-5/s it cannot fit.
          const worst = worstWindow(rate, partitions) + (limit >= 10 ? BURST_SLACK : 0);
          assert.ok(
            worst <= limit * RATE_WINDOW_SECONDS,
            `limit ${limit}, ${partitions} of ${configured} partition(s): up to ${worst} activities in ${RATE_WINDOW_SECONDS} s`,
          );
        }
      }
    }
  });

  test('one partition: 19.2 activities/s for 25, the busiest 5 s with the slack at 99.9% of the budget', () => {
    const rate = taskQueueActivitiesPerSecond(25, 1);
    assert.ok(Math.abs(rate - 115 / 6) < 1e-9);
    assert.ok((worstWindow(rate, 1) + BURST_SLACK) / RATE_WINDOW_SECONDS >= 0.99 * 25);
    assert.throws(() => taskQueueActivitiesPerSecond(25, 0), RangeError);
  });

  test('the default 25/s becomes 18.7 activities/s; passing 25 through would allow 30/s', () => {
    assert.ok(Math.abs(taskQueueActivitiesPerSecond(25) - 112 / 6) < 1e-9);
    assert.ok(worstWindow(25, 1) / RATE_WINDOW_SECONDS >= 30, 'the limit itself as the rate overshoots');
  });

  test('stays positive under 1 request/s and refuses a non-positive limit', () => {
    assert.ok(taskQueueActivitiesPerSecond(0.5) > 0);
    assert.throws(() => taskQueueActivitiesPerSecond(0), RangeError);
    assert.throws(() => taskQueueActivitiesPerSecond(Number.NaN), RangeError);
  });
});

describe('npm run worker', () => {
  test('exits 1 at once naming each bad variable, without printing the secret', async () => {
    const { child, output } = startWorker({
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_REGION: 'mars',
      TRAY_RATE_LIMIT_PER_SECOND: 'fast',
    });
    assert.equal(await exitCode(child), 1);
    const text = output();
    for (const name of ['TRAY_REGION', 'TRAY_RATE_LIMIT_PER_SECOND', 'TRAY_EMBEDDED_ID']) {
      assert.match(text, new RegExp(name));
    }
    assert.doesNotMatch(text, /TRAY_MASTER_TOKEN/);
    assert.ok(!text.includes(SECRET));
  });

  /** The output of a worker whose `variable` names a port another process holds, once it exited 1. */
  async function workerOnTakenPort(variable: 'METRICS_PORT' | 'HEALTH_PORT') {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    after(() => taken.close());
    const { port } = taken.address() as AddressInfo;
    const { child, output } = startWorker({
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
      [variable]: String(port),
      METRICS_HOST: '127.0.0.1',
    });
    assert.equal(await exitCode(child), 1);
    return { port, text: output() };
  }

  test('a METRICS_PORT another process holds stops it with a message naming the port, no stack', async () => {
    const { port, text } = await workerOnTakenPort('METRICS_PORT');
    assert.match(
      text,
      new RegExp(`metrics on 127\\.0\\.0\\.1:${port}: METRICS_HOST, METRICS_PORT\\).*Address already in use`),
    );
    assert.doesNotMatch(text, /^\s+at /m, 'no stack trace');
  });

  test('a HEALTH_PORT another process holds stops it with a message naming HEALTH_PORT, no stack', async () => {
    const { port, text } = await workerOnTakenPort('HEALTH_PORT');
    assert.match(text, new RegExp(`HEALTH_PORT: port ${port} is already in use`));
    assert.doesNotMatch(text, /"stack"|^\s+at /m, 'no stack trace');
    assert.ok(!text.includes(SECRET));
  });

  /** A worker whose Temporal refuses connections, once it has said it keeps trying. */
  async function unreachableWorker() {
    const run = startWorker({
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
    });
    await pollUntil(async () => run.output().includes('Temporal not reachable yet'), {
      timeoutMs: 30_000,
      what: 'the worker to report the unreachable server',
    });
    return run;
  }

  test('a Temporal that takes the connection but never answers TLS is an attempt given up, said, not a silent hang', async () => {
    // As a load balancer with nothing behind it, or a firewall that swallows the handshake, behaves.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const run = startWorker({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
    });
    try {
      await pollUntil(async () => run.output().includes('Temporal not reachable yet'), {
        timeoutMs: 40_000,
        what: 'the worker to give up its first attempt and say so',
      });
      assert.match(run.output(), /no answer within \d+ ms/);
      run.child.kill('SIGTERM');
      assert.equal(await exitCode(run.child), 0);
    } finally {
      run.child.kill('SIGKILL');
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  test('keeps trying an unreachable Temporal, saying so, and stops on SIGTERM', async () => {
    const { child, output } = await unreachableWorker();
    child.kill('SIGTERM');
    assert.equal(await exitCode(child), 0);
    assert.ok(!output().includes(SECRET));
  });

  test('exits on SIGTERM although nobody reads its stdout any more', async () => {
    const { child, output } = await unreachableWorker();
    // As when `| head` has had its lines, or the log shipper reading the pipe died.
    child.stdout?.destroy();
    child.kill('SIGTERM');
    const exited = await Promise.race([
      exitCode(child),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000).unref()),
    ]);
    assert.equal(exited, 0, output());
  });

  test('serves a 2-slot saga end to end in 8 Tray requests, then shuts down cleanly on SIGTERM', async () => {
    const { address, namespace } = await devServer();
    const emu = await startEmulator();
    after(() => emu.close());
    const taskQueue = uniqueId('worker-main');
    const { child, output } = startWorker({
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TRAY_GRAPHQL_URL: emu.graphqlUrl,
      TRAY_AUTH_DIALOG_URL: emu.url,
      TRAY_MASTER_TOKEN: emu.masterToken,
      TRAY_EMBEDDED_ID: emu.embeddedId,
    });
    const started = await pollUntil(
      async () =>
        output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map(
            (line) =>
              JSON.parse(line) as {
                msg?: string;
                taskQueue?: string;
                rateLimitPerSecond?: number;
                taskQueueActivitiesPerSecond?: number;
              },
          )
          .find((line) => line.msg?.startsWith('worker serving')),
      { timeoutMs: 120_000, what: 'the worker to start serving' },
    );
    assert.equal(started.taskQueue, taskQueue);
    assert.equal(started.rateLimitPerSecond, 25);
    // Logged in two decimals.
    const logged = started.taskQueueActivitiesPerSecond ?? Number.NaN;
    assert.ok(Math.abs(logged - taskQueueActivitiesPerSecond(25)) <= 0.005, String(logged));
    assert.equal(logged, Math.round(logged * 100) / 100);

    const connection = await Connection.connect({ address });
    after(() => connection.close());
    const client = new Client({ connection, namespace });
    const externalUserId = uniqueId('ext');
    const handle = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: connectionIdFor(externalUserId, 'sol-2'),
      args: [{ externalUserId, userName: 'Grace', solutionId: 'sol-2', authSlots: ['salesforce', 'slack'] }],
    });
    const awaiting = await pollUntil(
      async () => {
        const status = await handle.query(statusQuery);
        return status.step === 'awaiting_auth' && status.authSlots.every((slot) => slot.url)
          ? status
          : undefined;
      },
      { timeoutMs: 60_000, what: 'the saga to hand out auth URLs' },
    );
    assert.ok(awaiting.userId);
    for (const slot of awaiting.authSlots) {
      assert.ok(slot.url?.startsWith(`${emu.url}/external/auth/create/${emu.embeddedId}/`), slot.url);
      const authId = emu.emulator.store.createAuthentication(awaiting.userId, slot.externalAuthId);
      await handle.signal(authCompletedSignal, { externalAuthId: slot.externalAuthId, authId });
    }
    const result = await handle.result();
    assert.equal(result.enabled, true);
    assert.equal(emu.emulator.store.instances.get(result.solutionInstanceId)?.enabled, true);
    assert.equal(
      emu.emulator.requests.length,
      8,
      JSON.stringify(emu.emulator.requests.map((r) => r.operations)),
    );

    child.kill('SIGTERM');
    assert.equal(await exitCode(child), 0);
    assert.match(output(), /worker stopped/);
    assert.ok(!output().includes(emu.masterToken), 'the master token never reaches the logs');
  });

  test("the SDK core's per-poll retry warnings are left out, except at LOG_LEVEL debug or trace", () => {
    const config = loadWorkerConfig({ TRAY_MASTER_TOKEN: SECRET, TRAY_EMBEDDED_ID: 'emb-1' });
    const filter = (level: string) => {
      const logging = runtimeOptions(config, pino({ level: 'silent' }), level).telemetryOptions?.logging;
      return String(logging?.filter);
    };
    // Every poller's "gRPC call poll_… retried N times" comes from this target, about every two
    // seconds each while Temporal is unreachable, and as errors once an outage passes a minute.
    assert.match(filter('info'), /(^|,)temporalio_client::retry=OFF(,|$)/);
    assert.match(filter('warn'), /(^|,)temporalio_client::retry=OFF(,|$)/);
    assert.match(filter('error'), /(^|,)temporalio_client::retry=OFF(,|$)/);
    // The core's other warnings (the shutdown ones) still come through.
    assert.match(filter('info'), /(^|,)temporalio_sdk_core=WARN(,|$)/);
    assert.doesNotMatch(filter('debug'), /temporalio_client::retry/);
    assert.doesNotMatch(filter('trace'), /temporalio_client::retry/);
  });

  test("the SDK core's warnings are JSON lines, not ANSI-coloured text", async (t) => {
    // A proxy that drops the connection when the worker says it is shutting down: the core then warns
    // "shutdown_worker rpc errored", as when `npm start`'s dev server went first.
    const { address, namespace } = await devServer();
    const upstream = http2.connect(`http://${address}`);
    upstream.on('error', () => undefined);
    const proxy = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    proxy.on('session', (session) => sessions.add(session));
    proxy.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (String(headers[':path']).endsWith('/ShutdownWorker')) stream.session?.destroy();
      else forward(stream, headers, upstream);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    // On the test, not the file: an open proxy would keep the file's process from ending.
    t.after(() => {
      for (const session of sessions) session.destroy();
      upstream.destroy();
      proxy.close();
    });
    const { child, output } = startWorker({
      TEMPORAL_ADDRESS: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: uniqueId('core-logs'),
      TRAY_MASTER_TOKEN: SECRET,
      TRAY_EMBEDDED_ID: 'emb-1',
    });
    await pollUntil(async () => output().includes('worker serving'), {
      timeoutMs: 120_000,
      what: 'the worker to start serving',
    });
    child.kill('SIGTERM');
    await exitCode(child);
    assert.ok(!output().includes('\u001b['), 'no ANSI colour codes');
    const lines = output().split('\n').filter(Boolean);
    assert.deepEqual(
      lines.filter((line) => !line.startsWith('{')),
      [],
      'every line is a JSON log line',
    );
    // The core's own JSON shape (not pino's): level as a word, the text under fields.message.
    const core = lines
      .map((line) => JSON.parse(line) as { level?: unknown; fields?: { message?: string } })
      .filter((line) => line.level === 'WARN');
    assert.ok(
      core.some((line) => /shutdown_worker rpc errored/.test(line.fields?.message ?? '')),
      `no warning from the SDK core:\n${output()}`,
    );
  });
});
