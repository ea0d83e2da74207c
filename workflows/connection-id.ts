/**
 * A saga runs under its connection id, `connect:{externalUserId}:{solutionId}`: the API finds a
 * running saga by that id alone, so one started directly under another id would run beside the one
 * the API starts for the same pair.
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import { connectionIdFor, type ConnectInput } from '../common/messages.js';

/**
 * Marks runs that refused a workflow id other than their connection id; older runs ran under any.
 * Asked only for such an id, so runs under the right one record nothing.
 */
const CONNECTION_ID_PATCH = 'workflow-id-is-connection-id';

/** Why the run's workflow id is not `input`'s connection id, when it is not; else nothing. */
export function workflowIdProblems(input: Pick<ConnectInput, 'externalUserId' | 'solutionId'>): string[] {
  const expected = connectionIdFor(input.externalUserId, input.solutionId);
  const { workflowId } = workflowInfo();
  if (workflowId === expected || !patched(CONNECTION_ID_PATCH)) return [];
  return [
    `the workflow id must be the connection id ${JSON.stringify(expected)}, not ${JSON.stringify(workflowId)}: the API finds a saga by that id alone`,
  ];
}
