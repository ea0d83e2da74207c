/**
 * Everything the bench runs against, started in this process (except the Temporal dev server, a
 * child process): the Tray emulator on 127.0.0.1, a metered Tray client, and a worker on a unique
 * task queue. `close()` stops them in reverse order and is safe to call twice or half-way through.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createActivities, createTrayClient } from '../activities/index.js';
import { CREATE_USER } from '../activities/documents.js';
import { createEmulator, DEMO_SOLUTIONS, type Emulator, type SolutionSeed } from '../emulator/server.js';
import { startDevServer } from '../dev/dev-server.js';
import { findTemporalCli } from '../dev/temporal-bin.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { createConnectWorker } from '../worker/create-worker.js';
import { meterTrayClient, type MeteredRequest } from './request-meter.js';

export interface HarnessOptions {
  slots: number;
  rateLimitPerSecond: number;
  temporalAddress?: string;
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
function benchSolution(slots: number): SolutionSeed {
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

let runtimeInstalled = false;
/** Keeps the SDK's own logs to warnings so the bench's progress lines stay readable. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** Starts the dev server (unless an address is given), emulator and worker; cleans up if any step fails. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const { progress, signal } = options;
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup.run();
        progress(`stopped ${cleanup.name}`);
      } catch (error) {
        progress(`stopping ${cleanup.name} failed: ${(error as Error).message}`);
      }
    }
  };
  const checkAborted = () => {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
  };

  try {
    quietRuntime();
    // Bundling the workflows (webpack) and starting the dev server both take seconds: overlap them.
    const bundling = bundleConnectWorkflows();
    bundling.catch(() => undefined);

    let temporalAddress = options.temporalAddress;
    const ownDevServer = temporalAddress === undefined;
    if (temporalAddress === undefined) {
      progress('starting the Temporal dev server …');
      const server = await startDevServer({ cliPath: await findTemporalCli(), onProgress: progress });
      cleanups.push({ name: 'Temporal dev server', run: () => server.stop() });
      temporalAddress = server.address;
      progress(`Temporal dev server on ${temporalAddress}`);
    }
    checkAborted();

    const solution = benchSolution(options.slots);
    const masterToken = `mt_${randomBytes(18).toString('base64url')}`;
    const embeddedId = `emb-bench-${randomBytes(3).toString('hex')}`;
    const emulator = createEmulator({ masterToken, embeddedId, solutions: [...DEMO_SOLUTIONS, solution] });
    const listening = await emulator.listen(0, '127.0.0.1');
    cleanups.push({ name: 'Tray emulator', run: () => listening.close() });
    progress(`Tray emulator on ${listening.url}`);

    const connection = await Connection.connect({ address: temporalAddress });
    cleanups.push({ name: 'Temporal client connection', run: () => connection.close() });
    const namespace = 'default';
    const client = new Client({ connection, namespace });

    const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    cleanups.push({ name: 'worker connection', run: () => nativeConnection.close() });

    const graphqlUrl = `${listening.url}/graphql`;
    const meter = meterTrayClient(createTrayClient({ graphqlUrl, masterToken }));
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
    const taskQueue = `bench-${randomBytes(4).toString('hex')}`;
    progress('bundling the workflows …');
    const workflowBundle = await bundling;
    checkAborted();
    const worker: Worker = await createConnectWorker({
      connection: nativeConnection,
      namespace,
      taskQueue,
      activities: createActivities({ tray: meter.client, embeddedId, dialogBaseUrl: listening.url }),
      workflowBundle,
      rateLimitPerSecond: options.rateLimitPerSecond,
      identity: `bench@${process.pid}`,
    });
    let stopping = false;
    const workerRunning = worker.run().then(() => {
      if (!stopping) throw new Error('the worker stopped on its own');
    });
    workerRunning.catch(() => undefined);
    cleanups.push({
      name: 'worker',
      run: async () => {
        stopping = true;
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerRunning.catch(() => undefined);
      },
    });
    progress(`worker on task queue ${taskQueue}, rate limit ${options.rateLimitPerSecond}/s`);

    return {
      client,
      namespace,
      emulator,
      metered: meter.requests,
      taskQueue,
      solution,
      workerRunning,
      temporalAddress,
      ownDevServer,
      createExternalUser,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
