/**
 * Builds the connect-saga Worker. The Tray rate limit is enforced by the Temporal server per task
 * queue (`maxTaskQueueActivitiesPerSecond`), so it holds however many worker processes run; the rate
 * given there is set below the limit so the server's bursts stay within it too (rate-limit.ts).
 */
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { ConnectActivities } from '../common/activity-types.js';
import { loadConnectWorkflowBundle } from '../lib/workflow-bundle-file.js';
import { taskQueueActivitiesPerSecond } from './rate-limit.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ConnectActivities;
  /** Tests pass a prebuilt bundle; else WORKFLOW_BUNDLE_PATH's file, else workflows/ bundled now. */
  workflowBundle?: WorkflowBundleOption;
  /**
   * Tray requests per second on average over any 5 s, all workers together (TRAY_RATE_LIMIT_PER_SECOND);
   * activities send one request each, so this bounds the task queue's activities.
   */
  rateLimitPerSecond: number;
  /** Shown in the Web UI's worker list; default: the SDK's pid@host. */
  identity?: string;
}

/** Creates (does not run) a Worker serving the saga's workflow and activities on `taskQueue`. */
export async function createConnectWorker(opts: CreateWorkerOptions): Promise<Worker> {
  if (!(opts.rateLimitPerSecond > 0)) throw new RangeError('rateLimitPerSecond must be a positive number');
  const workflowBundle = opts.workflowBundle ?? (await loadConnectWorkflowBundle());
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle,
    activities: { ...opts.activities },
    maxTaskQueueActivitiesPerSecond: taskQueueActivitiesPerSecond(opts.rateLimitPerSecond),
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}
