/**
 * What the API starts a saga with besides its input: the first step's search attributes and memo, so
 * the list and a read without workers show the saga before any worker ran (and the saga need not
 * upsert them again), the id of the request that started it, and a summary for the Web UI.
 */
import { SEARCH_ATTRIBUTES, type ConnectInput } from '../common/messages.js';
import { initialMemo, MEMO_KEY, START_REQUEST_MEMO_KEY } from '../common/status-view.js';
import { codeSpan } from '../common/markdown.js';

/** The start options of the saga for `input`, started by request `requestId`. */
export function sagaStartOptions(
  taskQueue: string,
  input: ConnectInput,
  connectionId: string,
  requestId: string,
) {
  return {
    workflowId: connectionId,
    taskQueue,
    args: [input] as [ConnectInput],
    memo: { [MEMO_KEY]: initialMemo(input), [START_REQUEST_MEMO_KEY]: requestId },
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.externalUserId, value: input.externalUserId },
      { key: SEARCH_ATTRIBUTES.solutionId, value: input.solutionId },
      { key: SEARCH_ATTRIBUTES.step, value: 'ensuring_user' },
    ],
    staticSummary: `Connect ${codeSpan(input.externalUserId)} to solution ${codeSpan(input.solutionId)}`,
  };
}
