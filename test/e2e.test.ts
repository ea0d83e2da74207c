/**
 * The saga end to end on the Temporal dev server: a real worker with real activities against the Tray
 * emulator over HTTP, driven by signals as the webhook would drive it. Checks what operators rely on:
 * the search attributes through the visibility API, and that no token is in the history.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import {
  authCompletedSignal,
  connectionIdFor,
  statusQuery,
  type ConnectInput,
  type ConnectionStatus,
} from '../common/messages.js';
import type { connectIntegration } from '../workflows/index.js';
import { historyText, secretsInHistory } from './helpers/history-text.js';
import { pollUntil } from './helpers/poll.js';
import { startStack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

const stack = await startStack();
after(() => stack.close());

async function startSaga(input: ConnectInput): Promise<WorkflowHandle<typeof connectIntegration>> {
  return stack.client.workflow.start<typeof connectIntegration>('connectIntegration', {
    taskQueue: stack.taskQueue,
    workflowId: connectionIdFor(input.externalUserId, input.solutionId),
    args: [input],
  });
}

function awaitingWithUrls(handle: WorkflowHandle): Promise<ConnectionStatus> {
  return pollUntil(
    async () => {
      const status = await handle.query(statusQuery);
      return status.step === 'awaiting_auth' && status.authSlots.every((s) => s.url) ? status : undefined;
    },
    { timeoutMs: 30_000, what: 'the saga to await auths with every URL issued' },
  );
}

test('a 2-slot saga driven by signals reaches completed, findable by its search attributes, with no token in history', async () => {
  const externalUserId = uniqueId('e2e-user');
  const handle = await startSaga({
    externalUserId,
    userName: 'E2E User',
    solutionId: 'sol-2',
    authSlots: ['salesforce', 'slack'],
  });

  const awaiting = await awaitingWithUrls(handle);
  assert.ok(awaiting.userId && awaiting.solutionInstanceId);
  for (const slot of awaiting.authSlots) {
    assert.match(
      slot.url!,
      new RegExp(
        `^${stack.emulator.url}/external/auth/create/${stack.emulator.embeddedId}/${awaiting.solutionInstanceId}/${slot.externalAuthId}\\?code=[^&]+$`,
      ),
    );
  }

  const store = stack.emulator.emulator.store;
  const authIds: Record<string, string> = {};
  for (const slot of ['salesforce', 'slack']) {
    authIds[slot] = store.createAuthentication(awaiting.userId!, slot);
    await handle.signal(authCompletedSignal, {
      externalAuthId: slot,
      authId: authIds[slot]!,
      eventId: uniqueId('evt'),
    });
  }

  const result = await handle.result();
  assert.deepEqual(result, {
    userId: awaiting.userId,
    solutionInstanceId: awaiting.solutionInstanceId,
    authValues: [
      { externalId: 'salesforce', authId: authIds.salesforce },
      { externalId: 'slack', authId: authIds.slack },
    ],
    enabled: true,
  });

  // Tray (the emulator) holds one enabled instance with both auths.
  const instance = store.instances.get(awaiting.solutionInstanceId!);
  assert.ok(instance, 'the instance exists at Tray');
  assert.equal(instance.enabled, true);
  assert.equal([...store.instances.values()].filter((i) => i.owner === awaiting.userId).length, 1);

  // Operators find the saga through the visibility API by each custom search attribute.
  const queries = [
    `TrayExternalUserId = "${externalUserId}"`,
    `TraySolutionId = "sol-2" AND TrayExternalUserId = "${externalUserId}"`,
    `TraySolutionInstanceId = "${awaiting.solutionInstanceId}"`,
    `ConnectStep = "completed" AND TrayExternalUserId = "${externalUserId}"`,
  ];
  for (const query of queries) {
    const found = await pollUntil(
      async () => {
        const ids: string[] = [];
        for await (const execution of stack.client.workflow.list({ query })) ids.push(execution.workflowId);
        return ids.length > 0 ? ids : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `visibility to answer ${query}` },
    );
    assert.deepEqual(found, [handle.workflowId], query);
  }

  // No token or secret in the history: neither the master token nor any user token the emulator minted.
  // Payload bytes decoded too (test/history-text.test.ts shows a planted token is found there).
  const history = await handle.fetchHistory();
  assert.ok(historyText(history).includes('createInstance'), 'the search reads the history');
  // The user token travels sealed (prepareUserToken's result), never in the clear.
  assert.ok(historyText(history).includes('sealedToken'), 'the sealed token is in history');
  assert.deepEqual(
    secretsInHistory(history, [stack.emulator.masterToken, stack.webhookSecret!], [/ut_[A-Za-z0-9_-]{16,}/]),
    [],
    'no master token, webhook secret or user token in history',
  );
});

test('a saga whose auths never come is timed out and its instance removed at Tray', async () => {
  const externalUserId = uniqueId('e2e-timeout');
  const handle = await startSaga({
    externalUserId,
    userName: 'Slow User',
    solutionId: 'sol-1',
    authSlots: ['slack'],
    authTimeout: '3s',
  });
  const awaiting = await awaitingWithUrls(handle);
  assert.ok(stack.emulator.emulator.store.instances.has(awaiting.solutionInstanceId!));

  await assert.rejects(handle.result(), (err: Error & { cause?: { type?: string } }) => {
    assert.equal(err.cause?.type, 'AuthTimeout');
    return true;
  });
  assert.equal(stack.emulator.emulator.store.instances.has(awaiting.solutionInstanceId!), false);
  // A closed saga still answers the query (the stack's worker replays it): the step must say why it ended.
  assert.equal((await handle.query(statusQuery)).step, 'timed_out');
});
