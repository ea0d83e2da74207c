/** The connect-saga Worker. The server enforces the Tray rate limit per task queue, across workers. */
import type { DataConverter } from '@temporalio/common';
import {
  Worker,
  type NativeConnection,
  type WorkerOptions,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import type { ConnectActivities } from '../common/activity-types.js';
import { loadConnectWorkflowBundle } from '../lib/workflow-bundle-file.js';
import { DEFAULT_MAX_CACHED_WORKFLOWS, DEFAULT_MAX_WORKFLOW_TASKS } from './config.js';
import { taskQueueActivitiesPerSecond } from './rate-limit.js';
import { drainOptions } from './shutdown.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ConnectActivities;
  /** Tests pass a prebuilt bundle; else WORKFLOW_BUNDLE_PATH's file, else workflows/ bundled now. */
  workflowBundle?: WorkflowBundleOption;
  /** TRAY_RATE_LIMIT_PER_SECOND: one request per activity, so it bounds the task queue's activities. */
  rateLimitPerSecond: number;
  /** The task queue's partitions on the server (default 4, Temporal's own default). */
  taskQueuePartitions?: number;
  /** Sagas kept in memory (default 200); more waiting ones are evicted and replayed when they resume. */
  maxCachedWorkflows?: number;
  /** WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (default 8), held to the cache's size. */
  maxWorkflowTasks?: number;
  identity?: string;
  /** Payload encryption (lib/payload-codec.ts); the bundle is built with its failure converter. */
  dataConverter?: DataConverter;
  /** SHUTDOWN_GRACE: in-flight activities may finish this long after shutdown(); unset: cancelled at once. */
  shutdownGraceMs?: number;
  /** Tracing (worker/telemetry.ts): activity interceptors, the workflow span sink, bundled interceptors. */
  interceptors?: WorkerOptions['interceptors'];
  sinks?: WorkerOptions['sinks'];
  workflowInterceptorModules?: string[];
}

/**
 * The SDK holds a worker to no more workflow tasks than cached sagas, and to at least 2, warning when
 * it corrects either. The same rules, quietly: a cache of 1 (a test's) keeps the SDK's own slots.
 */
export function workflowTaskSlots(
  wanted: number,
  cache: number,
): Pick<WorkerOptions, 'maxConcurrentWorkflowTaskExecutions'> {
  return cache < 2 ? {} : { maxConcurrentWorkflowTaskExecutions: Math.max(2, Math.min(wanted, cache)) };
}

/**
 * A worker's cache of `cache` sagas and its workflow-task slots (`wanted`, held to workflowTaskSlots'
 * rules): the saga's worker and the bench's floor worker both take them from here.
 */
export function workerCapacity(
  cache: number,
  wanted: number,
): Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions'> {
  return { maxCachedWorkflows: cache, ...workflowTaskSlots(wanted, cache) };
}

/** Creates (does not run) a Worker serving the saga's workflow and activities on `taskQueue`. */
export async function createConnectWorker(opts: CreateWorkerOptions): Promise<Worker> {
  // First, so a bad rate fails before the slow bundling.
  const activitiesPerSecond = taskQueueActivitiesPerSecond(opts.rateLimitPerSecond, opts.taskQueuePartitions);
  const workflowBundle =
    opts.workflowBundle ??
    (await loadConnectWorkflowBundle({
      failureConverterPath: opts.dataConverter?.failureConverterPath,
      interceptorModules: opts.workflowInterceptorModules,
    }));
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle,
    activities: { ...opts.activities },
    maxTaskQueueActivitiesPerSecond: activitiesPerSecond,
    ...workerCapacity(
      opts.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
      opts.maxWorkflowTasks ?? DEFAULT_MAX_WORKFLOW_TASKS,
    ),
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.shutdownGraceMs !== undefined ? drainOptions(opts.shutdownGraceMs) : {}),
    ...(opts.interceptors ? { interceptors: opts.interceptors } : {}),
    ...(opts.sinks ? { sinks: opts.sinks } : {}),
  });
}
