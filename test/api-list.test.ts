/**
 * GET /v1/connections over real HTTP against the dev server, a worker and the emulator: newest first,
 * paging with the opaque token, each filter (values with quotes and backslashes), items without URLs,
 * and every bad parameter a 400 naming it. Visibility lags: every read polls with a deadline.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read loosely; their shape is checked with ajv */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DEFAULT_PAGE_SIZE, pageTokenKey, visibilityQuery } from '../api/list-query.js';
import type { ConnectionStatus } from '../common/messages.js';
import { connectionIdFor, SEARCH_ATTRIBUTES, WORKFLOW_TYPE } from '../common/messages.js';
import { initialMemo, MEMO_KEY } from '../common/status-view.js';
import { statusFromDescription } from '../api/saga-reads.js';
import { failureOf } from '../api/temporal-rpc.js';
import { pollUntil } from './helpers/poll.js';
import { startStack, type Stack } from './helpers/stack.js';
import type { WorkflowHandle } from '@temporalio/client';
import { uniqueId } from './helpers/temporal.js';

const stack: Stack = await startStack();
after(() => stack.close());
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema((await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as object, 'openapi.json');
const validateList = ajv.getSchema('openapi.json#/components/schemas/ConnectionList')!;

async function call(method: string, path: string, body?: unknown, headers = stack.headers()) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as any, text };
}

async function list(params: Record<string, string>) {
  return call('GET', `/v1/connections?${new URLSearchParams(params).toString()}`);
}

/** Polls the list until `ready` holds for its items; visibility lags a second behind. */
function listWhen(
  params: Record<string, string>,
  ready: (items: ConnectionStatus[]) => boolean,
  what: string,
): Promise<{ connections: ConnectionStatus[]; nextPageToken?: string }> {
  let last = '';
  return pollUntil(
    async () => {
      const res = await list(params);
      assert.equal(res.status, 200, res.text);
      last = res.text;
      return ready(res.body.connections) ? res.body : undefined;
    },
    { timeoutMs: 30_000, what },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; last seen: ${last}`);
  });
}

async function untilStep(connectionId: string, step: string): Promise<void> {
  await pollUntil(
    async () => {
      const res = await call('GET', `/v1/connections/${encodeURIComponent(connectionId)}`);
      return res.body.step === step;
    },
    { timeoutMs: 30_000, what: `${connectionId} at ${step}` },
  );
}

// One end user with four runs: a failed saga, a cancelled one, and two awaiting auth (one of them a
// new run of the cancelled connection). Quotes and a backslash test the visibility query's escaping.
const user = `${uniqueId('list')} "quoted" \\ 'single'`;
const start = async (solutionId: string) => {
  const res = await call('POST', '/v1/connections', {
    externalUserId: user,
    userName: 'Lister',
    solutionId,
    authSlots: ['slack'],
  });
  assert.equal(res.status, 201, res.text);
  return res.body as ConnectionStatus;
};
const failed = await start('no-such-solution');
await untilStep(failed.connectionId, 'failed');
const cancelled = await start('sol-1');
assert.equal(
  (await call('DELETE', `/v1/connections/${encodeURIComponent(cancelled.connectionId)}`)).status,
  202,
);
await untilStep(cancelled.connectionId, 'cancelled');
const second = await start('sol-2');
const again = await start('sol-1');
const newestFirst = [again.runId, second.runId, cancelled.runId, failed.runId];
const steps = ['awaiting_auth', 'awaiting_auth', 'cancelled', 'failed'];
const all = await listWhen(
  { externalUserId: user },
  (items) =>
    items.map((i) => `${i.runId}/${i.step}`).join() === newestFirst.map((r, i) => `${r}/${steps[i]}`).join(),
  'the four runs, newest first, at their steps',
);

describe('GET /v1/connections', () => {
  test('newest first, status objects without URLs, no next page', () => {
    assert.ok(validateList(all), JSON.stringify(validateList.errors));
    assert.equal(all.nextPageToken, undefined);
    for (const item of all.connections) {
      assert.equal(item.externalUserId, user);
      assert.ok(
        item.authSlots.every((slot) => slot.url === undefined),
        JSON.stringify(item),
      );
      assert.deepEqual(
        item.authSlots.map((s) => s.externalAuthId),
        ['slack'],
      );
    }
    assert.equal(all.connections[0]!.connectionId, again.connectionId);
    assert.equal(all.connections[0]!.solutionInstanceId, again.solutionInstanceId);
  });

  test('a completed slot carries its authId while the saga waits for the others', async () => {
    const res = await call('POST', '/v1/connections', {
      externalUserId: uniqueId('half-done'),
      userName: 'Half',
      solutionId: 'sol-1',
      authSlots: ['slack', 'github'],
    });
    assert.equal(res.status, 201, res.text);
    const saga = res.body as ConnectionStatus;
    const authId = stack.emulator.emulator.store.createAuthentication(saga.userId ?? '', 'slack');
    const hook = stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'slack', authId });
    const sent = await fetch(stack.webhookUrl, { method: 'POST', headers: hook.headers, body: hook.body });
    assert.equal(sent.status, 202, await sent.text());
    const { connections } = await listWhen(
      { externalUserId: saga.externalUserId },
      (items) => items[0]?.authSlots.some((slot) => slot.state === 'completed') === true,
      'the slack slot completed in the list',
    );
    assert.deepEqual(
      connections[0]!.authSlots.map((slot) => [slot.externalAuthId, slot.state, slot.authId]),
      [
        ['slack', 'completed', authId],
        ['github', 'pending', undefined],
      ],
    );
    assert.ok(validateList({ connections }), JSON.stringify(validateList.errors));
  });

  test('a run terminated once at its end step reads the same from GET and the list', async () => {
    // As an operator's terminate of a connected saga still removing strays, or of a cancelled one
    // whose handlers are finishing: nothing ran after the terminate to change the step.
    const who = uniqueId('ended-then-terminated');
    const ends = ['completed', 'cancelled', 'failed', 'timed_out'] as const;
    const runs = await Promise.all(
      ends.map(async (step) => {
        const body = { externalUserId: who, solutionId: `sol-${step}`, authSlots: ['slack'] };
        const handle = await stack.client.workflow.start(WORKFLOW_TYPE, {
          workflowId: connectionIdFor(who, body.solutionId),
          taskQueue: uniqueId('no-worker-tq'),
          args: [body],
          memo: { [MEMO_KEY]: { ...initialMemo(body), step, completedSlots: ['slack'] } },
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTES.externalUserId, value: who },
            { key: SEARCH_ATTRIBUTES.step, value: step },
          ],
        });
        await handle.terminate('an operator ends it');
        return { step, connectionId: handle.workflowId };
      }),
    );
    const { connections } = await listWhen(
      { externalUserId: who },
      (items) => items.length === ends.length,
      'the terminated runs listed',
    );
    for (const { step, connectionId } of runs) {
      const got = await call('GET', `/v1/connections/${encodeURIComponent(connectionId)}`);
      assert.equal(got.status, 200, got.text);
      const { error, ...withoutError } = got.body as ConnectionStatus;
      const item = connections.find((c) => c.connectionId === connectionId);
      assert.equal(got.body.step, step, got.text);
      // Only a failed or timed-out saga has an error, and a list item never shows one.
      if (step === 'failed' || step === 'timed_out') assert.equal(error?.type, 'Terminated', got.text);
      else assert.equal(error, undefined, got.text);
      assert.deepEqual(item, withoutError);
    }
  });

  test('a run ended mid-saga (terminated, with or without a reason, or timed out) reads the same from GET and the list', async () => {
    const who = uniqueId('ended-mid-saga');
    const ends = [
      { solutionId: 'sol-reason', end: (h: WorkflowHandle) => h.terminate('an operator ends it') },
      { solutionId: 'sol-no-reason', end: (h: WorkflowHandle) => h.terminate() },
      { solutionId: 'sol-timeout', timeout: '1s' },
    ];
    const ids = await Promise.all(
      ends.map(async ({ solutionId, end, timeout }) => {
        const body = { externalUserId: who, solutionId, authSlots: ['slack'] };
        const handle = await stack.client.workflow.start(WORKFLOW_TYPE, {
          workflowId: connectionIdFor(who, solutionId),
          taskQueue: uniqueId('no-worker-tq'),
          args: [body],
          memo: { [MEMO_KEY]: initialMemo(body) },
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTES.externalUserId, value: who },
            { key: SEARCH_ATTRIBUTES.step, value: 'creating_user' },
          ],
          ...(timeout ? { workflowExecutionTimeout: timeout } : {}),
        });
        await end?.(handle);
        return handle.workflowId;
      }),
    );
    const { connections } = await listWhen(
      { externalUserId: who },
      (items) => items.length === ends.length && items.every((i) => i.step === 'failed'),
      'the ended runs listed as failed',
    );
    const errors = [];
    for (const connectionId of ids) {
      const got = await call('GET', `/v1/connections/${encodeURIComponent(connectionId)}`);
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(
        connections.find((c) => c.connectionId === connectionId),
        got.body,
      );
      errors.push(got.body.error);
    }
    assert.equal(errors[0].message, 'an operator ends it');
    assert.deepEqual(
      errors.map((e) => e.type),
      ['Terminated', 'Terminated', 'WorkflowTimedOut'],
    );
  });

  test("a failed saga's memo keeps its error: the list, and GET without a worker, show the failure", async () => {
    const desc = await stack.client.workflow.getHandle(failed.connectionId).describe();
    const fromMemo = statusFromDescription(desc).error;
    const outcome = await stack.client.workflow
      .getHandle(failed.connectionId)
      .result()
      .then(
        () => undefined,
        (err: unknown) => failureOf(err),
      );
    assert.ok(outcome, 'the saga failed');
    assert.deepEqual(fromMemo, outcome);
    const got = await call('GET', `/v1/connections/${encodeURIComponent(failed.connectionId)}`);
    assert.deepEqual(got.body.error, outcome, got.text);
    assert.deepEqual(all.connections.find((c) => c.runId === failed.runId)?.error, outcome);

    // Still finishing its handlers when the last worker stopped: the run is open, the query goes
    // unanswered, and GET builds the status from the memo.
    const who = uniqueId('failed-open');
    const body = { externalUserId: who, solutionId: 'sol-1', authSlots: ['slack'] };
    const error = { type: 'SolutionNotFound', message: 'no such solution' };
    const handle = await stack.client.workflow.start(WORKFLOW_TYPE, {
      workflowId: connectionIdFor(who, body.solutionId),
      taskQueue: uniqueId('no-worker-tq'),
      args: [body],
      memo: { [MEMO_KEY]: { ...initialMemo(body), step: 'failed', error } },
    });
    try {
      const open = await call('GET', `/v1/connections/${encodeURIComponent(handle.workflowId)}`);
      assert.equal(open.status, 200, open.text);
      assert.equal(open.body.step, 'failed', open.text);
      assert.deepEqual(open.body.error, error, open.text);
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  test('pages follow the opaque token to the same list; the last page, even a full one, has none', async () => {
    // 1, 2 and 4 divide the four runs, so their last page is full: visibility still hands out a token there.
    for (const [pageSize, pageCount] of [
      ['1', 4],
      ['2', 2],
      ['3', 2],
      ['4', 1],
    ] as const) {
      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const res = await list({ externalUserId: user, pageSize, ...(pageToken ? { pageToken } : {}) });
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body.connections.length <= Number(pageSize));
        assert.ok(res.body.connections.length > 0, `an empty page ${pages + 1} at pageSize ${pageSize}`);
        assert.ok(validateList(res.body));
        seen.push(...res.body.connections.map((c: ConnectionStatus) => c.runId));
        pageToken = res.body.nextPageToken;
        if (pageToken) assert.match(pageToken, /^[A-Za-z0-9_-]+$/);
        pages += 1;
      } while (pageToken && pages < 10);
      assert.deepEqual(seen, newestFirst, `pageSize ${pageSize}`);
      assert.equal(pages, pageCount, `pageSize ${pageSize}`);
    }
  });

  test('a page token is refused with other filters than its own', async () => {
    const first = await list({ externalUserId: user, pageSize: '1' });
    const pageToken = first.body.nextPageToken as string;
    assert.ok(pageToken);
    const other = await list({ externalUserId: user, solutionId: 'sol-1', pageSize: '1', pageToken });
    assert.equal(other.status, 400, other.text);
    assert.deepEqual(
      other.body.error.details.map((d: { path: string }) => d.path),
      ['?pageToken'],
    );
    const tampered = `${pageToken.slice(0, -2)}${pageToken.endsWith('AA') ? 'AB' : 'AA'}`;
    assert.equal((await list({ externalUserId: user, pageToken: tampered })).status, 400);
  });

  test('a token a client makes up, with a check it can compute from the source, is a 400 at once', async () => {
    // The server answers a token it did not make with errors the client retries until its deadline,
    // so the API must refuse it itself: its check is keyed by secrets clients do not hold.
    const query = visibilityQuery({ externalUserId: user, pageSize: DEFAULT_PAGE_SIZE });
    const garbage = Buffer.from('{"StartTime":"not a time"}');
    const unkeyed = createHash('sha256').update(query).update('\0').update(garbage).digest();
    const forged = Buffer.concat([garbage, unkeyed.subarray(0, 12)]).toString('base64url');
    const res = await list({ externalUserId: user, pageToken: forged });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(
      res.body.error.details.map((d: { path: string }) => d.path),
      ['?pageToken'],
    );
  });

  test('replicas with the same secrets share a key; other secrets or none make another', () => {
    const key = pageTokenKey(['whsec_a', 'token']);
    assert.deepEqual(pageTokenKey(['whsec_a', 'token']), key);
    assert.notDeepEqual(pageTokenKey(['whsec_b', 'token']), key);
    assert.notDeepEqual(pageTokenKey([undefined, undefined]), pageTokenKey([undefined, undefined]));
  });

  test('each filter, alone and combined', async () => {
    const runIds = async (params: Record<string, string>) =>
      (await list({ externalUserId: user, ...params })).body.connections.map(
        (c: ConnectionStatus) => c.runId,
      );
    assert.deepEqual(await runIds({ solutionId: 'sol-1' }), [again.runId, cancelled.runId]);
    assert.deepEqual(await runIds({ step: 'awaiting_auth' }), [again.runId, second.runId]);
    assert.deepEqual(await runIds({ step: 'cancelled' }), [cancelled.runId]);
    assert.deepEqual(await runIds({ step: 'failed', solutionId: 'no-such-solution' }), [failed.runId]);
    assert.deepEqual(await runIds({ solutionId: 'sol-2', step: 'awaiting_auth' }), [second.runId]);
    assert.deepEqual(await runIds({ solutionId: 'sol-2', step: 'completed' }), []);
    // The escaping is exact: a near miss of the quoted id matches nothing.
    assert.deepEqual(await runIds({ externalUserId: user.replace('\\', '') }), []);
    const bySolution = await list({ solutionId: 'sol-2', step: 'awaiting_auth', pageSize: '100' });
    assert.ok(bySolution.body.connections.some((c: ConnectionStatus) => c.runId === second.runId));
    assert.ok(bySolution.body.connections.every((c: ConnectionStatus) => c.solutionId === 'sol-2'));
  });

  test('400 naming every bad parameter at once', async () => {
    const res = await call(
      'GET',
      `/v1/connections?step=nope&pageSize=0&pageToken=%21%21&externalUserId=&solutionId=a:b&color=red`,
    );
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.code, 'invalid_input');
    assert.deepEqual(res.body.error.details.map((d: { path: string }) => d.path).sort(), [
      '?color',
      '?externalUserId',
      '?pageSize',
      '?pageToken',
      '?solutionId',
      '?step',
    ]);
  });

  test('a page token too short to be one is listed beside a bad filter, though the filters bind it', async () => {
    const res = await call('GET', '/v1/connections?pageSize=0&pageToken=zz');
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.error.details.map((d: { path: string }) => d.path).sort(), [
      '?pageSize',
      '?pageToken',
    ]);
    // One shaped like a token cannot be judged against filters that are wrong: only they are listed.
    const first = await list({ externalUserId: user, pageSize: '1' });
    const shaped = await list({ externalUserId: user, pageSize: '0', pageToken: first.body.nextPageToken });
    assert.deepEqual(
      shaped.body.error.details.map((d: { path: string }) => d.path),
      ['?pageSize'],
    );
  });

  for (const [query, path] of [
    ['pageSize=101', '?pageSize'],
    ['pageSize=abc', '?pageSize'],
    ['pageSize=1.5', '?pageSize'],
    ['pageSize=-1', '?pageSize'],
    ['step=a&step=b', '?step'],
    [`externalUserId=${'u'.repeat(201)}`, '?externalUserId'],
    ['externalUserId=%00', '?externalUserId'],
    ['solutionId=%07', '?solutionId'],
    [`pageToken=${Buffer.from('not a token the server made').toString('base64url')}`, '?pageToken'],
  ] as const) {
    test(`400 for ?${query.slice(0, 40)}`, async () => {
      const res = await call('GET', `/v1/connections?${query}`);
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(
        res.body.error.details.map((d: { path: string }) => d.path),
        [path],
      );
    });
  }

  test('pageSize 100 and 1 are accepted; the bearer token is required', async () => {
    assert.equal((await list({ externalUserId: user, pageSize: '100' })).status, 200);
    assert.equal((await list({ externalUserId: user, pageSize: '1' })).status, 200);
    const res = await call('GET', '/v1/connections', undefined, { 'content-type': 'application/json' });
    assert.equal(res.status, 401);
  });
});
