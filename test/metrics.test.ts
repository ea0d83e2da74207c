/**
 * Metrics: the worker's Prometheus endpoint (METRICS_PORT) carries the SDK's metrics and the project's
 * own, the API's `GET /metrics` its HTTP and webhook series; after a completed, a cancelled and a
 * failed saga each series has moved by what those sagas did.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';
import type { ConnectionStatus } from '../common/messages.js';
import { pollUntil } from './helpers/poll.js';
import { scrape, total, type Series } from './helpers/prometheus.js';
import { startStack } from './helpers/stack.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { startWorkerProcess, workerEnv } from './helpers/worker-process.js';

const stack = await startStack({ worker: false });
after(() => stack.close());

interface Recorded {
  operations: string[];
  ok: boolean;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: stack.headers(),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

async function connect(): Promise<ConnectionStatus> {
  const input = {
    externalUserId: uniqueId('m-user'),
    userName: 'Ada',
    solutionId: 'sol-1',
    authSlots: ['slack'],
  };
  const { status, json } = await api('POST', '/v1/connections', input);
  assert.equal(status, 201, JSON.stringify(json));
  return json as ConnectionStatus;
}

function untilStep(connectionId: string, step: string): Promise<ConnectionStatus> {
  return pollUntil(
    async () => {
      const { json } = await api('GET', `/v1/connections/${encodeURIComponent(connectionId)}`);
      return (json as ConnectionStatus).step === step && (json as ConnectionStatus);
    },
    { timeoutMs: 60_000, what: `${connectionId} to reach ${step}` },
  );
}

async function webhook(body: unknown, secret?: string): Promise<number> {
  const signed = stack.signWebhook(body, secret ? { secret } : {});
  const res = await fetch(stack.webhookUrl, { method: 'POST', headers: signed.headers, body: signed.body });
  return res.status;
}

async function fault(spec: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.emulator.url}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  assert.equal(res.status, 201);
}

/** Runs a completed, a cancelled and a failed saga, with one transient Tray error on the way. */
async function runSagas(): Promise<void> {
  await fault({ kind: 'http500', operation: 'users' });
  const done = await connect();
  assert.ok(done.userId);
  const authId = stack.emulator.emulator.store.createAuthentication(done.userId, 'slack');
  const relay = { connectionId: done.connectionId, externalAuthId: 'slack', authId };
  assert.equal(await webhook(relay), 202);
  assert.equal(await webhook(relay, `whsec_${Buffer.alloc(24, 1).toString('base64')}`), 401);
  assert.equal(await webhook({ ...relay, connectionId: 'connect:nobody:sol-1' }), 404);
  await untilStep(done.connectionId, 'completed');
  // A partner retrying after a lost 202: answered 202 again, signals nothing, counted as a duplicate.
  assert.equal(await webhook(relay), 202);

  const cancelled = await connect();
  const del = await api('DELETE', `/v1/connections/${encodeURIComponent(cancelled.connectionId)}`);
  assert.equal(del.status, 202);
  await untilStep(cancelled.connectionId, 'cancelled');

  await fault({ kind: 'permanentError', operation: 'createExternalUser' });
  const failed = await api('POST', '/v1/connections', {
    externalUserId: uniqueId('m-user'),
    userName: 'Bo',
    solutionId: 'sol-1',
    authSlots: ['slack'],
  });
  assert.equal(failed.status, 201, JSON.stringify(failed.json));
  await untilStep((failed.json as ConnectionStatus).connectionId, 'failed');

  assert.equal((await fetch(`${stack.apiUrl}/no/such/route`)).status, 404);
}

test('worker and API metrics move by what three sagas did', async () => {
  const worker = await startWorkerProcess(
    { ...workerEnv(await devServer(), stack.taskQueue, stack.emulator), METRICS_HOST: '127.0.0.1' },
    ['METRICS_PORT'],
  );
  const metricsPort = worker.ports.METRICS_PORT;
  const workerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  assert.match(worker.output(), new RegExp(`"metrics":"${workerMetrics}"`));
  await runSagas();

  const { requests } = (await (await fetch(`${stack.emulator.url}/_emulator/requests`)).json()) as {
    requests: Recorded[];
  };
  const tray = (s: Series[], outcome?: string) =>
    total(s, 'connect_saga_tray_requests', outcome ? { outcome } : {});
  // Metrics are exported on the runtime's schedule: poll until the last request shows.
  const w = await pollUntil(
    async () => {
      const s = await scrape(workerMetrics);
      return tray(s) === requests.length && total(s, 'connect_saga_sagas_finished') === 3 && s;
    },
    { timeoutMs: 30_000, what: 'the worker metrics to count every Tray request and saga' },
  );
  assert.equal(tray(w, 'ok'), requests.filter((r) => r.ok).length);
  assert.equal(tray(w, 'retryable'), 1);
  assert.equal(tray(w, 'permanent'), 1);
  assert.equal(tray(w, 'rate_limited'), 0);
  assert.equal(total(w, 'connect_saga_tray_request_latency_count'), requests.length);
  assert.equal(total(w, 'connect_saga_tray_requests', { operation: 'CreateInstance' }), 2);
  for (const outcome of ['completed', 'cancelled', 'failed']) {
    assert.equal(total(w, 'connect_saga_sagas_finished', { outcome }), 1, outcome);
  }
  assert.equal(total(w, 'connect_saga_sagas_finished', { outcome: 'timed_out' }), 0);
  assert.equal(total(w, 'connect_saga_compensations', { result: 'removed' }), 1);
  assert.ok(total(w, 'temporal_workflow_completed') >= 1, 'the SDK metrics are there too');

  // A workflow task the worker cannot run (a type it does not have, as a rollback's non-determinism
  // would) is counted, with its reason, where README's alert says.
  const stray = await stack.client.workflow.start('noSuchWorkflowType', {
    taskQueue: stack.taskQueue,
    workflowId: uniqueId('m-unknown-type'),
  });
  const failedTasks = await pollUntil(
    async () => total(await scrape(workerMetrics), 'temporal_workflow_task_execution_failed') || undefined,
    { timeoutMs: 30_000, what: 'the failed workflow task to be counted' },
  );
  await stray.terminate('test over');
  assert.ok(failedTasks >= 1);
  const afterFailure = await scrape(workerMetrics);
  const failedSeries = afterFailure.find((s) => s.name === 'temporal_workflow_task_execution_failed');
  assert.ok(failedSeries?.labels.failure_reason, JSON.stringify(failedSeries));

  const a = await scrape(`${stack.apiUrl}/metrics`);
  const http = (labels: Record<string, string>) => total(a, 'connect_saga_http_requests_total', labels);
  assert.equal(http({ method: 'POST', route: '/v1/connections', status: '201' }), 3);
  assert.equal(http({ method: 'DELETE', route: '/v1/connections/:id', status: '202' }), 1);
  assert.ok(http({ method: 'GET', route: '/v1/connections/:id', status: '200' }) >= 3);
  assert.equal(http({ route: '/v1/webhooks/auth-completed' }), 4);
  assert.equal(http({ method: 'GET', route: 'unmatched', status: '404' }), 1);
  assert.equal(
    total(a, 'connect_saga_http_request_duration_seconds_count', { route: '/v1/connections', status: '201' }),
    3,
  );
  for (const [outcome, count] of [
    ['accepted', 1],
    ['duplicate', 1],
    ['bad_signature', 1],
    ['unknown_saga', 1],
  ] as const) {
    assert.equal(total(a, 'connect_saga_webhook_outcomes_total', { outcome }), count, outcome);
  }
  assert.ok(total(a, 'process_cpu_user_seconds_total') > 0);

  // Every series the README's Metrics section names (alerting advice included) is one a scrape has.
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## Traces'));
  const named = new Set(
    [...section.matchAll(/\b((?:connect_saga|temporal)_[a-z_]*[a-z])\b(?!_?\*)/g)].map((m) => m[1]!),
  );
  assert.ok(named.size >= 10, [...named].join(', '));
  // Series only an outage brings (their names were read off a worker's /metrics while Temporal was
  // down), and one only a create retried after a timeout brings, two minutes after its saga connected
  // (the same meter and naming as connect_saga_compensations, which this run has).
  const outageOnly = new Set(['temporal_long_request_failure', 'connect_saga_stray_removals']);
  const scraped = [...w, ...afterFailure, ...a].map((series) => series.name);
  for (const name of [...named].filter((n) => !outageOnly.has(n)))
    assert.ok(
      scraped.some(
        (series) =>
          series === name ||
          (series.startsWith(name) && /^_(bucket|sum|count)$/.test(series.slice(name.length))),
      ),
      `the README names ${name}, which no /metrics output has`,
    );
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT unset the API loads no OpenTelemetry SDK, exporter or interceptor', () => {
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  assert.ok(
    loaded.some((path) => path.includes('prom-client')),
    'the module cache is the one in use',
  );
  // @opentelemetry/api itself, a no-op facade, comes with prom-client (exemplars).
  const tracing = /@opentelemetry\/(sdk-|exporter-|resources|context-async-hooks)|interceptors-opentelemetry/;
  assert.deepEqual(
    loaded.filter((path) => tracing.test(path)),
    [],
  );
});
