/**
 * Records the histories test/replay.test.ts replays: runs sagas with faked activities on a
 * throw-away dev server and writes each history to test/histories/<name>.json.
 * Run `tsx test/record-history.ts [name …]` after an intended, compatible change of the workflow's
 * commands (the names pick scenarios to record again) — and keep old histories as long as runs of the
 * old code may still be open: without names it records only the scenarios that have no file yet, so
 * it never replaces the recordings of older code by accident. RECORD_HISTORY_DIR=<dir> writes there
 * instead (every scenario), to compare what the current code records with the committed files.
 * test/histories/release-<commit>-*.json were recorded by that
 * release's own code (its recorder, with these scenarios): sagas partners started under it replay
 * from them, so they are never re-recorded. release-0a1ada9-cancelled-with-token-result.json is that
 * release's workflow code under this recorder's scenario, which that release's recorder lacked.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { Client, Connection, WorkflowUpdateStage } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { ConnectInput, ConnectStep } from '../common/messages.js';
import {
  authCompletedSignal,
  reissueAuthUrlUpdate,
  statusQuery,
  waitForAuthUrlsUpdate,
  WORKFLOW_TYPE,
} from '../common/messages.js';
import { sagaStartOptions } from '../api/start-options.js';
import { startDevServer } from '../dev/dev-server.js';
import { quietRuntime } from '../dev/in-process.js';
import { findTemporalCli } from '../dev/temporal-bin.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import type { connectIntegration } from '../workflows/index.js';
import type { ActivityName, MockOptions } from './helpers/mock-activities.js';
import {
  createMockActivities,
  permanentError,
  rateLimitedError,
  transientError,
} from './helpers/mock-activities.js';
import { cancelWithResultOf } from './helpers/cancel-with-result.js';
import type { MockSagaServer } from './helpers/mock-saga.js';
import { pollUntil } from './helpers/poll.js';

const OUT_DIR = process.env.RECORD_HISTORY_DIR
  ? `${process.env.RECORD_HISTORY_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('./histories/', import.meta.url));

type Handle = WorkflowHandle<typeof connectIntegration>;

interface Scenario {
  name: string;
  input: Partial<ConnectInput>;
  mock?: MockOptions;
  /** Drives the saga to its end; the history is fetched afterwards. */
  drive(handle: Handle): Promise<void>;
  /** The saga is cancelled in the same workflow task as this activity's result. */
  cancelWithResultOf?: ActivityName;
  /** Started as the API starts it: with the first step's search attributes and memo. */
  asTheApiStarts?: boolean;
  /** Started under this workflow id instead of its connection id. */
  workflowId?: string;
}

async function waitForStep(handle: Handle, step: ConnectStep): Promise<void> {
  await pollUntil(async () => (await handle.query(statusQuery)).step === step, {
    timeoutMs: 20_000,
    what: `step ${step}`,
  });
}

/** The URLs' update asked to name the starting request, then slack and gmail: the saga completes. */
async function namedStarterThenBothSlots(handle: Handle): Promise<void> {
  await waitForStep(handle, 'awaiting_auth');
  await handle.executeUpdate(waitForAuthUrlsUpdate, { args: [{ startRequest: true }] });
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
  await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-2', eventId: 'e2' });
  await handle.result();
}

/** Slack completed twice (the second authId replaces the first), then gmail: the saga completes. */
async function reCompleteSlack(handle: Handle): Promise<void> {
  await waitForStep(handle, 'awaiting_auth');
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-2', eventId: 'e2' });
  await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-3', eventId: 'e3' });
  await handle.result();
}

/** The URLs come out, the `slack` slot is authorized, and the saga runs to its end. */
async function slackAuthorizes(handle: Handle): Promise<void> {
  await waitForStep(handle, 'awaiting_auth');
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
  await handle.result();
}

/** slack completed with the user's auth-1, gmail with auth-foreign, until the check rejects that. */
async function slackThenForeignGmail(handle: Handle): Promise<void> {
  await waitForStep(handle, 'awaiting_auth');
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
  await handle.signal(authCompletedSignal, {
    externalAuthId: 'gmail',
    authId: 'auth-foreign',
    eventId: 'e2',
  });
  await pollUntil(async () => (await handle.query(statusQuery)).authSlots.some((s) => s.lastError), {
    timeoutMs: 20_000,
    what: 'lastError',
  });
}

/** Filled in by its scenario: it holds the reissue's code while a second reissue arrives. */
const sharedReissueMock: MockOptions = {};

/** Its create fails, after which the user exists: the look-up after the failed create finds it. */
const relookupMock: MockOptions = {
  failures: {
    createUser: [
      () => {
        relookupMock.knownUser = true;
        return permanentError(undefined, 'recorded duplicate user create');
      },
    ],
  },
};

/** Filled in by its scenario: it holds the ownership check until the auth deadline has passed. */
const lateCheckMock: MockOptions = {};

const scenarios: Scenario[] = [
  {
    // Also carries a reissue update, a duplicate, an unknown slot and a re-completed slot.
    name: 'completed-2-slots',
    input: { externalUserId: 'rec-user-completed', authSlots: ['slack', 'gmail'] },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId: 'gmail' }] });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'nope', authId: 'auth-9', eventId: 'e2' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-2', eventId: 'e3' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-3', eventId: 'e4' });
      await handle.result();
    },
  },
  {
    // Recorded after the codes moved beside the create (patch `auth-codes-beside-create`) and the user
    // token began to travel sealed; the histories above are from before and keep replaying.
    name: 'completed-codes-beside-create',
    input: { externalUserId: 'rec-user-codes-beside', authSlots: ['slack', 'gmail'] },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.executeUpdate(waitForAuthUrlsUpdate, { args: [{}] });
      await handle.executeUpdate(reissueAuthUrlUpdate, { args: [{ externalAuthId: 'gmail' }] });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-2', eventId: 'e2' });
      await handle.result();
    },
  },
  {
    // The codes' patch asked in the first workflow task, beside its other upserts (patch
    // `codes-patch-asked-first`): the token's task upserts nothing. The update is asked to name the
    // request that started the run, as the API asks (started here without the API's memo: none).
    name: 'completed-codes-asked-first',
    input: { externalUserId: 'rec-user-codes-asked-first', authSlots: ['slack', 'gmail'] },
    drive: namedStarterThenBothSlots,
  },
  {
    // Started as the API starts it, after the first task's four patches became one (patch
    // `first-task-patches-folded`): that task upserts none of the start's values again.
    name: 'completed-first-task-patches-folded',
    input: { externalUserId: 'rec-user-patches-folded', authSlots: ['slack', 'gmail'] },
    asTheApiStarts: true,
    drive: namedStarterThenBothSlots,
  },
  {
    // The memo carries each completed slot's authId (patch `memo-auth-ids`): a re-completed slot
    // changes it, so the memo is upserted where older runs upserted nothing.
    name: 'completed-memo-auth-ids',
    input: { externalUserId: 'rec-user-memo-auth-ids', authSlots: ['slack', 'gmail'] },
    drive: reCompleteSlack,
  },
  {
    // The memo also names the authId a slot took and replaced (patch `memo-replaced-auth-ids`), so a
    // late redelivery of it finds this run: the replacement upserts the memo with it.
    name: 'completed-memo-replaced-auth-ids',
    input: { externalUserId: 'rec-user-memo-replaced', authSlots: ['slack', 'gmail'] },
    drive: reCompleteSlack,
  },
  {
    // The slot is re-completed while its ownership check runs past the deadline: the new authId is
    // still checked, not taken for a timeout (patch `check-relayed-during-late-check`).
    name: 'completed-late-check',
    input: { externalUserId: 'rec-user-late-check', authSlots: ['slack'], authTimeout: '3s' },
    mock: lateCheckMock,
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      let release: () => void = () => undefined;
      lateCheckMock.holds = { verifyAuths: new Promise<void>((resolve) => (release = resolve)) };
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      const { deadline } = await handle.query(statusQuery);
      await pollUntil(async () => Date.now() > Date.parse(deadline ?? '') + 500, {
        timeoutMs: 20_000,
        what: 'the auth deadline passed',
      });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-2', eventId: 'e2' });
      release();
      const result = await handle.result();
      if (result.authValues[0]?.authId !== 'auth-2') throw new Error('the late authId was not attached');
    },
  },
  {
    // Two reissues of one slot at once share one code (patch `shared-reissue`).
    name: 'completed-shared-reissue',
    input: { externalUserId: 'rec-user-shared-reissue', authSlots: ['slack', 'gmail'] },
    mock: sharedReissueMock,
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      let release: () => void = () => undefined;
      sharedReissueMock.holds = { issueAuthUrls: new Promise<void>((resolve) => (release = resolve)) };
      const reissue = () =>
        handle.startUpdate(reissueAuthUrlUpdate, {
          args: [{ externalAuthId: 'gmail' }],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        });
      const first = await reissue();
      const second = await reissue();
      release();
      const [a, b] = await Promise.all([first.result(), second.result()]);
      if (a.url !== b.url) throw new Error('the two reissues did not share one code');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e1' });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-2', eventId: 'e2' });
      await handle.result();
    },
  },
  {
    // The user exists at Tray already: no createUser, the saga goes straight to the user token.
    name: 'completed-known-user',
    input: { externalUserId: 'rec-user-known', authSlots: ['slack'] },
    mock: { knownUser: true, userId: 'user-known' },
    drive: slackAuthorizes,
  },
  {
    name: 'timed-out',
    input: { externalUserId: 'rec-user-timeout', authSlots: ['slack'], authTimeout: '1s' },
    async drive(handle) {
      await handle.result().catch(() => undefined);
    },
  },
  {
    // Started directly under an id that is not its connection id: refused as invalid input
    // (patch `workflow-id-is-connection-id`).
    name: 'failed-workflow-id',
    input: { externalUserId: 'rec-user-other-id', authSlots: ['slack'] },
    workflowId: 'connect:rec-user-someone-else:sol-1',
    async drive(handle) {
      await handle.result().catch(() => undefined);
    },
  },
  {
    name: 'cancelled',
    input: { externalUserId: 'rec-user-cancel', authSlots: ['slack', 'gmail'] },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await handle.cancel();
      await handle.result().catch(() => undefined);
    },
  },
  {
    name: 'failed-attach',
    input: { externalUserId: 'rec-user-failed', authSlots: ['slack'] },
    mock: { failures: { attachAuths: [permanentError(undefined, 'recorded permanent attach failure')] } },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await handle.result().catch(() => undefined);
    },
  },
  {
    // The create needed a second attempt, so after enabling the saga removes what the first left.
    name: 'completed-after-retried-create',
    input: { externalUserId: 'rec-user-retried-create', authSlots: ['slack'] },
    mock: {
      failures: { createInstance: [transientError('recorded create timeout')] },
      strays: ['instance-0'],
    },
    drive: slackAuthorizes,
  },
  {
    // As above, but Tray refuses the first removal of the strays: the saga pauses and tries again.
    name: 'completed-stray-removal-retried',
    input: { externalUserId: 'rec-user-stray-retry', authSlots: ['slack'] },
    mock: {
      failures: {
        createInstance: [transientError('recorded create timeout')],
        removeStrayInstances: [permanentError(undefined, 'recorded stray removal refused')],
      },
      strays: ['instance-0'],
    },
    drive: slackAuthorizes,
  },
  {
    // A foreign authId is rejected (lastError), sent again (remembered), then the slot completes.
    name: 'foreign-auth-rejected',
    input: { externalUserId: 'rec-user-foreign', authSlots: ['slack', 'gmail'] },
    mock: { foreignAuthIds: ['auth-foreign'] },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, {
        externalAuthId: 'slack',
        authId: 'auth-foreign',
        eventId: 'e1',
      });
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-2', eventId: 'e2' });
      await pollUntil(async () => (await handle.query(statusQuery)).authSlots.some((s) => s.lastError), {
        timeoutMs: 20_000,
        what: 'lastError',
      });
      await handle.signal(authCompletedSignal, {
        externalAuthId: 'slack',
        authId: 'auth-foreign',
        eventId: 'e3',
      });
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1', eventId: 'e4' });
      await handle.result();
    },
  },
  {
    // gmail is completed with the authId slack's check found the user's: the wait settles with no
    // second check (patch `owned-authid-settles-wait`).
    name: 'completed-owned-authid-settles',
    input: { externalUserId: 'rec-user-owned-settles', authSlots: ['slack', 'gmail'] },
    mock: { foreignAuthIds: ['auth-foreign'] },
    async drive(handle) {
      await slackThenForeignGmail(handle);
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-1', eventId: 'e3' });
      const result = await handle.result();
      if (result.authValues[1]?.authId !== 'auth-1') throw new Error('gmail did not attach auth-1');
    },
  },
  {
    // gmail's authId is found foreign: the memo carries its lastError until a good one replaces it
    // (patch `memo-last-errors`).
    name: 'completed-memo-last-errors',
    input: { externalUserId: 'rec-user-last-errors', authSlots: ['slack', 'gmail'] },
    mock: { foreignAuthIds: ['auth-foreign'] },
    async drive(handle) {
      await slackThenForeignGmail(handle);
      await handle.signal(authCompletedSignal, { externalAuthId: 'gmail', authId: 'auth-2', eventId: 'e3' });
      await handle.result();
    },
  },
  {
    // Tray rate-limits the attach once: the saga waits a round and attaches again.
    name: 'rate-limited-attach',
    input: { externalUserId: 'rec-user-rate-limited', authSlots: ['slack'] },
    mock: { failures: { attachAuths: [rateLimitedError(1000)] } },
    drive: slackAuthorizes,
  },
  {
    // The user create fails, the user exists after all: the saga looks it up again and takes it.
    name: 'user-relookup',
    input: { externalUserId: 'rec-user-relookup', authSlots: ['slack'] },
    mock: relookupMock,
    drive: slackAuthorizes,
  },
  {
    // The create fails for good: nothing known to remove, so compensation looks again after the window.
    name: 'failed-create',
    input: { externalUserId: 'rec-user-failed-create', authSlots: ['slack'] },
    mock: { failures: { createInstance: [permanentError(undefined, 'recorded permanent create failure')] } },
    async drive(handle) {
      await handle.result().catch(() => undefined);
    },
  },
  {
    // Cancelled after a retried create: compensation removes the strays, looking again after the window.
    name: 'cancelled-after-retried-create',
    input: { externalUserId: 'rec-user-cancel-retried', authSlots: ['slack', 'gmail'] },
    mock: {
      failures: { createInstance: [transientError('recorded create timeout')] },
      strays: ['instance-0'],
    },
    async drive(handle) {
      await waitForStep(handle, 'awaiting_auth');
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      await handle.cancel();
      await handle.result().catch(() => undefined);
    },
  },
  {
    // The cancel comes in the same workflow task as the user token: the create is never sent, and the
    // saga ends cancelled without looking for an instance (patch
    // `cancelled-before-create-compensates-nothing`; older code looked through the late-create window).
    name: 'cancelled-with-token-result',
    input: { externalUserId: 'rec-user-cancel-token', authSlots: ['slack'] },
    cancelWithResultOf: 'prepareUserToken',
    async drive(handle) {
      await handle.result().catch(() => undefined);
    },
  },
];

/** The recorder's one dev server, its namespace known. */
type Server = Required<MockSagaServer>;

/** Runs one scenario's saga to its end; a worker and a fake per scenario, so it meets only its failures. */
async function runScenario(scenario: Scenario, server: Server): Promise<Handle> {
  const taskQueue = `record-${scenario.name}`;
  const input: ConnectInput = {
    externalUserId: 'rec-user',
    userName: 'Ada',
    solutionId: 'sol-1',
    authSlots: ['slack'],
    authTimeout: '1h',
    ...scenario.input,
  };
  const workflowId = scenario.workflowId ?? `connect:${input.externalUserId}:${input.solutionId}`;
  const workflowBundle = await bundleConnectWorkflows();
  if (scenario.cancelWithResultOf) {
    const { handle } = await cancelWithResultOf(server, workflowBundle, scenario.cancelWithResultOf, {
      input,
      ...(scenario.mock ? { mock: scenario.mock } : {}),
      taskQueue,
      workflowId,
      drive: (h) => scenario.drive(h),
    });
    return handle;
  }
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowBundle,
    activities: createMockActivities(scenario.mock).activities,
  });
  return await worker.runUntil(async () => {
    const handle: Handle = await server.client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
      ...(scenario.asTheApiStarts ? sagaStartOptions(taskQueue, input, workflowId, 'rec-request') : {}),
      taskQueue,
      workflowId,
      args: [input],
    });
    await scenario.drive(handle);
    return handle;
  });
}

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    );
  }
  const recorded = (s: Scenario) => existsSync(`${OUT_DIR}${s.name}.json`);
  const chosen =
    names.length > 0
      ? scenarios.filter((s) => names.includes(s.name))
      : scenarios.filter((s) => process.env.RECORD_HISTORY_DIR || !recorded(s));
  const kept = scenarios.filter((s) => !chosen.includes(s) && recorded(s)).map((s) => s.name);
  if (names.length === 0 && kept.length > 0) {
    console.log(`kept (older code's recordings; name a scenario to record it again): ${kept.join(', ')}`);
  }
  if (chosen.length === 0) return;
  quietRuntime();
  const server = await startDevServer({ cliPath: await findTemporalCli() });
  try {
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    mkdirSync(OUT_DIR, { recursive: true });
    for (const scenario of chosen) {
      const handle = await runScenario(scenario, { client, nativeConnection, namespace: server.namespace });
      const history = await handle.fetchHistory();
      const file = `${OUT_DIR}${scenario.name}.json`;
      // Proto3 JSON, as `temporal workflow show --output json` writes it.
      writeFileSync(file, historyToJSON(history) + '\n');
      console.log(`wrote ${file} (${history.events?.length ?? 0} events)`);
    }
    await nativeConnection.close();
    await connection.close();
  } finally {
    await server.stop();
  }
}

await main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
