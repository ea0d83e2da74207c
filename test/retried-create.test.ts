/**
 * A retried create keeps to one Tray request per attempt (docs/design.md#retried-creates): the look
 * for an earlier attempt's create and the next create are separate attempts, joined by the heartbeat
 * details. The plan's rules in a mocked context; the requests each attempt sends against the
 * emulator; and a saga on the dev server whose creates fail, where Tray requests equal attempts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Info } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { LOOKED_FOUND_NOTHING, planCreate, type CreatePlan } from '../activities/retried-create.js';
import type { ConnectActivities } from '../common/activity-types.js';
import {
  authCompletedSignal,
  connectionIdFor,
  statusQuery,
  WORKFLOW_TYPE,
  type ConnectInput,
} from '../common/messages.js';
import type { RecordedRequest } from '../emulator/server.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import type { connectIntegration } from '../workflows/index.js';
import { emulatorForFile } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { runActivity } from './helpers/run-activity.js';
import { devServer, installQuietRuntime, uniqueId } from './helpers/temporal.js';

installQuietRuntime();

const file = emulatorForFile();

const TEN_ATTEMPTS = { maximumAttempts: 10 };

/** An attempt's info; `retryPolicy: null` leaves it out, as a server that sends none would. */
function attemptInfo(
  attempt: number,
  createStep?: string,
  retryPolicy: Info['retryPolicy'] | null = TEN_ATTEMPTS,
) {
  return {
    attempt,
    ...(retryPolicy !== null ? { retryPolicy } : {}),
    ...(createStep !== undefined ? { heartbeatDetails: { createStep } } : {}),
  } satisfies Partial<Info>;
}

/** The plan in an attempt with `info`, for input whose `retried` flag is `retriedRun`. */
function planIn(info: Partial<Info>, retriedRun: boolean | undefined): Promise<CreatePlan> {
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  return env.run(async () => planCreate(retriedRun).plan);
}

describe('the plan of a create attempt', () => {
  const cases: [string, Partial<Info>, boolean | undefined, CreatePlan][] = [
    ['a first attempt creates', attemptInfo(1), undefined, 'create'],
    ['a first attempt of a step run again after a rate limit only looks', attemptInfo(1), true, 'look-only'],
    ['the attempt after a first one only looks', attemptInfo(2), undefined, 'look-only'],
    [
      'an attempt after one that sent a create only looks',
      attemptInfo(5, 'creating'),
      undefined,
      'look-only',
    ],
    [
      'an attempt after a look that found nothing creates',
      attemptInfo(5, 'found-nothing'),
      undefined,
      'create',
    ],
    ['the last attempt looks and creates', attemptInfo(10, 'creating'), undefined, 'look-then-create'],
    ['the last attempt with no record looks and creates', attemptInfo(10), undefined, 'look-then-create'],
    [
      'a later attempt with no record (the look before it failed) only looks',
      attemptInfo(3),
      undefined,
      'look-only',
    ],
    [
      'a retry policy it cannot see: look and create',
      attemptInfo(2, 'creating', null),
      undefined,
      'look-then-create',
    ],
    [
      'no attempt limit: only look',
      attemptInfo(7, 'creating', { maximumAttempts: 0 }),
      undefined,
      'look-only',
    ],
    ['details it does not know count as none', attemptInfo(2, 'something-else'), undefined, 'look-only'],
  ];
  for (const [name, info, retriedRun, plan] of cases) {
    test(name, async () => {
      assert.equal(await planIn(info, retriedRun), plan);
    });
  }
});

/** Runs an activity as the given attempt; answers its outcome, heartbeats and the Tray requests it sent. */
async function attempt<K extends keyof ConnectActivities>(
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
  info: Partial<Info>,
) {
  const start = file.emu.emulator.requests.length;
  const heartbeats: unknown[] = [];
  const outcome = await runActivity(file.activities, name, input, info, (d) => heartbeats.push(d)).then(
    (value: unknown) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );
  const sent = file.emu.emulator.requests.slice(start).map((r) => r.operations.join(','));
  return { ...outcome, heartbeats, sent };
}

function assertFoundNothing(error: unknown): void {
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, LOOKED_FOUND_NOTHING);
  assert.equal(error.nonRetryable, false);
  assert.equal(error.category, 'BENIGN');
  assert.equal(error.nextRetryDelay, '100ms');
}

/**
 * Attempt `lookAttempt` only looks, finds nothing and says so; the attempt after it only creates.
 * Answers the creating attempt.
 */
async function lookThenCreate<K extends 'createUser' | 'createInstance'>(
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
  lookAttempt: number,
  [lookOp, createOp]: [string, string],
) {
  const look = await attempt(name, input, attemptInfo(lookAttempt));
  assert.deepEqual(look.sent, [lookOp]);
  assertFoundNothing(look.error);
  assert.deepEqual(look.heartbeats, [{ createStep: 'found-nothing' }]);
  const create = await attempt(name, input, attemptInfo(lookAttempt + 1, 'found-nothing'));
  assert.deepEqual(create.sent, [createOp]);
  assert.deepEqual(create.heartbeats, [{ createStep: 'creating' }]);
  return create;
}

const newUser = () => ({ externalUserId: `ext-${randomUUID()}`, userName: 'Ada' });

describe('a retried user create, one request per attempt', () => {
  test('a look that finds nothing ends the attempt; the next creates without looking', async () => {
    const create = await lookThenCreate('createUser', newUser(), 2, ['users', 'createExternalUser']);
    assert.ok((create.value as { userId: string }).userId);
  });

  test('a look that finds the earlier create takes it, with no create', async () => {
    const user = newUser();
    const { userId } = await runActivity(file.activities, 'createUser', user);
    const look = await attempt('createUser', user, attemptInfo(4, 'creating'));
    assert.deepEqual(look.sent, ['users']);
    assert.deepEqual(look.value, { userId, created: true });
  });

  test('the last attempt still creates after its look: the step never ends on a look', async () => {
    const look = await attempt('createUser', newUser(), attemptInfo(10, 'creating'));
    assert.deepEqual(look.sent, ['users', 'createExternalUser']);
    assert.ok((look.value as { userId: string }).userId);
  });

  test('a run again after a rate limit looks in its first attempt', async () => {
    const look = await attempt('createUser', { ...newUser(), retried: true }, attemptInfo(1));
    assert.deepEqual(look.sent, ['users']);
    assertFoundNothing(look.error);
  });

  test('a first attempt sends the create alone and records nothing', async () => {
    const first = await attempt('createUser', newUser(), attemptInfo(1));
    assert.deepEqual(first.sent, ['createExternalUser']);
    assert.deepEqual(first.heartbeats, []);
  });
});

describe('a retried instance create, one request per attempt', () => {
  async function target() {
    const { userId } = await runActivity(file.activities, 'createUser', newUser());
    const { sealedToken } = await runActivity(file.activities, 'prepareUserToken', { userId });
    return {
      userId,
      sealedToken,
      solutionId: 'sol-1',
      instanceName: `inst-${randomUUID()}`,
      notBefore: new Date().toISOString(),
    };
  }

  test('a run again after a rate limit looks in its first attempt, and creates in its second', async () => {
    const input = { ...(await target()), retried: true };
    const create = await lookThenCreate('createInstance', input, 1, ['viewer', 'createSolutionInstance']);
    assert.equal((create.value as { adopted: boolean }).adopted, false);
  });

  test('a look after a create whose answer was lost adopts that instance', async () => {
    const input = await target();
    file.emu.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit' });
    const lost = await attempt('createInstance', input, attemptInfo(1));
    assert.ok(lost.error, 'the first attempt lost its answer');
    const look = await attempt('createInstance', input, attemptInfo(2));
    assert.deepEqual(look.sent, ['viewer']);
    assert.equal((look.value as { adopted: boolean }).adopted, true);
  });
});

type Handle = ReturnType<Client['workflow']['getHandle']>;

/** Final attempt of each activity the saga ran: what Temporal counted as attempts. */
async function attemptsOf(handle: Handle): Promise<Map<string, number>> {
  const scheduled = new Map<string, string>();
  const attempts = new Map<string, number>();
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const attrs = event.activityTaskScheduledEventAttributes;
    if (attrs?.activityType?.name) scheduled.set(String(event.eventId), attrs.activityType.name);
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const name = scheduled.get(String(started.scheduledEventId)) ?? '?';
      attempts.set(name, (attempts.get(name) ?? 0) + (started.attempt ?? 1));
    }
  }
  return attempts;
}

describe('a saga whose creates fail, on the dev server', () => {
  test('every attempt sends one Tray request, retried creates included', async () => {
    const server = await devServer();
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    const taskQueue = uniqueId('retried-create');
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: server.namespace,
      taskQueue,
      workflowBundle: await bundleConnectWorkflows(),
      activities: file.activities,
    });
    const input: ConnectInput = {
      externalUserId: uniqueId('retry'),
      userName: 'Ada',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    };
    file.emu.emulator.faults.add({ operation: 'createExternalUser', kind: 'http500', times: 2 });
    file.emu.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'http500' });
    const start = file.emu.emulator.requests.length;
    const handle = await client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: connectionIdFor(input.externalUserId, input.solutionId),
      args: [input],
    });
    try {
      await worker.runUntil(async () => {
        const waiting = await pollUntil(
          async () => {
            const status = await handle.query(statusQuery);
            return status.step === 'awaiting_auth' ? status : undefined;
          },
          { timeoutMs: 60_000, what: 'the saga waiting for its auth' },
        );
        const authId = file.emu.emulator.store.createAuthentication(waiting.userId ?? '', 'slack');
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId });
        await pollUntil(async () => (await handle.query(statusQuery)).step === 'completed' || undefined, {
          timeoutMs: 60_000,
          what: 'the saga completed',
        });
      });
      const sent: RecordedRequest[] = file.emu.emulator.requests.slice(start);
      const count = (op: string) => sent.filter((r) => r.operations.includes(op)).length;
      const attempts = await attemptsOf(handle);
      // Two failed user creates, two looks that found nothing, then the create; one of each for the instance.
      assert.equal(attempts.get('createUser'), 5);
      assert.equal(attempts.get('createInstance'), 3);
      assert.equal(count('createExternalUser'), 3);
      assert.equal(count('createSolutionInstance'), 2);
      const total = [...attempts.values()].reduce((a, b) => a + b, 0);
      assert.equal(sent.length, total, `requests ${sent.map((r) => r.operations.join(',')).join(' ')}`);
    } finally {
      await handle.terminate('test over: the stray window need not pass').catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
    }
  });
});
