/**
 * Seals a user token so it may travel through workflow history to whichever worker runs the next
 * activity: AES-256-GCM under a key derived (HKDF-SHA256) from the master token, the user id as
 * associated data, an expiry inside. Only workers hold the master token, so only they can open it;
 * a rotated master token or an expired seal opens to nothing and costs one `authorize` (docs/design.md).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SealedUserToken } from '../common/activity-types.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** As the token cache: past the default auth wait, at most half-way through a token's ~2-day life. */
const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

export interface TokenSealerOptions {
  ttlMs?: number;
  now?: () => number;
}

export class TokenSealer {
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly now: () => number;

  /** `secret` is the master token; without one, a random key: seals open only in this process. */
  constructor(secret: string | undefined, options: TokenSealerOptions = {}) {
    const ikm = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    this.key = Buffer.from(hkdfSync('sha256', ikm, 'connect-saga', 'user-token-seal v1', 32));
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  seal(userId: string, token: string): SealedUserToken {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${VERSION}:${userId}`, 'utf8'));
    const body = JSON.stringify({ t: token, e: this.now() + this.ttlMs });
    const sealed = Buffer.concat([iv, cipher.update(body, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${sealed.toString('base64url')}`;
  }

  /** The token, or undefined when the seal is not this user's, was tampered with, rotated or expired. */
  open(userId: string, sealed: SealedUserToken | undefined): string | undefined {
    if (typeof sealed !== 'string' || !sealed.startsWith(`${VERSION}.`)) return undefined;
    const bytes = Buffer.from(sealed.slice(VERSION.length + 1), 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${VERSION}:${userId}`, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const body = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      const { t, e } = JSON.parse(body) as { t?: unknown; e?: unknown };
      if (typeof t !== 'string' || typeof e !== 'number' || e <= this.now()) return undefined;
      return t;
    } catch {
      return undefined;
    }
  }

  /** Keeps the key out of anything that serialises or inspects the sealer. */
  toJSON(): string {
    return 'TokenSealer';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'TokenSealer';
  }
}
