/** The worker's environment, validated at start so a bad one fails fast, naming every bad variable. */
import { DEFAULT_TASK_QUEUE } from '../common/messages.js';
import { REGION_ENDPOINTS, type TrayRegion } from '../activities/tray-client.js';
import { encryptionKeysVar, type EncryptionKeys } from '../lib/payload-codec.js';
import {
  ConfigError,
  envVar,
  hostPort,
  listenIp,
  oneOf,
  port,
  positiveNumber,
  readEnv,
  str,
  url,
  wholeNumber,
  type ConfigProblem,
} from '../lib/config.js';
import { logLevelVar } from '../lib/log-output.js';
import { WORKFLOW_BUNDLE_ENV } from '../lib/workflow-bundle-file.js';
import { TASK_QUEUE_PARTITIONS } from './rate-limit.js';
import { shutdownGrace } from './shutdown.js';

export interface WorkerConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  region: TrayRegion;
  graphqlUrl: string;
  /** A white-label host or the emulator may replace the region's dialog host. */
  dialogBaseUrl: string;
  masterToken: string;
  embeddedId: string;
  /** Tray requests per second across all workers. */
  rateLimitPerSecond: number;
  /** Workflows kept in memory; an evicted saga is replayed from history when it next has work. */
  maxCachedWorkflows: number;
  /** Workflow tasks the worker holds at once (at most `maxCachedWorkflows`); the rest wait at the server. */
  maxWorkflowTasks: number;
  /** How many partitions the server gives the task queue; the activity rate allows for each one's burst. */
  taskQueuePartitions: number;
  /** PAYLOAD_ENCRYPTION_KEYS; unset: payloads are stored as plain JSON. Logs show key ids only. */
  payloadKeys?: EncryptionKeys;
  /** How long a stopping worker lets activities in flight finish (SHUTDOWN_GRACE). */
  shutdownGraceMs: number;
  /** The Prometheus endpoint's port; unset: no endpoint. */
  metricsPort?: number;
  /** Interface the Prometheus and health endpoints bind (every interface unless METRICS_HOST says otherwise). */
  metricsHost: string;
  /** Port of `/healthz` and `/readyz` (HEALTH_PORT); unset: none. */
  healthPort?: number;
  /** OTLP/HTTP collector for traces; unset: no tracing code loads. */
  otlpEndpoint?: string;
}

/**
 * A cached saga costs the worker memory while it waits for its auths; history costs nothing. A small
 * cache keeps RSS flat however many sagas wait, and an evicted one replays its short history when its
 * webhook arrives (docs/design.md#bounded-worker-memory).
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 200;

/**
 * Workflow tasks a worker takes at once. It runs sagas' workflow code on one thread, so a few tasks
 * keep that thread busy; the SDK's default of 40 lets the others queue inside the worker, where the
 * server's priority keys cannot order them and each one's 10 s workflow-task timeout runs. Waiting at
 * the server instead, an authorized user's next step is not stuck behind a burst of new sagas'
 * first tasks. Bursts of 300 gave webhook → completed p99 4.4–4.7 s with 8 against 6.2–7.1 s with 40
 * (docs/bench-notebook.md, "Workflow-task slots").
 */
export const DEFAULT_MAX_WORKFLOW_TASKS = 8;

/**
 * Every Tray request carries it as `Authorization: Bearer <token>`. A smart quote or a line break
 * from copy-paste would make each request fail in Node's HTTP client as a retried "network error",
 * so every saga would fail minutes later instead of the worker stopping at start.
 */
const masterToken = envVar<string, { secret: true }>({ secret: true }, (raw) =>
  /^[\x21-\x7e]+$/.test(raw)
    ? { value: raw }
    : {
        problem:
          'must be printable ASCII without spaces (look for a stray quote or line break from copy-paste)',
      },
);

/** The variables the worker reads, for `readEnv`. */
export const WORKER_ENV = {
  TEMPORAL_ADDRESS: hostPort({ default: 'localhost:7233' }),
  TEMPORAL_NAMESPACE: str({ default: 'default' }),
  TEMPORAL_TASK_QUEUE: str({ default: DEFAULT_TASK_QUEUE }),
  TRAY_REGION: oneOf(['us', 'eu', 'apac'], { default: 'us' }),
  TRAY_GRAPHQL_URL: url({ optional: true }),
  TRAY_AUTH_DIALOG_URL: url({ optional: true }),
  TRAY_MASTER_TOKEN: masterToken,
  TRAY_EMBEDDED_ID: str(),
  TRAY_RATE_LIMIT_PER_SECOND: positiveNumber({ default: 25 }),
  WORKER_MAX_CACHED_WORKFLOWS: wholeNumber({ default: DEFAULT_MAX_CACHED_WORKFLOWS }),
  // 2: the SDK's least for a worker with a workflow cache.
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: wholeNumber({ default: DEFAULT_MAX_WORKFLOW_TASKS }, 2),
  TEMPORAL_TASK_QUEUE_PARTITIONS: wholeNumber({ default: TASK_QUEUE_PARTITIONS }),
  PAYLOAD_ENCRYPTION_KEYS: encryptionKeysVar(),
  SHUTDOWN_GRACE: shutdownGrace(),
  METRICS_PORT: port({ optional: true }),
  METRICS_HOST: listenIp({ default: '0.0.0.0' }),
  HEALTH_PORT: port({ optional: true }),
  OTEL_EXPORTER_OTLP_ENDPOINT: url({ optional: true }),
  LOG_LEVEL: logLevelVar(),
};

/**
 * HEALTH_PORT set to METRICS_PORT's port: the second server to bind it would fail as "already in
 * use", which does not say that the worker itself holds it. Compared as the two are read, so `09464`
 * is 9464, and a METRICS_PORT that is no port at all is named for that alone.
 */
function portClash(env: Record<string, string | undefined>): ConfigProblem | undefined {
  const read = (name: 'METRICS_PORT' | 'HEALTH_PORT') => {
    const raw = env[name]?.trim();
    const parsed = WORKER_ENV[name].parse(raw === '' ? undefined : raw);
    return parsed.ok ? parsed.value : undefined;
  };
  const health = read('HEALTH_PORT');
  if (health === undefined || read('METRICS_PORT') !== health) return undefined;
  return { variable: 'HEALTH_PORT', problem: `is METRICS_PORT's port too (${health}); give each its own` };
}

/** Reads and checks the worker's configuration; throws a ConfigError listing every bad variable. */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  // The bundle file is loaded later, after the connection; a missing one is named now, with the rest.
  const clash = portClash(env);
  let values;
  try {
    values = readEnv({ ...WORKER_ENV, ...WORKFLOW_BUNDLE_ENV }, env);
  } catch (error) {
    if (clash && error instanceof ConfigError) throw new ConfigError([...error.problems, clash]);
    throw error;
  }
  if (clash) throw new ConfigError([clash]);
  const region = values.TRAY_REGION;
  return {
    temporalAddress: values.TEMPORAL_ADDRESS,
    namespace: values.TEMPORAL_NAMESPACE,
    taskQueue: values.TEMPORAL_TASK_QUEUE,
    region,
    graphqlUrl: values.TRAY_GRAPHQL_URL ?? REGION_ENDPOINTS[region].graphqlUrl,
    dialogBaseUrl: values.TRAY_AUTH_DIALOG_URL ?? REGION_ENDPOINTS[region].dialogBaseUrl,
    masterToken: values.TRAY_MASTER_TOKEN,
    embeddedId: values.TRAY_EMBEDDED_ID,
    rateLimitPerSecond: values.TRAY_RATE_LIMIT_PER_SECOND,
    maxCachedWorkflows: values.WORKER_MAX_CACHED_WORKFLOWS,
    maxWorkflowTasks: values.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    taskQueuePartitions: values.TEMPORAL_TASK_QUEUE_PARTITIONS,
    ...(values.PAYLOAD_ENCRYPTION_KEYS ? { payloadKeys: values.PAYLOAD_ENCRYPTION_KEYS } : {}),
    shutdownGraceMs: values.SHUTDOWN_GRACE,
    ...(values.METRICS_PORT !== undefined ? { metricsPort: values.METRICS_PORT } : {}),
    metricsHost: values.METRICS_HOST,
    ...(values.HEALTH_PORT !== undefined ? { healthPort: values.HEALTH_PORT } : {}),
    ...(values.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: values.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  };
}

/** The configuration without its secret, for logs and start-up output. */
export function describeWorkerConfig(config: WorkerConfig): Omit<
  WorkerConfig,
  'masterToken' | 'payloadKeys'
> & {
  payloadKeys: { keyIds: string[]; primaryKeyId: string } | string;
} {
  const { masterToken: _secret, payloadKeys, ...visible } = config;
  // Spelled out: pino cannot serialise the key ring itself, and only its ids may be shown. Off is
  // said too, so an operator who meant to set the keys sees at start that they did not arrive.
  return {
    ...visible,
    payloadKeys: payloadKeys
      ? { keyIds: payloadKeys.keyIds, primaryKeyId: payloadKeys.primaryKeyId }
      : 'off (PAYLOAD_ENCRYPTION_KEYS unset: payloads are stored as plain JSON)',
  };
}
