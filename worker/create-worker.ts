/** The connect-saga Worker. The server enforces the Tray rate limit per task queue, across workers. */
import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ConnectActivities } from '../common/activity-types.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from './config.js';
import { taskQueueActivitiesPerSecond } from './rate-limit.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ConnectActivities;
  /** Tests pass a prebuilt bundle; otherwise workflows/index.ts is bundled (once per process). */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** TRAY_RATE_LIMIT_PER_SECOND: one request per activity, so it bounds the task queue's activities. */
  rateLimitPerSecond: number;
  /** The task queue's partitions on the server (default 4, Temporal's own default). */
  taskQueuePartitions?: number;
  /** Sagas kept in memory (default 200); more waiting ones are evicted and replayed when they resume. */
  maxCachedWorkflows?: number;
  identity?: string;
  /** Payload encryption (lib/payload-codec.ts); the bundle is built with its failure converter. */
  dataConverter?: DataConverter;
}

/** Creates (does not run) a Worker serving the saga's workflow and activities on `taskQueue`. */
export async function createConnectWorker(opts: CreateWorkerOptions): Promise<Worker> {
  // First, so a bad rate fails before the slow bundling.
  const activitiesPerSecond = taskQueueActivitiesPerSecond(opts.rateLimitPerSecond, opts.taskQueuePartitions);
  const workflowBundle =
    opts.workflowBundle ?? (await bundleConnectWorkflows(opts.dataConverter?.failureConverterPath));
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle,
    activities: { ...opts.activities },
    maxTaskQueueActivitiesPerSecond: activitiesPerSecond,
    maxCachedWorkflows: opts.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
}
