/**
 * Per-process memory of user tokens, so a saga spends one `authorize` rather than one per activity.
 * Tokens live only here: never on disk, in results, errors, logs or history.
 */
import { setBounded } from '../lib/bounded-map.js';

export interface UserTokenCacheOptions {
  /**
   * Default 24 h: it outlasts the default auth wait and is at most half-way through Tray's ~2-day
   * token life (docs/tray.md). A token Tray refuses earlier is minted again anyway.
   */
  ttlMs?: number;
  /** The oldest users are forgotten beyond it. */
  maxEntries?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

interface Entry {
  token: string;
  expiresAt: number;
}

export class UserTokenCache {
  private readonly entries = new Map<string, Entry>();
  /** Mints in flight, so concurrent activities for one user share a single `authorize`. */
  private readonly pending = new Map<string, Promise<string>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: UserTokenCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get(userId: string): string | undefined {
    const entry = this.entries.get(userId);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(userId);
      return undefined;
    }
    return entry.token;
  }

  set(userId: string, token: string): void {
    setBounded(this.entries, userId, { token, expiresAt: this.now() + this.ttlMs }, this.maxEntries);
  }

  /** Forgets `userId`'s token if it is still `token` (Tray refused it; a newer one may be in place). */
  invalidate(userId: string, token: string): void {
    if (this.entries.get(userId)?.token === token) this.entries.delete(userId);
  }

  /**
   * The cached token, or a fresh one from `mint` (stored); `cached` says which. Concurrent calls for
   * the same user wait for the same mint.
   */
  async obtain(userId: string, mint: () => Promise<string>): Promise<{ token: string; cached: boolean }> {
    const cached = this.get(userId);
    if (cached !== undefined) return { token: cached, cached: true };
    let inFlight = this.pending.get(userId);
    if (!inFlight) {
      inFlight = mint().then(
        (token) => {
          this.pending.delete(userId);
          this.set(userId, token);
          return token;
        },
        (error: unknown) => {
          this.pending.delete(userId);
          throw error;
        },
      );
      this.pending.set(userId, inFlight);
    }
    return { token: await inFlight, cached: false };
  }

  /** Keeps tokens out of anything that serialises or inspects the cache. */
  toJSON(): { size: number } {
    return { size: this.entries.size };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `UserTokenCache { size: ${this.entries.size} }`;
  }
}
