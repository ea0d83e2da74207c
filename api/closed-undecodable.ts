/**
 * A closed saga refuses DELETE and webhooks by its status alone, which needs no payload: an API that
 * cannot decode the saga's memo (payloads written under a key PAYLOAD_ENCRYPTION_KEYS does not hold)
 * still answers those 409s rather than a 500.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { undecodablePayload } from './errors.js';
import { describeConnection } from './saga-reads.js';
import { connectionClosed, rpc } from './temporal-rpc.js';

/** Temporal's closed statuses (WorkflowExecutionStatus), named as the API names a closed run. */
const CLOSED: Record<number, string> = {
  2: 'completed',
  3: 'failed',
  4: 'cancelled',
  5: 'terminated',
  6: 'continued_as_new',
  7: 'timed_out',
};

/** `describeConnection`, but a 409 `connection_closed` for a closed run whose payloads do not decode. */
export async function describeOrClosed(
  client: Client,
  connectionId: string,
  runId?: string,
): Promise<WorkflowExecutionDescription> {
  try {
    return await describeConnection(client, connectionId, runId);
  } catch (err) {
    if (!undecodablePayload(err)) throw err;
    const closed = await closedStatus(client, connectionId, runId).catch(() => undefined);
    if (closed !== undefined) throw connectionClosed(connectionId, closed);
    throw err;
  }
}

async function closedStatus(client: Client, workflowId: string, runId?: string): Promise<string | undefined> {
  const raw = await rpc(client, () =>
    client.workflowService.describeWorkflowExecution({
      namespace: client.options.namespace,
      execution: { workflowId, ...(runId !== undefined && { runId }) },
    }),
  );
  return CLOSED[Number(raw.workflowExecutionInfo?.status ?? 0)];
}
