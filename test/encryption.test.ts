/**
 * Encrypted payloads end to end on the dev server: with PAYLOAD_ENCRYPTION_KEYS set, the history's
 * raw bytes hold no user name, dialog code, config value or failure message, while the API still
 * reads every saga; key rotation keeps a running saga readable; the codec server protocol at /codec
 * round-trips payloads behind the API's access rule, with CORS for the Web UI.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read loosely in these tests */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Client, type WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { createApp } from '../api/app.js';
import { createLogger } from '../api/logging.js';
import { authCompletedSignal, type ConnectionStatus } from '../common/messages.js';
import { DEMO_SOLUTIONS } from '../emulator/server.js';
import {
  processDataConverter,
  encryptedDataConverter,
  parseEncryptionKeys,
  type EncryptionKeys,
} from '../lib/payload-codec.js';
import { CONFIG_SOLUTION, startEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { startStack, type Stack } from './helpers/stack.js';
import { findTemporalCli } from '../dev/temporal-bin.js';
import { uniqueId } from './helpers/temporal.js';

const { History } = proto.temporal.api.history.v1;
const UI_ORIGIN = 'http://ui.example:8233';

function keys(raw: string): EncryptionKeys {
  const parsed = parseEncryptionKeys(raw);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.value;
}
const key = () => randomBytes(32).toString('base64');
const OLD = `old:${key()}`;
const NEW = `new:${key()}`;

const stack = await startStack({
  encryption: { keys: keys(OLD), corsOrigins: [UI_ORIGIN] },
  emulator: { solutions: [...DEMO_SOLUTIONS, CONFIG_SOLUTION] },
});
after(() => stack.close());

async function api(s: Stack, method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.apiUrl}${path}`, {
    method,
    headers: s.headers(),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function untilStep(s: Stack, connectionId: string, done: (step: string) => boolean) {
  return pollUntil(
    async () => {
      const res = await api(s, 'GET', `/v1/connections/${encodeURIComponent(connectionId)}`);
      return res.status === 200 && done(res.body.step) ? (res.body as ConnectionStatus) : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `${connectionId} to reach the expected step` },
  );
}

/** The history exactly as the server stores it, as protobuf bytes (no decoding on the way). */
async function rawHistory(handle: WorkflowHandle): Promise<Buffer> {
  return Buffer.from(History.encode(await handle.fetchHistory()).finish());
}

/**
 * Every payload in a history, but search attributes (which Temporal indexes and cannot encrypt) and
 * patch markers' `patch-data` (the SDK's core writes the patch id itself, past the codec; it names a
 * code change, nothing of the saga's): where it is and its encoding and key id.
 */
function payloadsIn(value: unknown, path = 'history'): { path: string; encoding?: string; keyId?: string }[] {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return [];
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata && 'data' in record) {
    const text = (key: string) => (metadata[key] ? Buffer.from(metadata[key]).toString() : undefined);
    return [{ path, encoding: text('encoding'), keyId: text('encryption-key-id') }];
  }
  return Object.entries(record)
    .filter(([key]) => key !== 'searchAttributes' && key !== 'patch-data')
    .flatMap(([key, inner]) => payloadsIn(inner, `${path}.${key}`));
}

/** Every encryption key id the history's payloads carry. */
async function keyIdsIn(handle: WorkflowHandle): Promise<string[]> {
  const ids = payloadsIn(await handle.fetchHistory()).map((p) => p.keyId ?? '(none)');
  return [...new Set(ids)].sort();
}

describe('with PAYLOAD_ENCRYPTION_KEYS set', () => {
  test('a saga completes while its history bytes hold no user name, dialog code or config value', async () => {
    const userName = `Ada Secret-${randomBytes(4).toString('hex')}`;
    const configValue = `#private-${randomBytes(4).toString('hex')}`;
    const created = await api(stack, 'POST', '/v1/connections?wait=30', {
      externalUserId: uniqueId('enc-user'),
      userName,
      solutionId: CONFIG_SOLUTION.id,
      authSlots: ['slack'],
      configValues: [{ externalId: 'channel', value: configValue }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const status = created.body as ConnectionStatus;
    const code = new URL(status.authSlots[0]!.url!).searchParams.get('code');
    assert.ok(code, 'the dialog URL carries a one-time code');

    const authId = stack.emulator.emulator.store.createAuthentication(status.userId!, 'slack');
    const signed = stack.signWebhook({ connectionId: status.connectionId, externalAuthId: 'slack', authId });
    const relayed = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    assert.equal(relayed.status, 202, await relayed.text());
    const done = await untilStep(stack, status.connectionId, (step) => step === 'completed');
    assert.equal(done.authSlots[0]?.authId, authId, 'the API reads the encrypted result');

    const handle = stack.client.workflow.getHandle(status.connectionId, status.runId);
    const history = await rawHistory(handle);
    for (const secret of [userName, 'Ada Secret', code, configValue, authId]) {
      assert.equal(history.indexOf(secret), -1, `${secret} is not in the history bytes`);
    }
    const payloads = payloadsIn(await handle.fetchHistory());
    assert.ok(payloads.length > 20, `payloads found: ${payloads.length}`);
    for (const { path, encoding } of payloads) assert.equal(encoding, 'binary/encrypted', path);
    assert.deepEqual(await keyIdsIn(handle), ['old']);
    // The Tray instance really got the config value: only the history is encrypted.
    const instance = stack.emulator.emulator.store.instances.get(done.solutionInstanceId!);
    assert.ok(JSON.stringify(instance).includes(configValue));
  });

  test("a failure's message and stack are encrypted too, and the API still reports them", async () => {
    const created = await api(stack, 'POST', '/v1/connections?wait=30', {
      externalUserId: uniqueId('enc-timeout'),
      userName: 'Slow Secret',
      solutionId: 'sol-1',
      authSlots: ['slack'],
      authTimeout: '2s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await untilStep(stack, created.body.connectionId, (step) => step === 'timed_out');
    assert.equal(done.error?.type, 'AuthTimeout');
    assert.match(done.error?.message ?? '', /auths not completed by .*pending: slack/);

    const handle = stack.client.workflow.getHandle(done.connectionId, done.runId);
    const events = (await handle.fetchHistory()).events ?? [];
    const failed = events.find((e) => e.workflowExecutionFailedEventAttributes);
    const failure = failed?.workflowExecutionFailedEventAttributes?.failure;
    assert.ok(failure, 'the saga failed');
    assert.equal(failure.message, 'Encoded failure');
    assert.equal(failure.stackTrace ?? '', '');
    const history = await rawHistory(handle);
    assert.equal(history.indexOf('auths not completed'), -1);
    assert.equal(history.indexOf('Slow Secret'), -1);
  });

  test('/codec/encode and /codec/decode round-trip payloads and decode what the history holds', async () => {
    const plain = {
      metadata: { encoding: b64('json/plain') },
      data: b64(JSON.stringify({ userName: 'Grace' })),
    };
    const encoded = await codec(stack, 'encode', { payloads: [plain] });
    assert.equal(encoded.status, 200, JSON.stringify(encoded.body));
    const [sealed] = encoded.body.payloads;
    assert.equal(unb64(sealed.metadata.encoding), 'binary/encrypted');
    assert.equal(unb64(sealed.metadata['encryption-key-id']), 'old');
    assert.ok(!unb64(sealed.data).includes('Grace'));
    const decoded = await codec(stack, 'decode', { payloads: [sealed, plain] });
    assert.equal(decoded.status, 200, JSON.stringify(decoded.body));
    assert.deepEqual(decoded.body.payloads, [plain, plain], 'plaintext passes through');

    // What the Web UI sends: the workflow input straight from history.
    const { handle } = await startSaga('Codec Reader');
    const [started] = (await handle.fetchHistory()).events ?? [];
    const input = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(input?.data && input.metadata);
    const fromHistory = {
      metadata: Object.fromEntries(
        Object.entries(input.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(input.data).toString('base64'),
    };
    const read = await codec(stack, 'decode', { payloads: [fromHistory] });
    assert.equal(read.status, 200);
    assert.equal(JSON.parse(unb64(read.body.payloads[0].data)).userName, 'Codec Reader');
    await handle.cancel();
  });

  test('the CLI shows a history decoded through /codec, as the README says', async () => {
    const { created, handle } = await startSaga('Cli Reader');
    try {
      // Events without payloads make the CLI send `{}`: proto3 JSON leaves an empty list out.
      // Not spawnSync: the API that decodes for the CLI runs in this process.
      const shown = await promisify(execFile)(
        await findTemporalCli(),
        [
          ...['workflow', 'show', '--address', stack.address, '--namespace', stack.namespace],
          ...['--workflow-id', created.body.connectionId, '--codec-endpoint', `${stack.apiUrl}/codec`],
          ...['--codec-auth', `Bearer ${stack.apiToken}`, '--command-timeout', '20s', '--output', 'json'],
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const payloads = [...shown.stdout.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((m) => unb64(m[1]!));
      assert.ok(
        payloads.some((p) => p.includes('"userName":"Cli Reader"')),
        'the input shows decrypted',
      );
      assert.equal((await api(stack, 'POST', '/codec/decode', {})).body.payloads?.length, 0);
    } finally {
      await handle.cancel();
    }
  });

  test("/codec requires the bearer token, answers the Web UI's preflight, and rejects bad input", async () => {
    const body = JSON.stringify({ payloads: [] });
    const anonymous = await fetch(`${stack.apiUrl}/codec/decode`, { method: 'POST', body });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as any).error.code, 'unauthorized');

    // As the Web UI asks, its "pass access token" setting on.
    const preflight = await fetch(`${stack.apiUrl}/codec/decode?preserveStorageRefs=true`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,authorization-extras,content-type,x-namespace',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(
      preflight.headers.get('access-control-allow-headers'),
      'content-type,authorization,authorization-extras,x-namespace',
    );
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);

    const stranger = await fetch(`${stack.apiUrl}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(stranger.status, 403);
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);

    const cors = await fetch(`${stack.apiUrl}/codec/decode?preserveStorageRefs=true`, {
      method: 'POST',
      headers: { ...stack.headers(), origin: UI_ORIGIN, 'x-namespace': 'default' },
      body,
    });
    assert.equal(cors.status, 200);
    assert.equal(cors.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.deepEqual(await cors.json(), { payloads: [] });

    const invalid = await codec(stack, 'decode', { payloads: [{ data: 'not base64!' }] });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'invalid_input');
    assert.equal(invalid.body.error.details[0].path, 'payloads.0.data');

    const foreign = {
      metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('retired') },
      data: b64('x'.repeat(40)),
    };
    const unknown = await codec(stack, 'decode', { payloads: [foreign] });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error.code, 'decode_failed');
    assert.match(unknown.body.error.message, /key id "retired", which PAYLOAD_ENCRYPTION_KEYS does not hold/);

    // Every payload that will not decode is named, not only the first.
    const plain = { metadata: { encoding: b64('json/plain') }, data: b64('1') };
    const altered = { ...foreign, metadata: { ...foreign.metadata, 'encryption-key-id': b64('other') } };
    const two = await codec(stack, 'decode', { payloads: [foreign, plain, altered] });
    assert.equal(two.status, 422);
    assert.deepEqual(
      two.body.error.details.map((d: { path: string }) => d.path),
      ['payloads.0', 'payloads.2'],
    );

    // JSON that is no object is named as such, not called "not valid JSON".
    for (const value of [null, 'x', []]) {
      const answer = await codec(stack, 'decode', value);
      assert.equal(answer.status, 400, JSON.stringify(value));
      assert.equal(answer.body.error.code, 'invalid_input', JSON.stringify(value));
    }
  });

  test('rotation: a saga started under the old key completes after worker and API restart with new,old', async () => {
    const emulator = await startEmulator();
    after(() => emulator.close());
    const before = await startStack({ encryption: { keys: keys(OLD) }, sharedEmulator: emulator });
    let created;
    try {
      created = await api(before, 'POST', '/v1/connections?wait=30', {
        externalUserId: uniqueId('enc-rotate'),
        userName: 'Rotating User',
        solutionId: 'sol-1',
        authSlots: ['slack'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    } finally {
      await before.close();
    }
    const status = created.body as ConnectionStatus;

    const rotated = await startStack({
      encryption: { keys: keys(`${NEW},${OLD}`) },
      sharedEmulator: emulator,
      taskQueue: before.taskQueue,
    });
    after(() => rotated.close());
    const waiting = await untilStep(rotated, status.connectionId, (step) => step === 'awaiting_auth');
    assert.equal(waiting.authSlots[0]?.url, status.authSlots[0]?.url, 'the new API reads the old state');
    const authId = emulator.emulator.store.createAuthentication(status.userId!, 'slack');
    const handle = rotated.client.workflow.getHandle(status.connectionId, status.runId);
    await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId });
    const done = await untilStep(rotated, status.connectionId, (step) => step === 'completed');
    assert.equal(done.authSlots[0]?.authId, authId);
    assert.deepEqual(await keyIdsIn(handle), ['new', 'old']);
  });

  test("a worker without keys fails an encrypted saga's workflow task naming its key id and the variable", async () => {
    const writer = await startStack({ encryption: { keys: keys(OLD) }, worker: false });
    after(() => writer.close());
    const created = await api(writer, 'POST', '/v1/connections?wait=0', {
      externalUserId: uniqueId('enc-keyless-worker'),
      userName: 'Keyless Worker',
      solutionId: 'sol-1',
      authSlots: ['slack'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const handle = writer.client.workflow.getHandle(created.body.connectionId);
    after(() => handle.terminate('test cleanup').catch(() => undefined));
    const keyless = await startStack({ taskQueue: writer.taskQueue });
    after(() => keyless.close());
    const failure = await pollUntil(
      async () => {
        const { events } = await handle.fetchHistory();
        return (
          events?.find((event) => event.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes
            ?.failure ?? undefined
        );
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the keyless worker to fail the workflow task' },
    );
    assert.match(failure.message ?? '', /key id "old", but PAYLOAD_ENCRYPTION_KEYS is not set/);
  });

  test("an API without a saga's key answers GET with a named 500 and still lists it", async () => {
    const { created } = await startSaga('Keyless Reader');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { connectionId, externalUserId } = created.body as ConnectionStatus;
    const base = await serveApi(encryptedDataConverter(keys(NEW)));

    const one = await fetch(`${base}/v1/connections/${encodeURIComponent(connectionId)}`);
    const oneBody = (await one.json()) as any;
    assert.equal(one.status, 500, JSON.stringify(oneBody));
    assert.equal(oneBody.error.code, 'payload_undecodable');
    assert.match(oneBody.error.message, /key id "old", which PAYLOAD_ENCRYPTION_KEYS does not hold/);

    // The likelier slip: an API started without any keys.
    const keyless = await serveApi(processDataConverter(undefined));
    const bare = await fetch(`${keyless}/v1/connections/${encodeURIComponent(connectionId)}`);
    const bareBody = (await bare.json()) as any;
    assert.equal(bare.status, 500, JSON.stringify(bareBody));
    assert.equal(bareBody.error.code, 'payload_undecodable');
    assert.match(bareBody.error.message, /key id "old", but PAYLOAD_ENCRYPTION_KEYS is not set/);

    // Visibility lags the start by a moment; the item comes from the search attributes.
    const item = await pollUntil(
      async () => {
        const res = await fetch(
          `${base}/v1/connections?externalUserId=${encodeURIComponent(externalUserId)}`,
        );
        assert.equal(res.status, 200);
        return ((await res.json()) as any).connections[0] as ConnectionStatus | undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the saga in the list' },
    );
    assert.equal(item.connectionId, connectionId);
    assert.equal(item.externalUserId, externalUserId);
  });
});

test("an API without a closed saga's key answers DELETE and the webhook 409 closed, as its status says", async () => {
  const { created, handle } = await startSaga('Keyless Closer');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { connectionId } = created.body as ConnectionStatus;
  assert.equal(
    (await api(stack, 'DELETE', `/v1/connections/${encodeURIComponent(connectionId)}`)).status,
    202,
  );
  await pollUntil(async () => (await handle.describe()).status.name === 'CANCELLED', {
    timeoutMs: 30_000,
    what: 'the saga cancelled',
  });
  const keyless = await serveApi(processDataConverter(undefined));
  const deleted = await fetch(`${keyless}/v1/connections/${encodeURIComponent(connectionId)}`, {
    method: 'DELETE',
  });
  const deletedBody = (await deleted.json()) as any;
  assert.equal(deleted.status, 409, JSON.stringify(deletedBody));
  assert.equal(deletedBody.error.code, 'connection_closed');
  assert.match(deletedBody.error.message, /is closed \(cancelled\)/);
  const signed = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'auth-1' });
  const hook = await fetch(`${keyless}/v1/webhooks/auth-completed`, { method: 'POST', ...signed });
  const hookBody = (await hook.json()) as any;
  assert.equal(hook.status, 409, JSON.stringify(hookBody));
  assert.equal(hookBody.error.code, 'connection_closed');
});

test("an API without a completed saga's key keeps the webhook's 500: only the memo tells a redelivery (202)", async () => {
  const created = await api(stack, 'POST', '/v1/connections?wait=30', {
    externalUserId: uniqueId('enc-user'),
    userName: 'Keyless Redelivery',
    solutionId: 'sol-1',
    authSlots: ['slack'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const status = created.body as ConnectionStatus;
  const authId = stack.emulator.emulator.store.createAuthentication(status.userId!, 'slack');
  const signed = stack.signWebhook({ connectionId: status.connectionId, externalAuthId: 'slack', authId });
  const first = await fetch(stack.webhookUrl, { method: 'POST', ...signed });
  assert.equal(first.status, 202);
  const handle = stack.client.workflow.getHandle(status.connectionId);
  await pollUntil(async () => (await handle.describe()).status.name === 'COMPLETED', {
    timeoutMs: 30_000,
    what: 'the saga completed',
  });
  const keyless = await serveApi(processDataConverter(undefined));
  const again = await fetch(`${keyless}/v1/webhooks/auth-completed`, { method: 'POST', ...signed });
  const body = (await again.json()) as any;
  // Retryable: the API with the key answers it 202.
  assert.equal(again.status, 500, JSON.stringify(body));
  assert.equal(body.error.code, 'payload_undecodable');
  const keyed = await fetch(stack.webhookUrl, { method: 'POST', ...signed });
  assert.equal(keyed.status, 202);
});

test('without keys, /codec is not served (404 in the error shape)', async () => {
  const base = await serveApi(encryptedDataConverter(keys(OLD)));
  const res = await fetch(`${base}/codec/decode`, {
    method: 'POST',
    body: '{"payloads":[]}',
  });
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as any).error.code, 'not_found');
});

/** An API without a codec server, its client on `dataConverter`, on an ephemeral port; its base URL. */
async function serveApi(dataConverter: DataConverter): Promise<string> {
  const app = createApp({
    client: new Client({ connection: stack.client.connection, namespace: stack.namespace, dataConverter }),
    taskQueue: stack.taskQueue,
    namespace: stack.namespace,
    logger: createLogger({ level: 'silent' }),
    ...(stack.webhookSecret !== undefined && { webhookSecret: stack.webhookSecret }),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A saga of a new user called `userName`, started through the API without waiting. */
async function startSaga(userName: string) {
  const created = await api(stack, 'POST', '/v1/connections?wait=0', {
    externalUserId: uniqueId('enc-user'),
    userName,
    solutionId: 'sol-1',
    authSlots: ['slack'],
  });
  return { created, handle: stack.client.workflow.getHandle(created.body.connectionId) };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

async function codec(s: Stack, direction: 'encode' | 'decode', body: unknown) {
  const res = await fetch(`${s.apiUrl}/codec/${direction}`, {
    method: 'POST',
    headers: { ...s.headers(), 'x-namespace': s.namespace },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}
