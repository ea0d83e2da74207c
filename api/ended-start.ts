/**
 * A saga a POST started that ends before its URLs (a permanent Tray error such as an unknown
 * solution, a cancel at once) answers the POST's wait as soon as it compensates: no URLs, and no
 * cause until it has closed. Its end usually follows within moments, so the POST waits for it
 * within what is left of its wait and answers how the saga ended and why; a compensation that takes
 * longer (a create whose late copy it must look for) is answered as it stands.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { ConnectionStatus, ConnectStep } from '../common/messages.js';
import { closedStatus, describeIfAny, isRunning } from './saga-reads.js';
import { waitWithin } from './temporal-rpc.js';

/** Steps of a run that is compensating, or ended short of completing, while still open. */
export const ENDING_STEPS: readonly ConnectStep[] = ['compensating', 'failed', 'timed_out', 'cancelled'];

type RunRef = Pick<WorkflowExecutionDescription, 'workflowId' | 'runId'>;

/**
 * The run described again once it closed, or as it stands when `deadline` passed first. Compensation
 * is one Tray request, so a partner's "cancel, then connect again" usually gets its new saga.
 */
export async function untilClosed(
  client: Client,
  run: RunRef,
  deadline: number,
): Promise<WorkflowExecutionDescription | undefined> {
  const handle = client.workflow.getHandle(run.workflowId, run.runId, { followRuns: false });
  // Its outcome is not this request's: a cancelled or failed run rejects, and that is no error here.
  await waitWithin(client, Math.max(0, deadline - Date.now()), () => handle.result()).catch(() => undefined);
  return describeIfAny(client, run.workflowId, run.runId);
}

/**
 * `status` of a run this request started; if it is ending, the closed run's status (step and error)
 * once it closes before `deadline`, else `status` as it was.
 */
export async function endedStatus(
  client: Client,
  status: ConnectionStatus,
  deadline: number,
): Promise<ConnectionStatus> {
  if (!ENDING_STEPS.includes(status.step) || deadline <= Date.now()) return status;
  const run = await untilClosed(client, { workflowId: status.connectionId, runId: status.runId }, deadline);
  return run && !isRunning(run) ? closedStatus(client, run) : status;
}
