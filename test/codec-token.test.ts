/**
 * CODEC_API_TOKEN: a bearer token for /codec alone. While it is set, it is the only token /codec
 * takes and it opens nothing else; while it is unset, /codec keeps the API's own access rule.
 * Checked in process (the app and its configuration) and through `npm run api` (its start-up log).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read loosely in these tests */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createApp, type AppDeps } from '../api/app.js';
import { codecTokenVariable, codecTokenWarning, loadApiConfig } from '../api/config.js';
import { createLogger } from '../api/logging.js';
import { ConfigError } from '../lib/config.js';
import { EncryptionCodec, parseEncryptionKeys, type EncryptionKeys } from '../lib/payload-codec.js';
import { childConfigProblems } from '../scripts/child-config-check.js';
import { childEnvs } from '../scripts/child-env.js';
import { encryptionNote, uiOriginLeftOut } from '../scripts/ready-banner.js';
import { startApiProcess } from './helpers/worker-process.js';

const API_TOKEN = `api_${randomBytes(12).toString('hex')}`;
const CODEC_TOKEN = `codec_${randomBytes(12).toString('hex')}`;
const KEYS_RAW = `k1:${randomBytes(32).toString('base64')}`;

function keys(): EncryptionKeys {
  const parsed = parseEncryptionKeys(KEYS_RAW);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.value;
}

// No Temporal behind it: a read finds no saga, so an authorised GET answers 404 and a refused one 401.
const client = {
  withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
  withMetadata: (_metadata: unknown, fn: () => Promise<unknown>) => fn(),
  workflow: {
    getHandle: (id: string) => ({
      describe: () => Promise.reject(new WorkflowNotFoundError('none', id, undefined)),
    }),
  },
} as unknown as AppDeps['client'];

/** The API with payload encryption on, on 127.0.0.1:0; its base URL. */
async function serveApi(
  tokens: { apiToken?: string; codecApiToken?: string },
  logger = createLogger({ level: 'silent' }),
): Promise<string> {
  const app = createApp({
    client,
    taskQueue: 'q',
    namespace: 'default',
    logger,
    ...(tokens.apiToken !== undefined && { apiToken: tokens.apiToken }),
    codecServer: {
      codec: new EncryptionCodec(keys()),
      corsOrigins: ['http://localhost:8233'],
      ...(tokens.codecApiToken !== undefined && { codecApiToken: tokens.codecApiToken }),
    },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const bearer = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};

async function encode(url: string, token: string | undefined) {
  const res = await fetch(`${url}/codec/encode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(token) },
    body: JSON.stringify({ payloads: [{ metadata: {}, data: Buffer.from('"x"').toString('base64') }] }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function read(url: string, token: string | undefined) {
  const res = await fetch(`${url}/v1/connections/${encodeURIComponent('connect:u:sol-1')}`, {
    headers: bearer(token),
  });
  return { status: res.status, text: await res.text() };
}

/** A 401 in the API's error shape naming `variable`, with neither token in it. */
function assertRefused(answer: { status: number; text: string }, variable: string): void {
  assert.equal(answer.status, 401, answer.text);
  const body = JSON.parse(answer.text) as any;
  assert.equal(body.error.code, 'unauthorized');
  assert.equal(body.error.message, `A valid "Authorization: Bearer <${variable}>" header is required`);
  assert.ok(!answer.text.includes(API_TOKEN) && !answer.text.includes(CODEC_TOKEN), 'no token echoed');
}

describe('with CODEC_API_TOKEN set', () => {
  test('it opens /codec and not /v1/connections; API_TOKEN no longer opens /codec', async () => {
    const url = await serveApi({ apiToken: API_TOKEN, codecApiToken: CODEC_TOKEN });
    const encoded = await encode(url, CODEC_TOKEN);
    assert.equal(encoded.status, 200, encoded.text);
    assert.equal((JSON.parse(encoded.text) as any).payloads.length, 1);

    const withApiToken = await encode(url, API_TOKEN);
    assertRefused(withApiToken, 'CODEC_API_TOKEN');
    assert.equal(withApiToken.headers.get('www-authenticate'), 'Bearer realm="connect-saga"');
    assertRefused(await encode(url, undefined), 'CODEC_API_TOKEN');

    assertRefused(await read(url, CODEC_TOKEN), 'API_TOKEN');
    assert.equal((await read(url, API_TOKEN)).status, 404, 'API_TOKEN still opens /v1/connections');
  });

  test('without API_TOKEN, /codec still wants it from loopback clients; /v1/connections stays loopback-only', async () => {
    const url = await serveApi({ codecApiToken: CODEC_TOKEN });
    assertRefused(await encode(url, undefined), 'CODEC_API_TOKEN');
    assert.equal((await encode(url, CODEC_TOKEN)).status, 200);
    assert.equal((await read(url, undefined)).status, 404, 'a loopback client without a token');
  });
});

describe('with CODEC_API_TOKEN unset, as before', () => {
  test('API_TOKEN opens /codec, and a 401 names API_TOKEN', async () => {
    const url = await serveApi({ apiToken: API_TOKEN });
    assert.equal((await encode(url, API_TOKEN)).status, 200);
    assertRefused(await encode(url, undefined), 'API_TOKEN');
    assertRefused(await encode(url, CODEC_TOKEN), 'API_TOKEN');
  });

  test('without either token, loopback clients are served', async () => {
    const url = await serveApi({});
    assert.equal((await encode(url, undefined)).status, 200);
  });

  test("without either token, another site's page is refused naming both tokens", async () => {
    const url = await serveApi({});
    const res = await fetch(`${url}/codec/encode`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
      body: JSON.stringify({ payloads: [] }),
    });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'forbidden');
    assert.match(
      body.error.message,
      /^neither CODEC_API_TOKEN nor API_TOKEN is set, so .*; set CODEC_API_TOKEN/,
    );
  });
});

describe('configuration', () => {
  test("the token that opens /codec: its own, else the API's, else none (loopback only)", () => {
    assert.equal(codecTokenVariable({ apiToken: API_TOKEN, codecApiToken: CODEC_TOKEN }), 'CODEC_API_TOKEN');
    assert.equal(codecTokenVariable({ codecApiToken: CODEC_TOKEN }), 'CODEC_API_TOKEN');
    assert.equal(codecTokenVariable({ apiToken: API_TOKEN }), 'API_TOKEN');
    assert.equal(codecTokenVariable({ apiToken: API_TOKEN, codecApiToken: '' }), 'API_TOKEN');
    assert.equal(codecTokenVariable({}), undefined);
  });

  test('CODEC_API_TOKEN is read like API_TOKEN: visible ASCII, blank is unset, never echoed', () => {
    const config = loadApiConfig({
      API_TOKEN,
      CODEC_API_TOKEN: CODEC_TOKEN,
      PAYLOAD_ENCRYPTION_KEYS: KEYS_RAW,
    });
    assert.equal(config.codecApiToken, CODEC_TOKEN);
    assert.equal(config.apiToken, API_TOKEN);
    assert.ok(!('codecApiToken' in loadApiConfig({ CODEC_API_TOKEN: '  ' })), 'blank is unset');
    for (const token of ['two words', 'tökén-secret']) {
      assert.throws(
        () => loadApiConfig({ CODEC_API_TOKEN: token }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.length === 1 &&
          err.problems[0]?.variable === 'CODEC_API_TOKEN' &&
          !err.message.includes(token),
      );
    }
  });

  test('a warning when it guards nothing or equals API_TOKEN, naming no token', () => {
    const warning = (env: Record<string, string>) => codecTokenWarning(loadApiConfig(env));
    assert.equal(warning({ API_TOKEN, PAYLOAD_ENCRYPTION_KEYS: KEYS_RAW }), undefined);
    assert.equal(
      warning({ API_TOKEN, CODEC_API_TOKEN: CODEC_TOKEN, PAYLOAD_ENCRYPTION_KEYS: KEYS_RAW }),
      undefined,
    );
    assert.match(warning({ CODEC_API_TOKEN: CODEC_TOKEN }) ?? '', /PAYLOAD_ENCRYPTION_KEYS is not/);
    const same = warning({ API_TOKEN, CODEC_API_TOKEN: API_TOKEN, PAYLOAD_ENCRYPTION_KEYS: KEYS_RAW });
    assert.match(same ?? '', /CODEC_API_TOKEN equals API_TOKEN/);
    assert.ok(!same?.includes(API_TOKEN));
  });
});

/** `npm run api` against no Temporal (it starts anyway) with `env`; its URL and output. */
async function startApi(env: Record<string, string>) {
  const api = await startApiProcess({ TEMPORAL_ADDRESS: '127.0.0.1:1', ...env });
  return { url: api.url, output: api.output, stop: () => api.child.kill('SIGTERM') && api.exited };
}

describe('npm run api', () => {
  test(
    'CODEC_API_TOKEN guards /codec and the start-up line says so without the token',
    { timeout: 90_000 },
    async () => {
      const api = await startApi({
        API_TOKEN,
        CODEC_API_TOKEN: CODEC_TOKEN,
        PAYLOAD_ENCRYPTION_KEYS: KEYS_RAW,
      });
      assert.equal((await encode(api.url, CODEC_TOKEN)).status, 200);
      assertRefused(await encode(api.url, API_TOKEN), 'CODEC_API_TOKEN');
      assertRefused(await read(api.url, CODEC_TOKEN), 'API_TOKEN');
      await api.stop();
      assert.match(api.output(), /"codecAuth":"bearer CODEC_API_TOKEN"/);
      assert.ok(!api.output().includes(CODEC_TOKEN) && !api.output().includes(API_TOKEN), api.output());
    },
  );

  test(
    'CODEC_API_TOKEN without PAYLOAD_ENCRYPTION_KEYS: a warning, and no /codec',
    { timeout: 90_000 },
    async () => {
      const api = await startApi({ API_TOKEN, CODEC_API_TOKEN: CODEC_TOKEN });
      const res = await fetch(`${api.url}/codec/encode`, {
        method: 'POST',
        headers: bearer(CODEC_TOKEN),
        body: '{}',
      });
      assert.equal(res.status, 404);
      await api.stop();
      assert.match(api.output(), /CODEC_API_TOKEN is set but PAYLOAD_ENCRYPTION_KEYS is not/);
      assert.ok(!api.output().includes(CODEC_TOKEN), api.output());
    },
  );
});

describe('npm start', () => {
  const options = {
    temporalAddress: '127.0.0.1:7233',
    namespace: 'default',
    taskQueue: 'q',
    apiPort: 3000,
    tray: { masterToken: 'mt', embeddedId: 'emb' },
  };

  test('hands CODEC_API_TOKEN to the API alone, as it does API_TOKEN', () => {
    const shell = { CODEC_API_TOKEN: CODEC_TOKEN };
    const given = childEnvs({ ...options, apiToken: API_TOKEN, codecApiToken: CODEC_TOKEN }, shell);
    assert.equal(given.api.CODEC_API_TOKEN, CODEC_TOKEN);
    assert.equal(given.api.API_TOKEN, API_TOKEN);
    assert.equal(given.worker.CODEC_API_TOKEN, undefined, 'the worker does not get it');
    assert.equal(childEnvs(options, shell).api.CODEC_API_TOKEN, undefined, 'only as npm start passes it');
  });

  test("checks CODEC_API_TOKEN with the API's own rule before starting anything", () => {
    const env = { TEMPORAL_NAMESPACE: 'default', TEMPORAL_TASK_QUEUE: 'q', API_PORT: 3000 };
    assert.deepEqual(childConfigProblems({ ...env, CODEC_API_TOKEN: CODEC_TOKEN }, {}), []);
    const problems = childConfigProblems({ ...env, CODEC_API_TOKEN: 'two words' }, {});
    assert.deepEqual(
      problems.map((p) => p.variable),
      ['CODEC_API_TOKEN'],
    );
    assert.ok(!JSON.stringify(problems).includes('two words'));
  });

  test('says when CODEC_CORS_ORIGIN leaves the Web UI out, which then cannot decode', () => {
    assert.equal(uiOriginLeftOut('http://localhost:8233,http://127.0.0.1:8233', 8233), undefined);
    assert.equal(uiOriginLeftOut('http://127.0.0.1:9000, http://localhost:9000', 9000), undefined);
    assert.deepEqual(uiOriginLeftOut('http://localhost:8233', 13234), { origin: 'http://localhost:13234' });
    assert.deepEqual(uiOriginLeftOut(undefined, 8233), { origin: 'http://localhost:8233' });
    const other = uiOriginLeftOut('http://127.0.0.1:8233', 8233);
    assert.deepEqual(other, { origin: 'http://localhost:8233', instead: 'http://127.0.0.1:8233' });
    assert.match(
      encryptionNote('k1', 'http://127.0.0.1:3000/codec', undefined, other),
      /open it at http:\/\/127\.0\.0\.1:8233, which the list allows/,
    );
    const note = encryptionNote('k1', 'http://127.0.0.1:3000/codec', undefined, {
      origin: 'http://localhost:13234',
    });
    assert.match(note, /the Web UI at http:\/\/localhost:13234 cannot decode them: CODEC_CORS_ORIGIN leaves/);
    assert.doesNotMatch(note, /decodes them at/);
  });

  test('a refused origin is logged once, named, since the browser shows the page nothing of it', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const url = await serveApi({}, createLogger({ level: 'info' }, sink));
    const preflight = (origin: string) =>
      fetch(`${url}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    for (const origin of ['http://localhost:13234', 'http://localhost:13234', 'http://other.example']) {
      assert.equal((await preflight(origin)).status, 403);
    }
    assert.equal((await preflight('http://localhost:8233')).status, 204);
    const named = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg.includes('CODEC_CORS_ORIGIN does not allow'));
    assert.deepEqual(
      named.map((l) => l.origin),
      ['http://localhost:13234', 'http://other.example'],
    );
    assert.deepEqual(named[0].allowed, ['http://localhost:8233']);
  });

  test('says the Web UI decodes only while no token guards /codec, else how to decode', () => {
    const url = 'http://127.0.0.1:3000/codec';
    assert.match(
      encryptionNote('k1', url, undefined),
      /the Web UI decodes them at http:\/\/127\.0\.0\.1:3000\/codec$/,
    );
    for (const token of ['CODEC_API_TOKEN', 'API_TOKEN'] as const) {
      const note = encryptionNote('k1', url, token);
      assert.match(note, new RegExp(`requires ${token}, which the Web UI cannot send`));
      assert.ok(note.includes(`--codec-auth "Bearer $${token}"`), note);
    }
  });
});
