/**
 * Compensation after a create whose outcome was unknown (docs/design.md, the late-create window):
 * real workflows and activities on the time-skipping server, against the emulator, whose delay fault
 * lands a create after its request timed out. Each trigger ends with zero instances at Tray.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createTrayClient } from '../activities/index.js';
import type { ConnectInput } from '../common/messages.js';
import {
  authCompletedSignal,
  connectionIdFor,
  SEARCH_ATTRIBUTE_NAMES,
  statusQuery,
  WORKFLOW_TYPE,
} from '../common/messages.js';
import type { FaultSpec } from '../emulator/server.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import type { connectIntegration } from '../workflows/index.js';
import { startEmulator, type StartedEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, timeSkippingEnv, uniqueId } from './helpers/temporal.js';

installQuietRuntime();

type Handle = WorkflowHandle<typeof connectIntegration>;

let emu: StartedEmulator;
let workflowBundle: Awaited<ReturnType<typeof bundleConnectWorkflows>>;
/** The saga with a 15 s late-create window instead of 2 min, for the one test that waits it out. */
let shortWindowBundle: typeof workflowBundle;

/** The create's request times out after this; the delay fault lands it later. */
const REQUEST_TIMEOUT_MS = 1000;
const LATE_BY_MS = 6000;

before(async () => {
  emu = await startEmulator();
  workflowBundle = await bundleConnectWorkflows();
  shortWindowBundle = await bundleConnectWorkflows({
    replaceModules: {
      [fileURLToPath(new URL('../workflows/late-create-window.js', import.meta.url))]: fileURLToPath(
        new URL('./fixtures/short-late-create-window.ts', import.meta.url),
      ),
    },
  });
});
after(async () => {
  await emu?.close();
});

/**
 * A fresh time-skipping server: its clock must match the emulator's (Tray stamps instances with
 * real time), and a server that skipped time in an earlier test runs ahead of it.
 */
async function freshEnv(): Promise<TestWorkflowEnvironment> {
  const fresh = await timeSkippingEnv();
  const KEYWORD = 2; // INDEXED_VALUE_TYPE_KEYWORD
  await fresh.connection.operatorService.addSearchAttributes({
    namespace: fresh.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, KEYWORD])),
  });
  return fresh;
}

/** Runs one saga with real activities after arming `faults`; `body` drives it. */
async function withSaga(
  faults: FaultSpec[],
  body: (handle: Handle) => Promise<void>,
  onDevServer = false,
): Promise<string> {
  emu.emulator.faults.clear();
  for (const fault of faults) emu.emulator.faults.add(fault);
  const tray = createTrayClient({
    graphqlUrl: emu.graphqlUrl,
    masterToken: emu.masterToken,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  const activities = createActivities({ tray, embeddedId: emu.embeddedId, dialogBaseUrl: emu.url });
  const input: ConnectInput = {
    externalUserId: uniqueId('late'),
    userName: 'Ada',
    solutionId: 'sol-1',
    authSlots: ['slack'],
  };
  const env = onDevServer ? await devServerEnv() : await freshEnv();
  try {
    return await runSaga(env, input, activities, body, onDevServer ? shortWindowBundle : workflowBundle);
  } finally {
    await env.teardown();
  }
}

/** The dev server, as far as runSaga needs it: no time skipping, the window passes in real time. */
async function devServerEnv(): Promise<SagaServer> {
  const { address, namespace } = await devServer();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection, namespace }),
    nativeConnection,
    namespace,
    teardown: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

type SagaServer = Pick<TestWorkflowEnvironment, 'client' | 'nativeConnection' | 'namespace' | 'teardown'>;

async function runSaga(
  env: SagaServer,
  input: ConnectInput,
  activities: ReturnType<typeof createActivities>,
  body: (handle: Handle) => Promise<void>,
  bundle: typeof workflowBundle,
): Promise<string> {
  const taskQueue = uniqueId('late-create');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: bundle,
    activities,
  });
  return worker.runUntil(async () => {
    const handle: Handle = await env.client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: connectionIdFor(input.externalUserId, input.solutionId),
      args: [input],
    });
    await body(handle);
    // Time skips only from here on: the late create has landed, the window can pass.
    await handle.result().catch(() => undefined);
    const { userId } = await handle.query(statusQuery);
    assert.ok(userId);
    return userId;
  });
}

/** Waits (time locked, so the saga's window cannot pass) until `count` creates have run at Tray. */
async function createsLanded(count: number): Promise<void> {
  await pollUntil(
    async () =>
      emu.emulator.requests.filter((r) => r.operations.includes('createSolutionInstance') && r.ok).length >=
      count,
    { timeoutMs: LATE_BY_MS * 3, what: `${count} create(s) landed at Tray` },
  );
}

function instancesOf(userId: string): string[] {
  return [...emu.emulator.store.instances.values()].filter((i) => i.owner === userId).map((i) => i.id);
}

const lateCreate: FaultSpec = { kind: 'delay', operation: 'createSolutionInstance', delayMs: LATE_BY_MS };

describe('compensation after a create of unknown outcome leaves no instance', () => {
  test('the create timed out, the retry failed, and the first create landed after the removal looked', async () => {
    const landedBefore = emu.emulator.requests.filter(
      (r) => r.operations.includes('createSolutionInstance') && r.ok,
    ).length;
    const userId = await withSaga(
      [lateCreate, { kind: 'permanentError', operation: 'createSolutionInstance' }],
      async (handle) => {
        await pollUntil(async () => (await handle.query(statusQuery)).step === 'compensating' || undefined, {
          timeoutMs: 20_000,
          what: 'compensating',
        });
        await createsLanded(landedBefore + 1);
      },
    );
    assert.deepEqual(instancesOf(userId), []);
  });

  // The time-skipping server neither stops a cancelled activity's retries nor records its failure
  // (it skips to the run's timeout), so this one runs on the dev server and waits out the window:
  // 15 s in its bundle (test/fixtures/short-late-create-window.ts) rather than 2 min.
  test('a cancel during a slow create whose request timed out', async () => {
    const landedBefore = emu.emulator.requests.filter(
      (r) => r.operations.includes('createSolutionInstance') && r.ok,
    ).length;
    const userId = await withSaga(
      [lateCreate],
      async (handle) => {
        await pollUntil(async () => emu.emulator.faults.list().length === 0, {
          timeoutMs: 20_000,
          what: 'the create sent to Tray',
        });
        await handle.cancel();
        await createsLanded(landedBefore + 1);
      },
      true,
    );
    assert.deepEqual(instancesOf(userId), []);
  });

  test('a retried create answered, then the saga failed within the window', async () => {
    const landedBefore = emu.emulator.requests.filter(
      (r) => r.operations.includes('createSolutionInstance') && r.ok,
    ).length;
    const userId = await withSaga(
      [lateCreate, { kind: 'permanentError', operation: 'updateSolutionInstance' }],
      async (handle) => {
        await pollUntil(async () => (await handle.query(statusQuery)).step === 'awaiting_auth' || undefined, {
          timeoutMs: 20_000,
          what: 'awaiting auths',
        });
        const { userId } = await handle.query(statusQuery);
        const authId = emu.emulator.store.createAuthentication(userId ?? '', 'slack');
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId });
        await createsLanded(landedBefore + 2);
      },
    );
    assert.deepEqual(instancesOf(userId), []);
  });

  test('a retried create answered, then the saga was cancelled within the window', async () => {
    const landedBefore = emu.emulator.requests.filter(
      (r) => r.operations.includes('createSolutionInstance') && r.ok,
    ).length;
    const userId = await withSaga([lateCreate], async (handle) => {
      await pollUntil(async () => (await handle.query(statusQuery)).step === 'awaiting_auth' || undefined, {
        timeoutMs: 20_000,
        what: 'awaiting auths',
      });
      await handle.cancel();
      await createsLanded(landedBefore + 2);
    });
    assert.deepEqual(instancesOf(userId), []);
  });
});
