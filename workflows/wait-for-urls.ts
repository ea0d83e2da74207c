/** The `waitForAuthUrls` update: POST's wait for the auth URLs, answered from the saga's own state. */
import { HandlerUnfinishedPolicy } from '@temporalio/common';
import { condition, setHandler } from '@temporalio/workflow';
import { waitForAuthUrlsUpdate } from '../common/messages.js';
import { hasAuthUrls } from '../common/status-view.js';
import type { SagaStatus } from './status.js';

/**
 * Registers the handler; call it before the workflow's first await, as an update-with-start arrives
 * in the first workflow task. A saga that ends before its URLs abandons the wait: the caller then
 * reads the closed saga's status, as it would without the update.
 */
export function registerWaitForAuthUrls(status: SagaStatus): void {
  setHandler(
    waitForAuthUrlsUpdate,
    async () => {
      await condition(() => hasAuthUrls(status.toStatus()));
      return status.toStatus();
    },
    { unfinishedPolicy: HandlerUnfinishedPolicy.ABANDON },
  );
}
