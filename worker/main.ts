/**
 * `npm run worker`: serves the connect saga's workflow and activities on the configured task queue
 * until SIGTERM/SIGINT, then drains in-flight tasks and exits.
 */
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createActivities, createTrayClient } from '../activities/index.js';
import { WORKFLOW_TYPE } from '../common/messages.js';
import { exitOnConfigError } from '../lib/config.js';
import { describeWorkerConfig, loadWorkerConfig, type WorkerConfig } from './config.js';
import { createConnectWorker } from './create-worker.js';
import { createWorkerLogger, temporalLogger } from './logger.js';
import { taskQueueActivitiesPerSecond } from './rate-limit.js';
import { metricsAddress, runtimeOptions, workerTracing } from './telemetry.js';
import { observeTrayClient } from './tray-telemetry.js';

const CONNECT_DEADLINE_MS = 60_000;
const CONNECT_RETRY_MS = 2_000;

const logger = createWorkerLogger();

let config: WorkerConfig;
try {
  config = loadWorkerConfig();
} catch (error) {
  exitOnConfigError(error);
}

Runtime.install(runtimeOptions(config, temporalLogger(logger)));

let worker: Worker | undefined;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping || !worker) {
      logger.warn({ signal }, worker ? 'second signal: exiting now' : 'stopped before the worker started');
      process.exit(worker ? 1 : 0);
    }
    stopping = true;
    logger.info(
      { signal, shutdownGraceMs: config.shutdownGraceMs },
      'shutting down: no new tasks; activities in flight may finish within SHUTDOWN_GRACE',
    );
    worker.shutdown();
  });
}

/** The server may still be starting (compose, `npm start`): keep trying for a minute, saying so. */
async function connectWithRetry(address: string): Promise<NativeConnection> {
  const deadline = Date.now() + CONNECT_DEADLINE_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await NativeConnection.connect({ address });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (Date.now() + CONNECT_RETRY_MS > deadline) {
        throw new Error(
          `Temporal at ${address} is unreachable after ${CONNECT_DEADLINE_MS / 1000} s: ${reason}`,
        );
      }
      logger.warn({ address, attempt, reason }, 'Temporal not reachable yet, retrying');
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}

async function main(cfg: WorkerConfig): Promise<void> {
  const connection = await connectWithRetry(cfg.temporalAddress);
  const tracing = await workerTracing(cfg);
  try {
    const tray = createTrayClient({ graphqlUrl: cfg.graphqlUrl, masterToken: cfg.masterToken });
    const activities = createActivities({
      tray: observeTrayClient(tray, tracing?.tracer),
      embeddedId: cfg.embeddedId,
      dialogBaseUrl: cfg.dialogBaseUrl,
    });
    worker = await createConnectWorker({
      connection,
      namespace: cfg.namespace,
      taskQueue: cfg.taskQueue,
      activities,
      rateLimitPerSecond: cfg.rateLimitPerSecond,
      shutdownGraceMs: cfg.shutdownGraceMs,
      ...(tracing && {
        interceptors: tracing.interceptors,
        sinks: tracing.sinks,
        workflowInterceptorModules: tracing.workflowInterceptorModules,
      }),
    });
    logger.info(
      {
        ...describeWorkerConfig(cfg),
        activities: Object.keys(activities),
        taskQueueActivitiesPerSecond: taskQueueActivitiesPerSecond(cfg.rateLimitPerSecond),
        workflows: [WORKFLOW_TYPE],
        metrics: metricsAddress(cfg) ? `http://${metricsAddress(cfg)}/metrics` : 'off (METRICS_PORT unset)',
        tracing: tracing ? 'on' : 'off',
      },
      `worker serving task queue "${cfg.taskQueue}" in namespace "${cfg.namespace}" at ${cfg.temporalAddress}; Tray at ${cfg.graphqlUrl}`,
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await tracing?.shutdown();
    await connection.close();
  }
}

main(config).then(
  () => process.exit(0),
  (error: unknown) => {
    logger.fatal({ err: error }, 'worker failed');
    process.exit(1);
  },
);
