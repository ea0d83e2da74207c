/**
 * The bench's own calls through the API: a failed one says which call it was, so a saga the bench
 * reports failed points at the request, not only at "socket hang up".
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { postUntilUrls, type ApiContext } from '../bench/api-sagas.js';
import type { SagaTiming, TimedPlan } from '../bench/timing.js';
import { closeServer, listen } from '../dev/in-process.js';

let requests = 0;
// Takes each request and drops its connection without an answer.
const server = createServer((req) => {
  requests++;
  req.socket.destroy();
});
server.listen(0, '127.0.0.1');
const { port } = await listen(server);
after(() => closeServer(server));

test('a POST the server drops fails naming the method and path', async () => {
  // postUntilUrls reads only these; the Temporal client, emulator and wire tap are for later steps.
  const ctx = {
    api: `http://127.0.0.1:${port}`,
    apiToken: 'bench-token',
    solutionId: 'sol-1',
    slotIds: ['slot-a'],
    signal: new AbortController().signal,
  } as unknown as ApiContext;
  const plan: TimedPlan = { externalUserId: 'user-1', kind: 'new', thinkMs: 0 };
  const timing = { id: 'c-1', externalUserId: 'user-1', kind: 'new', startedAt: Date.now() } as SagaTiming;
  const before = requests;

  await assert.rejects(postUntilUrls(ctx, plan, timing), (error: Error) => {
    assert.match(error.message, /^POST \/v1\/connections: socket hang up/);
    assert.ok(error.cause instanceof Error, 'the transport error is kept as the cause');
    return true;
  });
  // A connection dropped on its first request is no stale kept-alive one: not sent again.
  assert.equal(requests - before, 1);
});
