/**
 * `npm run worker`: serves the connect saga's workflow and activities on the configured task queue
 * until SIGTERM/SIGINT, then drains in-flight tasks and exits.
 */
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createActivities, createTrayClient } from '../activities/index.js';
import { trayBudgetPacer } from '../activities/send-pacer.js';
import { WORKFLOW_TYPE } from '../common/messages.js';
import { ConfigError, exitOnConfigError, listenError, refuseArguments } from '../lib/config.js';
import { processDataConverter } from '../lib/payload-codec.js';
import {
  describeTemporalConnection,
  loadWithTemporalConnection,
  warnIgnoredKeys,
  type TemporalConnectionConfig,
} from '../lib/temporal-connection.js';
import { openTemporalConnection, TemporalUnreachableError } from '../lib/temporal-connection-check.js';
import { watchSearchAttributes } from '../lib/search-attribute-check.js';
import { describeWorkerConfig, loadWorkerConfig, type WorkerConfig } from './config.js';
import { createConnectWorker } from './create-worker.js';
import { startHealthServer, type HealthServer } from './health.js';
import { createWorkerLogger, temporalLogger } from './logger.js';
import { countActivityWorkers, notingReachability, watchPeerWorkers } from './peer-workers.js';
import { RATE_WINDOW_SECONDS, taskQueueActivitiesPerSecond } from './rate-limit.js';
import { metricsAddress, runtimeOptions, workerTracing } from './telemetry.js';
import { observeTrayClient } from './tray-telemetry.js';

const CONNECT_DEADLINE_MS = 60_000;
const CONNECT_RETRY_MS = 2_000;
/** The most one attempt may take: the core's connect has no deadline on a server that never answers. */
const CONNECT_ATTEMPT_MS = 10_000;

refuseArguments('The worker');
let config: WorkerConfig;
let temporal: TemporalConnectionConfig;
try {
  ({ config, temporal } = loadWithTemporalConnection(() => loadWorkerConfig()));
} catch (error) {
  exitOnConfigError(error);
}
const logger = createWorkerLogger();
warnIgnoredKeys(temporal, logger);

try {
  Runtime.install(runtimeOptions(config, temporalLogger(logger), logger.level));
} catch (error) {
  // Its one likely failure is a METRICS_PORT another process holds: a message, not a stack trace.
  const where = metricsAddress(config);
  logger.fatal(
    `the worker could not start its runtime${where ? ` (metrics on ${where}: METRICS_HOST, METRICS_PORT)` : ''}: ` +
      (error instanceof Error ? error.message : String(error)),
  );
  process.exit(1);
}

/**
 * One Ctrl-C (or a supervisor's signal to the process group) reaches the worker more than once under
 * `npm run worker`: directly, and relayed by npm and tsx. Only a signal this much later means "now".
 */
const REPEAT_SIGNAL_MS = 1500;

let worker: Worker | undefined;
/** What the last look at the task queue learnt: false from a look Temporal did not answer to the next it answered. */
let temporalReachable = true;
let stoppingSince: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stoppingSince !== undefined && Date.now() - stoppingSince < REPEAT_SIGNAL_MS) return;
    if (stoppingSince !== undefined || !worker) {
      logger.warn({ signal }, worker ? 'second signal: exiting now' : 'stopped before the worker started');
      process.exit(worker ? 1 : 0);
    }
    stoppingSince = Date.now();
    logger.info(
      { signal, shutdownGraceMs: config.shutdownGraceMs },
      'shutting down: no new tasks; activities in flight may finish within SHUTDOWN_GRACE',
    );
    worker.shutdown();
  });
}

/**
 * One attempt at the connection, given up after `ms`: a server that takes the TCP connection but
 * never answers (a TLS handshake left hanging) would otherwise hold the worker for ever, silent. A
 * connection that still opens after that is closed.
 */
async function connectWithin(t: TemporalConnectionConfig, ms: number): Promise<NativeConnection> {
  const attempt = openTemporalConnection(t, () => NativeConnection.connect(t.connectionOptions));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      attempt
        .then(
          (connection) => connection.close(),
          () => undefined,
        )
        .catch(() => undefined);
      reject(new TemporalUnreachableError(t.address, `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The server may still be starting (compose, `npm start`): keep trying for a minute, saying so. A
 * wrong setting (certificate, API key, namespace) is not retried: it throws a ConfigError at once.
 */
async function connectWithRetry(t: TemporalConnectionConfig): Promise<NativeConnection> {
  const { address } = t;
  const deadline = Date.now() + CONNECT_DEADLINE_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const left = deadline - Date.now();
      return await connectWithin(t, Math.max(CONNECT_RETRY_MS, Math.min(CONNECT_ATTEMPT_MS, left)));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const reason =
        error instanceof TemporalUnreachableError
          ? error.reason
          : error instanceof Error
            ? error.message
            : String(error);
      if (Date.now() + CONNECT_RETRY_MS > deadline) {
        const seconds = CONNECT_DEADLINE_MS / 1000;
        throw new TemporalUnreachableError(
          address,
          reason,
          `Temporal at ${address} is still not reachable after ${seconds} s (${reason}); check TEMPORAL_ADDRESS and that the server runs`,
        );
      }
      logger.warn({ address, attempt, reason }, 'Temporal not reachable yet, retrying');
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}

async function main(cfg: WorkerConfig, t: TemporalConnectionConfig): Promise<void> {
  // Up before the connection, so a liveness probe sees a live process while Temporal is still starting.
  const { healthPort } = cfg;
  const health: HealthServer | undefined =
    healthPort === undefined
      ? undefined
      : await startHealthServer({
          port: healthPort,
          host: cfg.metricsHost,
          state: () => worker?.getState() ?? 'STARTING',
          temporalReachable: () => temporalReachable,
        }).catch((error: unknown) => {
          throw listenError(error, {
            port: healthPort,
            portVariable: 'HEALTH_PORT',
            host: cfg.metricsHost,
            hostVariable: 'METRICS_HOST',
          });
        });
  try {
    await serve(cfg, t, health);
  } finally {
    await health?.close();
  }
}

async function serve(cfg: WorkerConfig, t: TemporalConnectionConfig, health?: HealthServer): Promise<void> {
  const connection = await connectWithRetry(t);
  const stopWatching = watchSearchAttributes(connection, t.namespace, logger);
  const tracing = await workerTracing(cfg);
  const pacer = trayBudgetPacer(cfg.rateLimitPerSecond, RATE_WINDOW_SECONDS);
  const peers = watchPeerWorkers({
    count: () =>
      notingReachability(
        () => countActivityWorkers(connection, t.namespace, cfg.taskQueue),
        (reachable) => (temporalReachable = reachable),
      ),
    onCount: (workers) => {
      pacer.setWorkers(workers);
      logger.info(
        { workers, trayRequestsPer5s: pacer.count },
        `${workers} worker process(es) on the task queue: this one sends at most ${pacer.count} Tray requests in any ${RATE_WINDOW_SECONDS} s`,
      );
    },
    onError: (err) =>
      logger.warn({ err }, 'could not count the workers on the task queue; keeping the last count'),
    // Ends the outage the warning above began; the SDK core's per-poll retry lines are filtered out.
    onRecover: () =>
      logger.info('Temporal answers again: counting the workers on the task queue works again'),
  });
  try {
    const tray = createTrayClient({ graphqlUrl: cfg.graphqlUrl, masterToken: cfg.masterToken, pacer });
    const activities = createActivities({
      tray: observeTrayClient(tray, tracing?.tracer),
      embeddedId: cfg.embeddedId,
      dialogBaseUrl: cfg.dialogBaseUrl,
      // Every worker derives the same seal key, so a user token sealed by one opens on any other.
      sealSecret: cfg.masterToken,
    });
    worker = await createConnectWorker({
      connection,
      namespace: t.namespace,
      taskQueue: cfg.taskQueue,
      activities,
      rateLimitPerSecond: cfg.rateLimitPerSecond,
      taskQueuePartitions: cfg.taskQueuePartitions,
      maxCachedWorkflows: cfg.maxCachedWorkflows,
      maxWorkflowTasks: cfg.maxWorkflowTasks,
      dataConverter: processDataConverter(cfg.payloadKeys),
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
        ...describeTemporalConnection(t),
        activities: Object.keys(activities),
        // Two decimals: the full float (19.166666666666668) reads as noise in a start-up line.
        taskQueueActivitiesPerSecond:
          Math.round(taskQueueActivitiesPerSecond(cfg.rateLimitPerSecond, cfg.taskQueuePartitions) * 100) /
          100,
        workflows: [WORKFLOW_TYPE],
        metrics: metricsAddress(cfg) ? `http://${metricsAddress(cfg)}/metrics` : 'off (METRICS_PORT unset)',
        health: health ? `http://${health.address}/healthz, /readyz` : 'off (HEALTH_PORT unset)',
        tracing: tracing ? 'on' : 'off',
      },
      `worker serving task queue "${cfg.taskQueue}" in namespace "${t.namespace}" at ${t.address}; Tray at ${cfg.graphqlUrl}`,
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    stopWatching();
    peers.stop();
    const unsent = await tracing?.shutdown();
    if (unsent) logger.warn(unsent);
    await connection.close();
  }
}

main(config, temporal).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof ConfigError) exitOnConfigError(error);
    // Giving up on an unreachable server is an answer, not a crash: no stack.
    if (error instanceof TemporalUnreachableError) logger.fatal(error.message);
    else logger.fatal({ err: error }, 'worker failed');
    process.exit(1);
  },
);
