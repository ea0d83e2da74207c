/**
 * The API's edges: loopback-only access without API_TOKEN, the webhook while WEBHOOK_SECRET is unset,
 * Temporal unreachable (503), unexpected errors (500 without internals), configuration checks and
 * log redaction.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { hostname, networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import express, { type Request, type Response } from 'express';
import { createApp, type AppDeps } from '../api/app.js';
import { isLoopback, isLocalUrl, requireClient, tokensEqual } from '../api/auth.js';
import { prepareApiServer, REQUEST_TIMEOUT_MS } from '../api/client-errors.js';
import { READY_FAILURE_REPEAT_MS, READY_REUSE_MS } from '../api/readiness.js';
import { loadApiConfig } from '../api/config.js';
import { ApiError, errorHandler } from '../api/errors.js';
import { createLogger } from '../api/logging.js';
import { routeTemplate, trackRouteTemplate } from '../api/route-template.js';
import { waitWithin } from '../api/temporal-rpc.js';
import { ConfigError } from '../lib/config.js';
import { devServerConnection } from '../lib/temporal-connection.js';
import { randomWebhookSecret } from './helpers/emulator.js';
import { signWebhook, startStack } from './helpers/stack.js';
import { deadAddress, silentPort } from './helpers/dead-address.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { runChild, startApiProcess } from './helpers/worker-process.js';

/** Serves an app on 127.0.0.1:0 for one test; returns its URL. */
async function serve(app: ReturnType<typeof createApp>, host = '127.0.0.1'): Promise<string> {
  const server = app.listen(0, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

const silent = () => createLogger({ level: 'silent' });

const validInput = { externalUserId: 'u-1', userName: 'U', solutionId: 'sol-1', authSlots: ['slack'] };

describe('without API_TOKEN and WEBHOOK_SECRET', async () => {
  // Top level of the file's first suite: see test/helpers/stack.ts on where to start a stack.
  const stack = await startStack({ apiToken: null, webhookSecret: null, worker: false, apiHost: '0.0.0.0' });
  after(() => stack.close());
  const port = new URL(stack.apiUrl).port;

  test('loopback clients are served', async () => {
    const res = await fetch(
      `http://127.0.0.1:${port}/v1/connections/${encodeURIComponent('connect:nobody:sol-1')}`,
    );
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'not_found');
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  test(
    'a non-loopback client gets 403 with a clear message',
    { skip: external ? false : 'no non-loopback interface' },
    async () => {
      const res = await fetch(`http://${external}:${port}/v1/connections`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(validInput),
      });
      assert.equal(res.status, 403);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'forbidden');
      assert.match(body.error.message, /API_TOKEN/);
      // Health and the webhook are not behind the loopback rule.
      assert.equal((await fetch(`http://${external}:${port}/healthz`)).status, 200);
    },
  );

  test("a browser page from another site is refused, though the browser's address is loopback", async () => {
    // A form-like POST (text/plain) sends no preflight: without this check any site the developer
    // visits could start sagas on their machine.
    for (const origin of ['http://evil.example', 'null', 'http://localhost.evil.example']) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/connections`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin },
        body: JSON.stringify(validInput),
      });
      assert.equal(res.status, 403, origin);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'forbidden');
      assert.match(body.error.message, /Origin .*API_TOKEN/);
    }
    // DNS rebinding: a GET from the page's own (re-pointed) site carries no Origin, only its Host.
    const rebound = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/connections', headers: { host: `evil.example:${port}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.once('end', () => resolve({ status: res.statusCode, body }));
        },
      );
      req.once('error', reject).end();
    });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /Host header .*evil\.example/);
    // Pages on this machine, and clients that send no Origin (curl), are served.
    const id = encodeURIComponent('connect:nobody:sol-1');
    for (const origin of ['http://localhost:8233', 'http://127.0.0.1:8233', 'http://[::1]:8233', undefined]) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/connections/${id}`, {
        headers: origin === undefined ? {} : { origin },
      });
      assert.equal(res.status, 404, String(origin));
    }
  });

  for (const wait of [0, 1]) {
    test(`with no worker: POST ?wait=${wait} answers once the wait has passed, with the step from the memo; DELETE is 202`, async () => {
      const body = { ...validInput, externalUserId: uniqueId('user') };
      const started = Date.now();
      const res = await fetch(`${stack.apiUrl}/v1/connections?wait=${wait}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const elapsed = Date.now() - started;
      assert.equal(res.status, 201);
      // The bounds tell "waited ?wait seconds" from "ignored it" (the default wait is 10 s); they are
      // wide so a loaded machine cannot fail them. Latency itself is the bench's business.
      assert.ok(elapsed >= wait * 1000 - 100, `answered after ${elapsed} ms, before ?wait=${wait} passed`);
      assert.ok(elapsed < 9_000, `answered after ${elapsed} ms: ?wait=${wait} was not honoured`);
      const status = (await res.json()) as { connectionId: string; step: string; authSlots: unknown[] };
      assert.equal(status.step, 'ensuring_user');
      assert.deepEqual(status.authSlots, [{ externalAuthId: 'slack', state: 'pending' }]);
      const del = await fetch(`${stack.apiUrl}/v1/connections/${encodeURIComponent(status.connectionId)}`, {
        method: 'DELETE',
      });
      assert.equal(del.status, 202);
      await stack.client.workflow.getHandle(status.connectionId).terminate('test cleanup');
    });
  }

  test('the webhook answers 503 webhook_not_configured, even to a signed request', async () => {
    const signed = signWebhook(randomWebhookSecret(), {
      connectionId: 'c',
      externalAuthId: 's',
      authId: 'a',
    });
    const res = await fetch(stack.webhookUrl, { method: 'POST', headers: signed.headers, body: signed.body });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'webhook_not_configured');
  });

  test('isLoopback covers 127.0.0.0/8, also IPv4-mapped, and nothing else', () => {
    for (const a of [
      '127.0.0.2',
      '127.255.255.254',
      '::ffff:127.1.2.3',
      '::FFFF:127.0.0.1',
      '0:0:0:0:0:0:0:1',
    ])
      assert.equal(isLoopback(a), true, a);
    for (const a of [
      '128.0.0.1',
      '::ffff:128.0.0.1',
      '::2',
      '::127.0.0.1',
      'fe80::1',
      '127.0.0.1.example',
      'x',
    ])
      assert.equal(isLoopback(a), false, a);
  });

  test("isLocalUrl, and the origins a route trusts beside them (the codec's Web UI)", () => {
    for (const o of [
      'http://localhost:3000',
      'https://a.localhost',
      'http://127.0.0.2:1',
      'http://[::1]:8233',
    ])
      assert.equal(isLocalUrl(o), true, o);
    for (const o of ['null', 'http://evil.example', 'http://localhost.evil.example', 'http://[::2]', ''])
      assert.equal(isLocalUrl(o), false, o);
    const verdict = (headers: { origin?: string; host?: string }) => {
      let passed: unknown = 'not called';
      const req = { socket: { remoteAddress: '127.0.0.1' }, headers };
      const access = requireClient(undefined, ['https://cloud.temporal.io']);
      access(req as never, {} as never, (err?: unknown) => (passed = err));
      return passed === undefined ? 'served' : (passed as { status: number }).status;
    };
    assert.equal(verdict({ origin: 'https://cloud.temporal.io' }), 'served');
    assert.equal(verdict({ origin: 'https://evil.example' }), 403);
    for (const host of [
      'localhost:3000',
      'LOCALHOST',
      '127.0.0.1:3000',
      '[::1]:3000',
      '0.0.0.0:3000',
      hostname(),
    ])
      assert.equal(verdict({ host }), 'served', host);
    for (const host of ['evil.example:3000', 'localhost.evil.example', '192.0.2.1:3000'])
      assert.equal(verdict({ host }), 403, host);
  });

  test('isLoopback and tokensEqual', () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['192.0.2.2', '::ffff:10.0.0.1', '', undefined])
      assert.equal(isLoopback(a), false, String(a));
    assert.equal(tokensEqual('abc', 'abc'), true);
    assert.equal(tokensEqual('abc', 'abcd'), false);
    assert.equal(tokensEqual('', 'abc'), false);
  });
});

/** An API whose Temporal connection leads nowhere; `connection` to spy on its calls. */
async function apiWithoutTemporal() {
  const connection = Connection.lazy({ address: await deadAddress() });
  after(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });
  const url = await serve(
    createApp({ client, taskQueue: 'q', namespace: 'default', apiToken: 't', logger: silent() }),
  );
  return { connection, url };
}

describe('Temporal unreachable', () => {
  // Every call runs under a deadline; the test's timeout only catches a request that hangs.
  test(
    '503 temporal_unavailable from /v1/connections and /readyz; /healthz still 200',
    { timeout: 60_000 },
    async () => {
      const { url } = await apiWithoutTemporal();
      const headers = { authorization: 'Bearer t', 'content-type': 'application/json' };
      const [post, get, ready, health] = await Promise.all([
        fetch(`${url}/v1/connections`, { method: 'POST', headers, body: JSON.stringify(validInput) }),
        fetch(`${url}/v1/connections/x`, { headers }),
        fetch(`${url}/readyz`),
        fetch(`${url}/healthz`),
      ]);
      for (const res of [post, get, ready]) {
        assert.equal(res.status, 503);
        const body = (await res.json()) as { error: { code: string } };
        assert.equal(body.error.code, 'temporal_unavailable');
      }
      assert.equal(health.status, 200);
    },
  );

  test(
    'once a call found Temporal unreachable, a POST asks it one quick question, not the whole ?wait',
    { timeout: 60_000 },
    async () => {
      const { connection, url } = await apiWithoutTemporal();
      const calls: string[] = [];
      const service = connection.workflowService as unknown as Record<string, (...a: unknown[]) => unknown>;
      const names = [
        'describeNamespace',
        'describeWorkflowExecution',
        'executeMultiOperation',
        'startWorkflowExecution',
      ];
      for (const name of names) {
        const original = service[name]!.bind(service);
        service[name] = (...args: unknown[]) => {
          calls.push(name);
          return original(...args);
        };
      }
      const post = (wait: number) =>
        fetch(`${url}/v1/connections?wait=${wait}`, {
          method: 'POST',
          headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
          body: JSON.stringify(validInput),
        });
      // The first finds out: its update-with-start gets no answer within the wait, and neither does
      // the describe after it, which says why.
      const first = await post(1);
      assert.equal(first.status, 503);
      assert.deepEqual(calls, ['executeMultiOperation', 'describeWorkflowExecution']);
      calls.length = 0;
      const second = await post(30);
      assert.equal(second.status, 503);
      assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'temporal_unavailable');
      assert.deepEqual(calls, ['describeNamespace']);
    },
  );
});

describe('/readyz', () => {
  /** A client whose only call is `describeNamespace`, the one `/readyz` makes. */
  const describingClient = (describeNamespace: () => Promise<unknown>) =>
    ({
      options: { namespace: 'default' },
      withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
      withMetadata: (_metadata: unknown, fn: () => Promise<unknown>) => fn(),
      workflowService: { describeNamespace },
    }) as unknown as Client;

  /** An error shaped as grpc-js rejects a call. */
  const grpcError = (code: number, name: string, details: string) =>
    Object.assign(new Error(`${code} ${name}: ${details}`), { code, details, metadata: {} });

  test('a flood of unauthenticated probes costs Temporal one DescribeNamespace, not one each', async (t) => {
    // The clock stands still until the test moves it: a slow box cannot age the answer meanwhile,
    // and no sleep is needed to age it.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    let calls = 0;
    const client = describingClient(async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {};
    });
    const url = await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger: silent() }));
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`${url}/readyz`).then((res) => res.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    for (let i = 0; i < 20; i++) assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal(calls, 1);
    // A probe a while later asks again: readiness still follows the server.
    t.mock.timers.tick(READY_REUSE_MS);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal(calls, 2);
  });

  /** The reason of the first "readiness check failed" warning in `lines`. */
  const readinessReason = (lines: string[]) =>
    pollUntil(
      async () => {
        const line = lines.find((l) => l.includes('readiness check failed'));
        return line && (JSON.parse(line) as { reason?: string }).reason;
      },
      { timeoutMs: 15_000, what: 'the readiness warning' },
    );

  test('the warning names a refused connection as such, not as the deadline the client gave up at', async () => {
    const address = '127.0.0.1:1';
    const connection = Connection.lazy({ address });
    after(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    const { lines, logger } = capturingLogger();
    const temporal = devServerConnection(address);
    const url = await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger, temporal }));
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    const reason = await readinessReason(lines);
    assert.match(reason, /127\.0\.0\.1:1 is not reachable: ECONNREFUSED/);
    assert.doesNotMatch(reason, /DEADLINE_EXCEEDED/);
  });

  test('the warning names the credential Temporal refuses, without its value', async () => {
    const refusal = grpcError(16, 'UNAUTHENTICATED', 'Request unauthorized.');
    const client = describingClient(() => Promise.reject(refusal));
    const base = devServerConnection('temporal.example:7233');
    const apiKey = 'key-that-must-not-be-logged';
    const temporal = {
      ...base,
      connectionOptions: { ...base.connectionOptions, apiKey, tls: true },
      origins: { ...base.origins, apiKey: 'TEMPORAL_API_KEY' },
    };
    const { lines, logger } = capturingLogger();
    const url = await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger, temporal }));
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    assert.equal(
      await readinessReason(lines),
      'TEMPORAL_API_KEY: was refused by temporal.example:7233 (UNAUTHENTICATED)',
    );
    assert.ok(!lines.join('').includes(apiKey));
  });

  test('an outage is logged when it starts, every few minutes while it lasts and when it ends', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    let up = false;
    const client = describingClient(async () => {
      if (!up) throw grpcError(14, 'UNAVAILABLE', 'No connection established');
      return {};
    });
    const { lines, logger } = capturingLogger();
    const url = await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger }));
    const probe = async (expected: number) => {
      t.mock.timers.tick(READY_REUSE_MS);
      assert.equal((await fetch(`${url}/readyz`)).status, expected);
    };
    const said = (msg: string) => lines.filter((line) => JSON.parse(line).msg === msg).length;
    // A probe every 5 s through a 10-minute outage.
    const outageMs = 10 * 60_000;
    for (let i = 0; i < outageMs / 5_000; i++) {
      await probe(503);
      t.mock.timers.tick(5_000 - READY_REUSE_MS);
    }
    const repeats = Math.ceil(outageMs / READY_FAILURE_REPEAT_MS);
    assert.equal(said('readiness check failed'), repeats);
    up = true;
    await probe(200);
    await probe(200);
    assert.equal(said('readiness check passes again'), 1);
    up = false;
    await probe(503);
    assert.equal(said('readiness check failed'), repeats + 1);
  });
});

describe('unexpected errors', () => {
  test('500 internal_error without the message or a stack', async () => {
    const boom = new Error('secret internals at /srv/app.js:12');
    const client = {
      withDeadline: (_d: unknown, fn: () => Promise<unknown>) => fn(),
      withMetadata: (_m: unknown, fn: () => Promise<unknown>) => fn(),
      workflow: {
        getHandle: () => {
          throw boom;
        },
      },
    } as unknown as AppDeps['client'];
    const url = await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger: silent() }));
    const res = await fetch(`${url}/v1/connections/x`);
    assert.equal(res.status, 500);
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string } };
    assert.equal(body.error.code, 'internal_error');
    assert.doesNotMatch(text, /secret internals|app\.js|at /);
  });
});

describe('configuration', () => {
  test('defaults', () => {
    const config = loadApiConfig({});
    assert.deepEqual(config, {
      temporalAddress: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'connect-integration',
      port: 3000,
      host: undefined,
      keepAliveTimeoutMs: 65_000,
      apiToken: undefined,
      webhookSecret: undefined,
    });
    // Names as Docker gives them (underscores) and fully qualified ones (a final dot) resolve too.
    for (const host of ['127.0.0.1', '::', 'localhost', 'proj_api_1', 'api.internal.']) {
      assert.equal(loadApiConfig({ API_HOST: host }).host, host);
    }
    assert.throws(
      () => loadApiConfig({ API_HOST: 'bad host!' }),
      (error: unknown) => error instanceof ConfigError && error.problems[0]?.variable === 'API_HOST',
    );
    assert.equal(loadApiConfig({ API_KEEP_ALIVE_TIMEOUT: '10m' }).keepAliveTimeoutMs, 600_000);
  });

  test('names every bad variable, without echoing secrets', () => {
    let error: unknown;
    try {
      loadApiConfig({
        TEMPORAL_ADDRESS: 'no-port',
        API_PORT: '70000',
        WEBHOOK_SECRET: 'supersecret-not-whsec',
        LOG_LEVEL: 'verbose',
        API_KEEP_ALIVE_TIMEOUT: '2h',
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems.map((p) => p.variable).sort(), [
      'API_KEEP_ALIVE_TIMEOUT',
      'API_PORT',
      'LOG_LEVEL',
      'TEMPORAL_ADDRESS',
      'WEBHOOK_SECRET',
    ]);
    assert.doesNotMatch(error.message, /supersecret/);
  });

  test('API_AUTH_REQUIRED=true refuses a blank or missing API_TOKEN, naming it', () => {
    for (const token of [undefined, '', '   ']) {
      assert.throws(
        () =>
          loadApiConfig({ API_AUTH_REQUIRED: 'true', ...(token === undefined ? {} : { API_TOKEN: token }) }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.some((p) => p.variable === 'API_TOKEN' && /service mesh/.test(p.problem)),
      );
    }
    assert.equal(loadApiConfig({ API_AUTH_REQUIRED: 'TRUE', API_TOKEN: 'tok' }).apiToken, 'tok');
    assert.equal(loadApiConfig({}).apiToken, undefined, 'not required by default: loopback clients only');
    assert.throws(() => loadApiConfig({ API_AUTH_REQUIRED: 'yes' }), ConfigError);
  });

  test('accepts a whsec_ secret and a token', () => {
    const secret = randomWebhookSecret();
    const config = loadApiConfig({ WEBHOOK_SECRET: secret, API_TOKEN: 'tok', API_PORT: '8080' });
    assert.equal(config.webhookSecret, secret);
    assert.equal(config.apiToken, 'tok');
    assert.equal(config.port, 8080);
    assert.throws(() => loadApiConfig({ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }), ConfigError);
  });

  test('refuses a token no Authorization header can carry, without echoing it', () => {
    for (const token of ['two words', 'tökén-secret']) {
      assert.throws(
        () => loadApiConfig({ API_TOKEN: token }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.some((p) => p.variable === 'API_TOKEN') &&
          !err.message.includes(token),
      );
    }
  });
});

/** A logger (the API's own settings) whose lines are collected in `lines`. */
function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug' }, sink) };
}

describe('logs', () => {
  test('request logs carry no token, signature or body', async () => {
    const { lines, logger } = capturingLogger();
    const secret = randomWebhookSecret();
    const client = {
      withDeadline: () => Promise.reject(new Error('down')),
      withMetadata: (_m: unknown, fn: () => Promise<unknown>) => fn(),
      workflow: {},
    } as unknown as AppDeps['client'];
    const url = await serve(
      createApp({
        client,
        taskQueue: 'q',
        namespace: 'default',
        apiToken: 'tok-very-secret',
        webhookSecret: secret,
        logger,
      }),
    );
    await fetch(`${url}/v1/connections/x`, { headers: { authorization: 'Bearer tok-very-secret' } });
    const signed = signWebhook(secret, { connectionId: 'c', externalAuthId: 's', authId: 'auth-secret-id' });
    await fetch(`${url}/v1/webhooks/auth-completed`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    const all = lines.join('');
    assert.match(all, /"path":"\/v1\/connections\/x"/);
    assert.match(all, /"path":"\/v1\/webhooks\/auth-completed"/);
    assert.doesNotMatch(all, /tok-very-secret/);
    assert.ok(!all.includes(signed.headers['webhook-signature']!.slice(3)), 'signature logged');
    assert.doesNotMatch(all, /auth-secret-id/);
  });

  test('a refused webhook signature is logged with why, never with the signature or secret', async () => {
    const { lines, logger } = capturingLogger();
    const secret = randomWebhookSecret();
    const client = { workflow: {} } as unknown as AppDeps['client'];
    const url = await serve(
      createApp({ client, taskQueue: 'q', namespace: 'default', webhookSecret: secret, logger }),
    );
    const body = { connectionId: 'c', externalAuthId: 's', authId: 'a' };
    const partnerSecret = randomWebhookSecret();
    const cases = [
      { signed: signWebhook(partnerSecret, body), reason: /No matching signature found/ },
      {
        signed: signWebhook(secret, body, { timestamp: new Date(Date.now() - 10 * 60_000) }),
        reason: /timestamp too old/,
      },
    ];
    for (const { signed, reason } of cases) {
      const at = lines.length;
      const res = await fetch(`${url}/v1/webhooks/auth-completed`, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
      });
      assert.equal(res.status, 401);
      const logged = lines.slice(at).map((l) => JSON.parse(l) as Record<string, unknown>);
      const refusal = logged.find((l) => l.msg === 'webhook signature rejected');
      assert.ok(refusal, JSON.stringify(logged));
      assert.match(String(refusal.reason), reason);
      assert.equal(refusal.level, 40);
      assert.equal(refusal.requestId, logged.find((l) => l.msg === 'request')?.requestId);
      const all = lines.slice(at).join('');
      assert.ok(!all.includes(signed.headers['webhook-signature']!.slice(3)), 'signature logged');
      for (const s of [secret, partnerSecret]) assert.ok(!all.includes(s.slice(6)), 'secret logged');
    }
  });

  test('the logger redacts credentials wherever they appear', () => {
    const { lines, logger } = capturingLogger();
    logger.info(
      {
        req: { headers: { authorization: 'Bearer abc123', 'webhook-signature': 'v1,sig456' } },
        apiToken: 'tok789',
      },
      'x',
    );
    const line = lines.join('');
    assert.doesNotMatch(line, /abc123|sig456|tok789/);
    assert.match(line, /\[redacted\]/);
  });
});

describe('route templates', () => {
  test('a path in other letter case counts under its route, not a label of its own', async () => {
    const app = express();
    app.use(trackRouteTemplate());
    const router = express.Router();
    router.get('/:id', (req, res) => void res.json(routeTemplate(req)));
    app.use('/v1/connections', router);
    const url = await serve(app as ReturnType<typeof createApp>);
    for (const path of ['/v1/connections/a', '/V1/CONNECTIONS/a', '/v1/Connections/B']) {
      assert.equal(await (await fetch(`${url}${path}`)).json(), '/v1/connections/:id', path);
    }
  });
});

test('requests refused before routing count under the route they were for', async () => {
  const { url } = await apiWithoutTemporal();
  const headers = { 'content-type': 'application/json' };
  const refused = [
    fetch(`${url}/v1/connections`, { method: 'POST', headers, body: '{}' }), // 401: no token
    fetch(`${url}/v1/connections/a%3Ab/auth-urls/slack`, { method: 'POST', headers }), // 401
    fetch(`${url}/v1/connections`, { method: 'PUT', headers: { authorization: 'Bearer t' } }), // 405
    fetch(`${url}/nowhere`), // 404: unknown path
  ];
  assert.deepEqual(
    (await Promise.all(refused)).map((r) => r.status),
    [401, 401, 405, 404],
  );
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const count = (labels: string) =>
    metrics.match(new RegExp(`^connect_saga_http_requests_total\\{${labels}\\} (\\d+)$`, 'm'))?.[1];
  assert.equal(count('method="POST",route="/v1/connections",status="401"'), '1');
  assert.equal(
    count('method="POST",route="/v1/connections/:id/auth-urls/:externalAuthId",status="401"'),
    '1',
  );
  assert.equal(count('method="PUT",route="/v1/connections",status="405"'), '1');
  assert.equal(count('method="GET",route="unmatched",status="404"'), '1');
});

test('OPTIONS answers 204 with Allow on known paths, behind the access rule, and a JSON 404 elsewhere', async () => {
  const { url } = await apiWithoutTemporal();
  const bearer = { authorization: 'Bearer t' };
  for (const [path, allow] of [
    ['/v1/connections', 'GET, HEAD, POST, OPTIONS'],
    ['/V1/Connections', 'GET, HEAD, POST, OPTIONS'],
    ['/v1/connections/a%3Ab', 'GET, HEAD, DELETE, OPTIONS'],
    ['/healthz', 'GET, HEAD, OPTIONS'],
  ] as const) {
    const res = await fetch(`${url}${path}`, { method: 'OPTIONS', headers: bearer });
    assert.equal(res.status, 204, path);
    assert.equal(await res.text(), '', path);
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), allow.split(', ').sort(), path);
  }
  const noToken = await fetch(`${url}/v1/connections`, { method: 'OPTIONS' });
  assert.equal(noToken.status, 401);
  assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'unauthorized');
  assert.equal((await fetch(`${url}/healthz`, { method: 'OPTIONS' })).status, 204, 'open paths stay open');
  const unknown = await fetch(`${url}/nowhere`, { method: 'OPTIONS' });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
});

describe('bodies where none belongs', () => {
  test('GET and DELETE ignore a body: junk there cannot turn a 404 into a 400', async () => {
    const gone = new WorkflowNotFoundError('not found', 'connect:a:b', undefined);
    const client = {
      options: { namespace: 'default' },
      withDeadline: (_d: unknown, fn: () => Promise<unknown>) => fn(),
      withMetadata: (_m: unknown, fn: () => Promise<unknown>) => fn(),
      workflow: { getHandle: () => ({ describe: () => Promise.reject(gone) }) },
    } as unknown as AppDeps['client'];
    const url = new URL(
      await serve(createApp({ client, taskQueue: 'q', namespace: 'default', logger: silent() })),
    );
    for (const method of ['GET', 'DELETE']) {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, method, path: '/v1/connections/connect:a:b' },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.once('error', reject);
        req.setHeader('content-type', 'application/json');
        req.setHeader('content-length', '4');
        req.end('{bad');
      });
      assert.equal(status, 404, method);
    }
  });
});

describe('draining', () => {
  test(
    'SIGTERM answers a POST still waiting for its URLs at once, with the status as it stands',
    { timeout: 120_000 },
    async () => {
      const temporal = await devServer();
      const api = await startApiProcess({
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        // No worker serves it: the wait would last the whole ?wait.
        TEMPORAL_TASK_QUEUE: uniqueId('drain-tq'),
      });
      const { url } = api;
      await pollUntil(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'the API' });
      const externalUserId = uniqueId('drain-user');
      const posted = fetch(`${url}/v1/connections?wait=30`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...validInput, externalUserId }),
      });
      const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
      after(() => client.connection.close());
      const handle = client.workflow.getHandle(`connect:${externalUserId}:${validInput.solutionId}`);
      await pollUntil(
        () =>
          handle.describe().then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 30_000,
          what: 'the saga the POST started',
        },
      );
      api.child.kill('SIGTERM');
      // Bounded, so a hang fails here with the API's own lines rather than as the file's timeout.
      const within = <T>(what: string, p: Promise<T>) =>
        Promise.race([
          p,
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`${what} within 30 s:\n${api.output()}`)), 30_000).unref(),
          ),
        ]);
      const res = await within('no answer to the POST', posted);
      const body = (await res.json()) as { step: string };
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.equal(body.step, 'ensuring_user');
      assert.equal(await within('the API did not exit', api.exited), 0, api.output());
      assert.doesNotMatch(api.output(), /grace period over/);
      // The shutdown cut the wait short: no warning blaming the workers or Tray.
      assert.match(api.output(), /answered before the auth URLs: the API is shutting down/);
      assert.doesNotMatch(api.output(), /no auth URLs within the wait/);
      await handle.terminate('test cleanup');
    },
  );
});

describe('start-up', () => {
  test('an API_PORT another process holds stops the API naming API_PORT, exit 1, no stack', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    after(() => taken.close());
    const { port } = taken.address() as AddressInfo;
    const api = runChild('api/main.ts', {
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
    });
    assert.equal(await api.exited, 1, api.output());
    assert.match(api.output(), new RegExp(`API_PORT: port ${port} is already in use on 127\\.0\\.0\\.1`));
    assert.doesNotMatch(api.output(), /^\s+at /m);
  });
});

describe('stopping before listening', () => {
  test('SIGTERM during the start-up check exits at once, saying so, rather than being left unhandled', async () => {
    // A Temporal that takes the connection and never answers holds the start-up check for seconds.
    const { port, held } = await silentPort();
    const api = runChild('api/main.ts', { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, API_HOST: '127.0.0.1' });
    await pollUntil(async () => held.length > 0, {
      timeoutMs: 30_000,
      what: 'the start-up check to connect',
    });
    api.child.kill('SIGTERM');
    // Unhandled, the signal would kill it (no exit code) or, as a container's PID 1, be ignored.
    assert.equal(await api.exited, 0, api.output());
    assert.match(api.output(), /stopped before the API started/);
    assert.doesNotMatch(api.output(), /API listening/);
  });
});

describe('stopping without a reader', () => {
  test('SIGTERM ends the API although nobody reads its stdout any more', { timeout: 60_000 }, async () => {
    const api = await startApiProcess({
      // Refused at once: the API starts without waiting for it, and reports it unreachable meanwhile.
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    const { url } = api;
    await pollUntil(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, {
      timeoutMs: 30_000,
      what: 'the API',
    });
    // As when `| head` has had its lines, or the log shipper reading the pipe died.
    // Its next lines (shutting down, stopped) are the first to find the pipe broken.
    api.child.stdout?.destroy();
    api.child.kill('SIGTERM');
    const exited = await Promise.race([
      api.exited,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref()),
    ]);
    assert.equal(exited, 0, api.output());
  });
});

describe('waits on the saga', () => {
  test('many at once leave no listener behind and raise no MaxListeners warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.name);
    process.on('warning', onWarning);
    after(() => void process.off('warning', onWarning));
    const signals: AbortSignal[] = [];
    const client = {
      // As the SDK does: a listener on the signal it is handed, never removed.
      withAbortSignal: (signal: AbortSignal, fn: () => Promise<unknown>) => {
        signals.push(signal);
        signal.addEventListener('abort', () => undefined);
        return fn();
      },
      withDeadline: (_d: unknown, fn: () => Promise<unknown>) => fn(),
      withMetadata: (_m: unknown, fn: () => Promise<unknown>) => fn(),
    } as unknown as Client;
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) => waitWithin(client, 1000, () => Promise.resolve(i))),
    );
    assert.equal(answers.length, 25);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
    assert.equal(new Set(signals).size, 25, 'each wait has a signal of its own, dropped with it');
  });
});

describe("requests node's parser refuses", () => {
  test('431, 400 (also for a missing Host), 417 and a CONNECT come in the error shape, not as a bare status line', async () => {
    const app = express();
    app.post('/', (_req, res) => void res.status(204).end());
    const server = app.listen(0, '127.0.0.1');
    prepareApiServer(server, 90_000);
    assert.equal(server.keepAliveTimeout, 90_000);
    await once(server, 'listening');
    after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const raw = async (request: string) => {
      const socket = connect(port, '127.0.0.1');
      socket.end(request);
      let text = '';
      for await (const chunk of socket) text += String(chunk);
      const [status, body] = [Number(text.split(' ')[1]), text.slice(text.indexOf('\r\n\r\n') + 4)];
      const head = text.slice(0, text.indexOf('\r\n\r\n') + 2);
      const requestId = /^x-request-id: (.+)\r$/im.exec(head)?.[1];
      return {
        status,
        head,
        requestId,
        body: JSON.parse(body) as { error: { code: string; message: string } },
      };
    };
    const big = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(big.status, 431);
    assert.equal(big.body.error.code, 'headers_too_large');
    const bad = await raw('GET / HTTP/1.1\r\nHost: x\r\nwebhook-id: a\u0001b\r\n\r\n');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'bad_request');
    const post = (expect: string) =>
      `POST / HTTP/1.1\r\nHost: x\r\nExpect: ${expect}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;
    const hostless = await raw('GET /healthz HTTP/1.1\r\n\r\n');
    assert.equal(hostless.status, 400);
    assert.match(hostless.body.error.message, /Host header/);
    const expectation = await raw(post('teapot'));
    assert.equal(expectation.status, 417);
    assert.equal(expectation.body.error.code, 'expectation_failed');
    // A proxy's tunnel: node closed the socket unanswered without a listener of its own.
    const tunnel = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(tunnel.status, 405);
    assert.equal(tunnel.body.error.code, 'method_not_allowed');
    assert.match(tunnel.head, /^Allow: GET, HEAD, POST, DELETE, OPTIONS\r$/im);
    // A client that resets the tunnel's connection: no unhandled 'error' (it would end this process).
    const reset = connect(port, '127.0.0.1');
    reset.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await once(reset, 'data');
    reset.resetAndDestroy();
    await once(reset, 'close');
    assert.equal((await raw('GET / HTTP/1.1\r\n\r\n')).status, 400, 'the server still answers');
    // Every answer carries a request id, these too: fresh where the headers never parsed, the
    // client's own where they did; and the two headers every answer of the API carries.
    for (const answer of [big, bad, hostless, expectation, tunnel]) {
      assert.match(answer.requestId ?? '', /^[\w.-]{1,100}$/);
      assert.match(answer.head, /^Cache-Control: no-store\r$/im, answer.head);
      assert.match(answer.head, /^X-Content-Type-Options: nosniff\r$/im, answer.head);
    }
    const named = await raw(post('teapot').replace('Host: x\r\n', 'Host: x\r\nx-request-id: rid-417\r\n'));
    assert.equal(named.requestId, 'rid-417');
    // curl's own expectation still goes through to the route.
    const socket = connect(port, '127.0.0.1');
    socket.end(post('100-continue'));
    let text = '';
    for await (const chunk of socket) text += String(chunk);
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 204 /);
  });

  test('a request must arrive within 30 s, not node’s default five minutes', () => {
    const server = createHttpServer();
    prepareApiServer(server, 5_000);
    assert.equal(server.requestTimeout, REQUEST_TIMEOUT_MS);
    assert.ok(REQUEST_TIMEOUT_MS <= 30_000);
    assert.ok(server.headersTimeout <= server.requestTimeout);
    // A server made with a shorter one keeps it.
    const quick = createHttpServer({ requestTimeout: 500 });
    prepareApiServer(quick, 5_000);
    assert.equal(quick.requestTimeout, 500);
  });

  test('a body that breaks off or never finishes is answered (400, 408) in the error shape, not cut off', async () => {
    const app = express();
    app.post('/', express.json({ type: () => true }), (_req, res) => void res.status(204).end());
    const server = createHttpServer({ requestTimeout: 500, connectionsCheckingInterval: 100 }, app);
    prepareApiServer(server, 5_000);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => server.close());
    const { port } = server.address() as AddressInfo;
    const answer = async (head: string) => {
      const socket = connect(port, '127.0.0.1');
      socket.write(head); // and nothing more: the body stays unfinished
      let text = '';
      for await (const chunk of socket) text += String(chunk);
      return text;
    };
    const never = await answer('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":');
    assert.match(never, /^HTTP\/1\.1 408 /);
    assert.match(never, /"code":"request_timeout"/);
    const badChunk = await answer(
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nZZ\r\n',
    );
    assert.match(badChunk, /^HTTP\/1\.1 400 /);
    assert.match(badChunk, /"code":"bad_request"/);
    // A later pipelined request that never finishes does not take over the earlier one's answer.
    const pipelined = await answer(
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{',
    );
    assert.match(pipelined, /^HTTP\/1\.1 204 [^]*HTTP\/1\.1 408 /);
  });

  test('an error the app finds after the parser answered is neither answered again nor printed as a stack', async () => {
    const printed: unknown[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    after(() => void (console.error = consoleError));
    const app = createApp({
      client: {} as AppDeps['client'],
      taskQueue: 'q',
      namespace: 'default',
      logger: silent(),
    });
    const server = createHttpServer(app);
    prepareApiServer(server, 5_000);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => server.close());
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    // A body in a transfer coding node cannot read, from a Host the API refuses without a token.
    socket.write(
      'POST /v1/connections HTTP/1.1\r\nHost: evil.example\r\nTransfer-Encoding: identity\r\n\r\n{}',
    );
    let text = '';
    for await (const chunk of socket) text += String(chunk);
    assert.equal(text.match(/^HTTP\/1\.1 /gm)?.length, 1, text);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(printed, []);
  });

  test('an error after a full answer is logged unless it is the request’s own refusal echoed', () => {
    const { lines, logger } = capturingLogger();
    const handle = errorHandler(logger);
    let destroyed = 0;
    const req = { method: 'GET', path: '/x', socket: { destroy: () => void (destroyed += 1) } };
    const res = { headersSent: true, writableEnded: true };
    const call = (err: unknown) =>
      handle(err, req as unknown as Request, res as unknown as Response, () => assert.fail('passed on'));
    call(Object.assign(new Error('aborted'), { type: 'request.aborted' }));
    call(new ApiError(400, 'bad_request', 'refused'));
    assert.equal(lines.length, 0, lines.join(''));
    call(new Error('a route failed after answering'));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /error after the answer was sent/);
    assert.equal(destroyed, 3);
  });
});
