/**
 * The shared HTTP transport tells a stale kept-alive connection's reset from other resets, and closes
 * an idle connection before the server would.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { httpRequest, isStaleConnectionReset } from '../lib/http-request.js';
import { closeServer, listen } from '../dev/in-process.js';
import { pollUntil } from './helpers/poll.js';

/** A server that answers the first request on each connection and drops the connection on the next. */
async function dropsSecondRequest(): Promise<{ url: string; close: () => Promise<void> }> {
  const seen = new WeakMap<object, number>();
  const server = http.createServer((req, res) => {
    const count = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, count);
    if (count > 1) req.socket.destroy();
    else res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  const { port } = await listen(server);
  return { url: `http://127.0.0.1:${port}/`, close: () => closeServer(server) };
}

test('a reset on a reused kept-alive connection is stale; one on a new connection is not', async () => {
  const server = await dropsSecondRequest();
  try {
    assert.equal((await httpRequest(server.url)).body, 'ok');
    const reused = await httpRequest(server.url).then(
      () => assert.fail('the second request on the connection should fail'),
      (error: unknown) => error,
    );
    assert.equal((reused as NodeJS.ErrnoException).code, 'ECONNRESET');
    assert.ok(isStaleConnectionReset(reused), 'the reused connection was dropped');
  } finally {
    await server.close();
  }

  const dropsAll = http.createServer((req) => req.socket.destroy());
  dropsAll.listen(0, '127.0.0.1');
  const { port } = (await listen(dropsAll)) as AddressInfo;
  try {
    const fresh = await httpRequest(`http://127.0.0.1:${port}/`).then(
      () => assert.fail('the request should fail'),
      (error: unknown) => error,
    );
    assert.equal((fresh as NodeJS.ErrnoException).code, 'ECONNRESET');
    assert.equal(isStaleConnectionReset(fresh), false, 'a new connection reset is a real fault');
  } finally {
    await closeServer(dropsAll);
  }
});

test("an idle connection is closed a second before the server's Keep-Alive hint runs out", async () => {
  // The server asks for 2 s but would keep the connection for a minute: only the client can close it
  // within this test, and only by following the hint.
  const server = http.createServer((_req, res) => {
    res.setHeader('keep-alive', 'timeout=2');
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  let closedByClient = false;
  server.on('connection', (socket) => socket.once('end', () => (closedByClient = true)));
  server.listen(0, '127.0.0.1');
  const { port } = (await listen(server)) as AddressInfo;
  try {
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/`)).body, 'ok');
    await pollUntil(async () => closedByClient, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the client to close the idle connection (still held 10 s after a 2 s hint)',
    });
  } finally {
    await closeServer(server);
  }
});
