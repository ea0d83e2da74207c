/** The `waitForAuthUrls` update: POST's wait for the auth URLs, answered from the saga's own state. */
import { HandlerUnfinishedPolicy } from '@temporalio/common';
import { condition, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  waitForAuthUrlsUpdate,
  type WaitForAuthUrlsAnswer,
  type WaitForAuthUrlsRequest,
} from '../common/messages.js';
import { hasAuthUrls, START_REQUEST_MEMO_KEY } from '../common/status-view.js';
import type { SagaStatus } from './status.js';

/**
 * Registers the handler; call it before the workflow's first await, as an update-with-start arrives
 * in the first workflow task. A saga that ends before its URLs abandons the wait: the caller then
 * reads the closed saga's status, as it would without the update.
 */
export function registerWaitForAuthUrls(status: SagaStatus): void {
  setHandler(
    waitForAuthUrlsUpdate,
    // An API from before the request sends none.
    async (request: WaitForAuthUrlsRequest | undefined) => {
      await condition(() => hasAuthUrls(status.toStatus()));
      return request?.startRequest === true ? withStartRequest(status.toStatus()) : status.toStatus();
    },
    { unfinishedPolicy: HandlerUnfinishedPolicy.ABANDON },
  );
}

/** The status with the id of the request that started the run, as the start's memo has it. */
function withStartRequest(status: WaitForAuthUrlsAnswer): WaitForAuthUrlsAnswer {
  const startRequest = workflowInfo().memo?.[START_REQUEST_MEMO_KEY];
  return typeof startRequest === 'string' ? { ...status, startRequest } : status;
}
