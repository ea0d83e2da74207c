/**
 * The emulator's record of GraphQL requests, bounded: a dev server left running for days would
 * otherwise keep every request in memory. Offsets are absolute (`length` counts every request ever
 * recorded, dropped ones too), so a reader that noted `length` before a run can still `slice` from
 * there; asking for entries that were already dropped throws rather than answering short.
 */
import type { RecordedRequest } from './graphql.js';

/** Far above a bench run (~7,500 requests for 1,000 waiting sagas) and a chaos run; entries are ~200 bytes. */
export const DEFAULT_REQUEST_LOG_LIMIT = 50_000;

/** Holds at least the newest `limit` entries and at most twice that (it trims in batches). */
export class RequestLog {
  #entries: RecordedRequest[] = [];
  #dropped = 0;
  #lastDroppedAt: number | undefined;

  constructor(readonly limit: number = DEFAULT_REQUEST_LOG_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`RequestLog: limit must be a positive integer`);
  }

  /** Every request recorded so far, including dropped ones: the offset the next one gets. */
  get length(): number {
    return this.#dropped + this.#entries.length;
  }

  /** How many of the oldest entries were dropped: the offset of the oldest one still held. */
  get dropped(): number {
    return this.#dropped;
  }

  /** When the newest dropped request arrived (ms epoch); undefined while nothing was dropped. */
  get lastDroppedAt(): number | undefined {
    return this.#lastDroppedAt;
  }

  push(entry: RecordedRequest): void {
    this.#entries.push(entry);
    if (this.#entries.length >= this.limit * 2) this.#trim();
  }

  /**
   * Entries from absolute offset `start` up to `end` (negative offsets count from the end, as for
   * arrays). Throws a RangeError when part of that range was already dropped.
   */
  slice(start = this.#dropped, end = this.length): RecordedRequest[] {
    const from = start < 0 ? Math.max(this.length + start, 0) : start;
    const to = end < 0 ? this.length + end : Math.min(end, this.length);
    if (from < this.#dropped && to > from) {
      throw new RangeError(
        `the emulator's request log no longer holds entries ${from}..${this.#dropped - 1} ` +
          `(it keeps at least the newest ${this.limit}; raise requestLogLimit for longer runs)`,
      );
    }
    return this.#entries.slice(from - this.#dropped, Math.max(to - this.#dropped, 0));
  }

  /** The requests that arrived at or after `sinceMs`; throws when some of them were already dropped. */
  since(sinceMs: number): RecordedRequest[] {
    if (this.#lastDroppedAt !== undefined && this.#lastDroppedAt >= sinceMs) {
      throw new RangeError(
        `the emulator's request log dropped requests made after ${new Date(sinceMs).toISOString()} ` +
          `(it keeps at least the newest ${this.limit}; raise requestLogLimit for longer runs)`,
      );
    }
    return this.#entries.filter((r) => r.at >= sinceMs);
  }

  /** Entry at absolute offset `index` (negative: from the end); undefined when dropped or absent. */
  at(index: number): RecordedRequest | undefined {
    const i = index < 0 ? this.length + index : index;
    return i < this.#dropped ? undefined : this.#entries[i - this.#dropped];
  }

  /** The entries still held, oldest first. */
  retained(): RecordedRequest[] {
    return [...this.#entries];
  }

  filter(predicate: (r: RecordedRequest) => boolean): RecordedRequest[] {
    return this.#entries.filter(predicate);
  }

  map<T>(fn: (r: RecordedRequest) => T): T[] {
    return this.#entries.map(fn);
  }

  // Trimmed in batches down to `limit`, so a push costs amortised O(1) instead of a shift each time.
  #trim(): void {
    const excess = this.#entries.length - this.limit;
    this.#lastDroppedAt = this.#entries[excess - 1]!.at;
    this.#entries = this.#entries.slice(excess);
    this.#dropped += excess;
  }
}
