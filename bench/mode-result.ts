/**
 * The result of an API mode run (burst, idle, waiting): latencies, Tray requests per second and per
 * saga as counted on the wire, worker RSS, the floor beside them, and what makes the run fail.
 */
import { cpus } from 'node:os';
import type { Emulator } from '../emulator/server.js';
import type { CpuPhase } from './cpu-meter.js';
import { readBenchEnv, type BenchEnv } from './env.js';
import type { Phase } from './modes-run.js';
import type { BenchOptions } from './options.js';
import { REQUEST_BUDGET, RATE_WINDOW_MS } from './report.js';
import type { UserKind } from './sagas.js';
import { peakWindow } from './stats.js';
import type { TailBreakdown } from './tail-histories.js';
import { latencies, percentiles, type Percentiles, type SagaTiming } from './timing.js';
import type { WireRequest } from './wire-meter.js';

export interface PerSaga {
  sagas: number;
  min: number;
  max: number;
  mean: number;
  budget: number;
  withinBudget: boolean;
}

/** The busiest 5 s: requests in it, per second, and when it starts (s since the phase's start). */
export interface Busiest5s {
  count: number;
  perSecond: number;
  startsAtS: number;
}

export interface Figures {
  /** `retried503`: sagas whose POST answered 503 (Temporal busy) and was sent again. */
  sagas: { total: number; completed: number; failed: number; retried503: number };
  startToUrlsMs: Percentiles & { medianOverMax: number };
  webhookToCompletedMs: Percentiles;
  throughput: { wallMs: number; sagasPerMinute: number };
  /**
   * Tray requests (product, by when the worker sent them) or no-op activities (floor) per 1 s bucket
   * from the phase's start.
   */
  perSecond: number[];
  busiest5s: Busiest5s;
  /** Mean per second from the first request until the last saga had its URLs. */
  meanUntilLastUrls: number;
}

export interface ModeResult {
  mode: BenchOptions['mode'];
  startedAt: string;
  config: {
    sagas: number;
    slots: number;
    /** null when lifted (--no-limit). */
    rateLimitPerSecond: number | null;
    workers: number;
    workerRuntime: BenchOptions['workerRuntime'];
    /** Each worker's WORKER_MAX_CACHED_WORKFLOWS and WORKER_MAX_CONCURRENT_WORKFLOW_TASKS; the floor's the same. */
    cachedSagas: number;
    workflowTasks: number;
    seed: number;
    thinkMs: [number, number];
    temporal: 'own dev server' | 'given address';
  };
  machine: { cpus: number; node: string; platform: string; loadAverage: { before: number; after: number } };
  product: Figures;
  requests: {
    new: PerSaga;
    known: PerSaga;
    metered: number;
    /** How many carried the time the worker sent them (all, from the bench's own workers). */
    stamped: number;
    /** The busiest 5 s counted when the requests reached the tap instead of when they were sent. */
    busiest5sOnArrival: Busiest5s;
    seenByEmulator: number;
    unattributed: number;
    failed: number;
  };
  memory: {
    /** Worker processes' RSS over time: seconds since the phase's start, MB, sagas waiting. */
    samples: { s: number; mb: number; waiting: number }[];
    peakMb: number;
    rssAtWaitingMb: Record<string, number> | null;
  };
  /** From a relayed webhook reaching the tap to the API's answer (the lookup and the signal). */
  webhookAnswerMs: Percentiles | null;
  /** Waiting mode: completing every waiting saga (replays of evicted ones included). */
  completion: { sagas: number; wallMs: number; perSagaMs: number } | null;
  floor: (Figures & { ratios: Record<string, number> }) | null;
  /** Burst mode: where the slowest and the median sagas spent webhook → completed (their histories). */
  tail?: TailBreakdown;
  /** The same for the floor's sagas, read from the same server, when the run had a floor. */
  floorTail?: TailBreakdown;
  /**
   * CPU over each timed phase: core-seconds of the dev server, the worker processes and the bench's
   * own process (the API, the emulator, the wire tap and the end users; in the floor's phase the
   * floor's worker and driver), and how busy the machine was. Empty off Linux.
   */
  cpu?: { product: CpuPhase; floor?: CpuPhase };
  failures: { id: string; error: string }[];
  charts: string[];
  problems: string[];
  warnings: string[];
}

const r1 = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : n);
const r2 = (n: number) => (Number.isFinite(n) ? Math.round(n * 100) / 100 : n);

/** Figures of one phase; `times` are the request (or activity) times to rate. */
export function figuresOf(phase: Phase, times: number[]): Figures {
  const { timings, startedAt, finishedAt } = phase;
  const { toUrls, webhookToDone } = latencies(timings);
  const urls = percentiles(toUrls);
  const completed = timings.filter((t) => t.completedAt !== undefined && !t.error).length;
  const wallMs = finishedAt - startedAt;
  const buckets = new Array<number>(Math.max(1, Math.ceil(wallMs / 1000))).fill(0);
  for (const at of times) {
    const i = Math.floor((at - startedAt) / 1000);
    if (i >= 0 && i < buckets.length) buckets[i] = (buckets[i] ?? 0) + 1;
  }
  const lastUrls = Math.max(...timings.map((t) => t.urlsAt ?? 0));
  const first = Math.min(...times);
  const untilUrls = times.filter((at) => at <= lastUrls).length;
  return {
    sagas: {
      total: timings.length,
      completed,
      failed: timings.filter((t) => t.error).length,
      retried503: timings.filter((t) => t.unavailable).length,
    },
    startToUrlsMs: { ...urls, medianOverMax: r2(urls.p50 / urls.max) },
    webhookToCompletedMs: percentiles(webhookToDone),
    throughput: { wallMs, sagasPerMinute: r1(completed / (wallMs / 60_000)) },
    perSecond: buckets,
    busiest5s: peakOf(times, startedAt),
    meanUntilLastUrls: lastUrls > first ? r1(untilUrls / ((lastUrls - first) / 1000)) : Number.NaN,
  };
}

/** The busiest 5 s of `times` (ms since epoch), placed from `startedAt`. */
export function peakOf(times: readonly number[], startedAt: number): Busiest5s {
  const peak = peakWindow(times, RATE_WINDOW_MS);
  return { count: peak.count, perSecond: peak.perSecond, startsAtS: r1((peak.startsAt - startedAt) / 1000) };
}

/** Requests per saga by user kind, attributing each wire request to its user's saga. */
export function perSaga(timings: SagaTiming[], wire: WireRequest[], emulator: Emulator) {
  const byUser = new Map(timings.map((t) => [t.externalUserId, t]));
  const counts = new Map<string, number>(timings.map((t) => [t.id, 0]));
  let unattributed = 0;
  for (const w of wire) {
    const external =
      w.externalUserId ?? (w.userId ? emulator.store.users.get(w.userId)?.externalUserId : undefined);
    const timing = external === undefined ? undefined : byUser.get(external);
    if (!timing) unattributed++;
    else counts.set(timing.id, (counts.get(timing.id) ?? 0) + 1);
  }
  const kind = (k: UserKind): PerSaga => {
    const values = timings.filter((t) => t.kind === k).map((t) => counts.get(t.id) ?? 0);
    const max = values.length ? Math.max(...values) : 0;
    return {
      sagas: values.length,
      min: values.length ? Math.min(...values) : 0,
      max,
      mean: values.length ? r2(values.reduce((a, b) => a + b, 0) / values.length) : 0,
      budget: REQUEST_BUDGET[k],
      withinBudget: max <= REQUEST_BUDGET[k],
    };
  };
  return { new: kind('new'), known: kind('known'), unattributed };
}

/** What the wire tap counted over a phase: per saga, stamped with their send time, on arrival. */
export function requestCounts(
  wire: WireRequest[],
  phase: Phase,
  emulator: Emulator,
): Omit<ModeResult['requests'], 'seenByEmulator'> {
  const counted = perSaga(phase.timings, wire, emulator);
  return {
    new: counted.new,
    known: counted.known,
    metered: wire.length,
    stamped: wire.filter((r) => r.sentAt !== undefined).length,
    busiest5sOnArrival: peakOf(
      wire.map((r) => r.at),
      phase.startedAt,
    ),
    unattributed: counted.unattributed,
    failed: wire.filter((r) => r.status !== 200).length,
  };
}

/** Floor ratios: product figure ÷ floor figure (for throughput, product ÷ floor as well). */
export function ratios(product: Figures, floor: Figures): Record<string, number> {
  return {
    startToUrlsP50: r2(product.startToUrlsMs.p50 / floor.startToUrlsMs.p50),
    startToUrlsMax: r2(product.startToUrlsMs.max / floor.startToUrlsMs.max),
    webhookToCompletedP50: r2(product.webhookToCompletedMs.p50 / floor.webhookToCompletedMs.p50),
    webhookToCompletedP99: r2(product.webhookToCompletedMs.p99 / floor.webhookToCompletedMs.p99),
    throughput: r2(product.throughput.sagasPerMinute / floor.throughput.sagasPerMinute),
  };
}

/** Machine, for the result's header. */
export function machineOf(loadBefore: number, loadAfter: number): ModeResult['machine'] {
  return {
    cpus: cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: { before: r2(loadBefore), after: r2(loadAfter) },
  };
}

/** Why the run failed, and what is worth a look. */
export function judge(result: ModeResult): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { product, requests, config } = result;
  if (product.sagas.failed > 0) problems.push(`${product.sagas.failed} saga(s) failed`);
  if (product.sagas.retried503 > 0) {
    warnings.push(`${product.sagas.retried503} saga(s) got a 503 from POST and sent it again`);
  }
  if (result.floor && result.floor.sagas.failed > 0)
    problems.push(`${result.floor.sagas.failed} floor saga(s) failed`);
  for (const k of ['new', 'known'] as const) {
    if (!requests[k].withinBudget) {
      problems.push(
        `a ${k}-user saga spent ${requests[k].max} Tray requests; the budget is ${requests[k].budget}`,
      );
    }
  }
  if (requests.metered !== requests.seenByEmulator) {
    problems.push(
      `the wire tap counted ${requests.metered} requests but the emulator logged ${requests.seenByEmulator}`,
    );
  }
  if (requests.unattributed > 0) problems.push(`${requests.unattributed} Tray request(s) matched no saga`);
  const limit = config.rateLimitPerSecond;
  if (limit !== null && product.busiest5s.perSecond > limit) {
    warnings.push(
      `Tray requests peaked at ${product.busiest5s.perSecond.toFixed(1)}/s over 5 s as sent, above ${limit}/s`,
    );
  } else if (limit !== null && requests.busiest5sOnArrival.perSecond > limit) {
    warnings.push(
      `Tray requests peaked at ${requests.busiest5sOnArrival.perSecond.toFixed(1)}/s over 5 s as they reached ` +
        `the tap, above ${limit}/s, but not as sent: the bench's own process fell behind reading them`,
    );
  }
  if (requests.stamped < requests.metered) {
    warnings.push(
      `${requests.metered - requests.stamped} Tray request(s) carried no send time; counted on arrival`,
    );
  }
  return { problems, warnings };
}

/** The run's settings as the result records them; each worker's cache and slots from the environment. */
export function configOf(
  options: BenchOptions,
  thinkMs: [number, number],
  ownDevServer: boolean,
  env: BenchEnv = readBenchEnv(),
): ModeResult['config'] {
  return {
    sagas: options.sagas,
    slots: options.slots,
    rateLimitPerSecond: options.noLimit ? null : options.rateLimitPerSecond,
    workers: options.workers,
    workerRuntime: options.workerRuntime,
    cachedSagas: env.maxCachedWorkflows,
    workflowTasks: env.maxWorkflowTasks,
    seed: options.seed,
    thinkMs,
    temporal: ownDevServer ? 'own dev server' : 'given address',
  };
}
