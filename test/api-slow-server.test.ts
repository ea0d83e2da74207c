/**
 * A Temporal server that is up but slow to answer (a loaded box, a burst): a POST whose `?wait`
 * passes answers the status as it stands, rather than 503 "unreachable" because the server was
 * slower than the API's quick reachability question allows. The API talks to the dev server through
 * a proxy that would hold that question past its deadline.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import { createLogger } from '../api/logging.js';
import { closeServer, listen } from '../dev/in-process.js';
import { PROBE_TIMEOUT_MS } from '../api/temporal-rpc.js';
import { startGrpcCapture } from './helpers/grpc-capture.js';
import { devServer, uniqueId } from './helpers/temporal.js';

const { address, namespace } = await devServer();
const capture = await startGrpcCapture(address, { DescribeNamespace: PROBE_TIMEOUT_MS + 1_000 });
const connection = await Connection.connect({ address: capture.address });
const app = createApp({
  client: new Client({ connection, namespace }),
  // No worker polls it: every POST's wait passes.
  taskQueue: uniqueId('no-worker-tq'),
  namespace,
  logger: createLogger({ level: 'silent' }),
});
const server = app.listen(0, '127.0.0.1');
const url = `http://127.0.0.1:${(await listen(server)).port}`;
after(async () => {
  await closeServer(server);
  await connection.close();
  await capture.close();
});

test('a POST whose wait passes while the server is slow answers 201 as the saga stands, not 503', async () => {
  const body = { externalUserId: uniqueId('slow'), userName: 'S', solutionId: 'sol-1', authSlots: ['slack'] };
  const post = () =>
    fetch(`${url}/v1/connections?wait=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const first = await post();
  const answer = (await first.json()) as { step?: string; existing?: boolean; error?: unknown };
  assert.equal(first.status, 201, JSON.stringify(answer));
  assert.equal(answer.step, 'ensuring_user');
  const again = await post();
  const second = (await again.json()) as { existing?: boolean };
  assert.equal(again.status, 200, JSON.stringify(second));
  assert.equal(second.existing, true);
  // A wait's end is no sign of an outage: the server was not asked whether it is there.
  const asked = capture.calls.filter((c) => c.path.endsWith('/DescribeNamespace'));
  assert.deepEqual(asked, []);
});
