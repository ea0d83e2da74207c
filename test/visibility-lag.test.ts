/**
 * The webhook finds a saga by its solution instance through visibility, which lags the saga's
 * search-attribute upsert: a miss right after the URLs went out is looked up again before a 404.
 * A flood of unknown ids queues for a few query slots, and an id just missed is not waited on again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ApiError } from '../api/errors.js';
import { findBySolutionInstanceId, LOOKUP_QUERY_SLOTS, LOOKUP_QUEUE_LIMIT } from '../api/instance-lookup.js';

/** A client whose visibility knows the saga only from the `knownFrom`-th list call on. */
function laggingClient(knownFrom: number): { client: Client; calls: () => number } {
  let calls = 0;
  const client = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    withMetadata: <T>(_metadata: unknown, fn: () => Promise<T>) => fn(),
    workflow: {
      list: () => {
        calls += 1;
        const found = calls >= knownFrom;
        return (async function* () {
          if (found) yield { workflowId: 'connect:u:sol-1', runId: 'run-1' };
        })();
      },
    },
  } as unknown as Client;
  return { client, calls: () => calls };
}

test('a saga visibility does not show yet is found once it does, not answered as missing', async () => {
  const { client, calls } = laggingClient(3);
  const found = await findBySolutionInstanceId(client, 'inst-1');
  assert.deepEqual(found, { connectionId: 'connect:u:sol-1', runId: 'run-1', running: true });
  assert.equal(calls(), 3, 'the first round (running, then any) missed; the second found it');
});

test('an instance no saga has is still missing after the retries', async () => {
  const { client, calls } = laggingClient(Number.POSITIVE_INFINITY);
  assert.equal(await findBySolutionInstanceId(client, 'inst-unknown'), undefined);
  assert.equal(calls(), 10, 'five rounds, two lookups each');
});

test('an id missed in full a moment ago is looked up once more, without the waits', async (t) => {
  const { client, calls } = laggingClient(Number.POSITIVE_INFINITY);
  assert.equal(await findBySolutionInstanceId(client, 'inst-missed-twice'), undefined);
  assert.equal(calls(), 10);
  // The pauses are setTimeout calls: count them rather than time the lookup on a busy machine.
  const timers = t.mock.method(globalThis, 'setTimeout');
  assert.equal(await findBySolutionInstanceId(client, 'inst-missed-twice'), undefined);
  assert.equal(calls(), 12, 'one round, two lookups');
  assert.equal(timers.mock.callCount(), 0, 'no pause before or between lookups');
});

test('once: one round of lookups, without the waits for visibility to catch up', async () => {
  const { client, calls } = laggingClient(Number.POSITIVE_INFINITY);
  assert.equal(await findBySolutionInstanceId(client, 'inst-earlier-run', { once: true }), undefined);
  assert.equal(calls(), 2, 'one round, two lookups');
});

test('many lookups at once run LOOKUP_QUERY_SLOTS queries at a time; past the queue, a 503', async () => {
  let running = 0;
  let most = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const client = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    withMetadata: <T>(_metadata: unknown, fn: () => Promise<T>) => fn(),
    workflow: {
      list: () =>
        (async function* () {
          running += 1;
          most = Math.max(most, running);
          await gate;
          running -= 1;
          yield { workflowId: 'connect:u:sol-1', runId: 'run-1' };
        })(),
    },
  } as unknown as Client;
  const lookups = Array.from({ length: 40 }, (_, i) => findBySolutionInstanceId(client, `inst-flood-${i}`));
  await new Promise((resolve) => setImmediate(resolve));
  // The slots are full and 32 wait: fill the queue, and one more is turned away at once.
  const queued = Array.from({ length: LOOKUP_QUEUE_LIMIT - 32 }, (_, i) =>
    findBySolutionInstanceId(client, `inst-queued-${i}`),
  );
  await assert.rejects(findBySolutionInstanceId(client, 'inst-one-too-many'), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'temporal_busy');
    return true;
  });
  release();
  const found = await Promise.all([...lookups, ...queued]);
  assert.equal(found.filter((f) => f?.running).length, LOOKUP_QUEUE_LIMIT + 8);
  assert.ok(most > 0 && most <= LOOKUP_QUERY_SLOTS, `${most} queries ran at once`);
});
