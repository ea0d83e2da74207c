/**
 * The worker's `/healthz` and `/readyz`: answers by state and by whether Temporal answers, and
 * HEALTH_PORT validated at start.
 */
import assert from 'node:assert/strict';
import {
  createConnection as createConnectionTo,
  createServer,
  type AddressInfo,
  type Socket,
} from 'node:net';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { ConfigError, listenError } from '../lib/config.js';
import { loadWorkerConfig } from '../worker/config.js';
import { startHealthServer, type HealthState } from '../worker/health.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { startWorkerProcess } from './helpers/worker-process.js';

const BASE_ENV = { TRAY_MASTER_TOKEN: 'mt', TRAY_EMBEDDED_ID: 'emb' };

test('readiness follows the worker state; liveness holds until the worker failed', async () => {
  let state: HealthState = 'STARTING';
  const health = await startHealthServer({ port: 0, host: '127.0.0.1', state: () => state });
  try {
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`http://${health.address}${path}`, { method });
      return { status: res.status, body: method === 'HEAD' ? undefined : ((await res.json()) as unknown) };
    };
    assert.deepEqual(await get('/healthz'), { status: 200, body: { status: 'ok', state: 'STARTING' } });
    assert.deepEqual(await get('/readyz'), { status: 503, body: { status: 'not ready', state: 'STARTING' } });
    state = 'RUNNING';
    assert.deepEqual(await get('/readyz'), { status: 200, body: { status: 'ready', state: 'RUNNING' } });
    assert.equal((await get('/readyz', 'HEAD')).status, 200);
    state = 'DRAINING';
    assert.equal((await get('/readyz')).status, 503);
    assert.equal((await get('/healthz')).status, 200);
    state = 'FAILED';
    assert.equal((await get('/healthz')).status, 503);
    assert.equal((await get('/metrics')).status, 404);
    assert.equal((await get('/readyz', 'POST')).status, 405);
  } finally {
    await health.close();
  }
});

test('readiness is refused while Temporal is known not to answer, whatever the state says', async () => {
  let reachable = false;
  const health = await startHealthServer({
    port: 0,
    host: '127.0.0.1',
    state: () => 'RUNNING',
    temporalReachable: () => reachable,
  });
  try {
    const readyz = await fetch(`http://${health.address}/readyz`);
    assert.equal(readyz.status, 503);
    assert.deepEqual(await readyz.json(), { status: 'not ready', state: 'RUNNING', temporal: 'unreachable' });
    assert.equal((await fetch(`http://${health.address}/healthz`)).status, 200);
    reachable = true;
    assert.equal((await fetch(`http://${health.address}/readyz`)).status, 200);
  } finally {
    await health.close();
  }
});

/** A TCP proxy to `target` that can refuse connections (as a Temporal that is down does) and come back. */
async function switchableProxy(target: string) {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnectionTo(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  // Port 0 the first time, so no other process can have taken it; the same one after a down().
  let listenPort = 0;
  const up = async () => {
    server.listen(listenPort, '127.0.0.1');
    await once(server, 'listening');
    listenPort = (server.address() as AddressInfo).port;
  };
  const down = async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await up();
  after(() => (server.listening ? down() : undefined));
  return { address: `127.0.0.1:${listenPort}`, up, down };
}

test('a running worker whose Temporal stops answering is not ready until Temporal answers again', async () => {
  const temporal = await devServer();
  const proxy = await switchableProxy(temporal.address);
  const run = await startWorkerProcess(
    {
      TEMPORAL_ADDRESS: proxy.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_TASK_QUEUE: uniqueId('readyz-outage'),
      TRAY_MASTER_TOKEN: 'mt_readyz',
      TRAY_EMBEDDED_ID: 'emb-readyz',
      METRICS_HOST: '127.0.0.1',
    },
    ['HEALTH_PORT'],
  );
  const healthPort = run.ports.HEALTH_PORT;
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  await pollUntil(async () => (await readyz()).status === 200, {
    timeoutMs: 30_000,
    what: 'the worker ready',
  });
  await proxy.down();
  // The worker notices at its next look at the task queue (every 10 s, 5 s to give up on one).
  const outage = await pollUntil(async () => ((await readyz()).status === 503 ? readyz() : false), {
    timeoutMs: 40_000,
    what: '/readyz to say the worker cannot reach Temporal',
  });
  assert.deepEqual(outage.body, { status: 'not ready', state: 'RUNNING', temporal: 'unreachable' });
  assert.equal((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status, 200, 'alive all the same');
  await proxy.up();
  await pollUntil(async () => (await readyz()).status === 200, {
    timeoutMs: 60_000,
    what: '/readyz to answer 200 once Temporal answers again',
  });
  run.child.kill('SIGTERM');
  assert.equal(await run.exited, 0, run.output());
});

test('HEALTH_PORT is optional and must be a port', () => {
  assert.equal(loadWorkerConfig(BASE_ENV).healthPort, undefined);
  assert.equal(loadWorkerConfig({ ...BASE_ENV, HEALTH_PORT: '8080' }).healthPort, 8080);
  assert.throws(
    () => loadWorkerConfig({ ...BASE_ENV, HEALTH_PORT: 'http' }),
    (error: unknown) => error instanceof ConfigError && /HEALTH_PORT/.test(error.message),
  );
});

test('on IPv6 the health address is bracketed, so it reads as a URL host', async () => {
  const health = await startHealthServer({ port: 0, host: '::1', state: () => 'RUNNING' });
  try {
    assert.match(health.address, /^\[::1\]:\d+$/);
    assert.equal((await fetch(`http://${health.address}/healthz`)).status, 200);
  } finally {
    await health.close();
  }
});

test('METRICS_HOST must be an IP address (the metrics exporter binds no names)', () => {
  for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1']) {
    assert.equal(loadWorkerConfig({ ...BASE_ENV, METRICS_HOST: host }).metricsHost, host);
  }
  for (const host of ['bad host', 'http://0.0.0.0', '0.0.0.0:9464', '-x', 'localhost', 'worker-1.internal']) {
    assert.throws(
      () => loadWorkerConfig({ ...BASE_ENV, METRICS_HOST: host }),
      (error: unknown) => error instanceof ConfigError && error.problems[0]?.variable === 'METRICS_HOST',
      host,
    );
  }
});

test('a port in use becomes a ConfigError naming the port variable; other errors pass through', async () => {
  const first = await startHealthServer({ port: 0, host: '127.0.0.1', state: () => 'RUNNING' });
  try {
    const port = Number(first.address.split(':').pop());
    const error = await startHealthServer({ port, host: '127.0.0.1', state: () => 'RUNNING' }).then(
      () => assert.fail('a second listen on the same port succeeded'),
      (err: unknown) => err,
    );
    const where = { port, portVariable: 'HEALTH_PORT', host: '127.0.0.1', hostVariable: 'METRICS_HOST' };
    const mapped = listenError(error, where);
    assert.ok(mapped instanceof ConfigError);
    assert.deepEqual(mapped.problems, [
      { variable: 'HEALTH_PORT', problem: `port ${port} is already in use on 127.0.0.1` },
    ]);
    const other = new Error('something else');
    assert.equal(listenError(other, where), other);
    const notHere = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
    assert.equal((listenError(notHere, where) as ConfigError).problems[0]?.variable, 'METRICS_HOST');
  } finally {
    await first.close();
  }
});
