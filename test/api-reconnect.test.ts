/**
 * The API's connection finds Temporal again soon after an outage of a minute or more. gRPC's own
 * reconnect backoff grows to 2 minutes, so the API answered 503 long after the server was back.
 * A proxy in front of the dev server refuses every connection for the outage, then forwards again.
 */
import assert from 'node:assert/strict';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { Client } from '@temporalio/client';
import { apiConnection } from '../api/temporal-channel.js';
import { checkReachable } from '../api/temporal-rpc.js';
import { pollUntil } from './helpers/poll.js';
import { devServer } from './helpers/temporal.js';

const OUTAGE_MS = 45_000;

const { address, namespace } = await devServer();
const upstreamPort = Number(address.slice(address.lastIndexOf(':') + 1));
const upstreamHost = address.slice(0, address.lastIndexOf(':'));
let down = false;
/** When each connection the proxy refused came (ms epoch). */
const refused: number[] = [];
const open = new Set<Socket>();
const proxy = createServer((socket) => {
  if (down) {
    refused.push(Date.now());
    return socket.destroy();
  }
  const server = createConnection(upstreamPort, upstreamHost);
  for (const s of [socket, server]) {
    open.add(s);
    s.on('error', () => {}).on('close', () => open.delete(s));
  }
  socket.pipe(server).pipe(socket);
  socket.on('close', () => server.destroy());
  server.on('close', () => socket.destroy());
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

const reachable = (client: Client) =>
  checkReachable(client).then(
    () => true,
    () => false,
  );

test('after an outage of 45 s the API reaches Temporal within seconds of its return', async () => {
  const connection = apiConnection({ address: `127.0.0.1:${(proxy.address() as AddressInfo).port}` });
  after(() => connection.close());
  const client = new Client({ connection, namespace });
  assert.equal(await reachable(client), true);

  down = true;
  for (const s of open) s.destroy();
  // Requests keep coming during the outage (probes, partners), each finding the server away.
  const outageStart = Date.now();
  const outageEnd = outageStart + OUTAGE_MS;
  while (Date.now() < outageEnd) {
    assert.equal(await reachable(client), false);
    await new Promise((r) => setTimeout(r, 1000));
  }
  down = false;
  // gRPC's default backoff (1 s growing by 1.6 to 2 min, ±20 %) tries at most twice in the last
  // 25 s of a 45 s outage; a backoff capped at 5 s (at most 6 s with its jitter) four times, three
  // on a box slow enough to delay each attempt by 2 s.
  const late = refused.filter((at) => at >= outageEnd - 25_000).length;
  const times = refused.map((at) => ((at - outageStart) / 1000).toFixed(1)).join(', ');
  assert.ok(late >= 3, `${late} connection attempts in the outage's last 25 s (at ${times} s)`);
  const back = Date.now();
  await pollUntil(() => reachable(client), { timeoutMs: 60_000, intervalMs: 250, what: 'Temporal again' });
  const tookMs = Date.now() - back;
  assert.ok(tookMs < 10_000, `the API found Temporal ${tookMs} ms after it came back`);
});
