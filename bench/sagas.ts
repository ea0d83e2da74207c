/**
 * Drives sagas the way the real flow does: start the workflow, poll `status` until the auth URLs are
 * out, let the "end user" finish each auth in the emulator (as its dialog would), signal
 * `authCompleted` per slot (as the webhook would), then await the result.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import {
  authCompletedSignal,
  connectionIdFor,
  statusQuery,
  WORKFLOW_TYPE,
  type ConnectInput,
  type ConnectResult,
  type ConnectionStatus,
} from '../common/messages.js';
import type { Emulator } from '../emulator/server.js';
import { abortable } from '../dev/async.js';

export type UserKind = 'new' | 'known';

export interface SagaPlan {
  externalUserId: string;
  kind: UserKind;
}

export interface SagaOutcome {
  workflowId: string;
  kind: UserKind;
  /** ms since epoch: just before the start call. */
  startedAt: number;
  /** When the status query first showed a URL for every slot. */
  authUrlsAt?: number;
  completedAt?: number;
  error?: string;
}

export interface DriveContext {
  client: Client;
  emulator: Emulator;
  taskQueue: string;
  solutionId: string;
  slotIds: string[];
  signal: AbortSignal;
}

/** How often the status query is polled; the time to auth URLs is observed at this resolution. */
export const STATUS_POLL_MS = 100;

/** Bench runs are short; a saga left behind by an aborted run times out (and compensates) soon. */
const AUTH_TIMEOUT = '5m';

/**
 * Sagas for `count` users, alternating new and known (created beforehand by the caller), so both
 * kinds run under the same load; with an odd count the extra one is new.
 */
export function planSagas(count: number): SagaPlan[] {
  const run = randomBytes(3).toString('hex');
  return Array.from({ length: count }, (_, i) => {
    const kind: UserKind = i % 2 === 0 ? 'new' : 'known';
    return { externalUserId: `bench-${run}-${kind}-${i + 1}`, kind };
  });
}

/** Rejects as soon as `signal` aborts, so an await on a server call can't outlive the run. */
function untilAborted<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

const CLOSED_STEPS = new Set(['completed', 'failed', 'timed_out', 'cancelled', 'compensating']);

/** Runs one saga end to end; never throws (a failure is reported in the outcome). */
export async function driveSaga(ctx: DriveContext, plan: SagaPlan): Promise<SagaOutcome> {
  const workflowId = connectionIdFor(plan.externalUserId, ctx.solutionId);
  const outcome: SagaOutcome = { workflowId, kind: plan.kind, startedAt: Date.now() };
  try {
    // The abort signal cancels the saga's gRPC calls too, so none is still retrying once the
    // connection closes (grpc-js throws from a timer then).
    await ctx.client.withAbortSignal(ctx.signal, () => driveSteps(ctx, plan, outcome));
  } catch (error) {
    outcome.error = (error as Error).message;
  }
  return outcome;
}

async function driveSteps(ctx: DriveContext, plan: SagaPlan, outcome: SagaOutcome): Promise<void> {
  const { workflowId } = outcome;
  const input: ConnectInput = {
    externalUserId: plan.externalUserId,
    userName: `Bench user ${plan.externalUserId}`,
    solutionId: ctx.solutionId,
    authSlots: ctx.slotIds,
    authTimeout: AUTH_TIMEOUT,
  };
  const handle = await untilAborted(
    ctx.signal,
    ctx.client.workflow.start(WORKFLOW_TYPE, { taskQueue: ctx.taskQueue, workflowId, args: [input] }),
  );

  let status: ConnectionStatus;
  for (;;) {
    status = await untilAborted(ctx.signal, handle.query(statusQuery));
    if (status.authSlots.every((slot) => slot.url) && status.userId) break;
    if (CLOSED_STEPS.has(status.step)) {
      // A compensating saga's status carries no cause yet; its current details in the Web UI do.
      const cause = status.error?.message ?? `the cause is in ${status.connectionId}'s current details`;
      throw new Error(`saga reached ${status.step} before its auth URLs: ${cause}`);
    }
    await abortable(ctx.signal, STATUS_POLL_MS);
  }
  outcome.authUrlsAt = Date.now();

  const userId = status.userId;
  for (const externalAuthId of ctx.slotIds) {
    const authId = ctx.emulator.store.createAuthentication(userId, externalAuthId);
    await untilAborted(
      ctx.signal,
      handle.signal(authCompletedSignal, {
        externalAuthId,
        authId,
        eventId: `msg_${randomBytes(8).toString('hex')}`,
      }),
    );
  }

  const result = (await untilAborted(ctx.signal, handle.result())) as ConnectResult;
  outcome.completedAt = Date.now();
  // An honest benchmark checks the work was done, not just that the workflow said so.
  const instance = ctx.emulator.store.instances.get(result.solutionInstanceId);
  if (!instance?.enabled || instance.owner !== userId || instance.authValues.length !== ctx.slotIds.length) {
    throw new Error(`instance ${result.solutionInstanceId} is not enabled with every auth in the emulator`);
  }
}

/**
 * Runs the plans with at most `concurrency` in flight, calling `onDone` after each; resolves with the
 * outcomes in plan order.
 */
export async function runSagas(
  ctx: DriveContext,
  plans: SagaPlan[],
  concurrency: number,
  onDone: (outcome: SagaOutcome, done: number) => void,
): Promise<SagaOutcome[]> {
  const outcomes: SagaOutcome[] = new Array<SagaOutcome>(plans.length);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < plans.length && !ctx.signal.aborted) {
      const index = next++;
      const outcome = await driveSaga(ctx, plans[index] as SagaPlan);
      outcomes[index] = outcome;
      onDone(outcome, ++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plans.length) }, lane));
  return outcomes.filter((o): o is SagaOutcome => o !== undefined);
}
