/** The API's start-up question whether the Temporal server allows workflow updates. */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { updateRefusal, updateRefusalWarning } from './feature-refusal.js';
import { RPC_TIMEOUT_MS, within } from './temporal-rpc.js';

/**
 * Asks the server at start, with no side effect, whether it allows the two calls the API waits and
 * reissues with: an update of a workflow that does not exist (NOT_FOUND when allowed) and an empty
 * multi-operation (INVALID_ARGUMENT when allowed). A refusal is logged with the settings to switch on,
 * before any partner meets it; any other answer, or none, says nothing here.
 */
export async function warnIfUpdatesRefused(client: Client, logger: Logger): Promise<void> {
  const { namespace } = client.options;
  const probes: (() => Promise<unknown>)[] = [
    () =>
      client.workflowService.updateWorkflowExecution({
        namespace,
        workflowExecution: { workflowId: `connect-saga-update-probe-${randomUUID()}` },
        request: { meta: { updateId: 'probe' }, input: { name: 'probe' } },
      }),
    () => client.workflowService.executeMultiOperation({ namespace, operations: [] }),
  ];
  for (const probe of probes) {
    try {
      await within(client, RPC_TIMEOUT_MS, probe);
    } catch (err) {
      const what = updateRefusal(err);
      if (what === undefined) continue;
      logger.warn({ refused: what }, updateRefusalWarning(what));
      return;
    }
  }
}
