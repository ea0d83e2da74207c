/**
 * What the API modes record per saga, the plans they drive (with each end user's seeded think
 * time), and the percentiles they report.
 */
import { planSagas, type UserKind } from './sagas.js';
import { percentile } from './stats.js';
import { seededRandom } from '../dev/async.js';

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

/** `count` plans alternating new and known users, each thinking between `minMs` and `maxMs`. */
export function planTimed(count: number, seed: number, minMs: number, maxMs: number): TimedPlan[] {
  const random = seededRandom(seed);
  return planSagas(count).map((p) => ({ ...p, thinkMs: Math.round(minMs + random() * (maxMs - minMs)) }));
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
