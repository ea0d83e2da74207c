/**
 * Rate-limited answers at the activity level, against the Tray emulator: a 429 becomes a retryable
 * TrayRateLimited that carries Tray's `Retry-After` (seconds or HTTP date) as the next retry delay and
 * the attempt it refused; a create run again after a rate limit adopts what an earlier run made.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { trayErrorDetails } from '../activities/tray-client.js';
import type { ConnectActivities, CreateInstanceInput } from '../common/activity-types.js';
import { createdNothing, TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { runActivity } from './helpers/run-activity.js';
import { emulatorForFile } from './helpers/emulator.js';

const file = emulatorForFile();

function run<K extends keyof ConnectActivities>(
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
  attempt = 1,
): ReturnType<ConnectActivities[K]> {
  return runActivity(file.activities, name, input, attempt);
}

async function rateLimitedFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => assert.fail('expected a rate-limited failure'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, TRAY_FAILURE_TYPES.rateLimited, error.message);
  assert.equal(error.nonRetryable, false);
  return error;
}

const findUser = () => run('findUser', { externalUserId: `ext-${randomUUID()}` }, 3);

describe('a rate-limited answer', () => {
  test('HTTP 429 with Retry-After in seconds: TrayRateLimited with that delay and the attempt', async () => {
    file.emu.emulator.faults.add({ operation: 'users', kind: 'http429', retryAfter: '7' });
    const failure = await rateLimitedFailure(findUser());
    assert.equal(failure.nextRetryDelay, 7000);
    assert.deepEqual(trayErrorDetails(failure), {
      operation: 'FindUser',
      code: 'rate_limited',
      httpStatus: 429,
      retryAfterMs: 7000,
      attempt: 3,
    });
  });

  test('Retry-After as an HTTP date: the time until then', async () => {
    const at = new Date(Math.ceil((Date.now() + 30_000) / 1000) * 1000);
    file.emu.emulator.faults.add({ operation: 'users', kind: 'http429', retryAfter: at.toUTCString() });
    const failure = await rateLimitedFailure(findUser());
    const delay = Number(failure.nextRetryDelay);
    assert.ok(delay > 25_000 && delay <= 31_000, `delay ${delay}`);
    assert.equal(trayErrorDetails(failure)?.retryAfterMs, delay);
  });

  test('a huge Retry-After is capped at 10 minutes', async () => {
    file.emu.emulator.faults.add({ operation: 'users', kind: 'http429', retryAfter: '86400' });
    assert.equal((await rateLimitedFailure(findUser())).nextRetryDelay, 600_000);
  });

  test('the rate-limit GraphQL error without Retry-After: no delay of its own (the saga backs off)', async () => {
    file.emu.emulator.faults.add({ operation: 'users', kind: 'rateLimitError' });
    const failure = await rateLimitedFailure(findUser());
    assert.equal(failure.nextRetryDelay, undefined);
    assert.equal(trayErrorDetails(failure)?.retryAfterMs, undefined);
    assert.equal(trayErrorDetails(failure)?.attempt, 3);
  });
});

describe('a create run again after a rate limit', () => {
  async function lostCreate(): Promise<CreateInstanceInput> {
    const { userId } = await run('createUser', { externalUserId: `ext-${randomUUID()}`, userName: 'Ada' });
    const target = {
      userId,
      solutionId: 'sol-1',
      instanceName: 'storm',
      notBefore: new Date().toISOString(),
    };
    file.emu.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit' });
    await assert.rejects(run('createInstance', target, 1));
    return target;
  }
  const mine = (userId: string) =>
    [...file.emu.emulator.store.instances.values()].filter((i) => i.owner === userId);

  test('at attempt 1 with `retried`, adopts what an earlier run made: never a second instance', async () => {
    const target = await lostCreate();
    const result = await run('createInstance', { ...target, retried: true }, 1);
    assert.deepEqual(result, {
      solutionInstanceId: mine(target.userId)[0]?.id,
      adopted: true,
      retried: true,
    });
    assert.equal(mine(target.userId).length, 1);
  });

  test('with `retried`, a refused create does not claim nothing was created', async () => {
    const target = await lostCreate();
    file.emu.emulator.faults.add({ operation: 'viewer', kind: 'permanentError' });
    const error = await run('createInstance', { ...target, retried: true }, 1).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(error.nonRetryable, true);
    assert.ok(!createdNothing(error.details));
  });
});
