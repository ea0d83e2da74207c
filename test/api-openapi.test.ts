/**
 * The OpenAPI document is complete: this file drives every error path the API has, and the stack's
 * recorder (test/helpers/openapi-check.ts) fails the file when an answer's status is not listed for
 * its route. The last test checks the other way round: every code the document lists was sent here,
 * or is named below with where it is driven. The recorder also validates each answer's body and
 * headers against the document's schemas for its code (Ajv, JSON Schema 2020-12).
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import { createLogger } from '../api/logging.js';
import { buildOpenApi } from '../api/openapi.js';
import { deadAddress } from './helpers/dead-address.js';
import { mismatches, recordingHandler } from './helpers/openapi-check.js';
import { startStack, type Stack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

const stack: Stack = await startStack();
after(() => stack.close());
const doc = buildOpenApi();

/** Documented codes sent elsewhere, or not reachable from here. */
const DRIVEN_ELSEWHERE: Record<string, string> = {
  '403': 'needs a non-loopback client: test/api-access.test.ts',
  '500': 'needs a failing client: test/api-access.test.ts (unexpected errors)',
  'post /v1/connections 409': 'ids with ":" are refused, so only a saga started past the API can clash',
  'get /metrics 200': 'served by the metrics route',
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One raw HTTP request (a body on any method), answered with its status. */
function send(
  base: string,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // An explicit length: Node sends a GET or DELETE body unframed otherwise.
    const length =
      options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
    const headers = { ...options.headers, ...length };
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const auth = () => stack.headers();
const api = (method: string, path: string, body?: unknown, headers = auth()) =>
  send(stack.apiUrl, method, path, {
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const enc = encodeURIComponent;
const input = (solutionId = 'sol-1') => ({
  externalUserId: uniqueId('oa'),
  userName: 'O',
  solutionId,
  authSlots: ['slack'],
});
const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
const oddEncoding = { ...auth(), 'content-encoding': 'bogus' };

/** The status, and the headers the document promises for it (api/openapi-parts.ts). */
async function expectStatus(answer: Promise<Answer>, status: number, what: string): Promise<Answer> {
  const got = await answer;
  assert.equal(got.status, status, what);
  assert.match(String(got.headers['x-request-id']), /^[A-Za-z0-9_.-]{1,100}$/, `${what}: x-request-id`);
  // One-time auth codes and personal data: kept by no cache.
  assert.equal(got.headers['cache-control'], 'no-store', `${what}: cache-control`);
  assert.equal(got.headers['x-content-type-options'], 'nosniff', `${what}: x-content-type-options`);
  if (status === 405) assert.ok(got.headers.allow, `${what}: Allow`);
  return got;
}

/** A 401 of the bearer check names the scheme it wants. */
async function expectUnauthorized(answer: Promise<Answer>): Promise<void> {
  const got = await expectStatus(answer, 401, 'no token');
  assert.equal(got.headers['www-authenticate'], 'Bearer realm="connect-saga"');
}

/** `path` with another connection id in it. */
const withId = (path: string, id: string) =>
  path.replace(/^\/v1\/connections\/[^/]+/, `/v1/connections/${id}`);

async function startSaga(): Promise<string> {
  const body = input();
  await expectStatus(api('POST', '/v1/connections', body), 201, 'start');
  return `/v1/connections/${enc(`connect:${body.externalUserId}:sol-1`)}`;
}

describe('every error path, each code documented for its route', () => {
  test('/v1/connections: start and list', async () => {
    const body = input();
    await expectStatus(api('POST', '/v1/connections?wait=0', body), 201, 'new');
    await expectStatus(api('POST', '/v1/connections?wait=0', body), 200, 'existing');
    await expectStatus(api('POST', '/v1/connections', { authSlots: [] }), 400, 'invalid');
    await expectStatus(api('POST', '/v1/connections', '{nope'), 400, 'not JSON');
    await expectUnauthorized(api('POST', '/v1/connections', body, {}));
    await expectStatus(api('POST', '/v1/connections', big), 413, 'too large');
    await expectStatus(api('POST', '/v1/connections', body, oddEncoding), 415, 'encoding');
    const latin1 = { ...auth(), 'content-type': 'application/json; charset=latin1' };
    await expectStatus(api('POST', '/v1/connections', body, latin1), 415, 'charset');
    // Decoded as UTF-7 or UTF-16, bytes those cannot read would become U+FFFD and merge ids.
    for (const label of ['utf-7', 'UTF-16', 'utf-16le', 'utf-32', '""']) {
      const other = { ...auth(), 'content-type': `application/json; charset=${label}` };
      await expectStatus(api('POST', '/v1/connections', body, other), 415, `charset=${label}`);
    }
    // WHATWG's other labels for UTF-8 are UTF-8.
    for (const label of ['utf8', '"UTF8"', 'unicode-1-1-utf-8']) {
      const utf8 = { ...auth(), 'content-type': `application/json; charset=${label}` };
      await expectStatus(api('POST', '/v1/connections?wait=0', input(), utf8), 201, `charset=${label}`);
    }
    // What `curl -d` sends without a content-type header: still read as JSON (docs/api.md).
    const form = { ...auth(), 'content-type': 'application/x-www-form-urlencoded' };
    await expectStatus(api('POST', '/v1/connections?wait=0', input(), form), 201, 'form type');
    await expectStatus(api('GET', '/v1/connections?pageSize=5'), 200, 'list');
    await expectStatus(api('GET', '/v1/connections?step=nope'), 400, 'bad filter');
    await expectUnauthorized(api('GET', '/v1/connections', undefined, {}));
    // GET leaves a body unread, so neither its size nor its encoding matters.
    await expectStatus(api('GET', '/v1/connections?pageSize=5', big), 200, 'a body ignored');
    await expectStatus(api('GET', '/v1/connections?pageSize=5', '{}', oddEncoding), 200, 'a body ignored');
  });

  test('/v1/connections/{id} and the reissue', async () => {
    const running = await startSaga();
    const closed = await startSaga();
    for (const [method, path] of [
      ['GET', running],
      ['DELETE', closed],
      ['POST', `${running}/auth-urls/slack`],
    ] as const) {
      const ok = method === 'DELETE' ? 202 : 200;
      await expectStatus(api(method, path), ok, `${method} ${path}`);
      await expectUnauthorized(api(method, path, undefined, {}));
      // Only the start reads its body: here one is left unread, whatever its size or encoding.
      if (method !== 'DELETE') {
        await expectStatus(api(method, path, big), ok, 'a body ignored');
        await expectStatus(api(method, path, '{}', oddEncoding), ok, 'a body ignored');
      }
      await expectStatus(api(method, withId(path, '%FF')), 400, 'bad percent-encoding');
      await expectStatus(api(method, withId(path, 'connect%3Anobody%3Asol-1')), 404, 'unknown');
    }
    await expectStatus(api('POST', `${running}/auth-urls/nope`), 422, 'unknown slot');
    // The cancelled saga closes once compensation ran.
    for (let i = 0; i < 300 && (await api('DELETE', closed)).status !== 409; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await expectStatus(api('DELETE', closed), 409, 'closed');
    await expectStatus(api('POST', `${closed}/auth-urls/slack`), 409, 'closed');
    stack.emulator.emulator.faults.add({ operation: 'generateAuthorizationCode', kind: 'permanentError' });
    try {
      await expectStatus(api('POST', `${running}/auth-urls/slack`), 502, 'Tray refused');
    } finally {
      stack.emulator.emulator.faults.clear();
    }
  });

  test('the webhook', async () => {
    const running = decodeURIComponent((await startSaga()).split('/').pop()!);
    const signed = (body: unknown) => {
      const { headers, body: raw } = stack.signWebhook(body);
      return { headers: { ...headers, 'content-type': 'application/json' }, body: raw };
    };
    const hook = (body: unknown, extra: Record<string, string> = {}) => {
      const s = signed(body);
      return send(stack.apiUrl, 'POST', '/v1/webhooks/auth-completed', {
        headers: { ...s.headers, ...extra },
        body: s.body,
      });
    };
    const ok = { connectionId: running, externalAuthId: 'slack', authId: uniqueId('auth') };
    await expectStatus(hook({ ...ok, externalAuthId: 'nope' }), 422, 'unknown slot');
    await expectStatus(hook({ ...ok, connectionId: 'connect:nobody:sol-1' }), 404, 'unknown saga');
    await expectStatus(hook({ connectionId: running }), 400, 'missing fields');
    await expectStatus(hook(ok, { 'webhook-signature': 'v1,AAAA' }), 401, 'bad signature');
    await expectStatus(hook(ok, { 'content-encoding': 'bogus' }), 415, 'encoding');
    await expectStatus(hook({ ...ok, pad: 'x'.repeat(70 * 1024) }), 413, 'too large');
    await expectStatus(hook(ok), 202, 'accepted');
    const closed = await startSaga();
    await expectStatus(api('DELETE', closed), 202, 'cancel');
    const closedId = decodeURIComponent(closed.split('/').pop()!);
    for (let i = 0; i < 300 && (await api('DELETE', closed)).status !== 409; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await expectStatus(hook({ ...ok, connectionId: closedId }), 409, 'saga closed');
  });

  test('service routes and wrong methods', async () => {
    await expectStatus(api('GET', '/healthz'), 200, 'healthz');
    await expectStatus(api('GET', '/readyz'), 200, 'readyz');
    await expectStatus(api('GET', '/openapi.json'), 200, 'openapi');
    const wrong = await expectStatus(api('PATCH', '/v1/connections/x'), 405, 'wrong method');
    assert.equal(wrong.headers.allow, 'GET, DELETE, HEAD, OPTIONS');
    await expectStatus(api('GET', '/nope'), 404, 'unknown route');
  });

  test('Temporal unreachable: 503 from every route that calls it', { timeout: 60_000 }, async () => {
    const connection = Connection.lazy({ address: await deadAddress() });
    after(() => connection.close());
    const app = createApp({
      client: new Client({ connection, namespace: 'default' }),
      taskQueue: 'q',
      namespace: 'default',
      apiToken: stack.apiToken,
      webhookSecret: stack.webhookSecret,
      logger: createLogger({ level: 'silent' }),
    });
    const server = createServer(recordingHandler(app, stack.answers)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const down = (method: string, path: string, body?: string, headers = auth()) =>
      expectStatus(send(base, method, path, { headers, body }), 503, `${method} ${path}`);
    const hook = stack.signWebhook({ connectionId: 'connect:a:b', externalAuthId: 's', authId: 'x' });
    await Promise.all([
      down('POST', '/v1/connections', JSON.stringify(input())),
      down('GET', '/v1/connections'),
      down('GET', '/v1/connections/x'),
      down('DELETE', '/v1/connections/x'),
      down('POST', '/v1/connections/x/auth-urls/slack'),
      down('POST', '/v1/webhooks/auth-completed', hook.body, hook.headers),
      down('GET', '/readyz'),
    ]);
  });
});

test('every code the document lists was sent by this file, or is driven elsewhere', () => {
  const sent = new Set(stack.answers.map((a) => `${a.method.toLowerCase()} ${a.status}`));
  const missing: string[] = [];
  for (const [template, item] of Object.entries(
    doc.paths as Record<string, Record<string, { responses?: object }>>,
  )) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const [method, operation] of Object.entries(item)) {
      if (method === 'parameters') continue;
      for (const code of Object.keys(operation.responses ?? {})) {
        const key = `${method} ${template} ${code}`;
        if (DRIVEN_ELSEWHERE[code] || DRIVEN_ELSEWHERE[key]) continue;
        const hit = stack.answers.some(
          (a) => a.method.toLowerCase() === method && a.status === Number(code) && pattern.test(a.path),
        );
        if (!hit) missing.push(key);
      }
    }
  }
  assert.ok(sent.size > 0);
  assert.deepEqual(missing, []);
});

test("every answer's body and headers match what the document says of its code", () => {
  // The answers above cover each route's success and error shapes: status objects (new, existing),
  // a list page, a reissue, a cancel, the webhook's 202, and the error bodies with their headers.
  const withBodies = stack.answers.filter((a) => a.body !== undefined && a.headers !== undefined);
  assert.ok(withBodies.length >= 40, `${withBodies.length} answers with a body recorded`);
  assert.deepEqual(
    stack.answers.flatMap((a) => mismatches(doc, a)),
    [],
  );
});
