/**
 * Two sagas racing to create one new Tray user (docs/tray.md#duplicate-user-create): whatever Tray
 * answers the losing create, both sagas go on with one user; when Tray made two, every look-up picks
 * the same one. Real workflows and activities on the dev server, against the emulator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createTrayClient, type TrayClient } from '../activities/index.js';
import { UserTokenCache } from '../activities/token-cache.js';
import type { ConnectInput, ConnectionStatus } from '../common/messages.js';
import { connectionIdFor, statusQuery, WORKFLOW_TYPE } from '../common/messages.js';
import type { DuplicateUserMode } from '../emulator/server.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import type { connectIntegration } from '../workflows/index.js';
import { startEmulator, type StartedEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, uniqueId } from './helpers/temporal.js';

installQuietRuntime();

let emu: StartedEmulator;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let namespace: string;
let workflowBundle: Awaited<ReturnType<typeof bundleConnectWorkflows>>;

before(async () => {
  emu = await startEmulator();
  const server = await devServer();
  namespace = server.namespace;
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection, namespace });
  workflowBundle = await bundleConnectWorkflows();
});
after(async () => {
  await connection?.close();
  await nativeConnection?.close();
  await emu?.close();
});

function realActivities() {
  const tray = createTrayClient({ graphqlUrl: emu.graphqlUrl, masterToken: emu.masterToken });
  return createActivities({ tray, embeddedId: emu.embeddedId, dialogBaseUrl: emu.url });
}

/** Starts two sagas for one new user (two solutions) at once; the first create is held, so both miss. */
async function race(
  mode: DuplicateUserMode,
): Promise<{ statuses: ConnectionStatus[]; externalUserId: string }> {
  emu.emulator.store.modes = { duplicateUserCreate: mode };
  emu.emulator.faults.clear();
  emu.emulator.faults.add({ kind: 'delay', operation: 'createExternalUser', delayMs: 1500 });
  const taskQueue = uniqueId('user-race');
  const externalUserId = uniqueId('racer');
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle,
    activities: realActivities(),
  });
  return worker.runUntil(async () => {
    const handles = await Promise.all(
      ['sol-1', 'sol-2'].map((solutionId) => {
        const input: ConnectInput = { externalUserId, userName: 'Ada', solutionId, authSlots: ['slack'] };
        return client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: connectionIdFor(externalUserId, solutionId),
          args: [input],
        });
      }),
    );
    try {
      const statuses = await Promise.all(
        handles.map((handle) =>
          pollUntil(
            async () => {
              const s = await handle.query(statusQuery);
              return s.step === 'awaiting_auth' || s.step === 'failed' ? s : undefined;
            },
            { timeoutMs: 30_000, what: `${handle.workflowId} awaiting auths` },
          ),
        ),
      );
      for (const s of statuses) assert.equal(s.step, 'awaiting_auth', JSON.stringify(s.error));
      return { statuses, externalUserId };
    } finally {
      await Promise.all(handles.map((h) => h.terminate('test done').catch(() => undefined)));
    }
  });
}

function usersOf(externalUserId: string) {
  return [...emu.emulator.store.users.values()].filter((u) => u.externalUserId === externalUserId);
}

describe('two sagas racing for one new user', () => {
  for (const mode of ['conflict', 'badUserInput', 'unnamed', 'forbidden'] as const) {
    test(`Tray answers the losing create with ${mode}: both sagas go on with the one user`, async () => {
      const seen = emu.emulator.requests.length;
      const { statuses, externalUserId } = await race(mode);
      const users = usersOf(externalUserId);
      assert.equal(users.length, 1);
      assert.deepEqual(
        statuses.map((s) => s.userId),
        [users[0]?.id, users[0]?.id],
      );
      const userOps = emu.emulator.requests
        .slice(seen)
        .map((r) => r.operations[0])
        .filter((op) => op === 'users' || op === 'createExternalUser');
      // Two look-ups, two creates (one refused), and the loser's one look-up more.
      assert.deepEqual(userOps.sort(), [
        'createExternalUser',
        'createExternalUser',
        'users',
        'users',
        'users',
      ]);
    });
  }

  test('Tray creates a duplicate: both sagas go on, and every later look-up picks the same user', async () => {
    const { statuses, externalUserId } = await race('duplicate');
    const users = usersOf(externalUserId);
    assert.equal(users.length, 2);
    for (const s of statuses) assert.ok(users.some((u) => u.id === s.userId));
    const first = [...users.map((u) => u.id)].sort()[0];
    const activities = realActivities();
    for (let i = 0; i < 3; i++) {
      const found = await new MockActivityEnvironment().run(activities.findUser, { externalUserId });
      assert.deepEqual(found, { userId: first });
    }
  });
});

describe('a look-up that finds several users', () => {
  /** A Tray that answers every FindUser with `ids` in the order given by `order` for that call. */
  function fakeTray(ids: string[], orders: number[][]): TrayClient {
    let call = 0;
    return {
      request<T>() {
        const order = orders[call++ % orders.length] ?? [];
        const edges = order.map((i) => ({ node: { id: ids[i], externalUserId: 'ext-1' } }));
        return Promise.resolve({ users: { edges } } as T);
      },
    };
  }

  test('picks the same one however Tray orders them, and logs that it chose', async () => {
    const ids = ['user-b', 'user-a', 'user-c'];
    const tray = fakeTray(ids, [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
    ]);
    const activities = createActivities({
      tray,
      embeddedId: 'emb',
      dialogBaseUrl: 'https://dialog.example',
      tokenCache: new UserTokenCache(),
    });
    const warnings: { message: string; meta?: LogMetadata }[] = [];
    const logger = new DefaultLogger(
      'WARN',
      ({ level, message, meta }: { level: LogLevel; message: string; meta?: LogMetadata }) => {
        if (level === 'WARN') warnings.push({ message, ...(meta ? { meta } : {}) });
      },
    );
    for (let i = 0; i < 3; i++) {
      const found = await new MockActivityEnvironment({}, { logger }).run(activities.findUser, {
        externalUserId: 'ext-1',
      });
      assert.deepEqual(found, { userId: 'user-a' });
    }
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]?.message ?? '', /several Tray users/);
  });
});
