/**
 * Builds the connect-saga Worker. The Tray rate limit is enforced by the Temporal server per task
 * queue (`maxTaskQueueActivitiesPerSecond`), so it holds however many worker processes run.
 */
import { Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ConnectActivities } from '../common/activity-types.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ConnectActivities;
  /** Tests pass a prebuilt bundle; otherwise workflows/index.ts is bundled (once per process). */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Activities per second on the whole task queue, all workers together. */
  rateLimitPerSecond: number;
  /** Shown in the Web UI's worker list; default: the SDK's pid@host. */
  identity?: string;
}

/** Creates (does not run) a Worker serving the saga's workflow and activities on `taskQueue`. */
export async function createConnectWorker(opts: CreateWorkerOptions): Promise<Worker> {
  if (!(opts.rateLimitPerSecond > 0)) throw new RangeError('rateLimitPerSecond must be a positive number');
  const workflowBundle = opts.workflowBundle ?? (await bundleConnectWorkflows());
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle,
    activities: { ...opts.activities },
    maxTaskQueueActivitiesPerSecond: opts.rateLimitPerSecond,
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}
