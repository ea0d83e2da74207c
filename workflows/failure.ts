/** How the saga ends when something went wrong or it was cancelled. */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
} from '@temporalio/workflow';
import type { StatusError } from '../common/messages.js';
import { FAILURE_TYPES } from '../common/messages.js';
import type { SagaStatus } from './status.js';
import { countSagaFinished } from './metrics.js';

/** Ends a saga that failed before any instance could exist. */
export async function finishWithoutInstance(status: SagaStatus, failure: unknown): Promise<never> {
  const err = cancelledOr(failure);
  const cause = describeFailure(err);
  status.show({ error: cause });
  return await finish(status, err, cause);
}

/** Enters the closing step, lets running handlers finish, and fails the workflow. */
export async function finish(status: SagaStatus, err: unknown, cause: StatusError): Promise<never> {
  const cancelled = isCancellation(err);
  const timedOut = cause.type === FAILURE_TYPES.authTimeout;
  const outcome = cancelled ? 'cancelled' : timedOut ? 'timed_out' : 'failed';
  status.enter(outcome);
  countSagaFinished(outcome);
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  // An activity failure is re-typed with its cause's type, and kept as the cause for the UI.
  if (cancelled || err instanceof ApplicationFailure) throw err;
  throw ApplicationFailure.create({
    type: cause.type,
    message: cause.message,
    nonRetryable: true,
    ...(err instanceof Error ? { cause: err } : {}),
  });
}

/**
 * A cancellation whenever the saga was cancelled, even if the interrupted step failed on its own.
 * Call it before any await, so a cancel during compensation does not count.
 */
export function cancelledOr(err: unknown): unknown {
  if (isCancellation(err) || !CancellationScope.current().consideredCancelled) return err;
  return new CancelledFailure('the saga was cancelled', [], err instanceof Error ? err : undefined);
}

/** The type and message a failure is reported under: an activity's own failure, not its wrapper. */
export function describeFailure(err: unknown): StatusError {
  if (isCancellation(err)) return { type: 'Cancelled', message: 'the saga was cancelled' };
  const inner = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (inner instanceof ApplicationFailure) {
    return { type: inner.type ?? 'Error', message: inner.message };
  }
  if (inner instanceof Error) return { type: inner.name, message: inner.message };
  return { type: 'Error', message: String(inner) };
}
