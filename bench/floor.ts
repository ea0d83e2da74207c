/**
 * Runs the floor (bench/floor-workflow.ts) in-process on a task queue of its own, on the same server
 * and with the same task-queue rate limit as the product worker, and drives its sagas the way the
 * API drives real ones: update-with-start until the "URLs", the end user's think time, one signal
 * per slot (what the webhook sends), then the result.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import { authCompletedSignal } from '../common/messages.js';
import { taskQueueActivitiesPerSecond } from '../worker/rate-limit.js';
import { workerCapacity } from '../worker/create-worker.js';
import { floorUrlsUpdate, type FloorInput } from './floor-workflow.js';
import { type SagaTiming, type TimedPlan } from './timing.js';
import { abortable } from '../dev/async.js';

export interface FloorWorker {
  taskQueue: string;
  /** When each no-op activity ran (ms since epoch): the floor's "requests". */
  activityTimes: number[];
  /** The cache and workflow-task slots the SDK gave the floor's worker (the product worker's). */
  capacity: { maxCachedWorkflows: number; workflowTaskSlots?: number };
  close(): Promise<void>;
}

const FLOOR_PATH = fileURLToPath(new URL('./floor-workflow.ts', import.meta.url));

/** Starts the floor worker with the product worker's task-queue limit for `rateLimitPerSecond`. */
export async function startFloorWorker(options: {
  connection: NativeConnection;
  namespace: string;
  rateLimitPerSecond: number;
  /** The task queue's partitions, as the product worker is told them. */
  taskQueuePartitions: number;
  /** The product worker's cache of sagas and its workflow-task slots: the same worker, less the work. */
  maxCachedWorkflows: number;
  maxWorkflowTasks: number;
}): Promise<FloorWorker> {
  const taskQueue = `bench-floor-${randomBytes(4).toString('hex')}`;
  const activityTimes: number[] = [];
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: FLOOR_PATH,
    // As lib/workflow-bundle.ts: the `.js` imports name `.ts` files.
    webpackConfigHook: (config) => {
      config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
      return config;
    },
    logger: quietLogger,
  });
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue,
    workflowBundle,
    activities: {
      noop: (): Promise<void> => {
        activityTimes.push(Date.now());
        return Promise.resolve();
      },
    },
    maxTaskQueueActivitiesPerSecond: taskQueueActivitiesPerSecond(
      options.rateLimitPerSecond,
      options.taskQueuePartitions,
    ),
    ...workerCapacity(options.maxCachedWorkflows, options.maxWorkflowTasks),
    identity: `bench-floor@${process.pid}`,
  });
  const running = worker.run();
  running.catch(() => undefined);
  const slots = worker.options.tuner.workflowTaskSlotSupplier;
  return {
    taskQueue,
    activityTimes,
    capacity: {
      maxCachedWorkflows: worker.options.maxCachedWorkflows,
      ...(slots.type === 'fixed-size' ? { workflowTaskSlots: slots.numSlots } : {}),
    },
    close: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    },
  };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface FloorContext {
  client: Client;
  taskQueue: string;
  slotIds: string[];
  signal: AbortSignal;
}

/** A timing for `plan`'s floor saga. */
export function newFloorTiming(plan: TimedPlan): SagaTiming {
  const id = `floor:${plan.externalUserId}`;
  return { id, externalUserId: plan.externalUserId, kind: plan.kind, startedAt: Date.now() };
}

/** One floor saga end to end; never throws (a failure is in the timing's `error`). */
export async function driveFloorSaga(
  ctx: FloorContext,
  plan: TimedPlan,
  timing: SagaTiming,
): Promise<SagaTiming> {
  const { id } = timing;
  timing.startedAt = Date.now();
  try {
    await ctx.client.withAbortSignal(ctx.signal, async () => {
      const input: FloorInput = { slots: ctx.slotIds, newUser: plan.kind === 'new' };
      const start = new WithStartWorkflowOperation('floorSaga', {
        workflowId: id,
        taskQueue: ctx.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
      });
      await ctx.client.workflow.executeUpdateWithStart(floorUrlsUpdate, { startWorkflowOperation: start });
      timing.urlsAt = Date.now();
      await abortable(ctx.signal, plan.thinkMs);
      const handle = await start.workflowHandle();
      for (const externalAuthId of ctx.slotIds) {
        timing.webhookAt = Date.now();
        await handle.signal(authCompletedSignal, { externalAuthId, authId: `floor-${externalAuthId}` });
      }
      await handle.result();
      timing.completedAt = Date.now();
    });
  } catch (error) {
    timing.error = (error as Error).message;
  }
  return timing;
}
