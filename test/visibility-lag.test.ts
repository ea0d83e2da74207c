/**
 * The webhook finds a saga by its solution instance through visibility, which lags the saga's
 * search-attribute upsert: a miss right after the URLs went out is looked up again before a 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { findBySolutionInstanceId } from '../api/saga-commands.js';

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
