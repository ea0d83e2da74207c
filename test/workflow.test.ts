/**
 * The saga on the time-skipping test server with faked activities: every branch of the design's
 * "The saga", "Compensation" and "Messages", one workflow per test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto, { type temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import type { connectIntegration } from '../workflows/index.js';
import type { ConnectInput, ConnectionStatus } from '../common/messages.js';
import {
  authCompletedSignal,
  FAILURE_TYPES,
  reissueAuthUrlUpdate,
  SEARCH_ATTRIBUTE_NAMES,
  SEARCH_ATTRIBUTES,
  statusQuery,
} from '../common/messages.js';
import { CREATED_NOTHING, TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { MEMO_KEY, type ConnectMemo } from '../common/status-view.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { AuthSlots } from '../workflows/slots.js';
import { HISTORY_GUARD } from '../workflows/auth-wait.js';
import { REISSUE_LIMIT } from '../workflows/handlers.js';
import type { ActivityName, MockActivities, MockOptions } from './helpers/mock-activities.js';
import { permanentError, transientError } from './helpers/mock-activities.js';
import { cancelWithResultOf } from './helpers/cancel-with-result.js';
import { runMockSaga, type MockSaga } from './helpers/mock-saga.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, timeSkippingEnv, uniqueId } from './helpers/temporal.js';

// The test server lacks capabilities the SDK warns about on every worker start; show errors only.
installQuietRuntime();

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

before(async () => {
  env = await timeSkippingEnv();
  // The test server starts without custom search attributes, and upserting an unknown one fails the
  // workflow task, so register them as the dev server and docker-compose do.
  const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, KEYWORD])),
  });
  bundle = await bundleConnectWorkflows();
});

after(async () => {
  await (await devServerConnections)?.close();
  await env?.teardown();
});

type Handle = WorkflowHandle<typeof connectIntegration>;

/** A saga that never ends fails its test instead of hanging the file. */
const ONE_MINUTE = { timeout: 60_000 };

/** Where a saga runs: the time-skipping server by default, a dev server where its behaviour differs. */
interface Server {
  client: Client;
  nativeConnection: NativeConnection;
  namespace: string;
}

function timeSkippingServer(): Server {
  return {
    client: env.client,
    nativeConnection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
  };
}

let devServerConnections: Promise<Server & { close(): Promise<void> }> | undefined;

/** The shared dev server (test/helpers/temporal.ts), connected once per file. */
function realServer(): Promise<Server> {
  devServerConnections ??= (async () => {
    const { address, namespace } = await devServer();
    const connection = await Connection.connect({ address });
    const nativeConnection = await NativeConnection.connect({ address });
    return {
      client: new Client({ connection, namespace }),
      nativeConnection,
      namespace,
      close: async () => {
        await connection.close();
        await nativeConnection.close();
      },
    };
  })();
  return devServerConnections;
}

type Saga = MockSaga;

/** Starts one saga on its own task queue with its own worker, runs `body`, then stops the worker. */
async function withSaga<T>(
  opts: {
    mock?: MockOptions;
    input?: Partial<ConnectInput>;
    server?: Server;
    withoutInput?: boolean;
    asTheApiStarts?: boolean;
    workflowId?: string;
  },
  body: (saga: Saga) => Promise<T>,
): Promise<T> {
  const server = opts.server ?? timeSkippingServer();
  return runMockSaga(server, bundle, { ...opts, queuePrefix: 'wf-test' }, body);
}

function status(handle: Handle): Promise<ConnectionStatus> {
  return handle.query(statusQuery);
}

/** Polls the status query until `ready` holds, and answers that status. */
function waitForStatus(
  handle: Handle,
  ready: (s: ConnectionStatus) => unknown,
  what: string,
  timeoutMs = 30_000,
): Promise<ConnectionStatus> {
  return pollUntil(
    async () => {
      const s = await status(handle);
      return ready(s) ? s : undefined;
    },
    { timeoutMs, what },
  );
}

function waitForStep(handle: Handle, step: ConnectionStatus['step']): Promise<ConnectionStatus> {
  return waitForStatus(handle, (s) => s.step === step, `step ${step}`);
}

/** The saga's failure as the client sees it: the ApplicationFailure the workflow ended with. */
async function failureOf(handle: Handle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => assert.fail('the saga should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
  assert.ok(err.cause instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err.cause)}`);
  return err.cause;
}

function names(mock: MockActivities): string[] {
  return mock.calls.map((c) => c.name);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function scheduledEvents(events: HistoryEvent[], activity: string): HistoryEvent[] {
  return events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
}

function completedEventOf(events: HistoryEvent[], scheduled: HistoryEvent): HistoryEvent {
  const found = events.find(
    (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId),
  );
  assert.ok(found, 'activity completion event');
  return found;
}

/** The workflow tasks (their completed events' ids) that upserted search attributes or the memo. */
function visibilityWritingTasks(events: HistoryEvent[]): number[] {
  const ids = events.flatMap((e) => {
    const id =
      e.upsertWorkflowSearchAttributesEventAttributes?.workflowTaskCompletedEventId ??
      e.workflowPropertiesModifiedEventAttributes?.workflowTaskCompletedEventId;
    return id === undefined || id === null ? [] : [Number(id)];
  });
  return [...new Set(ids)];
}

/** The markers, search-attribute upserts and memo upserts the first workflow task recorded. */
function firstTaskEvents(events: HistoryEvent[]): HistoryEvent[] {
  const first = String(events.find((e) => e.workflowTaskCompletedEventAttributes)?.eventId);
  return events.filter((e) => {
    const id =
      e.markerRecordedEventAttributes?.workflowTaskCompletedEventId ??
      e.upsertWorkflowSearchAttributesEventAttributes?.workflowTaskCompletedEventId ??
      e.workflowPropertiesModifiedEventAttributes?.workflowTaskCompletedEventId;
    return id !== undefined && id !== null && String(id) === first;
  });
}

/** The search attributes an upsert event names, `memo` for a memo upsert, nothing for other events. */
function upsertedKeys(event: HistoryEvent): string[] {
  if (event.workflowPropertiesModifiedEventAttributes) return ['memo'];
  return Object.keys(
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
  );
}

/** The patch id a `core_patch` marker records. */
function patchIdOf(event: HistoryEvent): string | undefined {
  const payload = event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0];
  return payload?.data
    ? (JSON.parse(new TextDecoder().decode(payload.data)) as { id: string }).id
    : undefined;
}

function summaryOf(event: HistoryEvent): string | undefined {
  const data = event.userMetadata?.summary?.data;
  return data ? (JSON.parse(new TextDecoder().decode(data)) as string) : undefined;
}

/** A task the server refused because a newer event came in meanwhile (the SDK runs it again). */
const UNHANDLED_COMMAND =
  proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND;

/**
 * What the workflow code threw in its tasks. A task refused as UnhandledCommand is routine, not the
 * saga's error: an event such as a cancelled activity's own result can land while the saga ends
 * (more often on a loaded box), and the dev server records that refusal with a failure message too.
 */
async function workflowErrors(handle: Handle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const failed = e.workflowTaskFailedEventAttributes;
    return failed && failed.cause !== UNHANDLED_COMMAND ? (failed.failure?.message ?? []) : [];
  });
}

/** Between the first and the second removal, a timer that fires when the late-create window ends. */
async function assertLooksAgainAt(handle: Handle, notAfter: string): Promise<void> {
  const events = (await handle.fetchHistory()).events ?? [];
  const [look1, look2] = scheduledEvents(events, 'removeInstance');
  const timer = events.find(
    (e) => e.timerStartedEventAttributes && Number(e.eventId) > Number(look1?.eventId),
  );
  assert.ok(timer && look2 && Number(timer.eventId) < Number(look2.eventId), 'look, timer, look again');
  const firesAt = tsToMs(timer.eventTime) + tsToMs(timer.timerStartedEventAttributes?.startToFireTimeout);
  assert.ok(Math.abs(firesAt - Date.parse(notAfter)) < 1000, `${firesAt} vs ${notAfter}`);
}

describe('connectIntegration happy path', () => {
  test('one slot: result, single attach, steps, search attributes, memo and summaries', async () => {
    await withSaga({}, async ({ handle, mock, input }) => {
      const awaiting = await waitForStep(handle, 'awaiting_auth');
      assert.equal(awaiting.connectionId, handle.workflowId);
      assert.equal(awaiting.solutionInstanceId, 'instance-1');
      assert.ok(awaiting.deadline, 'deadline is set while awaiting');
      assert.equal(awaiting.authSlots[0]?.state, 'pending');
      assert.match(awaiting.authSlots[0]?.url ?? '', /^https:\/\/dialog\.example\//);

      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      const result = await handle.result();
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(metadata.currentDetails ?? '', /Step:\*\* `completed`/);
      assert.match(metadata.currentDetails ?? '', /Solution instance:\*\* `instance-1` \(enabled\)/);
      assert.deepEqual(result, {
        userId: 'user-1',
        solutionInstanceId: 'instance-1',
        authValues: [{ externalId: 'slack', authId: 'auth-1' }],
        enabled: true,
      });
      assert.deepEqual(names(mock).slice(0, 3), ['findUser', 'createUser', 'prepareUserToken']);
      // The codes need only the user: they run beside the create, in either order.
      assert.deepEqual(names(mock).slice(3, 5).sort(), ['createInstance', 'issueAuthCodes']);
      assert.deepEqual(names(mock).slice(5), ['verifyAuths', 'attachAuths', 'enableInstance']);
      assert.equal(
        awaiting.authSlots[0]?.url,
        'https://dialog.example/external/auth/create/embedded-1/instance-1/slack?code=code-1',
      );
      const [create] = mock.inputsOf('createInstance');
      assert.equal(create?.instanceName, 'sol-1 for Ada');
      assert.ok(create?.notBefore && !Number.isNaN(Date.parse(create.notBefore)));

      const final = await status(handle);
      assert.equal(final.step, 'completed');
      assert.deepEqual(
        final.authSlots.map((s) => [s.state, s.authId]),
        [['completed', 'auth-1']],
      );

      const description = await handle.describe();
      const sa = description.typedSearchAttributes;
      assert.equal(sa.get(SEARCH_ATTRIBUTES.step), 'completed');
      assert.equal(sa.get(SEARCH_ATTRIBUTES.solutionInstanceId), 'instance-1');
      assert.equal(sa.get(SEARCH_ATTRIBUTES.externalUserId), input.externalUserId);
      assert.equal(sa.get(SEARCH_ATTRIBUTES.solutionId), 'sol-1');
      const memo = description.memo?.[MEMO_KEY] as ConnectMemo;
      assert.equal(memo.step, 'completed');
      assert.deepEqual(memo.completedSlots, ['slack']);
      assert.deepEqual(memo.authIds, [{ externalId: 'slack', authId: 'auth-1' }]);

      const { events } = await handle.fetchHistory();
      const commands = (events ?? []).filter(
        (e) => e.activityTaskScheduledEventAttributes || e.timerStartedEventAttributes,
      );
      assert.ok(commands.length >= 9);
      for (const e of commands) assert.ok(summaryOf(e), `event ${String(e.eventId)} has a summary`);
      const [prepare] = mock.inputsOf('prepareUserToken');
      assert.deepEqual(prepare, { userId: 'user-1' });
      const [prepareEvent] = scheduledEvents(events ?? [], 'prepareUserToken');
      assert.ok(prepareEvent, 'prepareUserToken is in the history');
      const prepareDone = completedEventOf(events ?? [], prepareEvent);
      // Only the sealed token enters history, and the user-token activities after it carry it.
      const payloads = prepareDone.activityTaskCompletedEventAttributes?.result?.payloads ?? [];
      const recorded = payloads.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8'));
      assert.deepEqual(
        recorded.map((r) => JSON.parse(r) as unknown),
        [{ sealedToken: 'sealed-for-user-1' }],
      );
      for (const name of ['createInstance', 'verifyAuths', 'attachAuths', 'enableInstance'] as const) {
        assert.equal(
          (mock.inputsOf(name)[0] as { sealedToken?: string } | undefined)?.sealedToken,
          'sealed-for-user-1',
          `${name} gets the sealed token`,
        );
      }
    });
  });

  test('a known user: findUser finds it, createUser is never called', async () => {
    await withSaga({ mock: { knownUser: true, userId: 'user-known' } }, async ({ handle, mock, input }) => {
      const awaiting = await waitForStep(handle, 'awaiting_auth');
      assert.equal(awaiting.userId, 'user-known');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      assert.equal((await handle.result()).userId, 'user-known');
      assert.deepEqual(names(mock).slice(0, 2), ['findUser', 'prepareUserToken']);
      assert.deepEqual(names(mock).slice(2, 4).sort(), ['createInstance', 'issueAuthCodes']);
      assert.deepEqual(mock.inputsOf('findUser'), [{ externalUserId: input.externalUserId }]);
      assert.deepEqual(mock.inputsOf('prepareUserToken'), [{ userId: 'user-known' }]);
      assert.equal(mock.inputsOf('createUser').length, 0);
    });
  });

  test('before its URLs a new run writes visibility in three workflow tasks: the first, creating_instance, awaiting_auth', async () => {
    // A workflow task that upserts search attributes or the memo costs the server a visibility
    // write, and so does one with a patch marker (the SDK upserts TemporalChangeVersion beside it),
    // which the time-skipping server does not record: on the dev server.
    await withSaga({ server: await realServer() }, async ({ handle }) => {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const writing = visibilityWritingTasks(events);
      const [create] = scheduledEvents(events, 'createInstance');
      const sentCreate = Number(create?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId);
      assert.ok(sentCreate > 0, 'the create was scheduled');
      assert.ok(!writing.includes(sentCreate), "the token's task, which sends the create, writes none");
      // The auth deadline's timer starts in the task that enters awaiting_auth.
      const deadline = events.find((e) => e.timerStartedEventAttributes);
      const awaiting = Number(deadline?.timerStartedEventAttributes?.workflowTaskCompletedEventId);
      assert.equal(
        writing.filter((task) => task <= awaiting).length,
        3,
        `writing tasks ${writing.join(', ')}`,
      );
    });
  });

  test("a run the API starts upserts none of its start's values again: its first task records one patch", async () => {
    // Each patch marker comes with the SDK's upsert of TemporalChangeVersion, and the API's start
    // already holds the first step's search attributes and memo: the first task adds one marker and
    // that one upsert, nothing else. The values still move with the saga afterwards.
    await withSaga({ server: await realServer(), asTheApiStarts: true }, async ({ handle }) => {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.result();
      const inFirst = firstTaskEvents((await handle.fetchHistory()).events ?? []);
      const markers = inFirst.filter((e) => e.markerRecordedEventAttributes);
      assert.deepEqual(markers.map(patchIdOf), ['first-task-patches-folded']);
      // The memo too: a memo upsert would show as `memo` here.
      assert.deepEqual(inFirst.flatMap(upsertedKeys), ['TemporalChangeVersion']);
      const described = await handle.describe();
      assert.equal(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.step), 'completed');
      const memo = described.memo?.[MEMO_KEY] as ConnectMemo | undefined;
      assert.equal(memo?.step, 'completed');
      assert.deepEqual(memo?.authIds, [{ externalId: 'slack', authId: 'auth-1' }]);
    });
  });

  test('a run started without those values upserts them in its first task', async () => {
    await withSaga({ server: await realServer() }, async ({ handle }) => {
      await waitForStep(handle, 'awaiting_auth');
      const keys = firstTaskEvents((await handle.fetchHistory()).events ?? []).flatMap(upsertedKeys);
      for (const key of ['TrayExternalUserId', 'TraySolutionId', 'ConnectStep', 'memo']) {
        assert.ok(keys.includes(key), `${key} upserted in the first task: ${keys.join(', ')}`);
      }
      await handle.cancel();
      await handle.result().catch(() => undefined);
    });
  });

  test('three slots: every authValue in one attach call, one ownership check', async () => {
    const slots = ['slack', 'gmail', 'jira'];
    await withSaga({ input: { authSlots: slots } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      for (const [i, slot] of slots.entries()) {
        await handle.signal(authCompletedSignal, { externalAuthId: slot, authId: `auth-${i}` });
      }
      const result = await handle.result();
      const expected = slots.map((externalId, i) => ({ externalId, authId: `auth-${i}` }));
      assert.deepEqual(result.authValues, expected);
      assert.deepEqual(
        mock.inputsOf('issueAuthCodes').map((i) => i.externalAuthIds),
        [slots],
      );
      assert.equal(mock.inputsOf('issueAuthUrls').length, 0);
      assert.equal(mock.inputsOf('verifyAuths').length, 1);
      assert.deepEqual(mock.inputsOf('attachAuths'), [
        {
          userId: 'user-1',
          sealedToken: 'sealed-for-user-1',
          solutionInstanceId: 'instance-1',
          authValues: expected,
        },
      ]);
      assert.equal(mock.inputsOf('removeInstance').length, 0);
      assert.equal((await status(handle)).step, 'completed');
    });
  });

  test('a fresh seal an activity hands back (its seal did not open) goes to the activities after it', async () => {
    const resealed = { verifyAuths: 'resealed-by-check', attachAuths: 'resealed-by-attach' };
    await withSaga({ mock: { resealed } }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await handle.result();
      const sealOf = (name: 'verifyAuths' | 'attachAuths' | 'enableInstance') =>
        (mock.inputsOf(name)[0] as { sealedToken?: string } | undefined)?.sealedToken;
      assert.equal(sealOf('verifyAuths'), 'sealed-for-user-1');
      assert.equal(sealOf('attachAuths'), 'resealed-by-check');
      assert.equal(sealOf('enableInstance'), 'resealed-by-attach');
    });
  });

  test('enable is scheduled at least 2 s (workflow time) after create and after attach', async () => {
    await withSaga({}, async ({ handle }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const at = (e: HistoryEvent | undefined) => tsToMs(e?.eventTime);
      const [create] = scheduledEvents(events, 'createInstance');
      const [attach] = scheduledEvents(events, 'attachAuths');
      const [enable] = scheduledEvents(events, 'enableInstance');
      assert.ok(create && attach && enable);
      const attachDone = completedEventOf(events, attach);
      assert.ok(at(enable) - at(create) >= 2000, `create→enable ${at(enable) - at(create)} ms`);
      assert.ok(at(enable) - at(attachDone) >= 2000, `attach→enable ${at(enable) - at(attachDone)} ms`);
    });
  });
});

describe('connectIntegration compensation', () => {
  test('auth timeout removes the instance and fails with AuthTimeout', async () => {
    await withSaga({ input: { authTimeout: '2h' } }, async ({ handle, mock }) => {
      const failure = await failureOf(handle);
      assert.equal(failure.type, FAILURE_TYPES.authTimeout);
      assert.deepEqual(
        mock.inputsOf('removeInstance').map((i) => i.solutionInstanceId),
        ['instance-1'],
      );
      assert.equal(mock.inputsOf('attachAuths').length, 0);
      const s = await status(handle);
      assert.equal(s.step, 'timed_out');
      assert.equal(s.error?.type, FAILURE_TYPES.authTimeout);
    });
  });

  test('authTimeout at its 30d maximum: a completion on day 29 connects, none times out at day 30', async () => {
    const DAY_MS = 24 * 60 * 60 * 1000;
    await withSaga({ input: { authTimeout: '30d' } }, async ({ handle, mock }) => {
      const awaiting = await waitForStep(handle, 'awaiting_auth');
      const started = (await handle.describe()).startTime.getTime();
      const deadline = Date.parse(awaiting.deadline ?? '');
      assert.ok(Math.abs(deadline - started - 30 * DAY_MS) < 60_000, awaiting.deadline);
      await env.sleep(29 * DAY_MS);
      assert.equal((await status(handle)).step, 'awaiting_auth', 'still waiting on day 29');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-day-29' });
      assert.equal((await handle.result()).enabled, true);
      assert.equal(mock.inputsOf('removeInstance').length, 0);
    });
    await withSaga({ input: { authTimeout: '30d' } }, async ({ handle, mock }) => {
      const failure = await failureOf(handle);
      assert.equal(failure.type, FAILURE_TYPES.authTimeout);
      const { startTime, closeTime } = await handle.describe();
      assert.ok((closeTime?.getTime() ?? 0) - startTime.getTime() >= 30 * DAY_MS, 'not before day 30');
      assert.deepEqual(
        mock.inputsOf('removeInstance').map((i) => i.solutionInstanceId),
        ['instance-1'],
      );
    });
  });

  test('after a failure the current details show the error as plain text and the removed instance', async () => {
    const input = { authTimeout: '2h', authSlots: ['slack', '**b** [x](https://evil.example)'] };
    await withSaga({ input }, async ({ handle }) => {
      await failureOf(handle);
      const { currentDetails = '' } = await handle.query<{ currentDetails?: string }>(
        '__temporal_workflow_metadata',
      );
      assert.match(currentDetails, /\*\*Step:\*\* `timed_out`/);
      // Slot names quoted in the message neither embolden nor link.
      assert.match(
        currentDetails,
        /\*\*Error:\*\* `AuthTimeout`: auths not completed by .*; pending: slack, \\\*\\\*b\\\*\\\* \\\[x\\\]\(`https:/,
      );
      assert.match(currentDetails, /\*\*Compensation:\*\* removed instance `instance-1`/);
    });
  });

  test('cancel while awaiting auths removes the instance and ends cancelled', async () => {
    await withSaga({}, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      await cancelAndWait(handle);
      const err = await handle.result().then(
        () => assert.fail('should be cancelled'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
      assert.equal(mock.inputsOf('removeInstance').length, 1);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      // The query replays to the run's end: the state its last moments answered, which has no error,
      // as the API's answer from the closed run has none.
      const last = await status(handle);
      assert.equal(last.step, 'cancelled');
      assert.equal(last.error, undefined);
    });
  });

  test('attach failing permanently removes the instance and fails with its type', async () => {
    await withSaga(
      { mock: { failures: { attachAuths: [permanentError(TRAY_FAILURE_TYPES.validation, 'bad auth')] } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        const failure = await failureOf(handle);
        assert.equal(failure.type, TRAY_FAILURE_TYPES.validation);
        assert.deepEqual(names(mock).slice(-2), ['attachAuths', 'removeInstance']);
        assert.equal(mock.inputsOf('attachAuths').length, 1, 'non-retryable: no retry');
        const s = await status(handle);
        assert.equal(s.step, 'failed');
        assert.deepEqual(s.error, { type: TRAY_FAILURE_TYPES.validation, message: 'bad auth' });
      },
    );
  });

  test('the removal carries a fresh seal a check handed back', async () => {
    const mockOptions = {
      resealed: { verifyAuths: 'resealed-by-check' },
      failures: { attachAuths: [permanentError(TRAY_FAILURE_TYPES.validation, 'bad auth')] },
    };
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await failureOf(handle);
      const [removal] = mock.inputsOf('removeInstance');
      assert.equal(removal?.sealedToken, 'resealed-by-check');
    });
  });

  test('enable failing removes the instance', async () => {
    await withSaga(
      { mock: { failures: { enableInstance: [permanentError(TRAY_FAILURE_TYPES.permanent)] } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        const failure = await failureOf(handle);
        assert.equal(failure.type, TRAY_FAILURE_TYPES.permanent);
        assert.deepEqual(
          mock.inputsOf('removeInstance').map((i) => i.solutionInstanceId),
          ['instance-1'],
        );
        assert.equal((await status(handle)).step, 'failed');
      },
    );
  });

  test('transient errors of forward steps are retried, not compensated', async () => {
    await withSaga(
      { mock: { failures: { createInstance: [transientError(), transientError()] } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.equal(mock.inputsOf('createInstance').length, 3);
        assert.equal(mock.inputsOf('removeInstance').length, 0);
      },
    );
  });

  test('after the auths, attach and enable wait out a longer Tray outage than the steps before', async () => {
    // 12 failures each: more than the 10 attempts the steps before the auths get.
    const outage = () => Array.from({ length: 12 }, () => transientError());
    await withSaga(
      { mock: { failures: { attachAuths: outage(), enableInstance: outage() } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.equal(mock.inputsOf('attachAuths').length, 13);
        assert.equal(mock.inputsOf('enableInstance').length, 13);
        assert.equal(mock.inputsOf('removeInstance').length, 0);
      },
    );
  });

  test('compensation retries removeInstance through transient failures until it succeeds', async () => {
    const removeFailures = [transientError(), transientError(), transientError(), transientError()];
    await withSaga(
      { mock: { failures: { attachAuths: [permanentError()], removeInstance: removeFailures } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        const failure = await failureOf(handle);
        assert.equal(failure.type, TRAY_FAILURE_TYPES.validation);
        assert.equal(mock.inputsOf('removeInstance').length, 5);
        assert.equal((await status(handle)).step, 'failed');
      },
    );
  });

  test('a non-retryable removeInstance failure is retried by the workflow too', async () => {
    await withSaga(
      { mock: { failures: { attachAuths: [permanentError()], removeInstance: [permanentError()] } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        await failureOf(handle);
        assert.equal(mock.inputsOf('removeInstance').length, 2);
      },
    );
  });

  test('while a failed removal waits, the details say when it tries again and list no slot as pending', async () => {
    await withSaga(
      { mock: { failures: { removeInstance: [permanentError(TRAY_FAILURE_TYPES.forbidden)] } } },
      async ({ handle }) => {
        await waitForStep(handle, 'awaiting_auth');
        await handle.cancel();
        const details = await pollUntil(
          async () => {
            const m = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
            return /removal failed/.test(m.currentDetails ?? '') ? m.currentDetails : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 100, what: 'the failed removal in the details' },
        );
        assert.match(details ?? '', /\*\*Step:\*\* `compensating`/);
        assert.match(details ?? '', /removal failed 1 time\(s\), next try at \d{4}-\d\d-\d\dT[\d:.]+Z: /);
        assert.doesNotMatch(details ?? '', /Pending slots/);
        await handle.result().catch(() => undefined);
      },
    );
  });

  test('a cancel that arrives while a failed saga removes its instance does not stop the removal', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mockOptions: MockOptions = {
      failures: { attachAuths: [permanentError(TRAY_FAILURE_TYPES.validation, 'bad auth')] },
      holds: { removeInstance: gate },
    };
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await cancelWhileHeld(handle, mock, 'removeInstance', release);
      const failure = await failureOf(handle);
      assert.equal(failure.type, TRAY_FAILURE_TYPES.validation, 'the saga fails with its own cause');
      assert.equal(mock.inputsOf('removeInstance').length, 1);
      const events = (await handle.fetchHistory()).events ?? [];
      const [remove] = scheduledEvents(events, 'removeInstance');
      assert.ok(remove, 'removeInstance is in the history');
      completedEventOf(events, remove);
      assert.equal(
        events.filter((e) => e.activityTaskCancelRequestedEventAttributes).length,
        0,
        'no activity cancel was requested',
      );
    });
  });

  test('removal failing again and again backs off, so a long Tray problem does not fill the history', async () => {
    const removeFailures = Array.from({ length: 8 }, () => permanentError(TRAY_FAILURE_TYPES.forbidden));
    await withSaga(
      { mock: { failures: { attachAuths: [permanentError()], removeInstance: removeFailures } } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        await failureOf(handle);
        assert.equal(mock.inputsOf('removeInstance').length, 9);
        const events = (await handle.fetchHistory()).events ?? [];
        const pauses = events
          .filter((e) => summaryOf(e)?.startsWith('compensate: pause'))
          .map((e) => tsToMs(e.timerStartedEventAttributes?.startToFireTimeout));
        assert.equal(pauses.length, 8);
        assert.equal(pauses[0], 60_000);
        for (let i = 1; i < pauses.length; i++) {
          const [before, now] = [pauses[i - 1] ?? 0, pauses[i] ?? 0];
          assert.ok(now >= before, `pause ${i} shrank: ${before} → ${now}`);
        }
        assert.equal(pauses.at(-1), 60 * 60_000, 'pauses grow to an hour');
      },
    );
  });

  const userSteps = [
    { failing: 'findUser', ran: ['findUser'], step: 'ensuring_user' },
    // The user may exist all the same (another saga won the race): one more look-up, then it fails.
    { failing: 'createUser', ran: ['findUser', 'createUser', 'findUser'], step: 'ensuring_user' },
    {
      failing: 'prepareUserToken',
      ran: ['findUser', 'createUser', 'prepareUserToken'],
      step: 'creating_instance',
    },
  ] as const;
  for (const { failing, ran, step } of userSteps) {
    test(`${failing} failing (in ${step}) compensates nothing`, async () => {
      await withSaga(
        { mock: { failures: { [failing]: [permanentError(TRAY_FAILURE_TYPES.forbidden)] } } },
        async ({ handle, mock }) => {
          const failure = await failureOf(handle);
          assert.equal(failure.type, TRAY_FAILURE_TYPES.forbidden);
          assert.deepEqual(names(mock), ran);
          const s = await status(handle);
          assert.equal(s.step, 'failed');
          assert.equal(s.error?.type, TRAY_FAILURE_TYPES.forbidden);
        },
      );
    });
  }

  test('cancelled while ensuring the user: nothing to compensate, ends cancelled', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await withSaga({ mock: { holds: { findUser: gate } } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'ensuring_user');
      await handle.cancel();
      release();
      await handle.result().catch(() => undefined);
      assert.equal((await status(handle)).step, 'cancelled');
      assert.equal(mock.inputsOf('removeInstance').length, 0);
      assert.equal(mock.inputsOf('createInstance').length, 0);
    });
  });

  test('cancelled while the create is in flight: removal waits for it and removes what it made', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await withSaga({ mock: { holds: { createInstance: gate } } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'creating_instance');
      // Tray creates the instance only once the saga has seen the cancellation.
      await cancelWhileHeld(handle, mock, 'createInstance', release);
      await handle.result().catch(() => undefined);
      assert.equal((await status(handle)).step, 'cancelled');
      const removes = mock.inputsOf('removeInstance');
      assert.equal(removes.length, 1);
      assert.equal(removes[0]?.solutionInstanceId, 'instance-1', 'removed by the id the create returned');
      const createdAt = mock.calls.find((c) => c.name === 'createInstance')?.at ?? Infinity;
      const removedAt = mock.calls.find((c) => c.name === 'removeInstance')?.at ?? -Infinity;
      assert.ok(removedAt >= createdAt);
    });
  });

  test('an invalid authTimeout fails the saga before any Tray call', async () => {
    await withSaga({ input: { authTimeout: 'soon' } }, async ({ handle, mock }) => {
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'InvalidInput');
      assert.deepEqual(names(mock), []);
      assert.equal((await status(handle)).step, 'failed');
    });
  });

  const invalidInputs: [string, Record<string, unknown>, RegExp][] = [
    ['duplicate slots', { authSlots: ['slack', 'slack'] }, /authSlots must be unique/],
    ['21 slots', { authSlots: Array.from({ length: 21 }, (_, i) => `s${i}`) }, /1 to 20 slots/],
    ['no slots', { authSlots: [] }, /1 to 20 slots/],
    ['an empty externalUserId', { externalUserId: '' }, /externalUserId must not be empty/],
    ['a 201-character solutionId', { solutionId: 's'.repeat(201) }, /solutionId must be at most 200/],
    ['authTimeout over 30d', { authTimeout: '31d' }, /authTimeout must lie between 1s and 30d/],
    ['a number for authTimeout', { authTimeout: 3600 }, /authTimeout/],
    ['a number for externalUserId', { externalUserId: 42 }, /externalUserId/],
    ['a string for authSlots', { authSlots: 'slack' }, /authSlots/],
    ['no authSlots', { authSlots: undefined }, /authSlots/],
    ['a number for authSlots', { authSlots: 5 }, /authSlots/],
    ['no userName', { userName: undefined }, /userName/],
  ];
  for (const [name, overrides, message] of invalidInputs) {
    test(`a direct start with ${name} fails as InvalidInput before any Tray call`, ONE_MINUTE, async () => {
      await withSaga({ input: overrides as Partial<ConnectInput> }, async ({ handle, mock }) => {
        const failure = await failureOf(handle);
        assert.equal(failure.type, 'InvalidInput');
        assert.match(failure.message, message);
        assert.deepEqual(names(mock), []);
      });
    });
  }

  test(
    'a direct start under an id that is not its connection id fails as InvalidInput, naming both',
    ONE_MINUTE,
    async () => {
      const workflowId = `connect:${uniqueId('someone-else')}:sol-1`;
      await withSaga({ workflowId }, async ({ handle, mock, input }) => {
        const failure = await failureOf(handle);
        assert.equal(failure.type, 'InvalidInput');
        assert.ok(failure.message.includes(`"connect:${input.externalUserId}:sol-1"`), failure.message);
        assert.ok(failure.message.includes(`"${workflowId}"`), failure.message);
        assert.deepEqual(names(mock), []);
      });
    },
  );

  test(
    'a direct start with no input at all fails as InvalidInput before any Tray call',
    ONE_MINUTE,
    async () => {
      await withSaga({ withoutInput: true }, async ({ handle, mock }) => {
        await pollUntil(async () => (await handle.describe()).status.name !== 'RUNNING', {
          timeoutMs: 20_000,
          what: 'the saga to end',
        });
        const failure = await failureOf(handle);
        assert.equal(failure.type, 'InvalidInput');
        assert.match(failure.message, /must be an object/);
        assert.deepEqual(names(mock), []);
        assert.equal((await status(handle)).step, 'failed');
      });
    },
  );

  test('a lost create response still removes, looking the instance up without its id', async () => {
    await withSaga(
      { mock: { failures: { createInstance: [permanentError(TRAY_FAILURE_TYPES.permanent, 'lost')] } } },
      async ({ handle, mock, input }) => {
        const failure = await failureOf(handle);
        assert.equal(failure.type, TRAY_FAILURE_TYPES.permanent);
        const removes = mock.inputsOf('removeInstance');
        const [create] = mock.inputsOf('createInstance');
        // At once, and again once the failed create can no longer land.
        assert.equal(removes.length, 2);
        assert.deepEqual(removes[1], removes[0]);
        assert.equal(removes[0]?.solutionInstanceId, undefined);
        const { notAfter, ...lookup } = removes[0] ?? {};
        assert.deepEqual(lookup, {
          userId: 'user-1',
          sealedToken: 'sealed-for-user-1',
          solutionId: input.solutionId,
          instanceName: create?.instanceName,
          notBefore: create?.notBefore,
        });
        // Instances made after the failed create had time to land are not the saga's.
        assert.ok(notAfter && Date.parse(notAfter) > Date.parse(create?.notBefore ?? ''), String(notAfter));
        await assertLooksAgainAt(handle, notAfter);
      },
    );
  });
});

describe('connectIntegration when Tray refused the only create', () => {
  test('nothing can land late: one look, no wait for the late-create window', async () => {
    const refused = ApplicationFailure.create({
      type: TRAY_FAILURE_TYPES.notFound,
      message: 'no such solution',
      nonRetryable: true,
      details: [{ operation: 'CreateInstance', code: 'not_found' }, CREATED_NOTHING],
    });
    await withSaga({ mock: { failures: { createInstance: [refused] } } }, async ({ handle, mock }) => {
      const failure = await failureOf(handle);
      assert.equal(failure.type, TRAY_FAILURE_TYPES.notFound);
      assert.equal(mock.inputsOf('removeInstance').length, 1);
      const events = (await handle.fetchHistory()).events ?? [];
      assert.equal(events.filter((e) => e.timerStartedEventAttributes).length, 0);
    });
  });
});

// A create that timed out may still reach Tray after the retry made another instance (Tray has no
// idempotency key); the activities report a retried create and the saga then cleans up after it.
describe('connectIntegration after a retried create', () => {
  test('once enabled, removes the instances an earlier attempt left and keeps its own', async () => {
    await withSaga(
      { mock: { failures: { createInstance: [transientError('timed out')] }, strays: ['instance-0'] } },
      async ({ handle, mock, input }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.deepEqual(names(mock).slice(-2), ['enableInstance', 'removeStrayInstances']);
        const [create] = mock.inputsOf('createInstance');
        const [sweep] = mock.inputsOf('removeStrayInstances');
        const { notAfter, ...rest } = sweep ?? { notAfter: '' };
        assert.deepEqual(rest, {
          userId: 'user-1',
          sealedToken: 'sealed-for-user-1',
          solutionId: input.solutionId,
          instanceName: create?.instanceName,
          notBefore: create?.notBefore,
          keep: 'instance-1',
        });
        // The window for a late create: two minutes (workflow time) after the retried create answered,
        // and the sweep waits for it to pass.
        const events = (await handle.fetchHistory()).events ?? [];
        const [createRetry] = scheduledEvents(events, 'createInstance'); // one event for all its attempts
        const [sweepEvent] = scheduledEvents(events, 'removeStrayInstances');
        assert.ok(createRetry && sweepEvent);
        const windowMs = Date.parse(notAfter) - tsToMs(completedEventOf(events, createRetry).eventTime);
        assert.ok(windowMs >= 119_000 && windowMs <= 125_000, `window ${windowMs} ms`);
        assert.ok(tsToMs(sweepEvent.eventTime) >= Date.parse(notAfter), 'swept once the window had passed');
        assert.equal(mock.inputsOf('removeInstance').length, 0);
        assert.equal((await status(handle)).step, 'completed');
      },
    );
  });

  /** A retried create whose strays Tray refuses to remove `refusals` times; the saga connected. */
  async function withStrayRemovalRefused(
    refusals: number,
    check: (run: { handle: Handle; mock: MockActivities; details: string }) => Promise<void>,
  ) {
    await withSaga(
      {
        mock: {
          failures: {
            createInstance: [transientError('timed out')],
            removeStrayInstances: Array.from({ length: refusals }, () =>
              permanentError(TRAY_FAILURE_TYPES.forbidden),
            ),
          },
          strays: ['instance-0'],
        },
      },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.equal(mock.inputsOf('removeInstance').length, 0, 'the good instance stays');
        assert.equal((await status(handle)).step, 'completed');
        const { currentDetails = '' } = await handle.query<{ currentDetails?: string }>(
          '__temporal_workflow_metadata',
        );
        await check({ handle, mock, details: currentDetails });
      },
    );
  }

  test('a failure removing the strays does not undo a connected saga: it tries again after a pause', async () => {
    await withStrayRemovalRefused(1, async ({ handle, mock, details }) => {
      assert.equal(mock.inputsOf('removeStrayInstances').length, 2, 'a failed round, then one that removed');
      const events = (await handle.fetchHistory()).events ?? [];
      const pauses = events.flatMap((e) => e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? []);
      assert.ok(pauses.map(Number).includes(60), `a 1-minute pause among ${pauses.join(', ')}`);
      assert.match(details, /\*\*Compensation:\*\* stray instances removed `instance-0`/);
    });
  });

  test('a removal of the strays that keeps failing is given up after about an hour, and says so', async () => {
    await withStrayRemovalRefused(10, async ({ mock, details }) => {
      assert.equal(mock.inputsOf('removeStrayInstances').length, 7, 'the first round and six more');
      assert.match(details, /stray instances gave up .*: they stay disabled at Tray/);
    });
  });

  test('compensation after a retried create removes the strays with the instance', async () => {
    await withSaga(
      {
        mock: {
          failures: { createInstance: [transientError('timed out')], attachAuths: [permanentError()] },
        },
      },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        await failureOf(handle);
        const [remove, again] = mock.inputsOf('removeInstance');
        assert.equal(remove?.solutionInstanceId, 'instance-1');
        assert.equal(remove?.includeStrays, true);
        assert.ok(
          remove?.notAfter && !Number.isNaN(Date.parse(remove.notAfter)),
          'strays are bounded in time',
        );
        assert.equal(mock.inputsOf('removeStrayInstances').length, 0);
        // The failure came within the window: once it has passed, the saga's instances are looked up again.
        assert.equal(again?.solutionInstanceId, undefined);
        assert.equal(again?.notAfter, remove.notAfter);
        await assertLooksAgainAt(handle, remove.notAfter);
      },
    );
  });

  test('a create that answered at once looks for no strays, in either outcome', async () => {
    await withSaga({ mock: { failures: { attachAuths: [permanentError()] } } }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await failureOf(handle);
      assert.equal(mock.inputsOf('removeInstance')[0]?.includeStrays, undefined);
      assert.equal(mock.inputsOf('removeStrayInstances').length, 0);
    });
  });
});

// An activity attempt that fails after its cancel was requested: the real server stops retrying and
// records the failure; the time-skipping test server does not, so these run on the dev server.
describe('connectIntegration on a real server', () => {
  // The time-skipping server stops skipping time once a running activity was cancelled and then ends.
  test(
    'cancelled during the ownership check: removes the instance and ends cancelled',
    ONE_MINUTE,
    async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const mockOptions = { holds: { verifyAuths: gate } };
      await withSaga({ mock: mockOptions, server: await realServer() }, async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        try {
          await cancelWhileHeld(handle, mock, 'verifyAuths', release);
        } finally {
          release(); // a held check would keep the worker from shutting down
        }
        await handle.result().catch(() => undefined);
        assert.equal((await handle.describe()).status.name, 'CANCELLED');
        assert.deepEqual(await workflowErrors(handle), []);
        assert.equal(mock.inputsOf('removeInstance').length, 1);
        assert.equal(mock.inputsOf('attachAuths').length, 0);
        assert.equal((await status(handle)).step, 'cancelled');
      });
    },
  );

  test('cancelled while the create is in flight and the create then fails: compensates as cancelled, looking the instance up', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mockOptions = {
      holds: { createInstance: gate },
      failures: { createInstance: [transientError('reset')] },
    };
    await withSaga({ mock: mockOptions, server: await realServer() }, async ({ handle, mock }) => {
      await cancelWhileHeld(handle, mock, 'createInstance', release);
      // The failed attempt may still have created the instance: it is looked up and removed at once,
      // and looked up again after the late-create window (real minutes here; test/late-create.test.ts
      // waits it out), after which the saga ends cancelled.
      const s = await waitForStatus(
        handle,
        (st) => mock.inputsOf('removeInstance').length > 0 && st.step === 'compensating',
        'first removal',
      );
      // As the API reads it from the memo without a worker: the cause is in the details only.
      assert.equal(s.error, undefined);
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(meta.currentDetails ?? '', /\*\*Error:\*\* `Cancelled`/);
      assert.equal(mock.inputsOf('createInstance').length, 1, 'no retry after the cancel');
      const removes = mock.inputsOf('removeInstance');
      assert.equal(removes.length, 1);
      assert.equal(removes[0]?.solutionInstanceId, undefined);
      const { memo } = await handle.describe();
      assert.match(String((memo?.[MEMO_KEY] as ConnectMemo | undefined)?.step), /compensating/);
      await handle.terminate('the rest is test/late-create.test.ts');
    });
  });

  test(
    'a cancel that comes with the user token: no create was sent, so nothing is looked for',
    ONE_MINUTE,
    async () => {
      const { handle, mock } = await cancelWithResultOf(await realServer(), bundle, 'prepareUserToken', {
        async drive(saga) {
          try {
            // Older code looked for an instance, then waited out the late-create window (2 minutes).
            await pollUntil(async () => (await saga.describe()).status.name !== 'RUNNING', {
              timeoutMs: 20_000,
              what: 'the saga to close',
            });
          } catch (err) {
            await saga.terminate('the test gave up on it');
            throw err;
          }
        },
      });
      const events = (await handle.fetchHistory()).events ?? [];
      const [token] = scheduledEvents(events, 'prepareUserToken');
      assert.ok(token, 'the token step is in the history');
      const tokenDone = completedEventOf(events, token);
      const cancelAt = events.find((e) => e.workflowExecutionCancelRequestedEventAttributes)?.eventId;
      const nextTaskAt = events.find(
        (e) => e.workflowTaskStartedEventAttributes && Number(e.eventId) > Number(tokenDone.eventId),
      )?.eventId;
      assert.ok(Number(cancelAt) < Number(nextTaskAt), 'the cancel and the result reached one workflow task');
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      assert.deepEqual(names(mock), ['findUser', 'createUser', 'prepareUserToken']);
      const { memo } = await handle.describe();
      assert.equal((memo?.[MEMO_KEY] as ConnectMemo | undefined)?.step, 'cancelled');
      assert.deepEqual(await workflowErrors(handle), []);
    },
  );
});

describe('connectIntegration signals', () => {
  test('duplicates are no-ops, unknown slots are reported, the last authId before attach wins', async () => {
    await withSaga({ input: { authSlots: ['slack', 'gmail'] } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      // Same eventId with another authId: a redelivery, ignored.
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-x', eventId: 'e1' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e2' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'nope', authId: 'auth-9', eventId: 'e3' });
      const mid = await waitForStatus(handle, (s) => s.authSlots[0]?.authId, 'slack completed', 10_000);
      assert.equal(mid.step, 'awaiting_auth');
      assert.equal(mid.authSlots[0]?.authId, 'auth-1');
      assert.deepEqual(
        mid.authSlots.map((s) => s.externalAuthId),
        ['slack', 'gmail'],
      );
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(metadata.currentDetails ?? '', /unknown slots.*`nope`/);
      assert.match(metadata.currentDetails ?? '', /Pending slots.*`gmail`/);
      // A flood of unknown slots: each name once, at most ten, then a count.
      for (let i = 0; i < 12; i++) {
        await handle.signal(authCompletedSignal, { externalAuthId: `x${i}`, authId: `a${i}` });
        await handle.signal(authCompletedSignal, { externalAuthId: 'nope', authId: `b${i}` });
      }
      const flooded = await pollUntil(
        async () => {
          const m = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          return /and 3 more/.test(m.currentDetails ?? '') ? m.currentDetails : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the unknown slots summed up' },
      );
      assert.equal(flooded?.match(/`nope`/g)?.length, 1);
      assert.match(flooded ?? '', /`nope`, `x0`, .*`x8` and 3 more/);

      // Re-completed before attach: the later authId wins.
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-2', eventId: 'e4' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-3', eventId: 'e5' });
      const result = await handle.result();
      const expected = [
        { externalId: 'slack', authId: 'auth-2' },
        { externalId: 'gmail', authId: 'auth-3' },
      ];
      assert.deepEqual(result.authValues, expected);
      assert.deepEqual(
        mock.inputsOf('attachAuths').map((i) => i.authValues),
        [expected],
      );
      assert.ok(!mock.inputsOf('verifyAuths').some((i) => i.authIds.includes('auth-x')));
    });
  });

  test(
    'a malformed authCompleted sent past the API is ignored, and the saga goes on',
    ONE_MINUTE,
    async () => {
      await withSaga({}, async ({ handle, mock }) => {
        await waitForStep(handle, 'awaiting_auth');
        // What a signal typed into the CLI or the Web UI may carry: no API checked it.
        await handle.signal('authCompleted', null as never);
        await handle.signal('authCompleted', { externalAuthId: 5, authId: 'auth-0' } as never);
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.deepEqual(await workflowErrors(handle), []);
        assert.deepEqual(mock.inputsOf('attachAuths')[0]?.authValues, [
          { externalId: 'slack', authId: 'auth-1' },
        ]);
      });
    },
  );

  test('slot rules: duplicate reasons, unknown slots, too late after attach', () => {
    const slots = new AuthSlots(['a', 'b']);
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '1', eventId: 'x' }), { kind: 'accepted' });
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '2', eventId: 'x' }), {
      kind: 'duplicate',
      reason: 'eventId',
    });
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '1' }), {
      kind: 'duplicate',
      reason: 'authId',
    });
    assert.deepEqual(slots.apply({ externalAuthId: 'z', authId: '3' }), { kind: 'unknown_slot' });
    assert.deepEqual(slots.unknownSlotReports, [{ externalAuthId: 'z', authId: '3' }]);
    assert.deepEqual(slots.apply({ externalAuthId: 'a', authId: '4' }), { kind: 'accepted' });
    assert.deepEqual(slots.pendingIds(), ['b']);
    slots.freeze();
    assert.deepEqual(slots.apply({ externalAuthId: 'b', authId: '5' }), { kind: 'too_late' });
    assert.deepEqual(slots.authValues(), [
      { externalId: 'a', authId: '4' },
      { externalId: 'b', authId: '' },
    ]);
  });

  test('a foreign authId is rejected: slot back to pending with lastError, then a good one completes', async () => {
    await withSaga({ mock: { foreignAuthIds: ['evil'] } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'evil' });
      const rejected = await waitForStatus(
        handle,
        (s) => s.authSlots[0]?.lastError,
        'the foreign authId rejected',
        10_000,
      );
      assert.equal(rejected.step, 'awaiting_auth');
      assert.equal(rejected.authSlots[0]?.state, 'pending');
      assert.equal(rejected.authSlots[0]?.authId, undefined);
      assert.match(rejected.authSlots[0]?.lastError ?? '', /does not belong to this user/);

      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'good' });
      const result = await handle.result();
      assert.deepEqual(result.authValues, [{ externalId: 'slack', authId: 'good' }]);
      assert.deepEqual(
        mock.inputsOf('verifyAuths').map((i) => i.authIds),
        [['evil'], ['good']],
      );
      assert.equal(mock.inputsOf('attachAuths').length, 1);
    });
  });

  test('a slot re-completed while its authId is being checked: the new one is checked next, and wins', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mockOptions = { holds: { verifyAuths: gate }, foreignAuthIds: ['evil'] };
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'evil' });
      await pollUntil(async () => mock.inputsOf('verifyAuths').length === 1, {
        timeoutMs: 30_000,
        what: 'verifyAuths running',
      });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'good' });
      await pollUntil(async () => (await status(handle)).authSlots[0]?.authId === 'good', {
        timeoutMs: 30_000,
        what: 'the re-completion applied',
      });
      release();
      const result = await handle.result();
      assert.deepEqual(result.authValues, [{ externalId: 'slack', authId: 'good' }]);
      assert.deepEqual(
        mock.inputsOf('verifyAuths').map((i) => i.authIds),
        [['evil'], ['good']],
      );
      assert.equal((await status(handle)).authSlots[0]?.lastError, undefined);
    });
  });
});

describe('connectIntegration auth deadline', () => {
  test('a slot re-completed during a check that runs past the deadline is checked, not timed out', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mockOptions: MockOptions = {};
    const input = { authSlots: ['slack', 'gmail'], authTimeout: '10s' };
    await withSaga({ mock: mockOptions, input }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      mockOptions.holds = { verifyAuths: gate };
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'a' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'b' });
      await pollUntil(async () => mock.inputsOf('verifyAuths').length === 1, {
        timeoutMs: 30_000,
        what: 'the first check running',
      });
      // The end user completes gmail again while the check runs; then the deadline passes.
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'b2' });
      await waitForStatus(handle, (s) => s.authSlots[1]?.authId === 'b2', 'the re-completion applied');
      await env.sleep(15_000);
      release();
      const result = await handle.result();
      assert.deepEqual(result.authValues, [
        { externalId: 'slack', authId: 'a' },
        { externalId: 'gmail', authId: 'b2' },
      ]);
      assert.deepEqual(
        mock.inputsOf('verifyAuths').map((i) => i.authIds),
        [['a', 'b'], ['b2']],
      );
    });
  });
});

describe('connectIntegration reissueAuthUrl', () => {
  test('accepted: a fresh URL from a second issue call, stored in the status', async () => {
    await withSaga({ input: { authSlots: ['slack', 'gmail'] } }, async ({ handle, mock }) => {
      const before = await waitForStep(handle, 'awaiting_auth');
      const reissued = await handle.executeUpdate(reissueAuthUrlUpdate, {
        args: [{ externalAuthId: 'gmail' }],
      });
      assert.equal(reissued.externalAuthId, 'gmail');
      assert.notEqual(reissued.url, before.authSlots[1]?.url);
      assert.deepEqual(
        mock.inputsOf('issueAuthCodes').map((i) => i.externalAuthIds),
        [['slack', 'gmail']],
      );
      assert.deepEqual(
        mock.inputsOf('issueAuthUrls').map((i) => i.externalAuthIds),
        [['gmail']],
      );
      const after = await status(handle);
      assert.equal(after.authSlots[1]?.url, reissued.url);
      assert.equal(after.authSlots[0]?.url, before.authSlots[0]?.url);
      await cancelAndWait(handle);
    });
  });

  test('concurrent reissues of one slot share one code; a later one mints another', async () => {
    const mockOptions: MockOptions = {};
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      const { update, release } = await startHeldReissue(handle, mock, mockOptions);
      const second = await handle.startUpdate(reissueAuthUrlUpdate, {
        args: [{ externalAuthId: 'slack' }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      release();
      const [a, b] = await Promise.all([update.result(), second.result()]);
      assert.equal(a.url, b.url);
      assert.equal(mock.inputsOf('issueAuthUrls').length, 1, 'one code for both');
      const later = await handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId: 'slack' }] });
      assert.notEqual(later.url, a.url);
      assert.equal(mock.inputsOf('issueAuthUrls').length, 2);
      await cancelAndWait(handle);
    });
  });

  test(`a saga answers ${REISSUE_LIMIT} reissues, then refuses more with ReissueLimit and no history`, async () => {
    const slots = ['slack', 'gmail', 'drive', 'jira', 'github'];
    // A real server: it drops the workflow task of a rejected update from history (speculative task).
    const server = await realServer();
    await withSaga({ input: { authSlots: slots }, server }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      // A partner page asking for a fresh URL on every load, a few slots at once.
      for (let done = 0; done < REISSUE_LIMIT; done += slots.length) {
        const batch = slots.slice(0, REISSUE_LIMIT - done);
        await Promise.all(
          batch.map((externalAuthId) =>
            handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId }] }),
          ),
        );
      }
      const { historyLength } = await handle.describe();
      await assertUpdateRejected(handle, 'gmail', FAILURE_TYPES.reissueLimit);
      assert.equal((await handle.describe()).historyLength, historyLength, 'a refusal writes no history');
      assert.equal(mock.inputsOf('issueAuthUrls').length, REISSUE_LIMIT);
      assert.ok(historyLength < HISTORY_GUARD.events / 2, `${historyLength} events`);
      // The refusals leave the saga as it was: it still completes.
      for (const externalAuthId of slots) {
        await handle.signal(authCompletedSignal, { externalAuthId, authId: `auth-${externalAuthId}` });
      }
      assert.equal((await handle.result()).enabled, true);
    });
  });

  test('rejected for unknown and completed slots', async () => {
    await withSaga({ input: { authSlots: ['slack', 'gmail'] } }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await pollUntil(async () => (await status(handle)).authSlots[0]?.authId, {
        timeoutMs: 30_000,
        what: 'slack completed',
      });
      await assertUpdateRejected(handle, 'nope', FAILURE_TYPES.unknownSlot);
      await assertUpdateRejected(handle, 'slack', FAILURE_TYPES.slotCompleted);
      assert.equal(mock.inputsOf('issueAuthUrls').length, 0, 'no reissue ran');
      await cancelAndWait(handle);
    });
  });

  test('rejected outside the awaiting step', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await withSaga({ mock: { holds: { createInstance: gate } } }, async ({ handle }) => {
      await waitForStep(handle, 'creating_instance');
      await assertUpdateRejected(handle, 'slack', FAILURE_TYPES.notAwaiting);
      release();
      await waitForStep(handle, 'awaiting_auth');
      await cancelAndWait(handle);
    });
  });
  test('in flight when the auth wait ends: rejected as completed, its URL never handed out', async () => {
    const mockOptions: MockOptions = {};
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      const before = await waitForStep(handle, 'awaiting_auth');
      const { update, release } = await startHeldReissue(handle, mock, mockOptions);
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await waitForStep(handle, 'completed');
      release();
      await assertRejected(
        update.result(),
        FAILURE_TYPES.slotCompleted,
        'a URL for a completed slot should not be handed out',
      );
      assert.equal((await handle.result()).enabled, true);
      assert.ok(before.authSlots[0]?.url);
      // A completed slot shows no URL: its code is spent, and the reissued one was never stored.
      assert.equal((await status(handle)).authSlots[0]?.url, undefined);
    });
  });
  test('in flight when the saga is cancelled: rejected as not awaiting', async () => {
    const mockOptions: MockOptions = {};
    await withSaga({ mock: mockOptions }, async ({ handle, mock }) => {
      await waitForStep(handle, 'awaiting_auth');
      const { update, release } = await startHeldReissue(handle, mock, mockOptions);
      await handle.cancel();
      await assertRejected(update.result(), FAILURE_TYPES.notAwaiting, 'a cancelled saga hands out no URL');
      release();
      await handle.result().catch(() => undefined);
      assert.equal((await status(handle)).step, 'cancelled');
    });
  });
});

/**
 * Holds issueAuthUrls from now on, starts a reissue for 'slack' and waits until its issue call runs:
 * the update is accepted and in flight until `release`.
 */
async function startHeldReissue(handle: Handle, mock: MockActivities, mockOptions: MockOptions) {
  let release: () => void = () => undefined;
  mockOptions.holds = { issueAuthUrls: new Promise<void>((resolve) => (release = resolve)) };
  const update = await handle.startUpdate(reissueAuthUrlUpdate, {
    args: [{ externalAuthId: 'slack' }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await pollUntil(async () => mock.inputsOf('issueAuthUrls').length === 1, {
    timeoutMs: 30_000,
    what: 'the reissue running',
  });
  return { update, release };
}

/** Asserts that an update's result is a rejection of the given ApplicationFailure type. */
async function assertRejected(result: Promise<unknown>, type: string, why: string): Promise<void> {
  const err = await result.then(
    () => assert.fail(why),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  assert.equal(err.cause.type, type);
}

async function assertUpdateRejected(handle: Handle, externalAuthId: string, type: string): Promise<void> {
  await assertRejected(
    handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId }] }),
    type,
    `reissue for ${externalAuthId} should be rejected`,
  );
}

/** Cancels a saga a test is done with and waits for its compensation, so no work outlives the test. */
async function cancelAndWait(handle: Handle): Promise<void> {
  await handle.cancel();
  await handle.result().catch(() => undefined);
  assert.equal((await status(handle)).step, 'cancelled');
}

/** Cancels while `activity` is held running, and lets it finish once the saga has processed the cancel. */
async function cancelWhileHeld(
  handle: Handle,
  mock: MockActivities,
  activity: ActivityName,
  release: () => void,
): Promise<void> {
  await pollUntil(async () => mock.inputsOf(activity).length > 0, {
    timeoutMs: 30_000,
    what: `${activity} running`,
  });
  await handle.cancel();
  await cancelProcessed(handle);
  release();
}

/** Waits until the worker has run a workflow task after the cancel request, so the saga has seen it. */
async function cancelProcessed(handle: Handle): Promise<void> {
  await pollUntil(
    async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const requested = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
      return requested >= 0 && events.slice(requested).some((e) => e.workflowTaskCompletedEventAttributes);
    },
    { timeoutMs: 30_000, what: 'the cancel request processed' },
  );
}
