/**
 * What the API commands a saga to do (starting it is in saga-start.ts, finding the saga that owns a
 * Tray instance in instance-lookup.ts): cancel, reissue a URL, signal a completed auth. Errors the HTTP layer must tell apart
 * come out as `ApiError`s.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcDeadlineError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import {
  authCompletedSignal,
  FAILURE_TYPES,
  reissueAuthUrlUpdate,
  REISSUE_REFUSALS,
  type AuthCompletedPayload,
  type ReissueAuthUrlResult,
} from '../common/messages.js';
import { describeOrClosed } from './closed-undecodable.js';
import { ApiError, isTemporalUnavailable, temporalUnavailable } from './errors.js';
import {
  closedAs,
  describeConnection,
  endingBecause,
  isRunning,
  memoOf,
  stepFrom,
  stepOf,
} from './saga-reads.js';
import { PAST_ATTACH_STEPS } from '../common/status-view.js';
import { signalOnce, signalRequestId } from './signal-once.js';
import { connectionClosed, failureOf, rpc, unknownSlot, UPDATE_TIMEOUT_MS, within } from './temporal-rpc.js';
import { GrpcStatus } from '../lib/grpc-status.js';
import { isTooManyUpdates, tooManyReissues } from './update-limit.js';

export { startConnection, type StartOutcome } from './saga-start.js';

/**
 * Requests cancellation (compensation then runs); 404 unknown, 409 already closed, or completed and
 * only tidying up (a cancel could no longer undo it).
 */
export async function cancelConnection(client: Client, connectionId: string): Promise<{ runId: string }> {
  const desc = await describeOrClosed(client, connectionId);
  if (!isRunning(desc)) throw connectionClosed(connectionId, closedAs(desc));
  if (stepOf(desc) === 'completed') {
    // Still open while it removes what a retried create left, but connected: nothing to undo.
    throw new ApiError(
      409,
      'connection_closed',
      `Connection ${JSON.stringify(connectionId)} is completed; it only tidies up, so a cancel could no longer undo it`,
    );
  }
  try {
    await rpc(client, () => client.workflow.getHandle(connectionId, desc.runId).cancel());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(connectionId);
    throw err;
  }
  return { runId: desc.runId };
}

const REISSUE_REJECTIONS: Record<string, { status: number; code: string }> = {
  [FAILURE_TYPES.unknownSlot]: { status: 422, code: 'unknown_slot' },
  [FAILURE_TYPES.slotCompleted]: { status: 409, code: 'slot_completed' },
  [FAILURE_TYPES.notAwaiting]: { status: 409, code: 'not_awaiting_auth' },
  [FAILURE_TYPES.reissueLimit]: { status: 409, code: 'reissue_limit' },
};

/** Pause before asking again when the saga had as many updates in flight as Temporal takes. */
const UPDATE_LIMIT_PAUSE_MS = 500;
/**
 * Time a last try keeps for the server's answer: on a loaded server a refusal can take a second to
 * come back, and a try that runs into the deadline ends as a timeout, which reads as a saga that did
 * not answer rather than as a burst.
 */
const LAST_TRY_MARGIN_MS = 2_000;

/**
 * `call`, asked again while the server refuses it for the updates already in flight on the saga (a
 * burst of reissues: a slot frees as soon as one is answered), until `deadline`; then the 503 that
 * says so.
 */
async function onceAdmitted<T>(deadline: number, call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isTooManyUpdates(err)) throw err;
      if (Date.now() + UPDATE_LIMIT_PAUSE_MS + LAST_TRY_MARGIN_MS >= deadline) throw tooManyReissues();
      await sleep(UPDATE_LIMIT_PAUSE_MS);
    }
  }
}

/**
 * The refusal the saga itself would give a reissue, read from its memo; undefined when only the saga
 * can tell. Before the update only steps past attach count, which never return to awaiting auths;
 * once the saga did not answer (`unanswered`: no worker), the memo is as current as the saga.
 */
function memoRefusal(
  desc: WorkflowExecutionDescription,
  externalAuthId: string,
  unanswered: boolean,
): ApiError | undefined {
  const memo = memoOf(desc);
  const step = stepFrom(desc, memo);
  if (!memo || step === undefined || (!unanswered && !PAST_ATTACH_STEPS.includes(step))) return undefined;
  // In the saga's own order and words (workflows/handlers.ts, reissueTarget).
  if (memo.completedSlots.includes(externalAuthId)) {
    return new ApiError(409, 'slot_completed', REISSUE_REFUSALS.slotCompleted(externalAuthId));
  }
  if (step !== 'awaiting_auth') {
    return new ApiError(409, 'not_awaiting_auth', REISSUE_REFUSALS.notAwaiting(step));
  }
  return undefined;
}

/** The `reissueAuthUrl` update: a fresh dialog URL for a pending slot. */
export async function reissueAuthUrl(
  client: Client,
  connectionId: string,
  externalAuthId: string,
): Promise<ReissueAuthUrlResult> {
  const desc = await describeConnection(client, connectionId);
  if (!isRunning(desc)) throw connectionClosed(connectionId, closedAs(desc));
  const memo = memoOf(desc);
  if (memo && !memo.authSlots.includes(externalAuthId)) {
    throw unknownSlot(externalAuthId);
  }
  // A DELETE a moment ago: the saga is ending though it may not show it yet, and with no worker the
  // update would only run into its timeout.
  const ending = endingBecause(desc);
  if (ending) {
    throw new ApiError(
      409,
      'not_awaiting_auth',
      `Connection ${JSON.stringify(connectionId)} is ending (${ending}) and issues no more URLs`,
    );
  }
  const refused = memoRefusal(desc, externalAuthId, false);
  if (refused) throw refused;
  const handle = client.workflow.getHandle(connectionId, desc.runId);
  const deadline = Date.now() + UPDATE_TIMEOUT_MS;
  try {
    return await onceAdmitted(deadline, () =>
      within(client, deadline - Date.now(), () =>
        handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId }] }),
      ),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const failure = failureOf(err.cause);
      const rejection = REISSUE_REJECTIONS[failure.type];
      if (rejection) throw new ApiError(rejection.status, rejection.code, failure.message);
      throw new ApiError(502, 'reissue_failed', `The saga could not issue a new URL: ${failure.message}`);
    }
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(connectionId);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err)) {
      // No worker moved the saga on meanwhile, so its memo now says what it would have answered.
      const now = await describeConnection(client, connectionId, desc.runId).catch(() => undefined);
      const settled = now && isRunning(now) ? memoRefusal(now, externalAuthId, true) : undefined;
      if (settled) throw settled;
      throw new ApiError(
        503,
        'saga_unresponsive',
        'The saga did not answer in time: no worker is running, or Tray is slow to issue the code. Ask again shortly',
      );
    }
    if (isTemporalUnavailable(err)) throw temporalUnavailable();
    throw err;
  }
}

/**
 * Sends `authCompleted` to the described run, once per `eventId` (the webhook-id): the server drops
 * a redelivery. 409 when the run closed in between, or takes no more signals.
 */
export async function signalAuthCompleted(
  client: Client,
  desc: WorkflowExecutionDescription,
  payload: AuthCompletedPayload & { eventId: string },
): Promise<void> {
  const execution = { workflowId: desc.workflowId, runId: desc.runId };
  const requestId = signalRequestId(authCompletedSignal.name, payload.eventId);
  try {
    await rpc(client, () => signalOnce(client, execution, authCompletedSignal, [payload], requestId));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(desc.workflowId);
    // The server's cap on signals per run (a relay sending thousands of distinct deliveries).
    if (isGrpcServiceError(err) && err.code === GrpcStatus.INVALID_ARGUMENT && /signal/i.test(err.details)) {
      throw new ApiError(
        409,
        'too_many_signals',
        `Connection ${JSON.stringify(desc.workflowId)} takes no more signals: ${err.details}`,
      );
    }
    throw err;
  }
}
