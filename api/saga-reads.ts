/**
 * What the API reads of a saga: its description, the memo and step the server holds, and its status
 * from the `status` query while a worker answers, else from describe, or from its result once closed.
 */
import {
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  FAILURE_TYPES,
  SEARCH_ATTRIBUTES,
  statusQuery,
  WORKFLOW_TYPE,
  type ConnectResult,
  type ConnectStep,
  type ConnectionStatus,
} from '../common/messages.js';
import { decodeMemo, isStep, MEMO_KEY, TERMINAL_STEPS, type ConnectMemo } from '../common/status-view.js';
import { ApiError } from './errors.js';
import {
  connectionNotFound,
  failureOf,
  QUERY_TIMEOUT_MS,
  rpc,
  RPC_TIMEOUT_MS,
  within,
} from './temporal-rpc.js';

/** What GET may spend when no worker answers: it must answer within 3 s, less describe and HTTP. */
const GET_BUDGET_MS = 2_500;
/** The part of GET's budget kept for a last describe after an unanswered query. */
const RECHECK_MS = 500;

/** What describe and a visibility listing both tell of a run, which is all the memo views need. */
export type RunView = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'typedSearchAttributes'>;

/** The memo the saga keeps, or undefined when absent or malformed. */
export function memoOf(desc: RunView): ConnectMemo | undefined {
  return decodeMemo(desc.memo?.[MEMO_KEY]);
}

/** The saga's current step as the server holds it: the memo, else the ConnectStep search attribute. */
export function stepOf(desc: RunView): ConnectStep | undefined {
  return stepFrom(desc, memoOf(desc));
}

/** `stepOf` for a memo already read. */
export function stepFrom(desc: RunView, memo: ConnectMemo | undefined): ConnectStep | undefined {
  if (memo) return memo.step;
  const fromSa = desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.step);
  return isStep(fromSa) ? fromSa : undefined;
}

/**
 * Why an open saga takes no more auths or reissues: it compensates, or a cancel was requested (a
 * DELETE a moment ago) before the saga shows it. Undefined when it is not ending that way.
 */
export function endingBecause(
  desc: WorkflowExecutionDescription,
  step = stepOf(desc),
): 'compensating' | 'cancel requested' | undefined {
  if (step === 'compensating') return 'compensating';
  // A cancel that lands once the saga completed (a DELETE that read the step just before) undoes
  // nothing: the tidying after it cannot be cancelled, and the run ends completed.
  if (step === 'completed') return undefined;
  return desc.raw.workflowExtendedInfo?.cancelRequested === true ? 'cancel requested' : undefined;
}

/** True while the run is open: signals, updates and cancels can still reach it. */
export function isRunning(desc: WorkflowExecutionDescription): boolean {
  return desc.status.name === 'RUNNING';
}

/** How a closed run ended, in the words GET uses: its last step when terminal, else Temporal's status. */
export function closedAs(desc: WorkflowExecutionDescription): string {
  const step = stepOf(desc);
  return step !== undefined && TERMINAL_STEPS.includes(step) ? step : desc.status.name.toLowerCase();
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

/** describeConnection, but undefined where it would answer 404 (no such saga). */
export async function describeIfAny(
  client: Client,
  connectionId: string,
  runId?: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await describeConnection(client, connectionId, runId);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** The Tray instance the run owns, from its memo or else its search attribute; undefined before the create. */
export function solutionInstanceIdOf(desc: RunView, memo = memoOf(desc)): string | undefined {
  return memo?.solutionInstanceId ?? desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.solutionInstanceId);
}

/** The status object from what the server holds (memo, search attributes), for no-worker answers. */
export function statusFromDescription(desc: RunView): ConnectionStatus {
  const memo = memoOf(desc);
  const attributes = desc.typedSearchAttributes;
  const completed = new Set(memo?.completedSlots ?? []);
  // Runs started before the memo carried every completed slot's authId have them from the attach on.
  const authIds = new Map((memo?.authIds ?? memo?.attached ?? []).map((v) => [v.externalId, v.authId]));
  const lastErrors = new Map((memo?.lastErrors ?? []).map((e) => [e.externalId, e.message]));
  const status: ConnectionStatus = {
    connectionId: desc.workflowId,
    runId: desc.runId,
    step: stepFrom(desc, memo) ?? 'ensuring_user',
    externalUserId: memo?.externalUserId || attributes.get(SEARCH_ATTRIBUTES.externalUserId) || '',
    solutionId: memo?.solutionId || attributes.get(SEARCH_ATTRIBUTES.solutionId) || '',
    authSlots: (memo?.authSlots ?? []).map((externalAuthId) => {
      const lastError = lastErrors.get(externalAuthId);
      const why = lastError !== undefined ? { lastError } : {};
      if (!completed.has(externalAuthId)) return { externalAuthId, state: 'pending' as const, ...why };
      const authId = authIds.get(externalAuthId);
      return { externalAuthId, state: 'completed' as const, ...(authId ? { authId } : {}), ...why };
    }),
  };
  const solutionInstanceId = solutionInstanceIdOf(desc, memo);
  if (memo?.userId) status.userId = memo.userId;
  if (solutionInstanceId) status.solutionInstanceId = solutionInstanceId;
  if (memo?.deadline) status.deadline = memo.deadline;
  if (memo?.error && (status.step === 'failed' || status.step === 'timed_out')) status.error = memo.error;
  return status;
}

/** The status of a completed saga: its result fills in the ids and the authIds. */
function completedStatus(status: ConnectionStatus, result: ConnectResult): ConnectionStatus {
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

/** The status of a closed saga: from its result (completed) or its failure. */
export async function closedStatus(
  client: Client,
  desc: WorkflowExecutionDescription,
): Promise<ConnectionStatus> {
  const status = statusFromDescription(desc);
  const handle = client.workflow.getHandle(desc.workflowId, desc.runId, { followRuns: false });
  switch (desc.status.name) {
    case 'COMPLETED':
      return completedStatus(status, (await rpc(client, () => handle.result())) as ConnectResult);
    case 'CANCELLED':
      return { ...status, step: 'cancelled' };
    case 'TERMINATED':
    case 'TIMED_OUT':
    case 'FAILED': {
      // Ended from outside after the saga reached its end (tidying up, or its handlers finishing):
      // the step it reached stands, and the error it failed with, as the list and the 409s tell it.
      if (status.step === 'completed' || status.step === 'cancelled' || status.error) return status;
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
      const timedOut = error.type === FAILURE_TYPES.authTimeout || status.step === 'timed_out';
      return { ...status, step: timedOut ? 'timed_out' : 'failed', error };
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
  try {
    return await within(client, timeoutMs, () => handle.query(statusQuery));
  } catch {
    // No worker, a worker without the query yet, or the run closed meanwhile: describe answers instead.
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
  const queryMs = Math.min(queryTimeoutMs, budgetLeft() - RECHECK_MS);
  // Nothing asked, no time spent: the description just read is the status as it stands. A second
  // describe here doubles the load when a burst of POSTs reach their wait's end together.
  if (queryMs <= 0) return statusFromDescription(desc);
  const handle = client.workflow.getHandle(connectionId, desc.runId);
  const queried = await queryStatus(client, handle, queryMs);
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
