/**
 * POST /v1/webhooks/auth-completed over real HTTP: signature checks, body checks, the saga lookups
 * (by connectionId and by solutionInstanceId), the 404/409/422 decisions, redelivery, workers down,
 * and the whole happy path from POST /v1/connections to `completed` through signed webhooks.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read loosely in these tests */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, test } from 'node:test';
import {
  Client,
  ServiceError,
  type ConnectionLike,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { once } from 'node:events';
import { connect as connectSocket } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { ApiError, errorHandler } from '../api/errors.js';
import { signalAuthCompleted, startConnection } from '../api/saga-commands.js';
import { statusFromDescription } from '../api/saga-reads.js';
import {
  connectionIdFor,
  WORKFLOW_TYPE,
  type ConnectInput,
  type ConnectionStatus,
} from '../common/messages.js';
import { initialMemo, MEMO_KEY } from '../common/status-view.js';
import { randomWebhookSecret } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { signWebhook, startStack, type Stack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

// At the top level, not in before(): see test/helpers/stack.ts.
const stack: Stack = await startStack();
after(async () => {
  await stack.close();
});

const enc = encodeURIComponent;
const store = stack.emulator.emulator.store;

async function send(signed: { headers: Record<string, string>; body: string }) {
  const res = await fetch(stack.webhookUrl, { method: 'POST', headers: signed.headers, body: signed.body });
  return { status: res.status, body: (await res.json()) as any };
}

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
}

/** A POST written byte for byte over a socket, its header values as UTF-8; answers status and JSON body. */
async function rawPost(
  url: string,
  headers: Record<string, string>,
  body: string,
  headerBytes: 'utf8' | 'latin1' = 'utf8',
) {
  const { hostname, port, pathname } = new URL(url);
  const socket = connectSocket(Number(port), hostname);
  await once(socket, 'connect');
  const head = Object.entries({ ...headers, host: `${hostname}:${port}`, connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const bytes = Buffer.from(body, 'utf8');
  // Written, not ended: the API took a request whose client half-closed as abandoned.
  socket.write(
    Buffer.concat([
      Buffer.from(`POST ${pathname} HTTP/1.1\r\n${head}content-length: ${bytes.length}\r\n\r\n`, headerBytes),
      bytes,
    ]),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as any };
}

async function getStatus(connectionId: string): Promise<ConnectionStatus> {
  const res = await fetch(`${stack.apiUrl}/v1/connections/${enc(connectionId)}`, {
    headers: stack.headers(),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as ConnectionStatus;
}

/** Starts a saga through the API and waits for its auth URLs. */
async function connect(solutionId = 'sol-2', authSlots = ['salesforce', 'slack']): Promise<ConnectionStatus> {
  const res = await fetch(`${stack.apiUrl}/v1/connections`, {
    method: 'POST',
    headers: stack.headers(),
    body: JSON.stringify({
      externalUserId: uniqueId('user'),
      userName: 'Grace Hopper',
      solutionId,
      authSlots,
    }),
  });
  const body = (await res.json()) as ConnectionStatus;
  assert.equal(res.status, 201, JSON.stringify(body));
  assert.equal(body.step, 'awaiting_auth');
  return body;
}

function waitForStatus(
  connectionId: string,
  what: string,
  ok: (s: ConnectionStatus) => boolean,
  timeoutMs = 30_000,
) {
  return pollUntil(
    async () => {
      const s = await getStatus(connectionId);
      return ok(s) ? s : undefined;
    },
    { timeoutMs, what },
  );
}

/** The signal events in a run's history: those a worker handled and those still waiting for one. */
async function signalEvents(handle: WorkflowHandle) {
  return ((await handle.fetchHistory()).events ?? []).filter(
    (e) => e.workflowExecutionSignaledEventAttributes,
  );
}

const slot = (s: ConnectionStatus, id: string) => s.authSlots.find((a) => a.externalAuthId === id);

describe('signature', () => {
  const body = { connectionId: 'connect:x:sol-1', externalAuthId: 'slack', authId: 'a-1' };

  test('401 for a tampered body, a tampered signature, or another secret', async () => {
    const signed = stack.signWebhook(body);
    assertError(await send({ ...signed, body: signed.body.replace('a-1', 'a-2') }), 401, 'invalid_signature');
    const sig = signed.headers['webhook-signature']!;
    const flipped = `${sig.slice(0, -3)}${sig.at(-3) === 'A' ? 'B' : 'A'}${sig.slice(-2)}`;
    assertError(
      await send({ ...signed, headers: { ...signed.headers, 'webhook-signature': flipped } }),
      401,
      'invalid_signature',
    );
    assertError(await send(signWebhook(randomWebhookSecret(), body)), 401, 'invalid_signature');
    // The id is part of what is signed: replaying the signature under another id fails.
    assertError(
      await send({ ...signed, headers: { ...signed.headers, 'webhook-id': 'msg_other' } }),
      401,
      'invalid_signature',
    );
  });

  test('401 for a stale (over 5 minutes old) or future timestamp', async () => {
    const stale = stack.signWebhook(body, { timestamp: new Date(Date.now() - 6 * 60_000) });
    const res = await send(stale);
    assertError(res, 401, 'invalid_signature');
    assert.match(res.body.error.message, /old/);
    assertError(
      await send(stack.signWebhook(body, { timestamp: new Date(Date.now() + 6 * 60_000) })),
      401,
      'invalid_signature',
    );
  });

  test('an id that is not ASCII verifies: the sender signed it as UTF-8, which Node reads as Latin-1', async () => {
    for (const id of ['msg_é', 'msg_😀', `msg_${'ü'.repeat(150)}`]) {
      const signed = stack.signWebhook(body, { id });
      // As a sender puts it on the wire, the id's UTF-8 bytes: Node's and fetch's clients refuse or
      // re-encode such header values, so the request is written by hand.
      const res = await rawPost(stack.webhookUrl, signed.headers, signed.body);
      // Signed: past the signature to the look-up, which finds no such saga.
      assertError(res, 404, 'not_found');
    }
    // A sender that writes its id as Latin-1 bytes (Python's http.client) signed that text: its
    // bytes, C3 A9 here, also read as UTF-8 ("é"), and the reading it signed still verifies.
    for (const id of ['msg_Ã©', 'msg_é']) {
      const signed = stack.signWebhook(body, { id });
      assertError(await rawPost(stack.webhookUrl, signed.headers, signed.body, 'latin1'), 404, 'not_found');
    }
  });

  for (const missing of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    test(`401 without the ${missing} header`, async () => {
      const signed = stack.signWebhook(body);
      const headers = { ...signed.headers };
      delete headers[missing];
      assertError(await send({ ...signed, headers }), 401, 'invalid_signature');
    });
  }

  test("Svix's names for the headers (svix-id, svix-timestamp, svix-signature) are read as the webhook- ones", async () => {
    const signed = stack.signWebhook(body);
    const svix = Object.fromEntries(
      Object.entries(signed.headers).map(([name, value]) => [name.replace(/^webhook-/, 'svix-'), value]),
    );
    // Signed: past the signature to the look-up, which finds no such saga.
    assertError(await send({ ...signed, headers: svix }), 404, 'not_found');
    assertError(
      await send({
        ...signed,
        headers: { ...svix, 'svix-signature': signed.headers['webhook-signature']!.replace('v1,', 'v1,AA') },
      }),
      401,
      'invalid_signature',
    );
  });

  test('the signature is checked before the body: an unsigned non-JSON body is a 401', async () => {
    const res = await fetch(stack.webhookUrl, { method: 'POST', body: 'not json' });
    assert.equal(res.status, 401);
  });
});

describe('body', () => {
  test('400 for a correctly signed body that is not JSON', async () => {
    assertError(await send(stack.signWebhook('this is not json')), 400, 'invalid_json');
  });

  test('400 naming each missing field', async () => {
    const res = await send(stack.signWebhook({}));
    assertError(res, 400, 'invalid_input');
    const details = (res.body.error.details as { path: string; message: string }[]).sort((a, b) =>
      a.path.localeCompare(b.path),
    );
    assert.deepEqual(details, [
      { path: 'authId', message: 'authId is required' },
      { path: 'connectionId', message: 'one of connectionId or solutionInstanceId is required' },
      { path: 'externalAuthId', message: 'externalAuthId is required' },
    ]);
  });

  test('400 in plain words for a wrongly typed field or a body that is not an object', async () => {
    const typed = await send(
      stack.signWebhook({ connectionId: 'connect:a:b', externalAuthId: 'slack', authId: 5 }),
    );
    assertError(typed, 400, 'invalid_input');
    assert.deepEqual(typed.body.error.details, [{ path: 'authId', message: 'authId must be a string' }]);
    const list = await send(stack.signWebhook([]));
    assertError(list, 400, 'invalid_input');
    const messages = (list.body.error.details as { message: string }[]).map((d) => d.message);
    assert.ok(messages.includes('the webhook body must be a JSON object'), JSON.stringify(messages));
  });

  for (const [name, payload] of [
    ['externalAuthId', { connectionId: 'connect:a:b', authId: 'x' }],
    ['authId', { connectionId: 'connect:a:b', externalAuthId: 'slack' }],
    ['connectionId or solutionInstanceId', { externalAuthId: 'slack', authId: 'x' }],
    ['a wrongly typed authId', { connectionId: 'connect:a:b', externalAuthId: 'slack', authId: 5 }],
  ] as const) {
    test(`400 for a body without ${name}`, async () => {
      assertError(await send(stack.signWebhook(payload)), 400, 'invalid_input');
    });
  }

  test('413 for a body over 64 KiB', async () => {
    const res = await send(
      stack.signWebhook({ connectionId: 'c', externalAuthId: 's', authId: 'x'.repeat(70_000) }),
    );
    assertError(res, 413, 'payload_too_large');
  });
});

describe('decisions', () => {
  test('404 for an unknown connectionId or solutionInstanceId', async () => {
    assertError(
      await send(
        stack.signWebhook({
          connectionId: `connect:${uniqueId('nobody')}:sol-1`,
          externalAuthId: 'slack',
          authId: 'a',
        }),
      ),
      404,
      'not_found',
    );
    assertError(
      await send(
        stack.signWebhook({
          solutionInstanceId: uniqueId('no-instance'),
          externalAuthId: 'slack',
          authId: 'a',
        }),
      ),
      404,
      'not_found',
    );
  });

  test('422 for a slot the saga does not have', async () => {
    const saga = await connect('sol-1', ['slack']);
    const res = await send(
      stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'github', authId: 'a' }),
    );
    assertError(res, 422, 'unknown_slot');
  });

  test('by solutionInstanceId: 202 and the slot is completed', async () => {
    const saga = await connect();
    const authId = store.createAuthentication(saga.userId!, 'salesforce');
    const res = await send(
      stack.signWebhook({
        solutionInstanceId: saga.solutionInstanceId,
        externalAuthId: 'salesforce',
        authId,
      }),
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.connectionId, saga.connectionId);
    await waitForStatus(
      saga.connectionId,
      'the salesforce slot to complete',
      (s) => slot(s, 'salesforce')?.authId === authId,
    );
  });

  test('by solutionInstanceId of a saga this API answered: one describe, no visibility query', async () => {
    const saga = await connect();
    const list = stack.client.workflow.list.bind(stack.client.workflow);
    let listed = 0;
    stack.client.workflow.list = (...args) => {
      listed++;
      return list(...args);
    };
    try {
      const authId = store.createAuthentication(saga.userId!, 'slack');
      const res = await send(
        stack.signWebhook({ solutionInstanceId: saga.solutionInstanceId, externalAuthId: 'slack', authId }),
      );
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.connectionId, saga.connectionId);
      assert.equal(listed, 0, 'the instance was routed from the POST answer, not looked up in visibility');
    } finally {
      stack.client.workflow.list = list;
    }
  });

  test('a redelivery (same webhook-id) is 202 again and changes nothing', async () => {
    const saga = await connect();
    const authId = store.createAuthentication(saga.userId!, 'slack');
    const signed = stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'slack', authId });
    const first = await send(signed);
    assert.equal(first.status, 202);
    assert.equal(first.body.eventId, signed.headers['webhook-id']);
    const before = await waitForStatus(
      saga.connectionId,
      'the slack slot to complete',
      (s) => slot(s, 'slack')?.authId === authId,
    );

    const again = await send(signed);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    // A second delivery under the same id but another authId (as a buggy relay might send) is ignored too.
    const replay = stack.signWebhook(
      {
        connectionId: saga.connectionId,
        externalAuthId: 'slack',
        authId: store.createAuthentication(saga.userId!, 'slack'),
      },
      { id: signed.headers['webhook-id'] },
    );
    assert.equal((await send(replay)).status, 202);
    // Let the saga process both signals (a fresh event after them proves they were handled).
    const marker = stack.signWebhook({
      connectionId: saga.connectionId,
      externalAuthId: 'salesforce',
      authId: 'foreign-auth',
    });
    assert.equal((await send(marker)).status, 202);
    const afterStatus = await waitForStatus(saga.connectionId, 'the marker to be processed', (s) =>
      Boolean(slot(s, 'salesforce')?.lastError),
    );
    assert.equal(slot(afterStatus, 'slack')?.authId, authId);
    assert.equal(afterStatus.step, 'awaiting_auth');
    assert.equal(before.runId, afterStatus.runId);
  });

  test('a foreign authId is accepted (202) and rejected by the saga: the slot stays pending with lastError', async () => {
    const saga = await connect('sol-1', ['slack']);
    const other = await connect('sol-1', ['slack']);
    const foreign = store.createAuthentication(other.userId!, 'slack');
    const res = await send(
      stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'slack', authId: foreign }),
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const status = await waitForStatus(saga.connectionId, 'the foreign authId to be rejected', (s) =>
      Boolean(slot(s, 'slack')?.lastError),
    );
    assert.equal(slot(status, 'slack')?.state, 'pending');
    assert.equal(status.step, 'awaiting_auth');
    // Also where no worker answers: the status built from the saga's memo, and its list item.
    const lastError = slot(status, 'slack')?.lastError;
    const desc = await stack.client.workflow.getHandle(saga.connectionId).describe();
    assert.equal(slot(statusFromDescription(desc), 'slack')?.lastError, lastError);
    const listed = await pollUntil(
      async () => {
        const res = await fetch(
          `${stack.apiUrl}/v1/connections?externalUserId=${enc(saga.externalUserId)}&solutionId=sol-1`,
          { headers: stack.headers() },
        );
        const item = ((await res.json()) as { connections: ConnectionStatus[] }).connections.find(
          (c) => c.connectionId === saga.connectionId,
        );
        return item && slot(item, 'slack')?.lastError;
      },
      { timeoutMs: 15_000, what: 'the list item to show the lastError' },
    );
    assert.equal(listed, lastError);
  });
});

test('an authId refused on arrival (already found foreign) gives the slot a lastError the memo shows too', async () => {
  const saga = await connect('sol-1', ['salesforce', 'slack']);
  const other = await connect('sol-1', ['slack']);
  const foreign = store.createAuthentication(other.userId!, 'slack');
  const own = store.createAuthentication(saga.userId!, 'salesforce');
  for (const [externalAuthId, authId] of [
    ['salesforce', own],
    ['slack', foreign],
  ] as const) {
    const res = await send(stack.signWebhook({ connectionId: saga.connectionId, externalAuthId, authId }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
  await waitForStatus(saga.connectionId, 'slack rejected', (s) => Boolean(slot(s, 'slack')?.lastError));
  // Known foreign now, relayed for the other slot: refused without a check.
  const res = await send(
    stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'salesforce', authId: foreign }),
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const live = await waitForStatus(saga.connectionId, 'salesforce refused', (s) =>
    Boolean(slot(s, 'salesforce')?.lastError),
  );
  const fromMemo = await pollUntil(
    async () => {
      const desc = await stack.client.workflow.getHandle(saga.connectionId).describe();
      return slot(statusFromDescription(desc), 'salesforce')?.lastError;
    },
    { timeoutMs: 15_000, what: 'the memo to show salesforce’s lastError' },
  );
  assert.equal(fromMemo, slot(live, 'salesforce')?.lastError);
});

describe('happy path', () => {
  test('POST, two signed webhooks, attached authIds redelivered 202 and others 409 while attaching and once completed', async () => {
    const saga = await connect();
    assert.ok(saga.authSlots.every((s) => s.url));
    // Hold the attach for a moment so the saga is observably past the await step.
    stack.emulator.emulator.faults.add({ operation: 'updateSolutionInstance', kind: 'delay', delayMs: 3000 });
    try {
      const authIds: Record<string, string> = {};
      for (const externalAuthId of ['salesforce', 'slack']) {
        authIds[externalAuthId] = store.createAuthentication(saga.userId!, externalAuthId);
        const res = await send(
          stack.signWebhook({
            connectionId: saga.connectionId,
            externalAuthId,
            authId: authIds[externalAuthId],
          }),
        );
        assert.equal(res.status, 202, JSON.stringify(res.body));
      }
      await waitForStatus(
        saga.connectionId,
        'the saga to attach',
        (s) => s.step === 'attaching_auths',
        10_000,
      );
      // A partner retrying after a lost 202 (a new webhook id, the attached authId): 202 again.
      const late = await send(
        stack.signWebhook({
          connectionId: saga.connectionId,
          externalAuthId: 'slack',
          authId: authIds.slack!,
        }),
      );
      assert.equal(late.status, 202, JSON.stringify(late.body));
      const other = await send(
        stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'slack', authId: 'auth-other' }),
      );
      assertError(other, 409, 'past_attach');
      assert.match(
        other.body.error.message,
        /no longer accepts auths \((attaching_auths|waiting_before_enable|enabling)\): the authId differs from the one attached for slot "slack"$/,
      );
      // A slot the saga never had stays 422, past attach as before it.
      assertError(
        await send(
          stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'github', authId: 'a' }),
        ),
        422,
        'unknown_slot',
      );

      const done = await waitForStatus(
        saga.connectionId,
        'the saga to complete',
        (s) => s.step === 'completed',
        20_000,
      );
      assert.equal(done.solutionInstanceId, saga.solutionInstanceId);
      assert.deepEqual(
        done.authSlots.map((s) => [s.externalAuthId, s.state, s.authId]),
        [
          ['salesforce', 'completed', authIds.salesforce],
          ['slack', 'completed', authIds.slack],
        ],
      );
      const desc = await stack.client.workflow.getHandle(saga.connectionId).describe();
      assert.equal(desc.status.name, 'COMPLETED');
      const instance = store.instances.get(saga.solutionInstanceId!) as unknown as Record<string, unknown>;
      assert.equal(instance.enabled, true);

      // Redeliveries of what was attached stay 202 once completed, by either id; anything else is 409.
      const redelivered = await send(
        stack.signWebhook({
          connectionId: saga.connectionId,
          externalAuthId: 'slack',
          authId: authIds.slack!,
        }),
      );
      assert.equal(redelivered.status, 202, JSON.stringify(redelivered.body));
      const bySid = await send(
        stack.signWebhook({
          solutionInstanceId: saga.solutionInstanceId,
          externalAuthId: 'salesforce',
          authId: authIds.salesforce!,
        }),
      );
      assert.equal(bySid.status, 202, JSON.stringify(bySid.body));
      const closed = await send(
        stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'slack', authId: 'auth-other' }),
      );
      assertError(closed, 409, 'connection_closed');
      const differs = `Connection ${JSON.stringify(saga.connectionId)} no longer accepts auths (completed): the authId differs from the one attached for slot "slack"`;
      assert.equal(closed.body.error.message, differs);
      const swapped = await send(
        stack.signWebhook({
          solutionInstanceId: saga.solutionInstanceId,
          externalAuthId: 'slack',
          authId: authIds.salesforce!,
        }),
      );
      assertError(swapped, 409, 'connection_closed');
      // Never an authId in the answer: neither the one sent nor the one attached.
      assert.equal(swapped.body.error.message, differs);
      assertError(
        await send(
          stack.signWebhook({ connectionId: saga.connectionId, externalAuthId: 'github', authId: 'a' }),
        ),
        422,
        'unknown_slot',
      );
    } finally {
      stack.emulator.emulator.faults.clear();
    }
  });
});

/** A new user's two-slot input for a saga started past the API. */
const twoSlotInput = (userName: string): ConnectInput => ({
  externalUserId: uniqueId('user'),
  userName,
  solutionId: 'sol-2',
  authSlots: ['salesforce', 'slack'],
});

describe('workers down', () => {
  test('202 for a running saga no worker serves; 422 and 404 still decided from describe', async () => {
    const input = twoSlotInput('No Worker');
    const { connectionId } = await startConnection(stack.client, uniqueId('no-worker-tq'), input);
    try {
      const res = await send(stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'a-1' }));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assertError(
        await send(stack.signWebhook({ connectionId, externalAuthId: 'github', authId: 'a-1' })),
        422,
        'unknown_slot',
      );
      // The signal waits in the history for a worker.
      const signals = await signalEvents(stack.client.workflow.getHandle(connectionId));
      assert.equal(signals.length, 1);
      assert.equal(signals[0]!.workflowExecutionSignaledEventAttributes!.signalName, 'authCompleted');
    } finally {
      await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });

  test('409 connection_closed while the saga compensates, before it ever attached', async () => {
    const input = twoSlotInput('Ending');
    const connectionId = connectionIdFor(input.externalUserId, input.solutionId);
    const handle = await stack.client.workflow.start(WORKFLOW_TYPE, {
      workflowId: connectionId,
      taskQueue: uniqueId('no-worker-tq'),
      args: [input],
      memo: { [MEMO_KEY]: { ...initialMemo(input), step: 'compensating' } },
    });
    try {
      const res = await send(stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'a-1' }));
      assertError(res, 409, 'connection_closed');
      assert.match(res.body.error.message, /compensating/);
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  test('409 connection_closed once a cancel was requested, before the saga shows it compensating', async () => {
    const input = twoSlotInput('Cancelled');
    const { connectionId } = await startConnection(stack.client, uniqueId('no-worker-tq'), input);
    const handle = stack.client.workflow.getHandle(connectionId);
    try {
      const del = await fetch(`${stack.apiUrl}/v1/connections/${enc(connectionId)}`, {
        method: 'DELETE',
        headers: stack.headers(),
      });
      assert.equal(del.status, 202);
      const res = await send(stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'a-1' }));
      assertError(res, 409, 'connection_closed');
      assert.match(res.body.error.message, /cancel requested/);
      assert.equal((await signalEvents(handle)).length, 0);
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  test('a delivery replayed many times is one signal in the history; another webhook-id is another', async () => {
    const input = twoSlotInput('Replayed');
    // No worker: every signal the server takes stays in the history, and nothing else is added to it.
    const { connectionId } = await startConnection(stack.client, uniqueId('no-worker-tq'), input);
    const signalsInHistory = async () =>
      (await signalEvents(stack.client.workflow.getHandle(connectionId))).length;
    try {
      const signed = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'a-1' });
      const answers = await Promise.all(Array.from({ length: 20 }, () => send(signed)));
      assert.deepEqual(
        answers.map((a) => a.status),
        answers.map(() => 202),
      );
      // The same webhook-id over another body, as a buggy relay might send it, is the same delivery.
      const sameId = stack.signWebhook(
        { connectionId, externalAuthId: 'salesforce', authId: 'a-2' },
        { id: signed.headers['webhook-id'] },
      );
      assert.equal((await send(sameId)).status, 202);
      assert.equal(await signalsInHistory(), 1);

      const other = stack.signWebhook({ connectionId, externalAuthId: 'salesforce', authId: 'a-2' });
      assert.equal((await send(other)).status, 202);
      assert.equal(await signalsInHistory(), 2);
    } finally {
      await stack.client.workflow.getHandle(connectionId).terminate('test cleanup');
    }
  });
});

describe('signals the server refuses', () => {
  /** A client whose server refuses every signal with `error`. */
  function refusingClient(error: Error) {
    const connection = {
      workflowService: {
        signalWorkflowExecution: () => Promise.reject(error),
      },
      withDeadline: <R>(_deadline: unknown, fn: () => Promise<R>) => fn(),
      withMetadata: <R>(_metadata: unknown, fn: () => Promise<R>) => fn(),
      withAbortSignal: <R>(_signal: unknown, fn: () => Promise<R>) => fn(),
      ensureConnected: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    return new Client({ connection: connection as unknown as ConnectionLike });
  }
  const grpcError = (code: number, details: string) =>
    Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  const desc = { workflowId: 'connect:u:s', runId: 'run-1' } as WorkflowExecutionDescription;
  const payload = { externalAuthId: 'slack', authId: 'a-1', eventId: 'msg_1' };

  test("the server's cap on signals per run is a 409 naming the connection, not a 500", async () => {
    const client = refusingClient(grpcError(3, 'exceeded workflow execution limit for signal events'));
    await assert.rejects(signalAuthCompleted(client, desc, payload), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 409);
      assert.equal(err.code, 'too_many_signals');
      assert.match(err.message, /connect:u:s.*limit for signal events/);
      return true;
    });
  });

  for (const busy of [grpcError(8, 'namespace rate limit exceeded'), grpcError(1, 'Call cancelled')])
    test(`the server's "${busy.details}" is a 503 temporal_busy with Retry-After, not a 500`, async () => {
      const app = express();
      app.post('/signal', async () => {
        await signalAuthCompleted(refusingClient(busy), desc, payload);
      });
      // As the SDK's own calls (describe, list, query) throw it: wrapped, with the gRPC error as cause.
      app.get('/describe', () => {
        throw new ServiceError('Failed to describe workflow', { cause: busy });
      });
      app.use(errorHandler(pino({ enabled: false })));
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        for (const [method, path] of [
          ['POST', '/signal'],
          ['GET', '/describe'],
        ]) {
          const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
          assert.equal(res.status, 503, path);
          assert.equal(res.headers.get('retry-after'), '1');
          assert.equal(((await res.json()) as any).error.code, 'temporal_busy');
        }
      } finally {
        server.close();
      }
    });

  for (const refusal of [grpcError(16, 'invalid API key'), grpcError(7, 'Request unauthorized')])
    test(`the server refusing the API's credentials ("${refusal.details}") is a 503 that names the settings in the log, not a 500`, async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
      const app = express();
      app.get('/describe', () => {
        throw new ServiceError('Failed to describe workflow', { cause: refusal });
      });
      app.use(errorHandler(logger));
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}/describe`);
        assert.equal(res.status, 503);
        const { error } = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(error.code, 'temporal_unavailable');
        // What a partner's engineer can act on: not a network fault, and not the server's own words.
        assert.match(error.message, /^Temporal refused this service's credentials/);
        assert.ok(!error.message.includes(refusal.details), error.message);
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /refuses the API's credentials.*TEMPORAL_API_KEY/);
      } finally {
        server.close();
      }
    });

  test('a run that is gone is a 409 connection_closed', async () => {
    const client = refusingClient(grpcError(5, 'workflow execution already completed'));
    await assert.rejects(signalAuthCompleted(client, desc, payload), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 409);
      assert.equal(err.code, 'connection_closed');
      return true;
    });
  });
});

/** POST /v1/connections of `body`, which starts a run: its status. */
async function startRun(body: Record<string, unknown>): Promise<ConnectionStatus> {
  const res = await fetch(`${stack.apiUrl}/v1/connections`, {
    method: 'POST',
    headers: stack.headers(),
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as ConnectionStatus;
}

/**
 * The connection's next run, started by `post` once visibility lists `earlier` completed: only then
 * does a redelivery's look back find `earlier` among the closed runs.
 */
async function nextRun(
  earlier: ConnectionStatus,
  post: () => Promise<ConnectionStatus>,
): Promise<ConnectionStatus> {
  await pollUntil(
    async () => {
      const query = `WorkflowId = "${earlier.connectionId}" AND ExecutionStatus = "Completed"`;
      for await (const info of stack.client.workflow.list({ query })) return info;
      return undefined;
    },
    { timeoutMs: 30_000, what: 'the completed run in visibility' },
  );
  const next = await post();
  assert.notEqual(next.runId, earlier.runId);
  return next;
}

/** `delivery` sent again under its own webhook-id, as a sender does whose 202 was lost. */
const redeliver = (delivery: { headers: Record<string, string>; body: string }) =>
  send(stack.signWebhook(JSON.parse(delivery.body), { id: delivery.headers['webhook-id'] }));

describe('odd bodies and lookups', () => {
  test("by connectionId only: a late redelivery of an earlier run's delivery is that run's, not the newest run's", async () => {
    const body = {
      externalUserId: uniqueId('user'),
      userName: 'Ada',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    };
    const post = () => startRun(body);
    const first = await post();
    const authId = store.createAuthentication(first.userId!, 'slack');
    const delivery = stack.signWebhook({ connectionId: first.connectionId, externalAuthId: 'slack', authId });
    assert.equal((await send(delivery)).status, 202);
    await waitForStatus(first.connectionId, 'the first run to complete', (s) => s.step === 'completed');
    const second = await nextRun(first, post);

    // The sender lost the first 202 and delivers the same message again, after the new run started.
    const again = await redeliver(delivery);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    const newest = stack.client.workflow.getHandle(second.connectionId, second.runId);
    const signals = async () => (await signalEvents(newest)).length;
    assert.equal(await signals(), 0, 'the redelivery did not reach the new run');
    assert.equal(slot(await getStatus(second.connectionId), 'slack')?.state, 'pending');

    // The end user picking that same auth again in the new run's dialog is a new delivery: the new run's.
    // The runs before the new one were listed for the redelivery; they are not listed again.
    const workflows = stack.client.workflow;
    const list = workflows.list.bind(workflows);
    let lists = 0;
    workflows.list = (options) => {
      lists += 1;
      return list(options);
    };
    try {
      assert.equal(
        (
          await send(
            stack.signWebhook({ connectionId: second.connectionId, externalAuthId: 'slack', authId }),
          )
        ).status,
        202,
      );
    } finally {
      workflows.list = list;
    }
    assert.equal(await signals(), 1);
    assert.equal(lists, 0, 'the earlier runs were listed again');
  });

  test("by connectionId only: a late redelivery of an authId the earlier run replaced is still that run's", async () => {
    const body = {
      externalUserId: uniqueId('user'),
      userName: 'Ada',
      solutionId: 'sol-2',
      authSlots: ['salesforce', 'slack'],
    };
    const post = () => startRun(body);
    const first = await post();
    const connectionId = first.connectionId;
    // The end user authorizes slack twice before the other slot: the second authId replaces the first.
    const replaced = store.createAuthentication(first.userId!, 'slack');
    const delivery = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: replaced });
    assert.equal((await send(delivery)).status, 202);
    await waitForStatus(connectionId, 'the first slack authId', (s) => slot(s, 'slack')?.authId === replaced);
    const kept = store.createAuthentication(first.userId!, 'slack');
    const second = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: kept });
    assert.equal((await send(second)).status, 202);
    await waitForStatus(connectionId, 'the second slack authId', (s) => slot(s, 'slack')?.authId === kept);
    const other = store.createAuthentication(first.userId!, 'salesforce');
    const third = stack.signWebhook({ connectionId, externalAuthId: 'salesforce', authId: other });
    assert.equal((await send(third)).status, 202);
    await waitForStatus(connectionId, 'the first run to complete', (s) => s.step === 'completed');
    const next = await nextRun(first, post);

    // The sender lost the first delivery's 202 and sends it again, after the new run started.
    const again = await redeliver(delivery);
    // The earlier run's answer: it completed with another authId for the slot.
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const newest = stack.client.workflow.getHandle(connectionId, next.runId);
    assert.equal((await signalEvents(newest)).length, 0, 'the redelivery did not reach the new run');
    assert.equal(slot(await getStatus(connectionId), 'slack')?.state, 'pending');
  });

  test('by the solutionInstanceId of an ended run (with its connectionId or not): 409, even while a newer run waits', async () => {
    const body = {
      externalUserId: uniqueId('user'),
      userName: 'Ada',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    };
    const post = (b: unknown) =>
      fetch(`${stack.apiUrl}/v1/connections`, {
        method: 'POST',
        headers: stack.headers(),
        body: JSON.stringify(b),
      });
    const first = (await (await post(body)).json()) as ConnectionStatus;
    assert.equal(first.step, 'awaiting_auth');
    const cancel = await fetch(`${stack.apiUrl}/v1/connections/${enc(first.connectionId)}`, {
      method: 'DELETE',
      headers: stack.headers(),
    });
    assert.equal(cancel.status, 202);
    await waitForStatus(first.connectionId, 'the first run to be cancelled', (s) => s.step === 'cancelled');
    const second = (await (await post(body)).json()) as ConnectionStatus;
    assert.notEqual(second.runId, first.runId);
    assert.notEqual(second.solutionInstanceId, first.solutionInstanceId);
    // Visibility is eventually consistent: wait until the ended run is findable by its instance id.
    await pollUntil(
      async () => {
        for await (const info of stack.client.workflow.list({
          query: `TraySolutionInstanceId = "${first.solutionInstanceId}" AND ExecutionStatus = "Canceled"`,
        }))
          return info;
        return undefined;
      },
      { timeoutMs: 30_000, what: 'the cancelled run in visibility' },
    );
    const authId = store.createAuthentication(first.userId!, 'slack');
    const res = await send(
      stack.signWebhook({ solutionInstanceId: first.solutionInstanceId, externalAuthId: 'slack', authId }),
    );
    assertError(res, 409, 'connection_closed');
    // Cancelled before any attach: how it ended is the whole reason, in GET's words.
    assert.equal(
      res.body.error.message,
      `Connection ${JSON.stringify(first.connectionId)} is closed (cancelled)`,
    );
    // Naming the connection too, the instance id still picks the run it belongs to, not the newest.
    const both = await send(
      stack.signWebhook({
        connectionId: first.connectionId,
        solutionInstanceId: first.solutionInstanceId,
        externalAuthId: 'slack',
        authId,
      }),
    );
    assertError(both, 409, 'connection_closed');
    const now = await getStatus(second.connectionId);
    assert.equal(slot(now, 'slack')?.state, 'pending');
  });

  test('a solutionInstanceId with a NUL character is a prompt 400 naming the field', async () => {
    // Not a visibility query that Temporal cannot answer (a 503 after seconds): ids never hold control characters.
    const res = await send(
      stack.signWebhook({ solutionInstanceId: 'a\u0000b', externalAuthId: 'slack', authId: 'x' }),
    );
    assertError(res, 400, 'invalid_input');
    const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
    assert.ok(paths.includes('solutionInstanceId'), JSON.stringify(res.body));
  });

  test('a connectionId of two 200-character ids is looked up, not refused as too long', async () => {
    const connectionId = `connect:${'u'.repeat(200)}:${'s'.repeat(200)}`;
    const res = await send(stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'x' }));
    assertError(res, 404, 'not_found');
  });

  test('a signed body whose Content-Encoding does not decode is a 400, not a 500', async () => {
    const signed = stack.signWebhook({
      connectionId: 'connect:x:sol-1',
      externalAuthId: 'slack',
      authId: 'x',
    });
    const res = await send({ ...signed, headers: { ...signed.headers, 'content-encoding': 'gzip' } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'bad_request');
    assert.match(res.body.error.message, /Content-Encoding \(gzip\)/);
  });
});

/** Standard Webhooks headers that sign exactly `signedBytes`, whatever bytes are then sent. */
function headersSigning(
  signedBytes: Buffer,
  secret = stack.webhookSecret!,
  at = Date.now(),
  { id = `msg_${uniqueId('raw')}` } = {},
): Record<string, string> {
  const ts = String(Math.floor(at / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), signedBytes]))
    .digest('base64');
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': `v1,${mac}`,
  };
}

async function postBytes(headers: Record<string, string>, body: Buffer) {
  const res = await fetch(stack.webhookUrl, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as any };
}

describe('signature over the raw bytes', () => {
  // A body that is not UTF-8: the byte 0xFF inside a string.
  const raw = Buffer.concat([
    Buffer.from('{"connectionId":"connect:x:sol-1'),
    Buffer.from([0xff]),
    Buffer.from('","externalAuthId":"slack","authId":"a"}'),
  ]);

  const headersFor = headersSigning;
  const post = (headers: Record<string, string>, body: Buffer = raw) => postBytes(headers, body);

  test('a timestamp that is not whole seconds in digits is a 401, whatever the body', async () => {
    const utf8 = Buffer.from(
      JSON.stringify({ connectionId: 'connect:x:sol-1', externalAuthId: 's', authId: 'a' }),
    );
    // Signed over the whole seconds, sent as "<seconds>.0": the header is not what was signed.
    for (const body of [utf8, raw]) {
      const headers = headersFor(body);
      headers['webhook-timestamp'] += '.0';
      assertError(await post(headers, body), 401, 'invalid_signature');
    }
  });

  test('a webhook-id over 200 characters, correctly signed, is a 400 naming it', async () => {
    const utf8 = Buffer.from(
      JSON.stringify({ connectionId: 'connect:x:sol-1', externalAuthId: 's', authId: 'a' }),
    );
    const res = await post(headersFor(utf8, undefined, undefined, { id: `msg_${'x'.repeat(200)}` }), utf8);
    assertError(res, 400, 'invalid_input');
    assert.deepEqual(
      res.body.error.details.map((d: { path: string }) => d.path),
      ['webhook-id'],
    );
    // The body was fine: the message does not send the sender to look at it.
    assert.equal(res.body.error.message, 'The webhook-id header is invalid');
  });

  test('a body that is not JSON is listed beside a webhook-id over 200 characters', async () => {
    const notJson = Buffer.from('this is not json');
    const res = await post(
      headersFor(notJson, undefined, undefined, { id: `msg_${'x'.repeat(200)}` }),
      notJson,
    );
    assertError(res, 400, 'invalid_json');
    assert.deepEqual(
      res.body.error.details.map((d: { path: string }) => d.path),
      ['body', 'webhook-id'],
    );
  });

  test('a body led by a UTF-8 byte order mark is read as JSON, as the start reads one', async () => {
    const json = JSON.stringify({
      connectionId: `connect:${uniqueId('nobody')}:sol-1`,
      externalAuthId: 's',
      authId: 'a',
    });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    assertError(await post(headersFor(bom), bom), 404, 'not_found');
  });

  test('a correctly signed body that is not UTF-8 is a 400, not a 401', async () => {
    assertError(await post(headersFor(raw)), 400, 'invalid_json');
  });

  test('a signature over other bytes than those received is a 401, even when they decode alike', async () => {
    const decodedAlike = Buffer.from(raw.toString('utf8'), 'utf8'); // 0xFF became U+FFFD
    assertError(await post(headersFor(decodedAlike)), 401, 'invalid_signature');
    assertError(await post(headersFor(raw, randomWebhookSecret())), 401, 'invalid_signature');
    const stale = headersFor(raw, stack.webhookSecret, Date.now() - 6 * 60_000);
    assertError(await post(stale), 401, 'invalid_signature');
    const { 'webhook-signature': _dropped, ...unsigned } = headersFor(raw);
    assertError(await post(unsigned), 401, 'invalid_signature');
  });
});

describe('a delivery with a Content-Encoding', () => {
  const json = Buffer.from(
    JSON.stringify({
      connectionId: `connect:${uniqueId('nobody')}:sol-1`,
      externalAuthId: 'slack',
      authId: 'a',
    }),
  );
  const gzipped = gzipSync(json);

  const headersFor = (signedBytes: Buffer, encoding = 'gzip', secret?: string) => ({
    ...headersSigning(signedBytes, secret),
    'content-encoding': encoding,
  });
  const post = postBytes;

  test('is taken when signed over its JSON, as Standard Webhooks signs, or over the bytes sent', async () => {
    // Past the signature and the body: the saga is looked up, and there is none.
    assertError(await post(headersFor(json), gzipped), 404, 'not_found');
    assertError(await post(headersFor(gzipped), gzipped), 404, 'not_found');
    assertError(await post(headersFor(deflateSync(json), 'deflate'), deflateSync(json)), 404, 'not_found');
  });

  test('signed over neither, or with another secret, is a 401', async () => {
    assertError(await post(headersFor(Buffer.from('{}')), gzipped), 401, 'invalid_signature');
    assertError(
      await post(headersFor(gzipped, 'gzip', randomWebhookSecret()), gzipped),
      401,
      'invalid_signature',
    );
  });

  test('that does not decode is a 401 unless signed: the signature is checked first', async () => {
    const notGzip = Buffer.from('this is not gzip');
    assertError(await post(headersFor(Buffer.from('other bytes')), notGzip), 401, 'invalid_signature');
    assertError(await post(headersFor(notGzip), notGzip), 400, 'bad_request');
  });

  test('that decodes to more than the body limit is a 413, however it is signed', async () => {
    const bomb = gzipSync(Buffer.alloc(200 * 1024, ' '));
    assertError(await post(headersFor(bomb), bomb), 413, 'payload_too_large');
  });

  test('in an encoding the API does not read is a 401 unless signed, then a 415', async () => {
    const body = Buffer.from('whatever');
    const odd = 'x-unheard-of';
    assertError(await post(headersFor(Buffer.from('other bytes'), odd), body), 401, 'invalid_signature');
    assertError(await post(headersFor(body, odd), body), 415, 'unsupported_encoding');
  });
});
