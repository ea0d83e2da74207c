/**
 * Starting a saga and waiting for its auth URLs: one update-with-start whose update (`waitForAuthUrls`)
 * the saga answers once the URLs exist, so POST waits without polling. A running saga with the same
 * id gets the same update instead of a second run, under the same update id: POSTs that come while
 * it is still before its URLs (a partner retrying after `?wait`) all wait on the one update.
 */
import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import {
  connectionIdFor,
  WAIT_FOR_AUTH_URLS_UPDATE_ID,
  waitForAuthUrlsUpdate,
  WORKFLOW_TYPE,
  type ConnectInput,
  type ConnectionStatus,
  type WaitForAuthUrlsAnswer,
} from '../common/messages.js';
import { START_REQUEST_MEMO_KEY } from '../common/status-view.js';
import { sagaStartOptions } from './start-options.js';
import {
  closedStatus,
  describeConnection,
  describeIfAny,
  endingBecause,
  getConnectionStatus,
  isRunning,
  statusFromDescription,
  stepOf,
} from './saga-reads.js';
import { isTemporalUnavailable } from './errors.js';
import { updateRefusal } from './feature-refusal.js';
import { waitForUrlsByQuery } from './urls-by-query.js';
import { askAgain, statusHeld } from './fresh-status.js';
import { endedStatus, ENDING_STEPS, untilClosed } from './ended-start.js';
import { checkReachable, ensureReachable, QUERY_TIMEOUT_MS, rpc, waitWithin } from './temporal-rpc.js';

export interface StartOutcome {
  connectionId: string;
  runId: string;
  /** false when a running saga with that id already existed. */
  created: boolean;
  /** The run the start found already there, as described then; absent when the start made it. */
  found?: WorkflowExecutionDescription;
}

const startedBy = (desc: WorkflowExecutionDescription, requestId: string) =>
  desc.memo?.[START_REQUEST_MEMO_KEY] === requestId;

/**
 * Starts `connectIntegration` with the connection id as workflow id. A running saga with that id is
 * returned instead (the server refuses a second one, so concurrent starts yield exactly one run);
 * a closed one is replaced by a new run.
 */
export async function startConnection(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
  connectionId = connectionIdFor(input.externalUserId, input.solutionId),
  requestId: string = randomUUID(),
): Promise<StartOutcome> {
  try {
    const handle = await rpc(client, () =>
      client.workflow.start(WORKFLOW_TYPE, {
        ...sagaStartOptions(taskQueue, input, connectionId, requestId),
        workflowIdConflictPolicy: 'FAIL',
      }),
    );
    return { connectionId, runId: handle.firstExecutionRunId, created: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const desc = await describeConnection(client, connectionId);
  // An update-with-start of this same request may have started it before its deadline passed.
  return { connectionId, runId: desc.runId, created: startedBy(desc, requestId), found: desc };
}

/**
 * Starts the saga (or finds the running one) and answers its status once every slot has a URL, the
 * saga moved past issuing them or closed, or `waitMs` passed (then the status as it stands).
 */
export async function startAndWaitForUrls(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
  connectionId: string,
  waitMs: number,
): Promise<StartAnswer> {
  const requestId = randomUUID();
  if (waitMs > 0) {
    await ensureReachable(client);
    const deadline = Date.now() + waitMs;
    let answer: StartAnswer | undefined;
    try {
      answer = await waitedWithUpdate(client, taskQueue, input, connectionId, requestId, deadline);
    } catch (err) {
      const refused = updateRefusal(err);
      if (!refused) throw err;
      const queried = await waitedByQuery(client, taskQueue, input, connectionId, requestId, deadline);
      answer = { ...queried, updateRefused: refused };
    }
    // Either way, a saga this request started that is ending is answered as it ended.
    if (answer?.created) return { ...answer, status: await endedStatus(client, answer.status, deadline) };
    if (answer) return answer;
  }
  // No wait asked for, or the update never reached the server: start as a plain start would. A saga
  // that was running may have its URLs: ask it, as GET does (a new one has none yet).
  const { created } = await startConnection(client, taskQueue, input, connectionId, requestId);
  const queryMs = created ? 0 : QUERY_TIMEOUT_MS;
  return { status: await getConnectionStatus(client, connectionId, queryMs), created };
}

/** POST's answer; `updateRefused` names what the server refused when the wait fell back to queries. */
export interface StartAnswer {
  status: ConnectionStatus;
  created: boolean;
  updateRefused?: string;
}

/** The wait through the update; undefined when the update reached no run this request may answer with. */
async function waitedWithUpdate(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
  connectionId: string,
  requestId: string,
  deadline: number,
): Promise<StartAnswer | undefined> {
  // The shared update id unless `updateId` says otherwise, with what is left of the wait.
  const ask = (updateId?: string) =>
    updateWithStart(client, taskQueue, input, connectionId, requestId, deadline - Date.now(), updateId);
  const waited = () => waitedStart(client, ask, connectionId, requestId, deadline);
  let outcome = await waited();
  // The saga it found ended while this request looked at it (a DELETE racing this POST): once
  // more, so the request waits it out and starts a new one rather than answer a dead saga.
  if (outcome && !outcome.created && ENDING_STEPS.includes(outcome.status.step) && deadline > Date.now()) {
    outcome = await waited();
  }
  return outcome;
}

/**
 * The waited start: the saga's answer to the update (or the status as it stands when the wait
 * passed), or undefined when the update reached no run this request may answer with.
 */
async function waitedStart(
  client: Client,
  ask: (updateId?: string) => Promise<WaitForAuthUrlsAnswer | undefined>,
  connectionId: string,
  requestId: string,
  deadline: number,
): Promise<{ status: ConnectionStatus; created: boolean } | undefined> {
  const first = await ask();
  // The saga names the request whose start made it: this request's own saga needs no describe.
  if (first?.startRequest === requestId) return { status: statusOf(first), created: true };
  let answered = first && statusOf(first);
  // The run the update reached, unless it gave no answer (no worker, the wait passed, the saga
  // closed first): then whatever run the server holds, if this request started it or it runs.
  let desc = await describeIfAny(client, connectionId, answered?.runId);
  // A run being cancelled or compensating (a DELETE a moment ago, a timeout) is no saga to hand
  // out: its URLs lead to an instance being removed. Once it closed, this request starts anew.
  if (desc && isEnding(desc) && !startedBy(desc, requestId)) desc = await untilClosed(client, desc, deadline);
  if (desc && !isRunning(desc) && !startedBy(desc, requestId) && deadline > Date.now()) {
    // The shared update id named an ended run's update, so the server answered from that run (or
    // refused) instead of starting a new one: ask again under this request's own id.
    answered = await ask(requestId).then((again) => again && statusOf(again));
    desc = await describeIfAny(client, connectionId, answered?.runId);
  }
  // A run that closed and was not this request's is no answer: the start after this replaces it.
  if (!desc || !(startedBy(desc, requestId) || isRunning(desc))) return undefined;
  const created = startedBy(desc, requestId);
  // Still ending when the wait passed: its answers may predate the cancel, its URLs are dead.
  const ending = !created && isEnding(desc);
  // A saga this request did not start may have answered the shared update long ago.
  const current = answered && !created && !ending ? await askAgain(client, desc, deadline) : undefined;
  const status =
    current ??
    (answered && !created ? await statusHeld(client, connectionId, answered, deadline) : answered) ??
    // No answer: the description just read says where the saga stands, with no second look. A run
    // that closed is this request's own (a DELETE ended it at once): read as that run, not as the
    // connection's newest, which another POST may have started since.
    (isRunning(desc) ? statusFromDescription(desc) : await closedStatus(client, desc));
  return { status: ending ? withoutUrls(status) : status, created };
}

/**
 * The wait on a server that refuses updates, by asking the saga's status query. A run that is ending
 * is waited out as on the update path: its URLs lead to an instance being removed.
 */
async function waitedByQuery(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
  connectionId: string,
  requestId: string,
  deadline: number,
): Promise<StartAnswer> {
  let started = await startConnection(client, taskQueue, input, connectionId, requestId);
  const { found } = started;
  if (!started.created && found && isEnding(found)) {
    const after = await untilClosed(client, found, deadline);
    // Still ending when the wait passed: the status as it stands, without its dead URLs.
    if (after && isRunning(after)) {
      return { status: withoutUrls(await getConnectionStatus(client, connectionId, 0)), created: false };
    }
    started = await startConnection(client, taskQueue, input, connectionId, requestId);
  }
  const status = await waitForUrlsByQuery(client, connectionId, deadline);
  if (started.created) return { status, created: true };
  // A DELETE may have come while it asked: the answers before the cancel still carry the URLs.
  const now = await describeIfAny(client, connectionId, started.runId);
  return { status: now && isEnding(now) ? withoutUrls(status) : status, created: false };
}

/** Whether the run is open but on its way out: cancel requested, compensating, or past its end. */
function isEnding(desc: WorkflowExecutionDescription): boolean {
  if (!isRunning(desc)) return false;
  const step = stepOf(desc);
  return endingBecause(desc, step) !== undefined || (step !== undefined && ENDING_STEPS.includes(step));
}

/** The status in the update's answer, without the request id that came with it. */
const statusOf = ({ startRequest: _, ...status }: WaitForAuthUrlsAnswer): ConnectionStatus => status;

function withoutUrls(status: ConnectionStatus): ConnectionStatus {
  return { ...status, authSlots: status.authSlots.map(({ url: _url, ...slot }) => slot) };
}

/** How early a deadline's error may come and still be the wait passing (timers' granularity). */
const DEADLINE_SLACK_MS = 100;

/**
 * The update's answer, or undefined when it gave none within `waitMs` or the saga closed first.
 * `updateId` is the shared one, unless the saga that id reached had ended.
 */
async function updateWithStart(
  client: Client,
  taskQueue: string,
  input: ConnectInput,
  connectionId: string,
  requestId: string,
  waitMs: number,
  updateId = WAIT_FOR_AUTH_URLS_UPDATE_ID,
): Promise<WaitForAuthUrlsAnswer | undefined> {
  const startWorkflowOperation = new WithStartWorkflowOperation(WORKFLOW_TYPE, {
    ...sagaStartOptions(taskQueue, input, connectionId, requestId),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const until = Date.now() + waitMs;
  try {
    return await waitWithin(client, waitMs, () =>
      client.workflow.executeUpdateWithStart(waitForAuthUrlsUpdate, {
        startWorkflowOperation,
        updateId,
        args: [{ startRequest: true }],
      }),
    );
  } catch (err) {
    // A server that allows no updates: the caller waits by asking the saga instead.
    if (updateRefusal(err)) throw err;
    // The wait passed, the saga closed first, or the server is down. An error before the wait's end
    // may be the last, and a quick question tells (503 at once). At its end it is the wait passing:
    // the describe after this finds a dead server as well, where a loaded one could read as an outage.
    if (isTemporalUnavailable(err) && until - Date.now() > DEADLINE_SLACK_MS) await checkReachable(client);
    return undefined;
  }
}
