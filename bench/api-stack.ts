/**
 * What the API modes run against: a Temporal server (its own dev server unless given one), the Tray
 * emulator behind the wire tap, the API in-process (`createApp`), `--workers` worker processes on
 * one task queue and, with `--floor`, the floor worker in-process on a queue of its own.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { createApp } from '../api/app.js';
import { WEBHOOK_PATH } from '../api/webhook.js';
import { closeServer, listen, quietRuntime } from '../dev/in-process.js';
import { createEmulator, DEMO_SOLUTIONS, type Emulator, type SolutionSeed } from '../emulator/server.js';
import type { TemporalConnectionConfig } from '../lib/temporal-connection.js';
import { openTemporalConnection } from '../lib/temporal-connection-check.js';
import {
  benchServerConnection,
  benchSolution,
  Cleanups,
  startOwnDevServer,
  type Progress,
} from './harness.js';
import { readBenchEnv } from './env.js';
import { startFloorWorker, type FloorWorker } from './floor.js';
import {
  startWorkerChild,
  temporalConnectionEnv,
  type WorkerChild,
  type WorkerRuntime,
} from './worker-children.js';
import { startWireTap, type WireTap } from './wire-meter.js';
import { imageWorkerBuild } from './worker-build.js';

/** What `--no-limit` gives the workers: a limit the box never reaches (they require one). */
export const LIFTED_RATE = 100_000;

export interface ApiStackOptions {
  slots: number;
  rateLimitPerSecond: number;
  workers: number;
  /** How the worker processes run: compiled with a prebuilt bundle (as the image) or under tsx. */
  workerRuntime: WorkerRuntime;
  floor: boolean;
  temporalAddress?: string;
  signal: AbortSignal;
  progress: Progress;
}

export interface ApiStack {
  client: Client;
  api: string;
  apiToken: string;
  emulator: Emulator;
  tap: WireTap;
  solution: SolutionSeed;
  taskQueue: string;
  workers: WorkerChild[];
  floor?: FloorWorker;
  ownDevServer: boolean;
  /** The bench's own dev server's pid, for the CPU it uses (absent with `--temporal-address`). */
  devServerPid?: number;
  close(): Promise<void>;
}

async function startApi(client: Client, taskQueue: string, webhookSecret: string, cleanups: Cleanups) {
  const apiToken = randomBytes(18).toString('base64url');
  const app = createApp({
    client,
    taskQueue,
    namespace: client.options.namespace,
    apiToken,
    webhookSecret,
    // Only what the API logs as an error (a 500's cause): a failed saga's answer then says why.
    logger: pino({ level: 'error' }, pino.destination(2)),
  });
  const server = app.listen(0, '127.0.0.1');
  const { port } = await listen(server);
  cleanups.add('API', () => closeServer(server));
  return { api: `http://127.0.0.1:${port}`, apiToken };
}

async function startWorkers(
  options: ApiStackOptions,
  env: Parameters<typeof startWorkerChild>[0],
  cleanups: Cleanups,
): Promise<WorkerChild[]> {
  let buildDir: string | undefined;
  if (options.workerRuntime === 'image') buildDir = await imageWorkerBuild(options.signal, options.progress);
  const how =
    options.workerRuntime === 'image' ? 'compiled, prebuilt bundle' : 'under tsx, each bundles the workflows';
  options.progress(`starting ${options.workers} worker process(es) (${how}) …`);
  const workers = await Promise.all(
    Array.from({ length: options.workers }, async () => {
      const child = await startWorkerChild({ ...env, ...(buildDir ? { buildDir } : {}) }, options.signal);
      cleanups.add(`worker process ${child.pid}`, () => child.stop());
      return child;
    }),
  );
  options.progress(
    `worker process(es) ${workers.map((w) => w.pid).join(', ')} on task queue ${env.taskQueue}`,
  );
  return workers;
}

/** Starts everything; cleans up what it started if a step fails. */
export async function startApiStack(options: ApiStackOptions): Promise<ApiStack> {
  const { progress } = options;
  const cleanups = new Cleanups(progress);
  // Before anything starts: a bad TEMPORAL_* setting is a ConfigError naming it.
  const given =
    options.temporalAddress === undefined ? undefined : benchServerConnection(options.temporalAddress);
  try {
    quietRuntime();
    const ownDevServer = given === undefined;
    let devServerPid: number | undefined;
    const temporal =
      given ??
      (await startOwnDevServer(cleanups, progress, (pid) => {
        devServerPid = pid;
      }));
    const solution = benchSolution(options.slots);
    const masterToken = `mt_${randomBytes(18).toString('base64url')}`;
    const embeddedId = `emb-bench-${randomBytes(3).toString('hex')}`;
    const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const tap = await startWireTap((webhookUrl) =>
      createEmulator({
        masterToken,
        embeddedId,
        solutions: [...DEMO_SOLUTIONS, solution],
        webhookUrl,
        webhookSecret,
      }),
    );
    cleanups.add('Tray emulator and wire tap', () => closeServer(tap.server));
    progress(`Tray emulator behind the wire tap on ${tap.url}`);

    const connection = await openTemporalConnection(temporal, () =>
      Connection.connect(temporal.connectionOptions),
    );
    cleanups.add('Temporal client connection', () => connection.close());
    const client = new Client({ connection, namespace: temporal.namespace });
    const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
    const { api, apiToken } = await startApi(client, taskQueue, webhookSecret, cleanups);
    tap.setApiWebhook(`${api}${WEBHOOK_PATH}`);
    progress(`API on ${api}`);

    const rate = options.rateLimitPerSecond;
    const env = {
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      // A server of yours: the workers take its TLS, API key and profile settings as the bench did.
      ...(given ? { connectionEnv: temporalConnectionEnv(process.env) } : {}),
      taskQueue,
      graphqlUrl: `${tap.url}/graphql`,
      dialogBaseUrl: tap.url,
      masterToken,
      embeddedId,
      rateLimitPerSecond: rate,
      runtime: options.workerRuntime,
    };
    const [workers, floor] = await Promise.all([
      startWorkers(options, env, cleanups),
      options.floor ? startFloor(temporal, rate, cleanups) : Promise.resolve(undefined),
    ]);
    if (floor) progress(`floor worker (no-op activities) on task queue ${floor.taskQueue}`);
    return {
      client,
      api,
      apiToken,
      emulator: tap.emulator,
      tap,
      solution,
      taskQueue,
      workers,
      ...(floor ? { floor } : {}),
      ownDevServer,
      ...(devServerPid !== undefined ? { devServerPid } : {}),
      close: () => cleanups.close(),
    };
  } catch (error) {
    await cleanups.close();
    throw error;
  }
}

async function startFloor(
  temporal: TemporalConnectionConfig,
  rateLimitPerSecond: number,
  cleanups: Cleanups,
): Promise<FloorWorker> {
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  cleanups.add('floor worker connection', () => connection.close());
  const floor = await startFloorWorker({
    connection,
    namespace: temporal.namespace,
    rateLimitPerSecond,
    ...readBenchEnv(),
  });
  cleanups.add('floor worker', () => floor.close());
  return floor;
}
