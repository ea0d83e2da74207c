/**
 * Relayed authIds are untrusted (docs/design.md, "Verify before attach"): a rejected authId is
 * remembered, never displaces a verified one, an earlier good one takes over from a rejected one, and
 * a flood of foreign ids costs a bounded number of ownership checks and ends before the history limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import type { connectIntegration } from '../workflows/index.js';
import type { AuthCompletedPayload, ConnectInput, ConnectionStatus } from '../common/messages.js';
import {
  authCompletedSignal,
  FAILURE_TYPES,
  SEARCH_ATTRIBUTE_NAMES,
  statusQuery,
} from '../common/messages.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { AUTH_CHECK_LIMITS, HISTORY_GUARD, historyNearLimit } from '../workflows/auth-wait.js';
import { AuthSlots } from '../workflows/slots.js';
import type { MockActivities, MockOptions } from './helpers/mock-activities.js';
import { runMockSaga } from './helpers/mock-saga.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, timeSkippingEnv } from './helpers/temporal.js';

installQuietRuntime();

const MAX_CHECKS = AUTH_CHECK_LIMITS.rounds;

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let dev: { client: Client; native: NativeConnection; connection: Connection } | undefined;

before(async () => {
  env = await timeSkippingEnv();
  const KEYWORD = 2; // INDEXED_VALUE_TYPE_KEYWORD: the test server starts without them
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, KEYWORD])),
  });
  bundle = await bundleConnectWorkflows();
});

after(async () => {
  await dev?.connection.close();
  await dev?.native.close();
  await env?.teardown();
});

type Handle = WorkflowHandle<typeof connectIntegration>;

interface Saga {
  handle: Handle;
  mock: MockActivities;
}

async function withSaga<T>(
  opts: { mock?: MockOptions; input?: Partial<ConnectInput>; onDevServer?: boolean },
  body: (saga: Saga) => Promise<T>,
): Promise<T> {
  let client = env.client;
  let connection = env.nativeConnection;
  if (opts.onDevServer) {
    const { address, namespace } = await devServer();
    dev ??= {
      connection: await Connection.connect({ address }),
      native: await NativeConnection.connect({ address }),
      client: undefined as unknown as Client,
    };
    dev.client = new Client({ connection: dev.connection, namespace });
    client = dev.client;
    connection = dev.native;
  }
  const server = { client, nativeConnection: connection, namespace: client.options.namespace };
  return runMockSaga(server, bundle, { ...opts, queuePrefix: 'foreign-test' }, body);
}

function waitForStatus(
  handle: Handle,
  ready: (s: ConnectionStatus) => unknown,
  what: string,
): Promise<ConnectionStatus> {
  return pollUntil(
    async () => {
      const s = await handle.query(statusQuery);
      return ready(s) ? s : undefined;
    },
    { timeoutMs: 30_000, what },
  );
}

function signal(handle: Handle, payload: AuthCompletedPayload): Promise<void> {
  return handle.signal(authCompletedSignal, payload);
}

function checkedIds(mock: MockActivities): string[][] {
  return mock.inputsOf('verifyAuths').map((i) => i.authIds);
}

async function failureOf(handle: Handle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => assert.fail('the saga should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
  assert.ok(err.cause instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err.cause)}`);
  return err.cause;
}

const ONE_MINUTE = { timeout: 60_000 };

describe('foreign authIds', () => {
  test(
    'a rejected authId sent again costs no check and no history beyond the signal',
    ONE_MINUTE,
    async () => {
      await withSaga({ mock: { foreignAuthIds: ['evil'] } }, async ({ handle, mock }) => {
        await waitForStatus(handle, (s) => s.step === 'awaiting_auth', 'awaiting');
        await signal(handle, { externalAuthId: 'slack', authId: 'evil', eventId: 'w1' });
        await waitForStatus(handle, (s) => s.authSlots[0]?.lastError, 'evil rejected');
        const before = (await handle.fetchHistory()).events?.length ?? 0;

        await signal(handle, { externalAuthId: 'slack', authId: 'evil', eventId: 'w2' });
        const after = await waitForStatus(
          handle,
          async () => ((await handle.fetchHistory()).events?.length ?? 0) > before,
          'the repeat processed',
        );
        const s = await handle.query(statusQuery);
        assert.equal(s.authSlots[0]?.state, 'pending');
        assert.match(s.authSlots[0]?.lastError ?? '', /evil.*does not belong to this user/);
        assert.ok(after);
        const added = ((await handle.fetchHistory()).events ?? []).slice(before);
        const kinds = added.map((e) => e.eventType);
        const SIGNALED = 26; // EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        const WORKFLOW_TASK = [5, 6, 7]; // scheduled, started, completed
        assert.ok(
          kinds.every((k) => k === SIGNALED || WORKFLOW_TASK.includes(Number(k))),
          `only the signal and its workflow task: ${kinds.join(',')}`,
        );
        assert.deepEqual(checkedIds(mock), [['evil']]);

        await signal(handle, { externalAuthId: 'slack', authId: 'good', eventId: 'w3' });
        const result = await handle.result();
        assert.deepEqual(result.authValues, [{ externalId: 'slack', authId: 'good' }]);
        assert.deepEqual(checkedIds(mock), [['evil'], ['good']]);
      });
    },
  );

  test(
    'a foreign newcomer never displaces a verified authId; a good newcomer still wins',
    ONE_MINUTE,
    async () => {
      const mock = { foreignAuthIds: ['evil-gmail', 'evil-slack'] };
      await withSaga({ mock, input: { authSlots: ['slack', 'gmail'] } }, async ({ handle }) => {
        await signal(handle, { externalAuthId: 'slack', authId: 'good-1', eventId: 'w1' });
        await signal(handle, { externalAuthId: 'gmail', authId: 'evil-gmail', eventId: 'w2' });
        await waitForStatus(handle, (s) => s.authSlots[1]?.lastError, 'gmail rejected');
        // slack's good-1 is verified now; a foreign one for slack must not replace it.
        await signal(handle, { externalAuthId: 'slack', authId: 'evil-slack', eventId: 'w3' });
        await signal(handle, { externalAuthId: 'gmail', authId: 'good-3', eventId: 'w4' });
        const result = await handle.result();
        assert.deepEqual(result.authValues, [
          { externalId: 'slack', authId: 'good-1' },
          { externalId: 'gmail', authId: 'good-3' },
        ]);
        const s = await handle.query(statusQuery);
        assert.match(s.authSlots[0]?.lastError ?? '', /evil-slack/);
      });
    },
  );

  test(
    'a slot completed with an authId already found the user’s settles without a check, and the saga attaches',
    ONE_MINUTE,
    async () => {
      const mock = { foreignAuthIds: ['evil'] };
      await withSaga({ mock, input: { authSlots: ['slack', 'gmail'] } }, async ({ handle, mock }) => {
        await signal(handle, { externalAuthId: 'slack', authId: 'shared', eventId: 'w1' });
        await signal(handle, { externalAuthId: 'gmail', authId: 'evil', eventId: 'w2' });
        await waitForStatus(handle, (s) => s.authSlots[1]?.lastError, 'gmail rejected');
        // One authorisation for two slots: checked once already, for slack.
        await signal(handle, { externalAuthId: 'gmail', authId: 'shared', eventId: 'w3' });
        const result = await handle.result();
        assert.deepEqual(result.authValues, [
          { externalId: 'slack', authId: 'shared' },
          { externalId: 'gmail', authId: 'shared' },
        ]);
        assert.deepEqual(checkedIds(mock), [['shared', 'evil']]);
      });
    },
  );

  test('among good ones the last before attach wins, also past a later foreign one', ONE_MINUTE, async () => {
    const mock = { foreignAuthIds: ['evil-gmail', 'evil-slack'] };
    await withSaga({ mock, input: { authSlots: ['slack', 'gmail'] } }, async ({ handle }) => {
      await signal(handle, { externalAuthId: 'slack', authId: 'good-1', eventId: 'w1' });
      await signal(handle, { externalAuthId: 'gmail', authId: 'evil-gmail', eventId: 'w2' });
      await waitForStatus(handle, (s) => s.authSlots[1]?.lastError, 'gmail rejected');
      await signal(handle, { externalAuthId: 'slack', authId: 'good-2', eventId: 'w3' });
      await signal(handle, { externalAuthId: 'slack', authId: 'evil-slack', eventId: 'w4' });
      await signal(handle, { externalAuthId: 'gmail', authId: 'good-3', eventId: 'w5' });
      const result = await handle.result();
      assert.deepEqual(result.authValues, [
        { externalId: 'slack', authId: 'good-2' },
        { externalId: 'gmail', authId: 'good-3' },
      ]);
    });
  });

  test(
    'the real authId, then a foreign one before the check: the real one is attached',
    ONE_MINUTE,
    async () => {
      const mock = { foreignAuthIds: ['evil'] };
      await withSaga({ mock, input: { authSlots: ['slack', 'gmail'] } }, async ({ handle, mock }) => {
        await signal(handle, { externalAuthId: 'slack', authId: 'real', eventId: 'e1' });
        await signal(handle, { externalAuthId: 'slack', authId: 'evil', eventId: 'e2' });
        await signal(handle, { externalAuthId: 'gmail', authId: 'good', eventId: 'e3' });
        // The partner redelivers e1, as a partner may: a no-op, the saga must not need it.
        await signal(handle, { externalAuthId: 'slack', authId: 'real', eventId: 'e1' });
        const result = await handle.result();
        assert.deepEqual(result.authValues, [
          { externalId: 'slack', authId: 'real' },
          { externalId: 'gmail', authId: 'good' },
        ]);
        const sent = checkedIds(mock).flat();
        assert.equal(new Set(sent).size, sent.length, `no authId checked twice: ${sent.join(',')}`);
      });
    },
  );

  test(
    '500 relays of foreign ids: checks bounded, each id sent at most once, the real one attached',
    ONE_MINUTE,
    async () => {
      const relays: AuthCompletedPayload[] = [];
      const foreign = new Set<string>();
      for (let i = 0; i < 500; i++) {
        if (i % 50 === 7) {
          // The real one, now and then redelivered with its first webhook id.
          relays.push({ externalAuthId: 'slack', authId: 'real', eventId: i < 100 ? `r${i}` : 'r7' });
          continue;
        }
        const authId = i % 5 === 0 ? `evil-${i % 20}` : `evil-${i}`; // some repeated, most distinct
        foreign.add(authId);
        relays.push({ externalAuthId: 'slack', authId, eventId: i % 9 === 0 ? `w${i - 9}` : `w${i}` });
      }
      await withSaga({ mock: { foreignAuthIds: [...foreign] } }, async ({ handle, mock }) => {
        for (let i = 0; i < relays.length; i += 10) {
          await Promise.all(relays.slice(i, i + 10).map((r) => signal(handle, r)));
        }
        const result = await handle.result();
        assert.deepEqual(result.authValues, [{ externalId: 'slack', authId: 'real' }]);
        const sent = checkedIds(mock).flat();
        assert.ok(mock.inputsOf('verifyAuths').length <= MAX_CHECKS, `${checkedIds(mock).length} checks`);
        assert.equal(new Set(sent).size, sent.length, 'no authId checked twice');
        assert.ok(sent.length <= foreign.size + 1, `${sent.length} ids sent for ${foreign.size} foreign`);
        assert.equal(mock.inputsOf('attachAuths').length, 1);
        const events = (await handle.fetchHistory()).events?.length ?? 0;
        assert.ok(events < 3_000, `${events} history events`);
      });
    },
  );

  test(
    'a flood that grows the history fails the saga through its compensation before the limit',
    { timeout: 180_000 },
    async () => {
      await withSaga({ onDevServer: true }, async ({ handle, mock }) => {
        await waitForStatus(handle, (s) => s.step === 'awaiting_auth', 'awaiting');
        // 100 KB each: about 100 of them reach the 10 MB guard, far below Temporal's 50 MB.
        const big = 'x'.repeat(100_000);
        // One at a time, as long as the saga runs: the guard must end it while they keep coming.
        for (let i = 0; i < 400; i++) {
          const sent = await signal(handle, {
            externalAuthId: 'slack',
            authId: `${big}${i}`,
            eventId: `w${i}`,
          }).then(
            () => true,
            () => false,
          );
          if (!sent) break;
          // Every tenth, let the worker catch up (a query runs after the signals before it): on a
          // loaded box a sender that never waits piles up tens of MB the worker has not yet seen,
          // which no relay through the API (ids of at most 200 characters) can do.
          if (i % 10 === 9) await handle.query(statusQuery).catch(() => undefined);
        }
        await pollUntil(async () => (await handle.describe()).status.name !== 'RUNNING', {
          timeoutMs: 60_000,
          what: 'the saga to end',
        });
        const failure = await failureOf(handle);
        assert.equal(failure.type, FAILURE_TYPES.historyLimit);
        const [, bytesAtGuard] = /(\d+) bytes/.exec(failure.message) ?? [];
        assert.ok(Number(bytesAtGuard) < 15 * 1024 * 1024, failure.message);
        assert.deepEqual(
          mock.calls.filter((c) => c.name === 'removeInstance').length,
          1,
          'the instance removed once',
        );
        assert.equal(mock.inputsOf('verifyAuths').length, 0, 'over-long authIds are never sent to Tray');
        const description = await handle.describe();
        const events = Number(description.historyLength);
        const bytes = Number(description.raw.workflowExecutionInfo?.historySizeBytes ?? 0);
        assert.ok(events < 50_000 && bytes < 40 * 1024 * 1024, `${events} events, ${bytes} bytes`);
      });
    },
  );
});

describe('foreign authId rules (pure)', () => {
  test('bounded rounds: each slot newest first, at most the limit, checked ids never again', () => {
    const slots = new AuthSlots(['a', 'b']);
    for (let i = 0; i < 5; i++) slots.apply({ externalAuthId: 'a', authId: `a${i}` });
    slots.apply({ externalAuthId: 'b', authId: 'b0' });
    assert.deepEqual(slots.idsToCheck(3), ['a4', 'b0', 'a3']);
    slots.applyVerification(['a4', 'b0', 'a3'], ['a4', 'a3']);
    // a4 and a3 were foreign: a2..a0 still wait, b0 is verified.
    assert.deepEqual(slots.idsToCheck(), ['a2', 'a1', 'a0']);
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: 'a4' }), {
      kind: 'rejected',
      reason: 'foreign',
    });
    slots.applyVerification(['a2', 'a1', 'a0'], ['a2']);
    assert.deepEqual(slots.authValues(), [
      { externalId: 'a', authId: 'a1' },
      { externalId: 'b', authId: 'b0' },
    ]);
    assert.ok(slots.allVerified());
  });

  test('once the checks are spent, unknown authIds are refused and a slot without one is reported', () => {
    const slots = new AuthSlots(['a', 'b']);
    slots.apply({ externalAuthId: 'a', authId: 'good' });
    slots.apply({ externalAuthId: 'b', authId: 'evil' });
    slots.applyVerification(['good', 'evil'], ['evil']);
    slots.apply({ externalAuthId: 'a', authId: 'later' });
    assert.deepEqual(slots.closeChecks('spent'), ['b']);
    assert.deepEqual(slots.authValues()[0], { externalId: 'a', authId: 'good' });
    assert.deepEqual(slots.apply({ externalAuthId: 'b', authId: 'new' }), {
      kind: 'rejected',
      reason: 'unchecked',
    });
    assert.deepEqual(slots.apply({ externalAuthId: 'b', authId: 'good' }), { kind: 'accepted' });
    assert.ok(slots.allVerified());
  });

  test('over-long or empty authIds are refused without a check; old sagas keep the old rules', () => {
    const slots = new AuthSlots(['a']);
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: 'x'.repeat(201) }), {
      kind: 'rejected',
      reason: 'invalid',
    });
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '' }), {
      kind: 'rejected',
      reason: 'invalid',
    });
    assert.deepEqual(slots.pendingIds(), ['a']);
    // Characters are code points, as the API counts them: 200 emoji are 200 characters.
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '🔑'.repeat(200) }), { kind: 'accepted' });
    const legacy = new AuthSlots(['a'], false);
    legacy.apply({ externalAuthId: 'a', authId: 'good' });
    legacy.applyVerification(['good'], []);
    legacy.apply({ externalAuthId: 'a', authId: 'evil' });
    legacy.applyVerification(['evil'], ['evil']);
    assert.deepEqual(legacy.pendingIds(), ['a'], 'before the patch a foreign newcomer reopened the slot');
  });

  test('the history guard sits well below Temporal limits', () => {
    assert.ok(HISTORY_GUARD.events <= 10_000 && HISTORY_GUARD.bytes <= 10 * 1024 * 1024);
    assert.equal(historyNearLimit(HISTORY_GUARD.events - 1, 0), false);
    assert.equal(historyNearLimit(HISTORY_GUARD.events, 0), true);
    assert.equal(historyNearLimit(10, HISTORY_GUARD.bytes), true);
  });
});
