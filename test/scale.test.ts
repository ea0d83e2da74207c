/**
 * Issue 10's rules, proved by behaviour rather than timing: the activities' task-queue priority keys
 * as history records them, the URL wait as an update-with-start, and a worker whose workflow cache
 * holds one saga still completing several waiting ones (each replayed when its signal arrives).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  authCompletedSignal,
  statusQuery,
  waitForAuthUrlsUpdate,
  WORKFLOW_TYPE,
  type ConnectInput,
} from '../common/messages.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { createConnectWorker } from '../worker/create-worker.js';
import type { connectIntegration } from '../workflows/index.js';
import { createMockActivities, permanentError, type MockOptions } from './helpers/mock-activities.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, uniqueId } from './helpers/temporal.js';

installQuietRuntime();

type Handle = WorkflowHandle<typeof connectIntegration>;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
let bundle: WorkflowBundleWithSourceMap;

before(async () => {
  const { address, namespace } = await devServer();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace });
  nativeConnection = await NativeConnection.connect({ address });
  bundle = await bundleConnectWorkflows();
});
after(async () => {
  await nativeConnection?.close();
  await connection?.close();
});

function sagaInput(overrides: Partial<ConnectInput> = {}): ConnectInput {
  return {
    externalUserId: uniqueId('scale-user'),
    userName: 'Ada',
    solutionId: 'sol-1',
    authSlots: ['slack', 'gmail'],
    authTimeout: '1h',
    ...overrides,
  };
}

/** A worker with faked activities on a task queue of its own, running while `body` runs. */
async function withWorker<T>(
  options: { mock?: MockOptions; maxCachedWorkflows?: number },
  body: (taskQueue: string, mock: ReturnType<typeof createMockActivities>) => Promise<T>,
): Promise<T> {
  const mock = createMockActivities(options.mock);
  const taskQueue = uniqueId('scale-tq');
  const worker = await createConnectWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    activities: mock.activities,
    workflowBundle: bundle,
    rateLimitPerSecond: 1000,
    ...(options.maxCachedWorkflows ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
  return worker.runUntil(() => body(taskQueue, mock));
}

function start(taskQueue: string, input: ConnectInput): Promise<Handle> {
  return client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `connect:${input.externalUserId}:${input.solutionId}`,
    args: [input],
  });
}

async function completeAll(handle: Handle, slots: string[]): Promise<void> {
  for (const [i, externalAuthId] of slots.entries()) {
    await handle.signal(authCompletedSignal, { externalAuthId, authId: `auth-${i}` });
  }
}

/** activity type → the priority keys of its scheduled events, in history order. */
function priorityKeys(events: HistoryEvent[]): Record<string, number[]> {
  const keys: Record<string, number[]> = {};
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    const name = scheduled?.activityType?.name;
    if (!scheduled || !name) continue;
    (keys[name] ??= []).push(scheduled.priority?.priorityKey ?? 0);
  }
  return keys;
}

describe('task-queue priority keys', () => {
  test('after the auths first; before the URLs a later step ahead of an earlier one', async () => {
    await withWorker({}, async (taskQueue) => {
      const input = sagaInput();
      const handle = await start(taskQueue, input);
      await completeAll(handle, input.authSlots);
      await handle.result();
      assert.deepEqual(priorityKeys((await handle.fetchHistory()).events ?? []), {
        findUser: [5],
        createUser: [4],
        prepareUserToken: [3],
        createInstance: [2],
        issueAuthCodes: [2],
        verifyAuths: [1],
        attachAuths: [1],
        enableInstance: [1],
      });
    });
  });

  test('compensation and a reissue: removal first, the reissue with the URL steps', async () => {
    await withWorker({}, async (taskQueue) => {
      const handle = await start(taskQueue, sagaInput());
      await pollUntil(async () => (await handle.query(statusQuery)).step === 'awaiting_auth', {
        timeoutMs: 30_000,
        what: 'awaiting_auth',
      });
      await handle.executeUpdate('reissueAuthUrl', { args: [{ externalAuthId: 'gmail' }] });
      await handle.cancel();
      await handle.result().catch(() => undefined);
      const keys = priorityKeys((await handle.fetchHistory()).events ?? []);
      assert.deepEqual(keys.issueAuthUrls, [2]);
      assert.deepEqual(keys.removeInstance, [1]);
    });
  });
});

describe('codes beside the create', () => {
  test('the codes failing after the create answered: the instance is removed by its id', async () => {
    const failures = { issueAuthCodes: [permanentError(TRAY_FAILURE_TYPES.forbidden)] };
    await withWorker({ mock: { failures } }, async (taskQueue, mock) => {
      const handle = await start(taskQueue, sagaInput());
      await assert.rejects(handle.result());
      assert.deepEqual(
        mock.inputsOf('removeInstance').map((r) => r.solutionInstanceId),
        ['instance-1'],
      );
      assert.equal((await handle.query(statusQuery)).step, 'failed');
    });
  });

  test('waitForAuthUrls with the start answers once every slot has a URL; again for a running saga', async () => {
    await withWorker({}, async (taskQueue) => {
      const input = sagaInput();
      const options = {
        taskQueue,
        workflowId: `connect:${input.externalUserId}:${input.solutionId}`,
        args: [input] as [ConnectInput],
        workflowIdConflictPolicy: 'USE_EXISTING' as const,
      };
      const first = await client.workflow.executeUpdateWithStart(waitForAuthUrlsUpdate, {
        args: [{}],
        startWorkflowOperation: new WithStartWorkflowOperation(WORKFLOW_TYPE, options),
      });
      assert.equal(first.step, 'awaiting_auth');
      assert.ok(first.authSlots.every((s) => s.url?.includes('?code=')));
      const again = await client.workflow.executeUpdateWithStart(waitForAuthUrlsUpdate, {
        args: [{}],
        startWorkflowOperation: new WithStartWorkflowOperation(WORKFLOW_TYPE, options),
      });
      assert.equal(again.runId, first.runId, 'the running saga, not a second one');
      assert.deepEqual(again.authSlots, first.authSlots);
      await client.workflow.getHandle(options.workflowId).cancel();
    });
  });

  test('a saga that fails before its URLs ends the wait instead of hanging it', async () => {
    const failures = { findUser: [permanentError(TRAY_FAILURE_TYPES.forbidden)] };
    await withWorker({ mock: { failures } }, async (taskQueue) => {
      const input = sagaInput();
      const update = client.workflow.executeUpdateWithStart(waitForAuthUrlsUpdate, {
        args: [{}],
        startWorkflowOperation: new WithStartWorkflowOperation(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: `connect:${input.externalUserId}:${input.solutionId}`,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
      // Either the failed status or an error saying the saga closed: never a wait until the deadline.
      const outcome = await update.then(
        (s) => s.step,
        () => 'closed',
      );
      assert.ok(['failed', 'closed'].includes(outcome), outcome);
    });
  });
});

describe('a bounded workflow cache', () => {
  test('a worker caching one saga completes several waiting ones, each replayed on its signal', async () => {
    await withWorker({ maxCachedWorkflows: 1 }, async (taskQueue) => {
      const inputs = Array.from({ length: 4 }, () => sagaInput({ authSlots: ['slack'] }));
      const handles = await Promise.all(inputs.map((input) => start(taskQueue, input)));
      for (const handle of handles) {
        await pollUntil(async () => (await handle.query(statusQuery)).step === 'awaiting_auth', {
          timeoutMs: 30_000,
          what: `${handle.workflowId} awaiting_auth`,
        });
      }
      for (const handle of handles) await completeAll(handle, ['slack']);
      const results = await Promise.all(handles.map((h) => h.result()));
      assert.ok(results.every((r) => r.enabled));
    });
  });

  test('cached sagas share the workflow modules, evaluated once per worker, and nothing else', async () => {
    assert.match(
      bundle.code,
      /exports\.preloadModules = function preloadModules\(\) \{\s*__webpack_require__\([^)]*"\.\/workflows\/index\.ts"\)/,
      'the bundle preloads the workflow modules',
    );
    await withWorker({}, async (taskQueue) => {
      const slotsOf = [['slack'], ['slack', 'gmail'], ['jira']];
      const handles = await Promise.all(
        slotsOf.map((authSlots) => start(taskQueue, sagaInput({ authSlots }))),
      );
      for (const handle of handles) {
        await pollUntil(async () => (await handle.query(statusQuery)).step === 'awaiting_auth', {
          timeoutMs: 30_000,
          what: `${handle.workflowId} awaiting_auth`,
        });
      }
      // Interleaved, so each saga's signals land between the others' while all stay cached.
      const order: Array<[number, string]> = [
        [1, 'slack'],
        [0, 'slack'],
        [2, 'jira'],
        [1, 'gmail'],
      ];
      for (const [i, externalAuthId] of order) {
        await handles[i]!.signal(authCompletedSignal, {
          externalAuthId,
          authId: `saga${i}-${externalAuthId}`,
        });
      }
      const results = await Promise.all(handles.map((h) => h.result()));
      for (const [i, result] of results.entries()) {
        assert.deepEqual(
          [...result.authValues].sort((a, b) => a.externalId.localeCompare(b.externalId)),
          [...slotsOf[i]!].sort().map((externalId) => ({ externalId, authId: `saga${i}-${externalId}` })),
          `saga ${i} attached its own auths only`,
        );
      }
    });
  });
});

describe('workflow-task slots', () => {
  test('a worker holds 8 workflow tasks at once unless told otherwise, and never more than it caches', async () => {
    const slotsOf = async (options: { maxWorkflowTasks?: number; maxCachedWorkflows?: number }) => {
      const worker = await createConnectWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue: uniqueId('slots-tq'),
        activities: createMockActivities().activities,
        workflowBundle: bundle,
        rateLimitPerSecond: 1000,
        ...options,
      });
      await worker.runUntil(Promise.resolve());
      const supplier = worker.options.tuner.workflowTaskSlotSupplier as { type: string; numSlots?: number };
      return supplier.type === 'fixed-size' ? supplier.numSlots : supplier.type;
    };
    assert.equal(await slotsOf({}), 8);
    assert.equal(await slotsOf({ maxWorkflowTasks: 20 }), 20);
    assert.equal(await slotsOf({ maxWorkflowTasks: 20, maxCachedWorkflows: 5 }), 5);
  });
});
