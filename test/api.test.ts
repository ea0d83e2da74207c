/**
 * The /v1/connections endpoints over real HTTP against the dev server, a worker and the emulator:
 * every status code of docs/api.md's route table, input validation, access control, idempotent start.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read loosely here; their shapes are checked against the OpenAPI schemas with ajv */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startConnection } from '../api/saga-commands.js';
import { getConnectionStatus } from '../api/saga-reads.js';
import { startAndWaitForUrls } from '../api/saga-start.js';
import { UPDATE_TIMEOUT_MS } from '../api/temporal-rpc.js';
import type { ConnectionStatus, ConnectInput, WaitForAuthUrlsRequest } from '../common/messages.js';
import {
  connectionIdFor,
  WAIT_FOR_AUTH_URLS_UPDATE_ID,
  waitForAuthUrlsUpdate,
  WORKFLOW_TYPE,
} from '../common/messages.js';
import { initialMemo, MEMO_KEY } from '../common/status-view.js';
import { pollUntil } from './helpers/poll.js';
import { startStack, whileRemovalsTake, type Stack } from './helpers/stack.js';
import { REISSUE_LIMIT } from '../workflows/handlers.js';
import { uniqueId } from './helpers/temporal.js';

// Started at the top level, not in before(): devServer() ties the dev server's lifetime to the
// node:test context it is first called in, and a before() hook's context ends with the hook.
const stack: Stack = await startStack();
after(async () => {
  await stack.close();
});
const openApiDoc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as Record<string, unknown>;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(openApiDoc, 'openapi.json');
const validateStatus = ajv.getSchema('openapi.json#/components/schemas/ConnectionStatus')!;
const validateError = ajv.getSchema('openapi.json#/components/schemas/Error')!;

const enc = encodeURIComponent;

function input(overrides: Partial<ConnectInput> & Record<string, unknown> = {}): Record<string, unknown> {
  return {
    externalUserId: uniqueId('user'),
    userName: 'Ada Lovelace',
    solutionId: 'sol-2',
    authSlots: ['salesforce', 'slack'],
    ...overrides,
  };
}

async function call(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: headers ?? stack.headers(),
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.ok(validateError(res.body), `not the error shape: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, code);
}

function problemPaths(res: { body: any }): string[] {
  return (res.body.error.details as { path: string }[]).map((d) => d.path);
}

/** `real`, except that every workflow handle's `method` is what `replace` makes of the handle. */
function withHandleMethod(
  real: Client,
  method: 'describe' | 'query',
  replace: (handle: WorkflowHandle) => unknown,
): Client {
  const workflow = new Proxy(real.workflow, {
    get(target, key) {
      if (key !== 'getHandle') return Reflect.get(target, key, target) as unknown;
      return (...args: Parameters<typeof target.getHandle>) =>
        new Proxy(target.getHandle(...args), {
          get: (h, k) => (k === method ? replace(h) : (Reflect.get(h, k, h) as unknown)),
        });
    },
  });
  return new Proxy(real, {
    get: (target, key) => (key === 'workflow' ? workflow : (Reflect.get(target, key, target) as unknown)),
  });
}

/** `real`, counting the describes its workflow handles make (`counter.describes`). */
function countingDescribes(real: Client): { client: Client; counter: { describes: number } } {
  const counter = { describes: 0 };
  const client = withHandleMethod(real, 'describe', (h) => () => {
    counter.describes++;
    return h.describe();
  });
  return { client, counter };
}

async function statusOf(connectionId: string): Promise<ConnectionStatus> {
  const res = await call('GET', `/v1/connections/${enc(connectionId)}`);
  assert.equal(res.status, 200, res.text);
  return res.body as ConnectionStatus;
}

/** Polls GET until the saga is at `step`, and answers that status. */
function untilStep(
  connectionId: string,
  step: ConnectionStatus['step'],
  what: string,
): Promise<ConnectionStatus> {
  return pollUntil(
    async () => {
      const s = await statusOf(connectionId);
      return s.step === step ? s : undefined;
    },
    { timeoutMs: 30_000, what },
  );
}

/** Every instance create takes 3 s; armed for more than one, as an earlier test's saga may still create. */
function slowCreates(): void {
  stack.emulator.emulator.faults.add({
    operation: 'createSolutionInstance',
    kind: 'delay',
    delayMs: 3000,
    times: 20,
  });
}

/** The end user authorizes `slot`: its webhook is sent, then GET shows the slot completed with it. */
async function completeSlot(connectionId: string, userId: string, slot: string): Promise<void> {
  const authId = stack.emulator.emulator.store.createAuthentication(userId, slot);
  const signed = stack.signWebhook({ connectionId, externalAuthId: slot, authId });
  const hook = await fetch(stack.webhookUrl, { method: 'POST', headers: signed.headers, body: signed.body });
  assert.equal(hook.status, 202);
  await pollUntil(
    async () =>
      (await statusOf(connectionId)).authSlots.find((s) => s.externalAuthId === slot)?.authId === authId,
    { timeoutMs: 30_000, what: `the ${slot} slot to be completed` },
  );
}

describe('POST /v1/connections', () => {
  test('starts a saga: 201 with every auth URL; the same request again is 200 existing', async () => {
    const body = input();
    const first = await call('POST', '/v1/connections', body);
    assert.equal(first.status, 201, first.text);
    assert.ok(validateStatus(first.body), JSON.stringify(first.body));
    assert.equal(first.body.connectionId, `connect:${body.externalUserId}:sol-2`);
    assert.equal(first.body.step, 'awaiting_auth');
    assert.equal(first.body.existing, undefined);
    assert.deepEqual(
      first.body.authSlots.map((s: any) => [s.externalAuthId, s.state]),
      [
        ['salesforce', 'pending'],
        ['slack', 'pending'],
      ],
    );
    for (const slot of first.body.authSlots) {
      assert.match(
        slot.url,
        new RegExp(`^${stack.emulator.url}/external/auth/create/${stack.emulator.embeddedId}/`),
      );
    }
    assert.ok(first.body.solutionInstanceId && first.body.userId && first.body.deadline);

    const again = await call('POST', '/v1/connections?wait=0', body);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.existing, true);
    assert.equal(again.body.runId, first.body.runId);
    assert.ok(validateStatus(again.body));
    // ?wait=0 waits for nothing, but a saga that has its URLs hands them out, as GET does.
    assert.deepEqual(
      again.body.authSlots.map((s: { url?: string }) => s.url),
      first.body.authSlots.map((s: { url?: string }) => s.url),
    );
  });

  test('five concurrent identical starts give exactly one 201 and one run', async () => {
    const body = input();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => call('POST', '/v1/connections?wait=0', body)),
    );
    const codes = results.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 200, 200, 200, 201], JSON.stringify(results.map((r) => r.body)));
    assert.equal(new Set(results.map((r) => r.body.runId)).size, 1);
    assert.ok(results.filter((r) => r.status === 200).every((r) => r.body.existing === true));
  });

  test('POSTs before the URLs wait on the saga’s one update; a later POST shows the saga as it is now', async () => {
    const body = input();
    slowCreates();
    let connectionId: string;
    try {
      const first = await call('POST', '/v1/connections?wait=1', body);
      assert.equal(first.status, 201, first.text);
      assert.ok(
        first.body.authSlots.every((s: any) => s.url === undefined),
        'the wait passed first',
      );
      const second = await call('POST', '/v1/connections?wait=1', body);
      assert.equal(second.status, 200, second.text);
      const third = await call('POST', '/v1/connections?wait=30', body);
      assert.equal(third.status, 200, third.text);
      assert.ok(
        third.body.authSlots.every((s: any) => /\?code=/.test(s.url)),
        third.text,
      );
      connectionId = first.body.connectionId as string;
    } finally {
      stack.emulator.emulator.faults.clear();
    }
    const history = await stack.client.workflow.getHandle(connectionId).fetchHistory();
    const accepted = (history.events ?? []).flatMap((e) => {
      const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
      return id ? [id] : [];
    });
    // The three POSTs share one update; the third (not the starter) queries the status now.
    assert.deepEqual(accepted, [WAIT_FOR_AUTH_URLS_UPDATE_ID]);
    // A partner re-POSTing on every page view grows the history no further.
    const handle = stack.client.workflow.getHandle(connectionId);
    const { historyLength } = await handle.describe();
    for (let i = 0; i < 5; i++) assert.equal((await call('POST', '/v1/connections', body)).status, 200);
    assert.equal((await handle.describe()).historyLength, historyLength, 'POSTs of a running saga');

    // One slot completed since the shared update answered: a POST now says so.
    await completeSlot(connectionId, (await statusOf(connectionId)).userId as string, 'slack');
    const later = await call('POST', '/v1/connections?wait=5', body);
    assert.equal(later.status, 200, later.text);
    assert.equal(later.body.authSlots.find((s: any) => s.externalAuthId === 'slack').state, 'completed');
  });

  test('a saga that ended before its URLs, POSTed again: a new run, and the POST waits for its URLs', async () => {
    const body = input();
    slowCreates();
    let first: Awaited<ReturnType<typeof call>>;
    try {
      first = await call('POST', '/v1/connections?wait=1', body);
      assert.equal(first.status, 201, first.text);
      // Ends with the shared update still waiting in it.
      await stack.client.workflow.getHandle(first.body.connectionId).terminate('ended before its URLs');
    } finally {
      stack.emulator.emulator.faults.clear();
    }
    const again = await call('POST', '/v1/connections?wait=30', body);
    assert.equal(again.status, 201, again.text);
    assert.notEqual(again.body.runId, first.body.runId);
    assert.ok(
      again.body.authSlots.every((s: any) => /\?code=/.test(s.url)),
      again.text,
    );
  });

  test('sets the memo and the search attributes at start', async () => {
    const body = input({ authSlots: ['slack'], solutionId: 'sol-1' });
    const res = await call('POST', '/v1/connections?wait=0', body);
    assert.equal(res.status, 201);
    const desc = await stack.client.workflow.getHandle(res.body.connectionId).describe();
    const memo = desc.memo?.connect as Record<string, unknown>;
    assert.deepEqual(memo.authSlots, ['slack']);
    assert.equal(memo.externalUserId, body.externalUserId);
    assert.equal(desc.searchAttributes.TrayExternalUserId?.[0], body.externalUserId);
    assert.equal(desc.searchAttributes.TraySolutionId?.[0], 'sol-1');
    assert.ok(desc.searchAttributes.ConnectStep?.[0]);
  });

  test('lists every problem of an invalid input with its path', async () => {
    const res = await call('POST', '/v1/connections', {
      externalUserId: '',
      userName: 'x'.repeat(201),
      solutionId: 42,
      authSlots: ['a', 'b', 'a'],
      configValues: [{ externalId: 'c' }, { externalId: 'c', value: 1 }],
      authTimeout: '31d',
      extra: true,
    });
    assertError(res, 400, 'invalid_input');
    const paths = problemPaths(res);
    for (const p of [
      'externalUserId',
      'userName',
      'solutionId',
      'authSlots.2',
      'configValues.0.value',
      'authTimeout',
      '(body)',
    ]) {
      assert.ok(paths.includes(p), `${p} missing from ${JSON.stringify(res.body.error.details)}`);
    }
  });

  test('each missing field is named', async () => {
    const res = await call('POST', '/v1/connections', {});
    assertError(res, 400, 'invalid_input');
    assert.deepEqual(problemPaths(res).sort(), ['authSlots', 'externalUserId', 'solutionId', 'userName']);
  });

  const badInputs: [string, Record<string, unknown>, string][] = [
    ['empty authSlots', { authSlots: [] }, 'authSlots'],
    ['duplicate authSlots', { authSlots: ['slack', 'slack'] }, 'authSlots.1'],
    ['21 authSlots', { authSlots: Array.from({ length: 21 }, (_, i) => `s${i}`) }, 'authSlots'],
    ['authSlots not an array', { authSlots: 'slack' }, 'authSlots'],
    ['a slot that is not a string', { authSlots: [7] }, 'authSlots.0'],
    ['externalUserId a number', { externalUserId: 5 }, 'externalUserId'],
    ['empty solutionId', { solutionId: '' }, 'solutionId'],
    ['id of 201 characters', { externalUserId: 'u'.repeat(201) }, 'externalUserId'],
    ['empty instanceName', { instanceName: '' }, 'instanceName'],
    ['a NUL in externalUserId', { externalUserId: 'user\u0000x' }, 'externalUserId'],
    ['a newline in a slot', { authSlots: ['sl\nack'] }, 'authSlots.0'],
    ['authTimeout not a duration', { authTimeout: 'soon' }, 'authTimeout'],
    ['authTimeout under 1s', { authTimeout: '0s' }, 'authTimeout'],
    ['authTimeout over 30d', { authTimeout: '721h' }, 'authTimeout'],
    ['configValues not an array', { configValues: { a: 1 } }, 'configValues'],
    ['configValue without externalId', { configValues: [{ value: 1 }] }, 'configValues.0.externalId'],
    [
      'duplicate config slot',
      {
        configValues: [
          { externalId: 'a', value: 1 },
          { externalId: 'a', value: 2 },
        ],
      },
      'configValues.1.externalId',
    ],
  ];
  for (const [name, overrides, path] of badInputs) {
    test(`400 for ${name}`, async () => {
      const res = await call('POST', '/v1/connections?wait=0', input(overrides));
      assertError(res, 400, 'invalid_input');
      assert.ok(problemPaths(res).includes(path), JSON.stringify(res.body.error.details));
    });
  }

  test('accepts the boundaries: 20 slots, 200-character ids, authTimeout 1s and 30d', async () => {
    const slots = Array.from({ length: 20 }, (_, i) => `slot-${i}`);
    for (const body of [
      input({ authSlots: slots, authTimeout: '30d', solutionId: 's'.repeat(200) }),
      input({ externalUserId: `${uniqueId('u')}${'x'.repeat(180)}`, authTimeout: '1s', solutionId: 'sol-x' }),
    ]) {
      // Only validation and start are under test: the unknown solutions make these sagas fail fast.
      const res = await call('POST', '/v1/connections?wait=0', body);
      assert.equal(res.status, 201, res.text);
      await stack.client.workflow
        .getHandle(res.body.connectionId)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
  });

  test('400 for a body that is not JSON, or JSON that is not an object', async () => {
    assertError(await call('POST', '/v1/connections', '{"externalUserId":'), 400, 'invalid_json');
    const arr = await call('POST', '/v1/connections', '[1,2]');
    assertError(arr, 400, 'invalid_input');
  });

  test('a body that is not JSON, or nested too deep, is listed with a bad ?wait in one answer', async () => {
    const paths = (res: Awaited<ReturnType<typeof call>>) =>
      res.body.error.details.map((d: { path: string }) => d.path);
    const notJson = await call('POST', '/v1/connections?wait=99', '{"externalUserId":');
    assertError(notJson, 400, 'invalid_json');
    assert.deepEqual(paths(notJson), ['body', '?wait']);
    const deep = JSON.stringify(input()).replace(
      '"authSlots"',
      `"x":${'['.repeat(80)}${']'.repeat(80)},"authSlots"`,
    );
    const tooDeep = await call('POST', '/v1/connections?wait=99', deep);
    assertError(tooDeep, 400, 'invalid_input');
    assert.ok(paths(tooDeep).includes('?wait'), JSON.stringify(tooDeep.body));
  });

  test('reads the body as JSON whatever its Content-Type (curl -d sends form encoding)', async () => {
    const res = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ solutionId: 'sol-1', authSlots: ['slack'] }),
      {
        authorization: `Bearer ${stack.apiToken}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
    );
    assert.equal(res.status, 201, res.text);
  });

  test('413 for a body over 64 KiB', async () => {
    const res = await call('POST', '/v1/connections', input({ userName: 'x'.repeat(70 * 1024) }));
    assertError(res, 413, 'payload_too_large');
  });

  for (const wait of ['abc', '31', '-1', '1e3', '']) {
    test(`400 for ?wait=${wait}`, async () => {
      const res = await call('POST', `/v1/connections?wait=${wait}`, input());
      assertError(res, 400, 'invalid_input');
      assert.ok(problemPaths(res).includes('?wait'), JSON.stringify(res.body));
    });
  }

  test('400 naming ?wait when it is given twice', async () => {
    const res = await call('POST', '/v1/connections?wait=1&wait=2', input());
    assertError(res, 400, 'invalid_input');
    const wait = (res.body.error.details as { path: string; message: string }[]).find(
      (p) => p.path === '?wait',
    );
    assert.equal(wait?.message, 'wait must be given once, as a plain value');
  });

  // How soon it answers is checked without a worker, in api-access.test.ts.
  test('?wait=0 answers 201 with a valid status object', async () => {
    const res = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ solutionId: 'sol-1', authSlots: ['slack'] }),
    );
    assert.equal(res.status, 201);
    assert.ok(validateStatus(res.body));
  });
});

describe('bearer auth', () => {
  test('401 without a token, with a wrong one, or with another scheme', async () => {
    const paths: [string, string][] = [
      ['POST', '/v1/connections'],
      ['GET', '/v1/connections/x'],
      ['DELETE', '/v1/connections/x'],
      ['POST', '/v1/connections/x/auth-urls/slack'],
    ];
    for (const [method, path] of paths) {
      const none = await call(method, path, method === 'POST' ? input() : undefined, {
        'content-type': 'application/json',
      });
      assertError(none, 401, 'unauthorized');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    const wrong = await call('GET', '/v1/connections/x', undefined, {
      authorization: `Bearer ${stack.apiToken}x`,
    });
    assertError(wrong, 401, 'unauthorized');
    const shorter = await call('GET', '/v1/connections/x', undefined, { authorization: 'Bearer a' });
    assertError(shorter, 401, 'unauthorized');
    const basic = await call('GET', '/v1/connections/x', undefined, {
      authorization: `Basic ${stack.apiToken}`,
    });
    assertError(basic, 401, 'unauthorized');
  });

  test('the token is checked before the body', async () => {
    const res = await call('POST', '/v1/connections', 'not json', { authorization: 'Bearer nope' });
    assertError(res, 401, 'unauthorized');
  });
});

describe('GET /v1/connections/{id}', () => {
  test('404 for an unknown id', async () => {
    assertError(
      await call('GET', `/v1/connections/${enc(`connect:${uniqueId('nobody')}:sol-1`)}`),
      404,
      'not_found',
    );
  });

  test('a running saga: the status query', async () => {
    const post = await call('POST', '/v1/connections', input());
    const status = await statusOf(post.body.connectionId);
    assert.ok(validateStatus(status));
    assert.equal(status.step, 'awaiting_auth');
    assert.equal(status.runId, post.body.runId);
    assert.ok(status.authSlots.every((s) => s.url));
  });

  // "Within 3 s" (docs/bench.md) is measured by `npm run bench` (its workers-down probe), not here.
  test('with no worker: answers, built from the memo', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const { connectionId, runId } = await startConnection(stack.client, uniqueId('no-worker-tq'), body);
    const status = await statusOf(connectionId);
    assert.ok(validateStatus(status));
    assert.equal(status.step, 'ensuring_user');
    assert.equal(status.runId, runId);
    assert.deepEqual(status.authSlots, [{ externalAuthId: 'slack', state: 'pending' }]);
    await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
  });

  test('a POST that starts the saga answers from its update alone, without reading the saga back', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const connectionId = connectionIdFor(body.externalUserId, body.solutionId);
    const { client, counter } = countingDescribes(stack.client);
    try {
      const first = await startAndWaitForUrls(client, stack.taskQueue, body, connectionId, 30_000);
      assert.equal(first.created, true);
      assert.equal(first.status.step, 'awaiting_auth');
      assert.ok(validateStatus(first.status), JSON.stringify(first.status));
      // The saga's answer names the request that started it; the partner's status does not.
      assert.equal('startRequest' in first.status, false, JSON.stringify(first.status));
      assert.equal(counter.describes, 0, 'describes for the POST that started the saga');
      // Named only when asked: an API from before the request would pass the field on to partners.
      const saga = stack.client.workflow.getHandle(connectionId);
      const ask = (args: [WaitForAuthUrlsRequest]) =>
        saga.executeUpdate(waitForAuthUrlsUpdate, { args, updateId: randomUUID() });
      assert.equal((await ask([{}])).startRequest, undefined);
      assert.match((await ask([{ startRequest: true }])).startRequest ?? '', /^[0-9a-f-]{36}$/);
      // Another request finds it running: that one still reads the saga to tell.
      const again = await startAndWaitForUrls(client, stack.taskQueue, body, connectionId, 30_000);
      assert.equal(again.created, false);
      assert.equal(again.status.runId, first.status.runId);
      assert.equal('startRequest' in again.status, false, JSON.stringify(again.status));
      assert.ok(counter.describes > 0, 'describes for a POST of a running saga');
    } finally {
      await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });

  // A burst of POSTs reaches the end of its wait together; every extra describe then lands on the
  // server at once, in front of the webhooks' describes.
  test('a POST whose wait passes with no answer reads the saga once, and GET without a query once', async () => {
    const queue = uniqueId('no-worker-tq');
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const connectionId = connectionIdFor(body.externalUserId, body.solutionId);
    const real = stack.client;
    const { client, counter } = countingDescribes(real);
    try {
      const { status, created } = await startAndWaitForUrls(client, queue, body, connectionId, 300);
      assert.ok(validateStatus(status));
      assert.equal(created, true);
      assert.equal(status.step, 'ensuring_user');
      assert.deepEqual(status.authSlots, [{ externalAuthId: 'slack', state: 'pending' }]);
      assert.equal(counter.describes, 1, 'describes after the wait passed');
      counter.describes = 0;
      const again = await getConnectionStatus(client, connectionId, 0);
      assert.equal(again.runId, status.runId);
      assert.equal(counter.describes, 1, 'describes for a status without the query');
    } finally {
      await real.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });

  test('a POST whose own run closed before it looked answers that run, not a newer one', async () => {
    const queue = uniqueId('no-worker-tq');
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const connectionId = connectionIdFor(body.externalUserId, body.solutionId);
    const real = stack.client;
    let describes = 0;
    let own: string | undefined;
    let newer: string | undefined;
    // As a DELETE and a second POST racing this one: its run closes before its first look at it,
    // and another POST starts a new run before its second.
    const client = withHandleMethod(real, 'describe', (h) => async () => {
      describes += 1;
      if (describes === 1) {
        own = (await real.workflow.getHandle(connectionId).describe()).runId;
        await real.workflow.getHandle(connectionId).terminate('the DELETE');
      } else if (describes === 2) newer = (await startConnection(real, queue, body)).runId;
      return h.describe();
    });
    try {
      const { status, created } = await startAndWaitForUrls(client, queue, body, connectionId, 300);
      assert.equal(created, true);
      assert.ok(own, 'the hook saw the run this POST started');
      assert.equal(status.runId, own, `answered run ${status.runId}; the newer one is ${newer}`);
    } finally {
      await real.workflow
        .getHandle(connectionId)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
  });

  test('with no worker: a run that closes while its query goes unanswered is reported closed', async () => {
    const queue = uniqueId('no-worker-tq');
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const { connectionId } = await startConnection(stack.client, queue, body);
    // A second saga nobody serves: a query to it is never answered and runs into GET's deadline.
    const silentBody = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const silent = await startConnection(stack.client, queue, silentBody);
    const real = stack.client;
    // The same client, except that the status query terminates the run and then goes unanswered: the
    // run closes between GET's first describe and the end of its query.
    const client = withHandleMethod(
      real,
      'query',
      () =>
        async (...q: Parameters<WorkflowHandle['query']>) => {
          await real.workflow.getHandle(connectionId).terminate('closed during the query');
          return real.workflow.getHandle(silent.connectionId).query(...q);
        },
    );
    try {
      const status = await getConnectionStatus(client, connectionId);
      assert.ok(validateStatus(status));
      assert.equal(status.step, 'failed', JSON.stringify(status));
    } finally {
      await real.workflow.getHandle(silent.connectionId).terminate('test cleanup');
    }
  });

  test('a failed saga: step failed with the ApplicationFailure type, in the POST’s own answer too', async () => {
    // An unknown solution is a permanent Tray error: the saga fails without waiting for auths.
    const res = await call(
      'POST',
      '/v1/connections',
      input({ solutionId: uniqueId('no-such-solution'), authSlots: ['slack'] }),
    );
    assert.equal(res.status, 201, res.text);
    // Not `compensating` without a cause: the POST waits for the end it is moments from.
    assert.ok(validateStatus(res.body), res.text);
    assert.equal(res.body.step, 'failed', res.text);
    assert.equal(res.body.error?.type, 'TrayNotFound', res.text);
    assert.equal(res.body.authSlots[0].url, undefined, res.text);
    const status = await untilStep(res.body.connectionId, 'failed', 'the saga to fail');
    assert.ok(validateStatus(status));
    assert.ok(status.error?.type.startsWith('Tray'), JSON.stringify(status.error));
    assert.ok(status.error?.message);
  });

  test('a saga whose auths time out: step timed_out, error type AuthTimeout', async () => {
    const res = await call(
      'POST',
      '/v1/connections',
      input({ authSlots: ['slack'], solutionId: 'sol-1', authTimeout: '1s' }),
    );
    assert.equal(res.status, 201, res.text);
    const status = await untilStep(res.body.connectionId, 'timed_out', 'the saga to time out');
    assert.equal(status.error?.type, 'AuthTimeout');
    const desc = await stack.client.workflow.getHandle(res.body.connectionId).describe();
    assert.equal(desc.status.name, 'FAILED');
    // DELETE says how it ended in GET's words, not Temporal's FAILED.
    const del = await call('DELETE', `/v1/connections/${enc(res.body.connectionId)}`);
    assertError(del, 409, 'connection_closed');
    assert.match(del.body.error.message, /is closed \(timed_out\)$/);
  });
});

describe('DELETE /v1/connections/{id}', () => {
  test('202 cancels and compensation removes the instance; then 409; a new POST starts a new run', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] });
    const post = await call('POST', '/v1/connections', body);
    assert.equal(post.status, 201);
    const instanceId = post.body.solutionInstanceId as string;
    assert.ok(stack.emulator.emulator.store.instances.has(instanceId));

    const del = await call('DELETE', `/v1/connections/${enc(post.body.connectionId)}`);
    assert.equal(del.status, 202, del.text);
    assert.equal(del.body.connectionId, post.body.connectionId);

    const status = await untilStep(post.body.connectionId, 'cancelled', 'the saga to be cancelled');
    assert.ok(validateStatus(status));
    assert.equal(stack.emulator.emulator.store.instances.has(instanceId), false);

    assertError(
      await call('DELETE', `/v1/connections/${enc(post.body.connectionId)}`),
      409,
      'connection_closed',
    );
    assertError(
      await call('POST', `/v1/connections/${enc(post.body.connectionId)}/auth-urls/slack`),
      409,
      'connection_closed',
    );

    const again = await call('POST', '/v1/connections?wait=0', body);
    assert.equal(again.status, 201, again.text);
    assert.notEqual(again.body.runId, post.body.runId);
  });

  test('a POST while the saga compensates shows it compensating, not the URLs it first answered', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] });
    const post = await call('POST', '/v1/connections', body);
    assert.equal(post.status, 201, post.text);
    assert.match(post.body.authSlots[0].url, /\?code=/);
    await whileRemovalsTake(stack, 4000, async () => {
      assert.equal((await call('DELETE', `/v1/connections/${enc(post.body.connectionId)}`)).status, 202);
      await untilStep(post.body.connectionId, 'compensating', 'the saga to compensate');
      const again = await call('POST', '/v1/connections?wait=1', body);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.existing, true);
      assert.equal(again.body.step, 'compensating', again.text);
      assert.equal(again.body.authSlots[0].url, undefined, again.text);
    });
    await untilStep(post.body.connectionId, 'cancelled', 'the saga to be cancelled');
  });

  test('DELETE, then POST at once: the POST waits out the compensation and answers 201 with a new saga', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] });
    const post = await call('POST', '/v1/connections', body);
    assert.equal(post.status, 201, post.text);
    await whileRemovalsTake(stack, 1500, async () => {
      assert.equal((await call('DELETE', `/v1/connections/${enc(post.body.connectionId)}`)).status, 202);
      const again = await call('POST', '/v1/connections', body);
      assert.equal(again.status, 201, again.text);
      assert.equal(again.body.existing, undefined, again.text);
      assert.notEqual(again.body.runId, post.body.runId);
      assert.equal(again.body.step, 'awaiting_auth', again.text);
      assert.notEqual(again.body.solutionInstanceId, post.body.solutionInstanceId);
      assert.match(again.body.authSlots[0].url, /\?code=/);
      assert.equal((await statusOf(post.body.connectionId)).runId, again.body.runId);
    });
  });

  test('a POST while a timed-out saga compensates waits for it to end and starts a new saga', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'], authTimeout: '1s' });
    const post = await call('POST', '/v1/connections', body);
    assert.equal(post.status, 201, post.text);
    // Long enough for a loaded machine's polls to see the step, short enough for the POST's 10 s wait.
    await whileRemovalsTake(stack, 4000, async () => {
      await untilStep(post.body.connectionId, 'compensating', 'the timed-out saga to compensate');
      const again = await call('POST', '/v1/connections', { ...body, authTimeout: '1h' });
      assert.equal(again.status, 201, again.text);
      assert.notEqual(again.body.runId, post.body.runId);
      assert.match(again.body.authSlots[0].url, /\?code=/);
    });
  });

  test('409 for a saga that has completed and is only tidying up', async () => {
    // Still running, as after a retried create while it removes strays: a cancel could undo nothing.
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const connectionId = connectionIdFor(body.externalUserId, body.solutionId);
    const handle = await stack.client.workflow.start(WORKFLOW_TYPE, {
      workflowId: connectionId,
      taskQueue: uniqueId('no-worker-tq'),
      args: [body],
      memo: { [MEMO_KEY]: { ...initialMemo(body), step: 'completed' } },
    });
    try {
      const refused = await call('DELETE', `/v1/connections/${enc(connectionId)}`);
      assertError(refused, 409, 'connection_closed');
      // Not "closed": the run is open, only done with the connection.
      assert.match(refused.body.error.message, /is completed; it only tidies up/);
      const events = (await handle.fetchHistory()).events ?? [];
      assert.ok(
        !events.some((e) => e.workflowExecutionCancelRequestedEventAttributes),
        'no cancel was requested',
      );
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  test('a cancel that lands after the saga completed: POST and webhooks see it completed, at once', async () => {
    // A lost create response makes the create retried, so the completed saga tidies for about 2
    // minutes; the cancel below is what a DELETE leaves when it read the step just before `completed`.
    stack.emulator.emulator.faults.add({
      operation: 'createSolutionInstance',
      kind: 'dropResponseAfterCommit',
      times: 1,
    });
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] });
    let post;
    try {
      post = await call('POST', '/v1/connections', body);
    } finally {
      stack.emulator.emulator.faults.clear();
    }
    assert.equal(post.status, 201, post.text);
    const { connectionId, userId } = post.body;
    await completeSlot(connectionId, userId, 'slack');
    const done = await untilStep(connectionId, 'completed', 'the saga to complete');
    const handle = stack.client.workflow.getHandle(connectionId);
    try {
      assert.equal((await handle.describe()).status.name, 'RUNNING', 'the saga should still be tidying');
      await handle.cancel();

      const started = Date.now();
      const again = await call('POST', '/v1/connections?wait=10', body);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.existing, true);
      assert.equal(again.body.step, 'completed', again.text);
      assert.equal(again.body.runId, post.body.runId);
      assert.ok(Date.now() - started < 5000, `the POST took ${Date.now() - started} ms`);

      const attachedId = done.authSlots[0]!.authId!;
      const redelivery = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: attachedId });
      const same = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: redelivery.headers,
        body: redelivery.body,
      });
      assert.equal(same.status, 202, await same.text());
      const other = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: uniqueId('auth') });
      const differs = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: other.headers,
        body: other.body,
      });
      const answer = (await differs.json()) as any;
      assert.equal(differs.status, 409, JSON.stringify(answer));
      assert.equal(answer.error.code, 'past_attach', JSON.stringify(answer));
    } finally {
      await handle.terminate('test cleanup').catch(() => undefined);
    }
  });

  test('404 for an unknown id', async () => {
    assertError(
      await call('DELETE', `/v1/connections/${enc(`connect:${uniqueId('nobody')}:sol-1`)}`),
      404,
      'not_found',
    );
  });
});

describe('POST /v1/connections/{id}/auth-urls/{externalAuthId}', () => {
  test('200 with a fresh URL; 422 unknown slot; 404 unknown saga; 409 completed slot', async () => {
    const post = await call('POST', '/v1/connections', input());
    const id = enc(post.body.connectionId);
    const oldUrl = post.body.authSlots.find((s: any) => s.externalAuthId === 'slack').url as string;

    const res = await call('POST', `/v1/connections/${id}/auth-urls/slack`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.externalAuthId, 'slack');
    assert.match(res.body.url, /\?code=/);
    assert.notEqual(res.body.url, oldUrl);

    assertError(await call('POST', `/v1/connections/${id}/auth-urls/github`), 422, 'unknown_slot');
    assertError(
      await call('POST', `/v1/connections/${enc(`connect:${uniqueId('nobody')}:sol-1`)}/auth-urls/slack`),
      404,
      'not_found',
    );

    // Complete one of the two slots through the webhook; reissuing it is then a conflict.
    await completeSlot(post.body.connectionId, post.body.userId, 'slack');
    assertError(await call('POST', `/v1/connections/${id}/auth-urls/slack`), 409, 'slot_completed');
  });

  test(
    `409 reissue_limit once the saga has answered ${REISSUE_LIMIT} reissues`,
    { timeout: 120_000 },
    async () => {
      const post = await call('POST', '/v1/connections', input());
      const path = `/v1/connections/${enc(post.body.connectionId)}/auth-urls/slack`;
      // A partner page asking for a fresh URL on every load; concurrent ones may share a code.
      for (let done = 0; done < REISSUE_LIMIT; done += 5) {
        const answers = await Promise.all([1, 2, 3, 4, 5].map(() => call('POST', path)));
        for (const res of answers) assert.equal(res.status, 200, res.text);
      }
      const refused = await call('POST', path);
      assertError(refused, 409, 'reissue_limit');
      assert.match(refused.body.error.message, /start a new connection/);
    },
  );

  // Temporal takes 10 updates in flight per workflow; past that the server refuses the update.
  test(
    '503 temporal_busy naming the burst, with Retry-After, past 10 reissues in flight',
    { timeout: 60_000 },
    async () => {
      const post = await call(
        'POST',
        '/v1/connections',
        input({ solutionId: 'sol-1', authSlots: ['slack'] }),
      );
      assert.equal(post.status, 201, post.text);
      const path = `/v1/connections/${enc(post.body.connectionId)}/auth-urls/slack`;
      // Tray slower than the reissue's deadline: none of the 10 admitted frees its place in time.
      stack.emulator.emulator.faults.add({
        operation: 'generateAuthorizationCode',
        kind: 'delay',
        delayMs: 20_000,
        times: 10,
      });
      try {
        const answers = await Promise.all(Array.from({ length: 12 }, () => call('POST', path)));
        const refused = answers.filter((res) => /at once/.test(res.body?.error?.message ?? ''));
        assert.equal(refused.length, 2, JSON.stringify(answers.map((res) => res.body)));
        for (const res of refused) {
          assertError(res, 503, 'temporal_busy');
          assert.match(res.body.error.message, /too many reissues of this connection at once/i);
          assert.equal(res.headers.get('retry-after'), '1');
        }
        for (const res of answers.filter((a) => !refused.includes(a)))
          assertError(res, 503, 'saga_unresponsive');
      } finally {
        stack.emulator.emulator.faults.clear();
        await stack.client.workflow.getHandle(post.body.connectionId).terminate('test cleanup');
      }
    },
  );

  test('409 while the saga is not yet awaiting auths', async () => {
    stack.emulator.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'delay', delayMs: 4000 });
    try {
      const post = await call(
        'POST',
        '/v1/connections?wait=0',
        input({ solutionId: 'sol-1', authSlots: ['slack'] }),
      );
      assert.equal(post.status, 201);
      await untilStep(post.body.connectionId, 'creating_instance', 'the saga to be creating the instance');
      assertError(
        await call('POST', `/v1/connections/${enc(post.body.connectionId)}/auth-urls/slack`),
        409,
        'not_awaiting_auth',
      );
    } finally {
      stack.emulator.emulator.faults.clear();
    }
  });

  test('no worker: 409 from the memo, at once past attach, after the update timed out before the URLs', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const attaching = `connect:${uniqueId('attaching')}:sol-1`;
    await stack.client.workflow.start(WORKFLOW_TYPE, {
      workflowId: attaching,
      taskQueue: uniqueId('no-worker-tq'),
      args: [body],
      memo: { [MEMO_KEY]: { ...initialMemo(body), step: 'attaching_auths', completedSlots: ['slack'] } },
    });
    const { connectionId } = await startConnection(stack.client, uniqueId('no-worker-tq'), body);
    try {
      const startedAt = Date.now();
      const past = await call('POST', `/v1/connections/${enc(attaching)}/auth-urls/slack`);
      assertError(past, 409, 'slot_completed');
      assert.ok(Date.now() - startedAt < UPDATE_TIMEOUT_MS, 'answered without waiting for the update');
      // Still at its first step, which only a worker could move on: the saga would answer 409.
      const early = await call('POST', `/v1/connections/${enc(connectionId)}/auth-urls/slack`);
      assertError(early, 409, 'not_awaiting_auth');
      assert.match(early.body.error.message, /step ensuring_user/);
    } finally {
      await stack.client.workflow.getHandle(attaching).terminate('test cleanup');
      await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });

  // No worker: only the cancel request tells the saga is ending; the update would wait for nobody.
  test('409 at once after a DELETE, before the saga shows it compensating', async () => {
    const body = input({ solutionId: 'sol-1', authSlots: ['slack'] }) as unknown as ConnectInput;
    const { connectionId } = await startConnection(stack.client, uniqueId('no-worker-tq'), body);
    try {
      assert.equal((await call('DELETE', `/v1/connections/${enc(connectionId)}`)).status, 202);
      const res = await call('POST', `/v1/connections/${enc(connectionId)}/auth-urls/slack`);
      assertError(res, 409, 'not_awaiting_auth');
      assert.match(res.body.error.message, /cancel requested/);
    } finally {
      await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });
});

describe('other routes', () => {
  test('healthz, readyz and openapi.json', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
    const doc = await call('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const path of [
      '/v1/connections',
      '/v1/connections/{id}',
      '/v1/connections/{id}/auth-urls/{externalAuthId}',
      '/v1/webhooks/auth-completed',
    ]) {
      assert.ok(doc.body.paths[path], `${path} missing`);
    }
    assert.deepEqual(doc.body.components.schemas.ConnectInput.required.sort(), [
      'authSlots',
      'externalUserId',
      'solutionId',
      'userName',
    ]);
    assert.equal(doc.body.components.schemas.ConnectInput.properties.authSlots.maxItems, 20);
    // Every component compiles (so every $ref resolves) and the input schema agrees with the API.
    for (const name of Object.keys(doc.body.components.schemas)) {
      assert.ok(ajv.getSchema(`openapi.json#/components/schemas/${name}`), `${name} does not compile`);
    }
    const validateInput = ajv.getSchema('openapi.json#/components/schemas/ConnectInput')!;
    assert.equal(
      validateInput(input({ configValues: [{ externalId: 'c', value: { nested: [1, null] } }] })),
      true,
    );
    assert.equal(validateInput(input({ authSlots: ['a', 'a'] })), false);
    assert.equal(validateInput(input({ authTimeout: 'soon' })), false);
  });

  test('unknown routes: 404 in the error shape', async () => {
    assertError(await call('GET', '/nope'), 404, 'not_found');
    assertError(await call('GET', '/v1/connections/x/y/z'), 404, 'not_found');
  });

  test('a wrong method on a known path: 405 in the error shape, with Allow', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/v1/connections/x', 'GET, DELETE, HEAD, OPTIONS'],
      ['PATCH', '/v1/connections', 'POST, GET, HEAD, OPTIONS'],
      ['GET', '/v1/connections/x/auth-urls/slack', 'POST, OPTIONS'],
      ['GET', '/v1/webhooks/auth-completed', 'POST, OPTIONS'],
      ['DELETE', '/healthz', 'GET, HEAD, OPTIONS'],
      ['POST', '/openapi.json', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(method, path);
      assertError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      // The same list OPTIONS gives.
      const options = await call('OPTIONS', path);
      assert.equal(options.headers.get('allow'), allow, `OPTIONS ${path}`);
    }
  });
});

describe('odd paths and ids', () => {
  test('a path that is not valid percent-encoding is a 400 in the error shape, not a 500', async () => {
    for (const id of ['%FF', '%', 'connect%3A%E0%A4%A']) {
      assertError(await call('GET', `/v1/connections/${id}`), 400, 'invalid_input');
      assertError(await call('DELETE', `/v1/connections/${id}`), 400, 'invalid_input');
      assertError(await call('POST', `/v1/connections/x/auth-urls/${id}`), 400, 'invalid_input');
    }
  });

  test('a connection id of two 200-character ids is found by GET, DELETE and the reissue', async () => {
    const externalUserId = `u${uniqueId('long')}`.padEnd(200, 'u');
    const solutionId = 's'.repeat(200);
    const connectionId = `connect:${externalUserId}:${solutionId}`;
    // No worker serves this queue's sagas for a solution the emulator lacks, so start it directly.
    await startConnection(stack.client, uniqueId('idle-tq'), {
      externalUserId,
      userName: 'Ada',
      solutionId,
      authSlots: ['slack'],
    });
    const get = await call('GET', `/v1/connections/${enc(connectionId)}`);
    assert.equal(get.status, 200, get.text);
    assert.equal(get.body.connectionId, connectionId);
    const unknownSlot = await call('POST', `/v1/connections/${enc(connectionId)}/auth-urls/nope`);
    assertError(unknownSlot, 422, 'unknown_slot');
    assert.equal((await call('DELETE', `/v1/connections/${enc(connectionId)}`)).status, 202);
  });

  test("ids that would spell another pair's connection id: a ':' in solutionId is refused", async () => {
    const user = uniqueId('colon');
    const first = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ externalUserId: `${user}:sol-x`, solutionId: 'sol-1', authSlots: ['slack'] }),
    );
    assert.equal(first.status, 201, first.text);
    // Same workflow id `connect:{user}:sol-x:sol-1`, but another user and another solution.
    const second = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ externalUserId: user, solutionId: 'sol-x:sol-1', authSlots: ['slack'] }),
    );
    assertError(second, 400, 'invalid_input');
    assert.deepEqual(problemPaths(second), ['solutionId']);
    assert.equal(second.text.includes('url'), false);
  });
});

describe('odd bodies', () => {
  test('a deeply nested config value is a 400 naming the problem, not a 500 from a stack overflow', async () => {
    const depth = 20_000;
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const body = JSON.stringify(input({ configValues: [] })).replace(
      '"configValues":[]',
      `"configValues":[{"externalId":"c","value":${deep}}]`,
    );
    const res = await call('POST', '/v1/connections?wait=0', body);
    assertError(res, 400, 'invalid_input');
    assert.match(JSON.stringify(res.body.error.details), /nest/);
  });

  test('a config value nested a few levels deep is still accepted', async () => {
    const value = { a: [{ b: { c: [1, 2, { d: 'e' }] } }] };
    const res = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ solutionId: 'sol-x', configValues: [{ externalId: 'c', value }] }),
    );
    assert.equal(res.status, 201, res.text);
  });
});

describe('ids near the limits', () => {
  test('200-character ids whose connection id exceeds Temporal’s 1000-byte workflow id: 400, not 500', async () => {
    const res = await call(
      'POST',
      '/v1/connections?wait=0',
      input({ externalUserId: 'é'.repeat(200), solutionId: '中'.repeat(200), authSlots: ['slack'] }),
    );
    assertError(res, 400, 'invalid_input');
    assert.deepEqual(problemPaths(res), ['externalUserId']);
    assert.match(res.body.error.details[0].message, /1000 bytes/);
  });

  test('a connection id over 1000 bytes in the path: 404 (no saga can have it), not 500', async () => {
    const id = enc(`connect:${'é'.repeat(200)}:${'中'.repeat(200)}`);
    assertError(await call('GET', `/v1/connections/${id}`), 404, 'not_found');
    assertError(await call('DELETE', `/v1/connections/${id}`), 404, 'not_found');
    assertError(await call('POST', `/v1/connections/${id}/auth-urls/slack`), 404, 'not_found');
    const signed = stack.signWebhook({
      connectionId: `connect:${'é'.repeat(200)}:${'中'.repeat(200)}`,
      externalAuthId: 'slack',
      authId: 'a',
    });
    const hook = await fetch(`${stack.apiUrl}/v1/webhooks/auth-completed`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    assert.equal(hook.status, 404);
  });
});
