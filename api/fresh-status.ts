/**
 * The status a waited POST answers with for a saga it did not start: the saga's shared answer to
 * `waitForAuthUrls` may hold the status of when its URLs came out, long before this request.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { statusQuery, type ConnectionStatus } from '../common/messages.js';
import { getConnectionStatus, isRunning } from './saga-reads.js';
import { QUERY_TIMEOUT_MS, waitWithin } from './temporal-rpc.js';

/**
 * The status as it stands when the saga gave no fresh answer (no worker, or it is compensating): the
 * shared answer may be long out of date, a slot completed since or the saga cancelled, and a partner
 * would hand its user a dead URL. The query if the wait leaves time for it, else what Temporal holds;
 * a slot still pending there keeps the shared answer's URL, which the held status does not carry.
 */
export async function statusHeld(
  client: Client,
  connectionId: string,
  shared: ConnectionStatus,
  deadline: number,
): Promise<ConnectionStatus> {
  let held: ConnectionStatus;
  try {
    held = await getConnectionStatus(
      client,
      connectionId,
      Math.max(0, Math.min(QUERY_TIMEOUT_MS, deadline - Date.now())),
    );
  } catch {
    // Temporal did not answer this time: the shared answer is still better than none.
    return shared;
  }
  if (held.step !== 'awaiting_auth') return held;
  const sharedUrl = (id: string) =>
    shared.authSlots.find((a) => a.externalAuthId === id && a.state === 'pending')?.url;
  return {
    ...held,
    authSlots: held.authSlots.map((slot) => {
      const url = slot.state === 'pending' && !slot.url ? sharedUrl(slot.externalAuthId) : undefined;
      return url ? { ...slot, url } : slot;
    }),
  };
}

/** Least time given to the fresh answer: the saga has its URLs, so one query gives it. */
const ASK_AGAIN_MIN_MS = 2_000;

/**
 * The running saga's status now, through the `status` query: the shared update may hold the status
 * of when the URLs came out (a slot completed or a URL issued again since). A query, not an update
 * of its own: that cost every repeated POST five history events and the whole status (40 KB for 20
 * long slots), so a partner re-POSTing a connection on each page view ran a long auth wait into the
 * history guard. Undefined when the saga closed or no worker answered in time; the caller then keeps
 * the shared answer.
 */
export async function askAgain(
  client: Client,
  desc: WorkflowExecutionDescription,
  deadline: number,
): Promise<ConnectionStatus | undefined> {
  if (!isRunning(desc)) return undefined;
  const handle = client.workflow.getHandle(desc.workflowId, desc.runId);
  try {
    return await waitWithin(client, Math.max(deadline - Date.now(), ASK_AGAIN_MIN_MS), () =>
      handle.query(statusQuery),
    );
  } catch {
    return undefined;
  }
}
