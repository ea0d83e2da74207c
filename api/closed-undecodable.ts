/**
 * A closed saga refuses DELETE and webhooks by its status alone, which needs no payload: an API that
 * cannot decode the saga's memo (payloads written under a key PAYLOAD_ENCRYPTION_KEYS does not hold)
 * still answers those 409s rather than a 500.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../common/messages.js';
import { undecodablePayload } from './errors.js';
import { describeConnection } from './saga-reads.js';
import { connectionClosed, connectionNotFound, rpc } from './temporal-rpc.js';

/** Temporal's closed statuses (WorkflowExecutionStatus), named as the API names a closed run. */
const CLOSED: Record<number, string> = {
  2: 'completed',
  3: 'failed',
  4: 'cancelled',
  5: 'terminated',
  6: 'continued_as_new',
  7: 'timed_out',
};

/**
 * `describeConnection`, but a 409 `connection_closed` for a closed run whose payloads do not decode.
 * `butCompleted`: a completed run keeps the 500, since the webhook answers a redelivery of what it
 * attached 202, which only the memo can tell.
 */
export async function describeOrClosed(
  client: Client,
  connectionId: string,
  options: { butCompleted?: boolean } = {},
): Promise<WorkflowExecutionDescription> {
  try {
    return await describeConnection(client, connectionId);
  } catch (err) {
    if (!undecodablePayload(err)) throw err;
    const raw = await rawInfo(client, connectionId).catch(() => undefined);
    // Some other workflow under this id: describeConnection would have answered 404.
    if (raw !== undefined && raw.type !== WORKFLOW_TYPE) throw connectionNotFound(connectionId);
    const closed = raw?.closed;
    if (closed === undefined || (options.butCompleted && closed === 'completed')) throw err;
    throw connectionClosed(connectionId, closed);
  }
}

/** The run's workflow type and, once it closed, how: neither needs a payload decoded. */
async function rawInfo(client: Client, workflowId: string): Promise<{ type?: string; closed?: string }> {
  const raw = await rpc(client, () =>
    client.workflowService.describeWorkflowExecution({
      namespace: client.options.namespace,
      execution: { workflowId },
    }),
  );
  const info = raw.workflowExecutionInfo;
  return { type: info?.type?.name ?? undefined, closed: CLOSED[Number(info?.status ?? 0)] };
}
