/**
 * Everything the bench runs against, started in this process (except the Temporal dev server, a
 * child process): the Tray emulator on 127.0.0.1, a metered Tray client, and a worker on a unique
 * task queue. `close()` stops them in reverse order and is safe to call twice or half-way through.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, createTrayClient } from '../activities/index.js';
import { CREATE_USER } from '../activities/documents.js';
import { trayBudgetPacer } from '../activities/send-pacer.js';
import { createEmulator, DEMO_SOLUTIONS, type Emulator, type SolutionSeed } from '../emulator/server.js';
import { startDevServer } from '../dev/dev-server.js';
import { readBenchEnv } from './env.js';
import { quietRuntime } from '../dev/in-process.js';
import { findTemporalCli } from '../dev/temporal-bin.js';
import { openTemporalConnection } from '../lib/temporal-connection-check.js';
import {
  devServerConnection,
  loadTemporalConnection,
  type TemporalConnectionConfig,
} from '../lib/temporal-connection.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { createConnectWorker } from '../worker/create-worker.js';
import { RATE_WINDOW_SECONDS } from '../worker/rate-limit.js';
import { meterTrayClient, type MeteredRequest, type RequestMeter } from './request-meter.js';

export interface HarnessOptions {
  slots: number;
  rateLimitPerSecond: number;
  /** An existing server, reached with the TEMPORAL_* settings of `env` (TLS, API key, profile, namespace). */
  temporalAddress?: string;
  env?: NodeJS.ProcessEnv;
  signal: AbortSignal;
  progress: (message: string) => void;
}

export interface Harness {
  client: Client;
  /** The namespace `client` and the worker use. */
  namespace: string;
  emulator: Emulator;
  /** Every Tray request the worker's activities sent, by saga. */
  metered: MeteredRequest[];
  taskQueue: string;
  /** The solution every bench saga connects, with `slots` auth slots. */
  solution: SolutionSeed;
  /** Fails (rejects) if the worker stops on its own before close(). */
  workerRunning: Promise<void>;
  temporalAddress: string;
  /** True when this run started its own dev server. */
  ownDevServer: boolean;
  /** Creates a Tray user through the emulator's GraphQL (master token), outside any saga; returns its id. */
  createExternalUser(externalUserId: string, name: string): Promise<string>;
  close(): Promise<void>;
}

/** A solution with `slots` auth slots, so any slot count can be benchmarked on the emulator. */
export function benchSolution(slots: number): SolutionSeed {
  return {
    id: 'bench-sol',
    title: `Bench solution (${slots} slot${slots === 1 ? '' : 's'})`,
    authSlots: Array.from({ length: slots }, (_, i) => ({
      externalId: `slot-${i + 1}`,
      serviceName: `service-${i + 1}`,
      serviceTitle: `Service ${i + 1}`,
    })),
  };
}

export type Progress = (message: string) => void;

/** What was started so far; `close()` stops it newest first, reporting each, and runs once. */
export class Cleanups {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  private closed = false;

  constructor(private readonly progress: Progress) {}

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
        this.progress(`stopped ${step.name}`);
      } catch (error) {
        this.progress(`stopping ${step.name} failed: ${(error as Error).message}`);
      }
    }
  }
}

/** Starts a dev server for the run (stopped by `cleanups`) and returns how to connect to it. */
export async function startOwnDevServer(
  cleanups: Cleanups,
  progress: Progress,
  onSpawn?: (pid: number | undefined) => void,
): Promise<TemporalConnectionConfig> {
  progress('starting the Temporal dev server …');
  const server = await startDevServer({
    cliPath: await findTemporalCli(),
    onProgress: progress,
    ...(onSpawn ? { onSpawn } : {}),
  });
  cleanups.add('Temporal dev server', () => server.stop());
  progress(`Temporal dev server on ${server.address}`);
  return devServerConnection(server.address);
}

/**
 * The connection to `--temporal-address`, read by the loader the worker and the API use, so TLS, an
 * API key or a temporal.toml profile apply here too. Throws a `ConfigError` naming a bad setting.
 */
export function benchServerConnection(
  temporalAddress: string,
  env: NodeJS.ProcessEnv = process.env,
): TemporalConnectionConfig {
  return loadTemporalConnection({ ...env, TEMPORAL_ADDRESS: temporalAddress }, {});
}

interface BenchTray {
  emulator: Emulator;
  url: string;
  embeddedId: string;
  solution: SolutionSeed;
  meter: RequestMeter;
  createExternalUser(externalUserId: string, name: string): Promise<string>;
}

/** The emulator with the bench solution, the metered client the worker uses, and one for set-up. */
async function startTray(
  slots: number,
  rateLimitPerSecond: number,
  cleanups: Cleanups,
  progress: Progress,
): Promise<BenchTray> {
  const solution = benchSolution(slots);
  const masterToken = `mt_${randomBytes(18).toString('base64url')}`;
  const embeddedId = `emb-bench-${randomBytes(3).toString('hex')}`;
  const emulator = createEmulator({ masterToken, embeddedId, solutions: [...DEMO_SOLUTIONS, solution] });
  const listening = await emulator.listen(0, '127.0.0.1');
  cleanups.add('Tray emulator', () => listening.close());
  progress(`Tray emulator on ${listening.url}`);

  const graphqlUrl = `${listening.url}/graphql`;
  // Paced as the worker process paces it, so this mode's wire figures are the product's.
  const pacer = trayBudgetPacer(rateLimitPerSecond, RATE_WINDOW_SECONDS);
  const meter = meterTrayClient(createTrayClient({ graphqlUrl, masterToken, pacer }));
  // Setup requests go through a client of their own, so they are never counted against a saga.
  const setupTray = createTrayClient({ graphqlUrl, masterToken });
  const createExternalUser = async (externalUserId: string, name: string): Promise<string> => {
    const data = await setupTray.request<{ createExternalUser: { userId: string } }>(
      CREATE_USER,
      { externalUserId, name },
      'master',
    );
    return data.createExternalUser.userId;
  };
  return { emulator, url: listening.url, embeddedId, solution, meter, createExternalUser };
}

/** Runs the worker; the promise it returns rejects if the worker stops before close() stops it. */
async function startWorker(
  options: {
    connection: NativeConnection;
    namespace: string;
    taskQueue: string;
    tray: BenchTray;
    workflowBundle: WorkflowBundleWithSourceMap;
    rateLimitPerSecond: number;
  },
  cleanups: Cleanups,
): Promise<{ running: Promise<void> }> {
  const { tray } = options;
  const worker: Worker = await createConnectWorker({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities({
      tray: tray.meter.client,
      embeddedId: tray.embeddedId,
      dialogBaseUrl: tray.url,
    }),
    workflowBundle: options.workflowBundle,
    rateLimitPerSecond: options.rateLimitPerSecond,
    taskQueuePartitions: readBenchEnv().taskQueuePartitions,
    identity: `bench@${process.pid}`,
  });
  let stopping = false;
  const workerRunning = worker.run().then(() => {
    if (!stopping) throw new Error('the worker stopped on its own');
  });
  workerRunning.catch(() => undefined);
  cleanups.add('worker', async () => {
    stopping = true;
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await workerRunning.catch(() => undefined);
  });
  return { running: workerRunning };
}

/** Starts the dev server (unless an address is given), emulator and worker; cleans up if any step fails. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const { progress, signal } = options;
  const cleanups = new Cleanups(progress);
  const checkAborted = () => {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
  };

  // Before anything starts: a bad TEMPORAL_* setting is a ConfigError naming it.
  const given =
    options.temporalAddress === undefined
      ? undefined
      : benchServerConnection(options.temporalAddress, options.env);
  try {
    quietRuntime();
    // Bundling the workflows (webpack) and starting the dev server both take seconds: overlap them.
    const bundling = bundleConnectWorkflows();
    bundling.catch(() => undefined);

    const ownDevServer = given === undefined;
    const temporal = given ?? (await startOwnDevServer(cleanups, progress));
    checkAborted();

    const tray = await startTray(options.slots, options.rateLimitPerSecond, cleanups, progress);

    const connection = await openTemporalConnection(temporal, () =>
      Connection.connect(temporal.connectionOptions),
    );
    cleanups.add('Temporal client connection', () => connection.close());
    const { namespace } = temporal;
    const client = new Client({ connection, namespace });

    const nativeConnection = await NativeConnection.connect(temporal.connectionOptions);
    cleanups.add('worker connection', () => nativeConnection.close());

    const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
    progress('bundling the workflows …');
    const workflowBundle = await bundling;
    checkAborted();
    const { running: workerRunning } = await startWorker(
      {
        connection: nativeConnection,
        namespace,
        taskQueue,
        tray,
        workflowBundle,
        rateLimitPerSecond: options.rateLimitPerSecond,
      },
      cleanups,
    );
    progress(`worker on task queue ${taskQueue}, rate limit ${options.rateLimitPerSecond}/s`);

    return {
      client,
      namespace,
      emulator: tray.emulator,
      metered: tray.meter.requests,
      taskQueue,
      solution: tray.solution,
      workerRunning,
      temporalAddress: temporal.address,
      ownDevServer,
      createExternalUser: tray.createExternalUser,
      close: () => cleanups.close(),
    };
  } catch (error) {
    await cleanups.close();
    throw error;
  }
}
