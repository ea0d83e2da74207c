/**
 * Everything the API asks of Temporal: start, describe, query, cancel, update, signal and visibility
 * lookups, each bounded by a deadline so a missing worker or server never hangs a request. Errors
 * the HTTP layer must tell apart come out as `ApiError`s.
 */
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcDeadlineError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  authCompletedSignal,
  connectionIdFor,
  FAILURE_TYPES,
  reissueAuthUrlUpdate,
  SEARCH_ATTRIBUTES,
  statusQuery,
  WORKFLOW_TYPE,
  type AuthCompletedPayload,
  type ConnectInput,
  type ConnectResult,
  type ConnectStep,
  type ConnectionStatus,
  type ReissueAuthUrlResult,
} from '../common/messages.js';
import {
  decodeMemo,
  initialMemo,
  isStep,
  MEMO_KEY,
  STEPS_BEFORE_URLS,
  type ConnectMemo,
} from '../common/status-view.js';
import { ApiError, isTemporalUnavailable, temporalUnavailable } from './errors.js';

/** Deadline for plain RPCs (start, describe, signal, cancel, list). */
export const RPC_TIMEOUT_MS = 5_000;
/** Deadline for one `status` query: short, so GET still answers within 3 s when no worker runs. */
export const QUERY_TIMEOUT_MS = 2_000;
/**
 * What GET may spend when no worker answers the query: the spec wants an answer within 3 s, and the
 * first describe and the HTTP round trip need some of that.
 */
const GET_BUDGET_MS = 2_500;
/** The part of GET's budget kept for a last describe after an unanswered query. */
const RECHECK_MS = 500;
/** Deadline for the reissue update, which needs a worker and one Tray request. */
export const UPDATE_TIMEOUT_MS = 15_000;
const POLL_INTERVAL_MS = 150;

function within<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.withDeadline(Date.now() + ms, fn);
}

/** Runs a Temporal call, turning "server unreachable" into a 503 `ApiError`. */
async function rpc<T>(client: Client, fn: () => Promise<T>, ms = RPC_TIMEOUT_MS): Promise<T> {
  try {
    return await within(client, ms, fn);
  } catch (err) {
    if (isTemporalUnavailable(err)) throw temporalUnavailable();
    throw err;
  }
}

const connectionNotFound = (connectionId: string) =>
  new ApiError(404, 'not_found', `No connection ${JSON.stringify(connectionId)}`);
const connectionClosed = (connectionId: string, status: string) =>
  new ApiError(409, 'connection_closed', `Connection ${JSON.stringify(connectionId)} is closed (${status})`);

/** The memo the saga keeps (see `ConnectMemo`), or undefined when absent or malformed. */
export function memoOf(desc: WorkflowExecutionDescription): ConnectMemo | undefined {
  return decodeMemo(desc.memo?.[MEMO_KEY]);
}

/** The saga's current step as the server holds it: the memo, else the ConnectStep search attribute. */
export function stepOf(desc: WorkflowExecutionDescription): ConnectStep | undefined {
  const fromMemo = memoOf(desc)?.step;
  if (fromMemo) return fromMemo;
  const fromSa = desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.step);
  return isStep(fromSa) ? fromSa : undefined;
}

export function isRunning(desc: WorkflowExecutionDescription): boolean {
  return desc.status.name === 'RUNNING';
}

/** Describes the saga; 404 when there is none (or the id belongs to some other workflow type). */
export async function describeConnection(
  client: Client,
  connectionId: string,
  runId?: string,
  timeoutMs = RPC_TIMEOUT_MS,
): Promise<WorkflowExecutionDescription> {
  try {
    const desc = await rpc(
      client,
      () => client.workflow.getHandle(connectionId, runId).describe(),
      timeoutMs,
    );
    if (desc.type !== WORKFLOW_TYPE) throw connectionNotFound(connectionId);
    return desc;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw connectionNotFound(connectionId);
    throw err;
  }
}

export interface StartOutcome {
  connectionId: string;
  runId: string;
  /** false when a running saga with that id already existed. */
  created: boolean;
}

/**
 * Starts `connectIntegration` with the connection id as workflow id. A running saga with that id is
 * returned instead (the server refuses a second one, so concurrent starts yield exactly one run);
 * a closed one is replaced by a new run.
 */
export async function startConnection(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
): Promise<StartOutcome> {
  const connectionId = connectionIdFor(input.externalUserId, input.solutionId);
  try {
    const handle = await rpc(client, () =>
      client.workflow.start(WORKFLOW_TYPE, {
        workflowId: connectionId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        memo: { [MEMO_KEY]: initialMemo(input) },
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.externalUserId, value: input.externalUserId },
          { key: SEARCH_ATTRIBUTES.solutionId, value: input.solutionId },
          { key: SEARCH_ATTRIBUTES.step, value: 'ensuring_user' },
        ],
        staticSummary: `Connect ${input.externalUserId} to solution ${input.solutionId}`,
      }),
    );
    return { connectionId, runId: handle.firstExecutionRunId, created: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const desc = await describeConnection(client, connectionId);
  // Ids may contain ':', so another user and solution can spell the same workflow id; that saga
  // (and its one-time auth URLs) must not be handed to this caller.
  const running = statusFromDescription(desc);
  if (
    running.externalUserId !== '' &&
    running.solutionId !== '' &&
    (running.externalUserId !== input.externalUserId || running.solutionId !== input.solutionId)
  ) {
    throw new ApiError(
      409,
      'connection_id_conflict',
      `Connection ${JSON.stringify(connectionId)} belongs to another externalUserId and solutionId that spell the same id`,
    );
  }
  return { connectionId, runId: desc.runId, created: false };
}

/** Builds the status object from what the server holds (memo, search attributes), for no-worker answers. */
export function statusFromDescription(desc: WorkflowExecutionDescription): ConnectionStatus {
  const memo = memoOf(desc);
  const completed = new Set(memo?.completedSlots ?? []);
  const status: ConnectionStatus = {
    connectionId: desc.workflowId,
    runId: desc.runId,
    step: stepOf(desc) ?? 'ensuring_user',
    externalUserId:
      memo?.externalUserId || desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.externalUserId) || '',
    solutionId: memo?.solutionId || desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.solutionId) || '',
    authSlots: (memo?.authSlots ?? []).map((externalAuthId) => ({
      externalAuthId,
      state: completed.has(externalAuthId) ? ('completed' as const) : ('pending' as const),
    })),
  };
  const solutionInstanceId =
    memo?.solutionInstanceId ?? desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.solutionInstanceId);
  if (memo?.userId) status.userId = memo.userId;
  if (solutionInstanceId) status.solutionInstanceId = solutionInstanceId;
  if (memo?.deadline) status.deadline = memo.deadline;
  return status;
}

/** The first ApplicationFailure (or other Temporal failure) along a cause chain, as `{ type, message }`. */
function failureOf(err: unknown): { type: string; message: string } {
  let fallback: { type: string; message: string } | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof ApplicationFailure && e.type) return { type: e.type, message: e.message };
    if (!fallback && !(e instanceof WorkflowFailedError)) fallback = { type: e.name, message: e.message };
  }
  return fallback ?? { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** The status of a closed saga: from its result (completed) or its failure. */
async function closedStatus(client: Client, desc: WorkflowExecutionDescription): Promise<ConnectionStatus> {
  const status = statusFromDescription(desc);
  const handle = client.workflow.getHandle(desc.workflowId, desc.runId, { followRuns: false });
  switch (desc.status.name) {
    case 'COMPLETED': {
      const result = (await rpc(client, () => handle.result())) as ConnectResult;
      const byExternalId = new Map(result.authValues.map((v) => [v.externalId, v.authId]));
      return {
        ...status,
        step: 'completed',
        userId: result.userId,
        solutionInstanceId: result.solutionInstanceId,
        authSlots:
          status.authSlots.length > 0
            ? status.authSlots.map((slot) => {
                const authId = byExternalId.get(slot.externalAuthId);
                return authId ? { externalAuthId: slot.externalAuthId, state: 'completed', authId } : slot;
              })
            : result.authValues.map((v) => ({
                externalAuthId: v.externalId,
                state: 'completed',
                authId: v.authId,
              })),
      };
    }
    case 'CANCELLED':
      return { ...status, step: 'cancelled' };
    case 'TERMINATED':
    case 'TIMED_OUT':
    case 'FAILED': {
      let error: { type: string; message: string };
      try {
        await rpc(client, () => handle.result());
        error = { type: 'Error', message: `workflow ${desc.status.name.toLowerCase()}` };
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const cause = err instanceof WorkflowFailedError ? err.cause : err;
        if (cause instanceof TerminatedFailure) error = { type: 'Terminated', message: cause.message };
        else if (cause instanceof TimeoutFailure)
          error = { type: 'WorkflowTimedOut', message: cause.message };
        else if (cause instanceof CancelledFailure) return { ...status, step: 'cancelled' };
        else error = failureOf(err);
      }
      return { ...status, step: error.type === FAILURE_TYPES.authTimeout ? 'timed_out' : 'failed', error };
    }
    default:
      return {
        ...status,
        step: 'failed',
        error: { type: 'Closed', message: `workflow ${desc.status.name}` },
      };
  }
}

/** One `status` query under a short deadline; undefined when no worker answered in time. */
async function queryStatus(
  client: Client,
  handle: WorkflowHandle,
  timeoutMs: number,
): Promise<ConnectionStatus | undefined> {
  if (timeoutMs <= 0) return undefined;
  try {
    return await within(client, timeoutMs, () => handle.query(statusQuery));
  } catch {
    // No worker, a worker without the query yet, or the run closed meanwhile: the caller falls back
    // to what describe says.
    return undefined;
  }
}

/**
 * The status object: the `status` query while running (answered within `queryTimeoutMs`, else built
 * from describe), the result or failure once closed. 404 for an unknown id.
 */
export async function getConnectionStatus(
  client: Client,
  connectionId: string,
  queryTimeoutMs = QUERY_TIMEOUT_MS,
): Promise<ConnectionStatus> {
  const started = Date.now();
  const budgetLeft = () => GET_BUDGET_MS - (Date.now() - started);
  const desc = await describeConnection(client, connectionId);
  if (!isRunning(desc)) return closedStatus(client, desc);
  const handle = client.workflow.getHandle(connectionId, desc.runId);
  const queried = await queryStatus(client, handle, Math.min(queryTimeoutMs, budgetLeft() - RECHECK_MS));
  if (queried) return queried;
  // The run may have closed meanwhile (terminated, timed out, finished by a slow worker): look again
  // within what the budget leaves. If even that goes unanswered, the first look stands.
  let again = desc;
  try {
    again = await describeConnection(client, connectionId, undefined, Math.max(RECHECK_MS, budgetLeft()));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 503)) throw err;
  }
  return isRunning(again) ? statusFromDescription(again) : closedStatus(client, again);
}

function hasAuthUrls(status: ConnectionStatus): boolean {
  if (!STEPS_BEFORE_URLS.includes(status.step)) return true;
  return status.authSlots.length > 0 && status.authSlots.every((s) => s.url || s.state === 'completed');
}

/**
 * Polls the `status` query until every slot has a URL, the saga has moved past issuing them or
 * closed, or `waitMs` passed; answers the last status seen (from describe when no query answered).
 */
export async function waitForAuthUrls(
  client: Client,
  connectionId: string,
  runId: string,
  waitMs: number,
): Promise<ConnectionStatus> {
  const until = Date.now() + waitMs;
  const handle = client.workflow.getHandle(connectionId, runId);
  let last: ConnectionStatus | undefined;
  for (;;) {
    const remaining = until - Date.now();
    const queried = await queryStatus(client, handle, Math.min(QUERY_TIMEOUT_MS, remaining));
    if (queried) {
      last = queried;
      if (hasAuthUrls(queried)) return queried;
    } else {
      // The run may have closed (e.g. a permanent Tray error): then its final status is the answer.
      const desc = await describeConnection(client, connectionId);
      if (desc.runId !== runId || !isRunning(desc)) return getConnectionStatus(client, connectionId);
      if (!last) last = statusFromDescription(desc);
    }
    const left = until - Date.now();
    if (left <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, left)));
  }
  return last ?? getConnectionStatus(client, connectionId, 0);
}

/**
 * Requests cancellation (compensation then runs); 404 unknown, 409 already closed, or completed and
 * only tidying up (a cancel could no longer undo it).
 */
export async function cancelConnection(client: Client, connectionId: string): Promise<{ runId: string }> {
  const desc = await describeConnection(client, connectionId);
  if (!isRunning(desc)) throw connectionClosed(connectionId, desc.status.name.toLowerCase());
  if (stepOf(desc) === 'completed') throw connectionClosed(connectionId, 'completed');
  try {
    await rpc(client, () => client.workflow.getHandle(connectionId, desc.runId).cancel());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(connectionId, 'closed');
    throw err;
  }
  return { runId: desc.runId };
}

const REISSUE_REJECTIONS: Record<string, { status: number; code: string }> = {
  [FAILURE_TYPES.unknownSlot]: { status: 422, code: 'unknown_slot' },
  [FAILURE_TYPES.slotCompleted]: { status: 409, code: 'slot_completed' },
  [FAILURE_TYPES.notAwaiting]: { status: 409, code: 'not_awaiting_auth' },
};

/** The `reissueAuthUrl` update: a fresh dialog URL for a pending slot. */
export async function reissueAuthUrl(
  client: Client,
  connectionId: string,
  externalAuthId: string,
): Promise<ReissueAuthUrlResult> {
  const desc = await describeConnection(client, connectionId);
  if (!isRunning(desc)) throw connectionClosed(connectionId, desc.status.name.toLowerCase());
  const memo = memoOf(desc);
  if (memo && !memo.authSlots.includes(externalAuthId)) {
    throw new ApiError(422, 'unknown_slot', `Connection has no auth slot ${JSON.stringify(externalAuthId)}`);
  }
  const handle = client.workflow.getHandle(connectionId, desc.runId);
  try {
    return await within(client, UPDATE_TIMEOUT_MS, () =>
      handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId }] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const failure = failureOf(err.cause);
      const rejection = REISSUE_REJECTIONS[failure.type];
      if (rejection) throw new ApiError(rejection.status, rejection.code, failure.message);
      throw new ApiError(502, 'reissue_failed', `The saga could not issue a new URL: ${failure.message}`);
    }
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(connectionId, 'closed');
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err)) {
      throw new ApiError(503, 'saga_unresponsive', 'The saga did not answer in time; is a worker running?');
    }
    if (isTemporalUnavailable(err)) throw temporalUnavailable();
    throw err;
  }
}

function visibilityString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Finds the saga run that owns a Tray solution instance through the TraySolutionInstanceId search
 * attribute: the running one if any, else a closed one (so the caller can answer 409). The run
 * matters: a newer run of the same connection has an instance of its own.
 */
export async function findBySolutionInstanceId(
  client: Client,
  solutionInstanceId: string,
): Promise<{ connectionId: string; runId: string; running: boolean } | undefined> {
  // Temporal's visibility query parser cannot take a NUL, and no Tray id holds one.
  if (solutionInstanceId.includes('\u0000')) return undefined;
  const base = `WorkflowType = ${visibilityString(WORKFLOW_TYPE)} AND TraySolutionInstanceId = ${visibilityString(solutionInstanceId)}`;
  const first = async (query: string) =>
    rpc(client, async () => {
      for await (const info of client.workflow.list({ query, pageSize: 1 })) {
        return { connectionId: info.workflowId, runId: info.runId };
      }
      return undefined;
    });
  const running = await first(`${base} AND ExecutionStatus = "Running"`);
  if (running) return { ...running, running: true };
  const closed = await first(base);
  return closed ? { ...closed, running: false } : undefined;
}

/** Sends `authCompleted` to the described run; 409 when it closed in between. */
export async function signalAuthCompleted(
  client: Client,
  desc: WorkflowExecutionDescription,
  payload: AuthCompletedPayload,
): Promise<void> {
  try {
    await rpc(client, () =>
      client.workflow.getHandle(desc.workflowId, desc.runId).signal(authCompletedSignal, payload),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw connectionClosed(desc.workflowId, 'closed');
    throw err;
  }
}
