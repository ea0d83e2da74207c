/**
 * What the API modes record per saga, the plans they drive (with each end user's seeded think
 * time), and the percentiles they report.
 */
import { planSagas, type UserKind } from './sagas.js';
import { percentile } from './stats.js';

export interface TimedPlan {
  externalUserId: string;
  kind: UserKind;
  /** How long the end user takes to authorise once the URLs are out. */
  thinkMs: number;
}

export interface SagaTiming {
  /** The workflow id (connection id). */
  id: string;
  externalUserId: string;
  kind: UserKind;
  /** ms since epoch, just before the first POST (or start). */
  startedAt: number;
  /** When the caller first had a URL for every slot. */
  urlsAt?: number;
  /** When the last slot's webhook reached the API (for the floor: the last signal was sent). */
  webhookAt?: number;
  completedAt?: number;
  error?: string;
  /** POSTs that answered 503 and were sent again. */
  unavailable?: number;
}

/** mulberry32: a small seeded generator, so two runs with one seed give the same think times. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` plans alternating new and known users, each thinking between `minMs` and `maxMs`. */
export function planTimed(count: number, seed: number, minMs: number, maxMs: number): TimedPlan[] {
  const random = seededRandom(seed);
  return planSagas(count).map((p) => ({ ...p, thinkMs: Math.round(minMs + random() * (maxMs - minMs)) }));
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function abortable(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface Percentiles {
  count: number;
  p10: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const round = (n: number) => (Number.isFinite(n) ? Math.round(n) : n);

/** Nearest-rank percentiles in whole ms (NaN when empty). */
export function percentiles(values: readonly number[]): Percentiles {
  return {
    count: values.length,
    p10: round(percentile(values, 10)),
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(values.length ? Math.max(...values) : Number.NaN),
  };
}

/** start → URLs and webhook → completed of the sagas that got that far, in ms. */
export function latencies(timings: readonly SagaTiming[]): { toUrls: number[]; webhookToDone: number[] } {
  const toUrls: number[] = [];
  const webhookToDone: number[] = [];
  for (const t of timings) {
    if (t.urlsAt !== undefined) toUrls.push(t.urlsAt - t.startedAt);
    if (t.webhookAt !== undefined && t.completedAt !== undefined && !t.error) {
      webhookToDone.push(t.completedAt - t.webhookAt);
    }
  }
  return { toUrls, webhookToDone };
}

/** Runs `task` over `items` with at most `limit` in flight; resolves in item order. */
export async function pooled<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
