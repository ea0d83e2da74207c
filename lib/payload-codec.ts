/**
 * Payload encryption (PAYLOAD_ENCRYPTION_KEYS): an AES-256-GCM `PayloadCodec` the worker and the API
 * put in their data converter, so Temporal stores ciphertext instead of names, codes and config
 * values. Runs in the main thread of the worker and in the client, never in the workflow sandbox.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  METADATA_ENCODING_KEY,
  ValueError,
  type DataConverter,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import proto from '@temporalio/proto';
import { envVar } from './config.js';

export const ENCRYPTION_KEYS_VARIABLE = 'PAYLOAD_ENCRYPTION_KEYS';
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;
const utf8 = (bytes: Uint8Array | null | undefined) =>
  bytes ? Buffer.from(bytes).toString('utf8') : undefined;

/**
 * The parsed keys: the first encrypts, all decrypt. Key material sits in a private field and
 * serializes as key ids only, so logging a configuration never prints a key.
 */
export class EncryptionKeys {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly primaryKeyId: string;

  constructor(entries: readonly (readonly [string, Buffer])[]) {
    if (entries.length === 0) throw new RangeError('at least one key is needed');
    this.#keys = new Map(entries);
    this.primaryKeyId = entries[0]![0];
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  key(keyId: string): Buffer | undefined {
    return this.#keys.get(keyId);
  }

  toJSON(): { keyIds: string[] } {
    return { keyIds: this.keyIds };
  }
}

/**
 * Parses `keyId:base64key[,keyId:base64key…]` (each key exactly 32 bytes). Returns the keys or a
 * problem naming every bad entry by position and key id, never by its key, so a ring with several
 * mistakes is fixed in one go.
 */
export function parseEncryptionKeys(raw: string): { value: EncryptionKeys } | { problem: string } {
  const entries: [string, Buffer][] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const parts = raw.split(',').map((part) => part.trim());
  for (const [index, part] of parts.entries()) {
    const parsed = parseEntry(part, `entry ${index + 1} of ${parts.length}`, seen);
    if ('problem' in parsed) problems.push(parsed.problem);
    else entries.push(parsed.entry);
  }
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { value: new EncryptionKeys(entries) };
}

function parseEntry(
  part: string,
  where: string,
  seen: Set<string>,
): { entry: [string, Buffer] } | { problem: string } {
  const colon = part.indexOf(':');
  if (colon < 0) return { problem: `${where} is not keyId:base64key` };
  const keyId = part.slice(0, colon).trim();
  const encoded = part.slice(colon + 1).trim();
  if (!KEY_ID_PATTERN.test(keyId)) {
    return { problem: `${where} has a key id that is not 1-64 of A-Z a-z 0-9 . _ -` };
  }
  const named = `${where} (key id "${keyId}")`;
  if (seen.has(keyId)) return { problem: `${named} repeats a key id` };
  seen.add(keyId);
  if (!BASE64_PATTERN.test(encoded)) return { problem: `${named}: the key is not standard base64` };
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== KEY_BYTES) {
    // 64 hex digits are the right key in the wrong spelling: say so rather than only count bytes.
    const hex = /^[0-9a-f]{64}$/i.test(encoded)
      ? `; that looks like hex: give the ${KEY_BYTES} bytes in base64 (openssl rand -base64 32 makes a key)`
      : '';
    return { problem: `${named}: the key must be ${KEY_BYTES} bytes, it decodes to ${key.length}${hex}` };
  }
  return { entry: [keyId, key] };
}

/** PAYLOAD_ENCRYPTION_KEYS for `readEnv`: optional, and secret (its value is never echoed). */
export function encryptionKeysVar() {
  return envVar<EncryptionKeys, { optional: true; secret: true }>(
    { optional: true, secret: true },
    parseEncryptionKeys,
  );
}

/** A payload this process cannot decode: a key it does not hold, or data that does not decrypt. */
export class UndecodablePayloadError extends ValueError {}

/**
 * AES-256-GCM over the whole proto-encoded payload (metadata included), so even the original
 * encoding is hidden. Data is IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes), as in Temporal's samples.
 * Payloads without the encrypted encoding pass through decode unchanged: histories written before
 * encryption was turned on stay readable.
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(readonly keys: EncryptionKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keys.primaryKeyId;
    const key = this.keys.key(keyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plaintext = PayloadMessage.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: Buffer.from(keyId),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  private decodeOne(payload: Payload): Payload {
    if (utf8(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const keyId = utf8(payload.metadata?.[KEY_ID_METADATA]);
    if (keyId === undefined)
      throw new UndecodablePayloadError(`Encrypted payload has no ${KEY_ID_METADATA} metadata`);
    const key = this.keys.key(keyId);
    if (!key) {
      throw new UndecodablePayloadError(
        `Payload was encrypted with key id "${keyId}", which ${ENCRYPTION_KEYS_VARIABLE} does not hold ` +
          `(it holds ${this.keys.keyIds.map((id) => `"${id}"`).join(', ')}); keep old keys after the new one when rotating`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new UndecodablePayloadError(
        `Encrypted payload (key id "${keyId}") is too short to be AES-256-GCM data`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new UndecodablePayloadError(
        `Encrypted payload (key id "${keyId}") does not decrypt: wrong key or altered data`,
      );
    }
    const decoded = PayloadMessage.decode(plaintext);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

/** Runs in the workflow sandbox and the worker: failure messages and stack traces become payloads. */
export const ENCODED_FAILURE_CONVERTER_PATH = fileURLToPath(
  // `.ts` beside the sources (tsx), `.js` in the compiled dist/ tree.
  new URL(
    `../common/encoded-failure-converter${import.meta.url.endsWith('.js') ? '.js' : '.ts'}`,
    import.meta.url,
  ),
);

/**
 * The data converter for worker and client when keys are set: the codec, plus a failure converter
 * that moves failure messages and stacks into (encrypted) payloads.
 */
export function encryptedDataConverter(keys: EncryptionKeys): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: ENCODED_FAILURE_CONVERTER_PATH };
}

/**
 * For a process without keys: passes plain payloads through and refuses encrypted ones with an
 * UndecodablePayloadError naming their key id, where the SDK would only say "Unknown encoding".
 */
export class KeylessCodec implements PayloadCodec {
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    for (const payload of payloads) {
      if (utf8(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) continue;
      const keyId = utf8(payload.metadata?.[KEY_ID_METADATA]) ?? '(none)';
      throw new UndecodablePayloadError(
        `Payload was encrypted with key id "${keyId}", but ${ENCRYPTION_KEYS_VARIABLE} is not set here`,
      );
    }
    return payloads;
  }
}

/**
 * The data converter of a worker or API process: with keys, the encrypted one; without, the keyless
 * codec, so a saga written by encrypting processes is refused naming its key id and the variable (the
 * API's named 500, a worker's failed workflow task) rather than with the SDK's "Unknown encoding".
 */
export function processDataConverter(keys: EncryptionKeys | undefined): DataConverter {
  return keys ? encryptedDataConverter(keys) : { payloadCodecs: [new KeylessCodec()] };
}
