/** The worker's `/healthz` and `/readyz`: answers by state, and HEALTH_PORT validated at start. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../lib/config.js';
import { loadWorkerConfig } from '../worker/config.js';
import { startHealthServer, type HealthState } from '../worker/health.js';

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

test('HEALTH_PORT is optional and must be a port', () => {
  assert.equal(loadWorkerConfig(BASE_ENV).healthPort, undefined);
  assert.equal(loadWorkerConfig({ ...BASE_ENV, HEALTH_PORT: '8080' }).healthPort, 8080);
  assert.throws(
    () => loadWorkerConfig({ ...BASE_ENV, HEALTH_PORT: 'http' }),
    (error: unknown) => error instanceof ConfigError && /HEALTH_PORT/.test(error.message),
  );
});
