/**
 * Request ids: every log line written while serving a request carries its id (not only the access
 * line), and every Temporal call made for the request sends it as gRPC metadata, so the server's
 * log can be joined. The API talks to the dev server through a capturing proxy.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import express from 'express';
import { createApp } from '../api/app.js';
import { createLogger, requestLogger } from '../api/logging.js';
import { startGrpcCapture } from './helpers/grpc-capture.js';
import { devServer, uniqueId } from './helpers/temporal.js';

const { address, namespace } = await devServer();
const capture = await startGrpcCapture(address);
const connection = await Connection.connect({ address: capture.address });
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});
const logger = createLogger({ level: 'debug' }, sink);
const app = createApp({
  client: new Client({ connection, namespace }),
  taskQueue: uniqueId('no-worker-tq'),
  namespace,
  logger,
});
const server = app.listen(0, '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await connection.close();
  await capture.close();
});

async function call(method: string, path: string, requestId: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  assert.equal(res.headers.get('x-request-id'), requestId);
  return res.status;
}

const rpcName = (path: string) => path.split('/').pop();

test('every line logged while serving a request carries its id; other lines none', async () => {
  const externalUserId = uniqueId('rid');
  const body = { externalUserId, userName: 'R', solutionId: 'sol-1', authSlots: ['slack'] };
  const before = capture.calls.length;
  assert.equal(await call('POST', '/v1/connections?wait=0', 'rid-start-1', body), 201);
  // Every call the start made (whichever RPCs it takes) carried the id.
  const startCalls = capture.calls.slice(before);
  assert.ok(startCalls.length > 0);
  assert.deepEqual(new Set(startCalls.map((c) => c.metadata['x-request-id'])), new Set(['rid-start-1']));
  const connectionId = encodeURIComponent(`connect:${externalUserId}:sol-1`);
  assert.equal(await call('DELETE', `/v1/connections/${connectionId}`, 'rid-cancel-2'), 202);
  logger.info('outside any request');

  const byMessage = (msg: string) => lines.filter((l) => l.msg === msg);
  assert.deepEqual(
    byMessage('saga started').map((l) => l.requestId),
    ['rid-start-1'],
  );
  assert.deepEqual(
    byMessage('cancellation requested').map((l) => l.requestId),
    ['rid-cancel-2'],
  );
  assert.deepEqual(
    byMessage('request').map((l) => l.requestId),
    ['rid-start-1', 'rid-cancel-2'],
  );
  // The whole path, though the connections router answered both; the query string (`?wait=0`) never.
  assert.deepEqual(
    byMessage('request').map((l) => `${String(l.method)} ${String(l.path)}`),
    ['POST /v1/connections', `DELETE /v1/connections/${connectionId}`],
  );
  // Answers without an error carry no code; an error answer's code is on its access line.
  assert.deepEqual(
    byMessage('request').map((l) => l.code),
    [undefined, undefined],
  );
  assert.equal(await call('GET', '/v1/connections/x%20y', 'rid-missing'), 404);
  const missing = byMessage('request').find((l) => l.requestId === 'rid-missing');
  assert.equal(missing?.code, 'not_found', JSON.stringify(missing));
  assert.equal(missing?.level, 40);
  assert.equal(byMessage('outside any request')[0]?.requestId, undefined);
  // One key, not two: the access line's own requestId and the mixin's agree.
  const raw = JSON.stringify(byMessage('request')[0]);
  assert.equal(raw.match(/"requestId"/g)?.length, 1);
});

test('a POST whose wait passes with no worker to take the saga up says so in a warning', async () => {
  const externalUserId = uniqueId('rid-nw');
  const body = { externalUserId, userName: 'N', solutionId: 'sol-1', authSlots: ['slack'] };
  const at = lines.length;
  assert.equal(await call('POST', '/v1/connections?wait=1', 'rid-no-worker', body), 201);
  const mine = lines.slice(at);
  assert.equal(mine.find((l) => l.msg === 'saga started')?.step, 'ensuring_user');
  const warning = mine.find((l) => String(l.msg).startsWith('no auth URLs within the wait'));
  assert.ok(warning, JSON.stringify(mine));
  assert.equal(warning.level, 40);
  assert.equal(warning.requestId, 'rid-no-worker');
  assert.equal(warning.step, 'ensuring_user');
  assert.equal(warning.connectionId, `connect:${externalUserId}:sol-1`);
  // Asked not to wait, a caller gets no URLs by choice: nothing to warn about.
  const quiet = lines.length;
  const other = { ...body, externalUserId: uniqueId('rid-nw0') };
  assert.equal(await call('POST', '/v1/connections?wait=0', 'rid-no-wait', other), 201);
  assert.ok(!lines.slice(quiet).some((l) => String(l.msg).startsWith('no auth URLs')));
});

test('the id reaches the Temporal server as x-request-id metadata on every call for the request', async () => {
  const before = capture.calls.length;
  assert.equal(
    await call('GET', `/v1/connections/${encodeURIComponent('connect:nobody:sol-1')}`, 'rid-get-3'),
    404,
  );
  assert.equal(await call('GET', `/v1/connections?externalUserId=${uniqueId('u')}`, 'rid-list-4'), 200);
  assert.equal(await call('GET', '/readyz', 'rid-ready-5'), 200);
  const calls = capture.calls.slice(before).map((c) => [rpcName(c.path), c.metadata['x-request-id']]);
  assert.deepEqual(calls, [
    ['DescribeWorkflowExecution', 'rid-get-3'],
    ['ListWorkflowExecutions', 'rid-list-4'],
    ['DescribeNamespace', 'rid-ready-5'],
  ]);
});

test('a request without a usable id gets a fresh one, in the header, the logs and the metadata', async () => {
  const before = capture.calls.length;
  const res = await fetch(`${url}/v1/connections/x`, { headers: { 'x-request-id': 'bad id with spaces' } });
  await res.arrayBuffer();
  const id = res.headers.get('x-request-id');
  assert.match(id ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(lines.at(-1)?.requestId, id);
  assert.ok(capture.calls.slice(before).every((c) => c.metadata['x-request-id'] === id));
});

test('probe and scrape paths log their access lines at debug, unless they fail unexpectedly', async () => {
  const probeLines: Record<string, unknown>[] = [];
  const probeLogger = createLogger(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) probeLines.push(JSON.parse(line));
        done();
      },
    }),
  );
  const probes = express();
  probes.use(requestLogger(probeLogger));
  probes.get('/readyz', (_req, res) => void res.status(503).end());
  probes.get('/healthz', (_req, res) => void res.status(200).end());
  probes.get('/metrics', (_req, res) => void res.status(500).end());
  probes.get('/v1/connections', (_req, res) => void res.status(503).end());
  const probeServer = probes.listen(0, '127.0.0.1');
  await once(probeServer, 'listening');
  const base = `http://127.0.0.1:${(probeServer.address() as AddressInfo).port}`;
  try {
    for (const path of ['/readyz', '/healthz', '/metrics', '/v1/connections']) {
      await (await fetch(`${base}${path}`)).arrayBuffer();
    }
    // A prober every few seconds at error level would bury the partner's requests; /readyz's
    // failures are told by `readiness check failed`. A 500 is no probe's answer, so it stays an error.
    const levels = Object.fromEntries(
      probeLines.filter((l) => l.msg === 'request').map((l) => [String(l.path), l.level]),
    );
    assert.deepEqual(levels, { '/readyz': 20, '/healthz': 20, '/metrics': 50, '/v1/connections': 50 });
  } finally {
    probeServer.closeAllConnections();
    await new Promise<void>((resolve) => probeServer.close(() => resolve()));
  }
});
