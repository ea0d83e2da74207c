/**
 * PAYLOAD_ENCRYPTION_KEYS and the AES-256-GCM payload codec on their own: key parsing and its
 * errors, encryption round trips, key rotation, plaintext pass-through, unknown keys, and the
 * processes refusing to start with a bad variable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { defaultPayloadConverter, ValueError, type Payload } from '@temporalio/common';
import { loadApiConfig } from '../api/config.js';
import { ConfigError } from '../lib/config.js';
import { EncryptionCodec, parseEncryptionKeys, type EncryptionKeys } from '../lib/payload-codec.js';
import { loadWorkerConfig } from '../worker/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OLD = randomBytes(32).toString('base64');
const NEW = randomBytes(32).toString('base64');

function keys(raw: string): EncryptionKeys {
  const parsed = parseEncryptionKeys(raw);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.value;
}

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const secretInput = { userName: 'Ada Lovelace', code: 'one-time-code-123' };

describe('PAYLOAD_ENCRYPTION_KEYS', () => {
  test('the first key encrypts, all are known; logs and inspection show key ids only', () => {
    const parsed = keys(` new:${NEW} , old:${OLD}`);
    assert.equal(parsed.primaryKeyId, 'new');
    assert.deepEqual(parsed.keyIds, ['new', 'old']);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed)), { keyIds: ['new', 'old'] });
    for (const shown of [JSON.stringify(parsed), inspect(parsed, { depth: 5, showHidden: true })]) {
      assert.ok(!shown.includes(NEW) && !shown.includes(OLD), shown);
    }
  });

  const bad: [string, string, RegExp][] = [
    ['no colon', `k1:${OLD},${NEW}`, /entry 2 of 2 is not keyId:base64key/],
    ['empty key id', `:${OLD}`, /entry 1 of 1 has a key id/],
    [
      'not base64',
      `k1:${OLD},k2:not*base64!`,
      /entry 2 of 2 \(key id "k2"\): the key is not standard base64/,
    ],
    [
      '16 bytes',
      `k1:${randomBytes(16).toString('base64')}`,
      /"k1"\): the key must be 32 bytes, it decodes to 16/,
    ],
    ['33 bytes', `k1:${randomBytes(33).toString('base64')}`, /it decodes to 33$/],
    // The key in hex: 64 digits are also valid base64, decoding to 48 bytes.
    [
      'hex',
      `k1:${randomBytes(32).toString('hex')}`,
      /decodes to 48; that looks like hex: give the 32 bytes in base64/,
    ],
    ['a repeated key id', `k1:${OLD},k1:${NEW}`, /entry 2 of 2 \(key id "k1"\) repeats a key id/],
    ['an empty entry', `k1:${OLD},`, /entry 2 of 2 is not keyId:base64key/],
  ];
  for (const [what, raw, problem] of bad) {
    test(`${what}: the worker and the API refuse it, naming the variable and the entry, never the key`, () => {
      const configs = [
        () =>
          loadWorkerConfig({ TRAY_MASTER_TOKEN: 'mt', TRAY_EMBEDDED_ID: 'e', PAYLOAD_ENCRYPTION_KEYS: raw }),
        () => loadApiConfig({ PAYLOAD_ENCRYPTION_KEYS: raw }),
      ];
      for (const load of configs) {
        assert.throws(load, (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.deepEqual(
            err.problems.map((p) => p.variable),
            ['PAYLOAD_ENCRYPTION_KEYS'],
          );
          assert.match(err.message, problem);
          assert.ok(!err.message.includes(OLD) && !err.message.includes(NEW), 'no key in the message');
          return true;
        });
      }
    });
  }

  test('several bad entries: every one is named, under the one variable, and no key is shown', () => {
    const short = randomBytes(16).toString('base64');
    const raw = `a:not*base64,b:${short},nocolon,good:${OLD},good:${NEW}`;
    for (const load of [
      () =>
        loadWorkerConfig({ TRAY_MASTER_TOKEN: 'mt', TRAY_EMBEDDED_ID: 'e', PAYLOAD_ENCRYPTION_KEYS: raw }),
      () => loadApiConfig({ PAYLOAD_ENCRYPTION_KEYS: raw }),
    ]) {
      assert.throws(load, (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => p.variable),
          ['PAYLOAD_ENCRYPTION_KEYS'],
        );
        const { problem } = err.problems[0]!;
        assert.match(problem, /entry 1 of 5 \(key id "a"\): the key is not standard base64/);
        assert.match(problem, /entry 2 of 5 \(key id "b"\): the key must be 32 bytes, it decodes to 16/);
        assert.match(problem, /entry 3 of 5 is not keyId:base64key/);
        assert.match(problem, /entry 5 of 5 \(key id "good"\) repeats a key id/);
        assert.doesNotMatch(problem, /entry 4 of 5/);
        for (const key of [short, OLD, NEW]) assert.ok(!err.message.includes(key), 'no key in the message');
        return true;
      });
    }
  });

  test('unset: no encryption in either configuration', () => {
    assert.equal(loadWorkerConfig({ TRAY_MASTER_TOKEN: 'mt', TRAY_EMBEDDED_ID: 'e' }).payloadKeys, undefined);
    assert.equal(loadApiConfig({}).payloadEncryption, undefined);
    const api = loadApiConfig({ PAYLOAD_ENCRYPTION_KEYS: `k:${OLD}` });
    assert.deepEqual(api.payloadEncryption?.corsOrigins, ['http://localhost:8233', 'http://127.0.0.1:8233']);
    assert.throws(
      () => loadApiConfig({ PAYLOAD_ENCRYPTION_KEYS: `k:${OLD}`, CODEC_CORS_ORIGIN: 'localhost:8233/x' }),
      /CODEC_CORS_ORIGIN: "localhost:8233\/x" is not an origin like http:\/\/localhost:8233/,
    );
    // Every bad origin of the list is named, not the first alone.
    assert.throws(
      () =>
        loadApiConfig({
          PAYLOAD_ENCRYPTION_KEYS: `k:${OLD}`,
          CODEC_CORS_ORIGIN: 'ftp://ui.example, http://localhost:8233, https://ui.example/path',
        }),
      /CODEC_CORS_ORIGIN: "ftp:\/\/ui.example", "https:\/\/ui.example\/path" are not origins like/,
    );
  });
});

describe('EncryptionCodec', () => {
  const payload = (): Payload => defaultPayloadConverter.toPayload(secretInput);

  test('encrypts the whole payload with a fresh IV and decrypts it back exactly', async () => {
    const codec = new EncryptionCodec(keys(`k1:${OLD}`));
    const original = payload();
    const [a, b] = await codec.encode([original, original]);
    assert.ok(a && b);
    assert.equal(text(a.metadata?.encoding), 'binary/encrypted');
    assert.equal(text(a.metadata?.['encryption-key-id']), 'k1');
    assert.deepEqual(Object.keys(a.metadata ?? {}).sort(), ['encoding', 'encryption-key-id']);
    for (const needle of ['Ada', 'one-time-code', 'json/plain']) {
      assert.ok(!Buffer.from(a.data!).includes(needle), `${needle} is not in the ciphertext`);
    }
    assert.notDeepEqual(Buffer.from(a.data!), Buffer.from(b.data!), 'a random IV per payload');
    const [decoded] = await codec.decode([a]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), secretInput);
    assert.equal(text(decoded!.metadata?.encoding), 'json/plain');
  });

  test('plaintext payloads (written before encryption) pass through decode unchanged', async () => {
    const codec = new EncryptionCodec(keys(`k1:${OLD}`));
    const plain = payload();
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  test('rotation: with the new key first and the old one kept, old payloads still decrypt', async () => {
    const before = new EncryptionCodec(keys(`old:${OLD}`));
    const after = new EncryptionCodec(keys(`new:${NEW},old:${OLD}`));
    const [oldPayload] = await before.encode([payload()]);
    const [newPayload] = await after.encode([payload()]);
    assert.equal(text(newPayload!.metadata?.['encryption-key-id']), 'new');
    const decoded = await after.decode([oldPayload!, newPayload!]);
    assert.deepEqual(
      decoded.map((p) => defaultPayloadConverter.fromPayload(p)),
      [secretInput, secretInput],
    );
  });

  test('a payload under a key id it does not hold, or altered, fails with a clear error', async () => {
    const [oldPayload] = await new EncryptionCodec(keys(`old:${OLD}`)).encode([payload()]);
    const newOnly = new EncryptionCodec(keys(`new:${NEW}`));
    await assert.rejects(newOnly.decode([oldPayload!]), (err: unknown) => {
      assert.ok(err instanceof ValueError);
      assert.match(
        err.message,
        /encrypted with key id "old", which PAYLOAD_ENCRYPTION_KEYS does not hold \(it holds "new"\)/,
      );
      return true;
    });
    const wrongKey = new EncryptionCodec(keys(`old:${NEW}`));
    await assert.rejects(
      wrongKey.decode([oldPayload!]),
      /key id "old"\) does not decrypt: wrong key or altered data/,
    );
    const altered = Buffer.from(oldPayload!.data!);
    altered[20] = altered[20]! ^ 1;
    const codec = new EncryptionCodec(keys(`old:${OLD}`));
    await assert.rejects(codec.decode([{ ...oldPayload!, data: altered }]), /does not decrypt/);
  });
});

describe('start-up with a bad PAYLOAD_ENCRYPTION_KEYS', () => {
  for (const entry of ['worker/main.ts', 'api/main.ts']) {
    test(`${entry} exits 1 naming the variable, without printing a key`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          TRAY_MASTER_TOKEN: 'mt_x',
          TRAY_EMBEDDED_ID: 'emb',
          TEMPORAL_ADDRESS: '127.0.0.1:1',
          API_PORT: '0',
          PAYLOAD_ENCRYPTION_KEYS: `good:${OLD},short:${randomBytes(8).toString('base64')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 1, output);
      assert.match(
        output,
        /PAYLOAD_ENCRYPTION_KEYS: entry 2 of 2 \(key id "short"\): the key must be 32 bytes/,
      );
      assert.ok(!output.includes(OLD), 'the good key is not printed');
    });
  }
});
