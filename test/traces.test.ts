/**
 * Traces (OTEL_EXPORTER_OTLP_ENDPOINT set): one trace from the API's POST through the workflow start
 * and the workflow to every activity and each Tray request, received by a local OTLP/HTTP (JSON)
 * collector; the workflow's spans name the run and carry nothing of what the saga keeps. Without the
 * variable the worker and the API load no OpenTelemetry code.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { after, test } from 'node:test';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSink } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { ConnectionStatus } from '../common/messages.js';
import { WORKFLOW_SPAN_INFO, withRunIdsOnly } from '../worker/telemetry.js';
import { silentPort } from './helpers/dead-address.js';
import { startEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { startApiProcess, startWorkerProcess, workerEnv } from './helpers/worker-process.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: Omit<Span, 'service'>[] }[];
  }[];
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

/** A collector on loopback that keeps every span posted to /v1/traces as OTLP JSON. */
async function startCollector(): Promise<{ url: string; spans: Span[] }> {
  const spans: Span[] = [];
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
        for (const rs of (JSON.parse(text) as ExportRequest).resourceSpans ?? []) {
          const service =
            rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ ...s, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, spans };
}

/** Workflow info the SDK's exporter would copy into every workflow span. */
const LEAKS = [
  'memo',
  'searchAttributes',
  'typedSearchAttributes',
  'lastResult',
  'lastFailure',
  'unsafe',
  'currentBuildId',
  'retryPolicy',
];
/** Attributes the workflow interceptors set on their own spans. */
const INTERCEPTOR_KEYS = ['temporalUpdateId', 'temporalActivityId', 'temporalWorkflowId', 'run_id'];

/** No span carries the workflow info beyond the run's ids; the workflow's spans carry those ids. */
function assertRunIdsOnly(spans: Span[], workflowId: string): void {
  for (const span of spans) {
    const keys = (span.attributes ?? []).map((a) => a.key);
    const leaked = keys.filter((k) => LEAKS.some((leak) => k === leak || k.startsWith(`${leak}.`)));
    assert.deepEqual(leaked, [], `${span.name} carries ${leaked.join(', ')}`);
  }
  const workflowSpans = spans.filter((s) =>
    /^(RunWorkflow|StartActivity|HandleUpdate|HandleSignal):/.test(s.name),
  );
  assert.ok(workflowSpans.length > 0, 'spans exported from the workflow');
  for (const span of workflowSpans) {
    const attributes = new Map((span.attributes ?? []).map((a) => [a.key, a.value]));
    const extra = [...attributes.keys()].filter(
      (k) => !(WORKFLOW_SPAN_INFO as readonly string[]).includes(k) && !INTERCEPTOR_KEYS.includes(k),
    );
    assert.deepEqual(extra, [], `${span.name} carries only the run's ids`);
    assert.equal(attributes.get('workflowId')?.stringValue, workflowId, `${span.name} names its workflow`);
    assert.ok(attributes.get('runId')?.stringValue, `${span.name} names its run`);
  }
}

test('the workflow span exporter gets the run’s ids and nothing else of the workflow info', () => {
  const got: unknown[] = [];
  const sink: InjectedSink<OpenTelemetryWorkflowExporter> = {
    export: { fn: (info) => void got.push(info), callDuringReplay: false },
  };
  const wrapped = withRunIdsOnly(sink);
  const info = {
    workflowId: 'connect:u:s',
    runId: 'r1',
    workflowType: 'connectIntegration',
    taskQueue: 'tq',
    namespace: 'default',
    attempt: 1,
    memo: { userId: 'tray-user' },
    searchAttributes: { TrayExternalUserId: ['u'] },
    lastResult: 'secret',
    lastFailure: new Error('secret'),
  } as unknown as WorkflowInfo;
  void wrapped.export.fn(info, []);
  assert.equal(wrapped.export.callDuringReplay, false);
  assert.deepEqual(got, [
    {
      namespace: 'default',
      taskQueue: 'tq',
      workflowType: 'connectIntegration',
      workflowId: 'connect:u:s',
      runId: 'r1',
      attempt: 1,
    },
  ]);
});

test('one trace from POST /v1/connections to every activity and Tray request', async () => {
  const temporal = await devServer();
  const emu = await startEmulator();
  after(() => emu.close());
  const collector = await startCollector();
  const taskQueue = uniqueId('traces');
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    // What is encrypted in history must not reach the collector in plain text either.
    PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  };
  const worker = await startWorkerProcess({ ...workerEnv(temporal, taskQueue, emu), ...otel });
  assert.match(worker.output(), /"tracing":"on"/);
  const apiProcess = await startApiProcess({
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...otel,
  });
  const api = apiProcess.url;
  await pollUntil(async () => (await fetch(`${api}/healthz`)).ok, { timeoutMs: 60_000, what: 'the API' });

  const res = await fetch(`${api}/v1/connections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      externalUserId: uniqueId('t-user'),
      userName: 'Ada',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    }),
  });
  const created = (await res.json()) as ConnectionStatus;
  assert.equal(res.status, 201, JSON.stringify(created));

  const byName = (name: string) => collector.spans.filter((s) => s.name === name);
  await pollUntil(
    async () =>
      byName('Tray IssueAuthorizationCodes').length > 0 && byName('POST /v1/connections').length > 0,
    {
      timeoutMs: 30_000,
      what: 'the spans of the request, the workflow and its activities',
    },
  );
  const [root] = byName('POST /v1/connections');
  assert.ok(root);
  assert.equal(root.service, 'connect-saga-api');
  assert.ok(!root.parentSpanId, 'the request span is the root');
  // RunWorkflow ends (and is exported) when the saga does; its children here already carry its trace.
  const expected = [
    // POST starts the saga by update-with-start; the saga answers the update once its URLs exist.
    'UpdateWithStartWorkflow:waitForAuthUrls',
    'HandleUpdate:waitForAuthUrls',
    'StartActivity:findUser',
    'RunActivity:findUser',
    'Tray FindUser',
    'RunActivity:createUser',
    'Tray CreateUser',
    'Tray AuthorizeUser',
    'RunActivity:createInstance',
    'Tray CreateInstance',
    'RunActivity:issueAuthCodes',
    'Tray IssueAuthorizationCodes',
  ];
  for (const name of expected) {
    const spans = byName(name);
    assert.ok(
      spans.length > 0,
      `a span ${name}; got ${[...new Set(collector.spans.map((s) => s.name))].join(', ')}`,
    );
    for (const span of spans) assert.equal(span.traceId, root.traceId, `${name} is in the request's trace`);
  }
  const ids = new Map(collector.spans.map((s) => [s.spanId, s]));
  for (const tray of collector.spans.filter((s) => s.name.startsWith('Tray '))) {
    assert.equal(tray.service, 'connect-saga-worker');
    assert.match(
      ids.get(tray.parentSpanId ?? '')?.name ?? '',
      /^RunActivity:/,
      `${tray.name} is inside its activity`,
    );
  }
  assertRunIdsOnly(collector.spans, created.connectionId);
  apiProcess.child.kill('SIGTERM');
  worker.child.kill('SIGTERM');
  assert.equal(await apiProcess.exited, 0);
  assert.equal(await worker.exited, 0);
});

test('SIGTERM with the collector silent and Temporal down: the API stops cleanly, saying traces were left unsent', async () => {
  // A collector that takes the connection and never answers, where the exporter would wait 10 s.
  const { port } = await silentPort();
  const api = await startApiProcess({
    // Refused: the start-up questions (search attributes, updates) are still retrying at SIGTERM.
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
  });
  // A span to send.
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  api.child.kill('SIGTERM');
  // Closing the connection while those calls retried, then waiting for the spans, made a retry's
  // timer throw "Channel has been shut down" (exit 1 with a stack trace).
  assert.equal(await api.exited, 0, api.output());
  assert.match(
    api.output(),
    /traces not all sent: the OTLP collector refused them or did not answer within 3 s/,
  );
  assert.match(api.output(), /"msg":"stopped"/);
  assert.doesNotMatch(api.output(), /Channel has been shut down|^\s+at /m);
});
