/**
 * The API modes' timed parts: burst (every saga POSTed at once), idle (one at a time) and waiting
 * (all left waiting for their end users while worker RSS is sampled, then all completed), and the
 * floor's counterpart of each. A progress line every 5 s; worker RSS and how busy the machine's CPUs
 * are sampled every second.
 */
import { driveApiSaga, finishThroughApi, newTiming, startThroughApi, type ApiContext } from './api-sagas.js';
import { driveFloorSaga, newFloorTiming, type FloorContext } from './floor.js';
import type { Progress } from './harness.js';
import { type SagaTiming, type TimedPlan } from './timing.js';
import { busyShare, readMachineTimes } from './cpu-meter.js';
import { rssOfPid, type WorkerChild } from './worker-children.js';
import { pooled } from '../dev/async.js';

export interface RssSample {
  /** ms since epoch. */
  at: number;
  /** Sum of the worker processes' VmRSS. */
  mb: number;
  /** Sagas with URLs that are not completed (or failed) yet. */
  waiting: number;
}

export interface BusySample {
  /** The end of the second. */
  at: number;
  /** Share of the machine's CPU time that was busy in it, 0–1. */
  share: number;
}

export interface Phase {
  timings: SagaTiming[];
  startedAt: number;
  finishedAt: number;
  rss: RssSample[];
  /** How busy the machine's CPUs were over each second of the phase (empty without /proc). */
  busy: BusySample[];
  /** Waiting mode: RSS when that many sagas were waiting ("200", "500", "1000", and "all"). */
  rssAtWaiting?: Record<string, number>;
  /** Waiting mode: the part that completed every waiting saga. */
  completion?: { startedAt: number; finishedAt: number; sagas: number };
}

/** Sagas in flight while the waiting mode starts them, and while it completes them. */
const WAITING_START_LANES = 50;
const WAITING_FINISH_LANES = 25;
const MILESTONES = [200, 500, 1000];
/** After the last saga is waiting, RSS is sampled this long before they are completed. */
const SETTLE_MS = 5_000;

const waitingCount = (timings: SagaTiming[]) =>
  timings.filter((t) => t.urlsAt !== undefined && t.completedAt === undefined && !t.error).length;

/** Samples RSS and how busy the machine is every second, and prints progress every 5 s, till stopped. */
function monitor(
  label: string,
  timings: SagaTiming[],
  workers: WorkerChild[],
  progress: Progress,
  requests: () => number,
) {
  const rss: RssSample[] = [];
  const busy: BusySample[] = [];
  let machine = readMachineTimes();
  let ticks = 0;
  let lastRequests = requests();
  const sample = (): RssSample => {
    const mb = workers.reduce((sum, w) => sum + (rssOfPid(w.pid) ?? 0), 0);
    const s = { at: Date.now(), mb: Math.round(mb * 10) / 10, waiting: waitingCount(timings) };
    rss.push(s);
    return s;
  };
  const timer = setInterval(() => {
    const s = sample();
    const now = readMachineTimes();
    const share = busyShare(machine, now);
    if (share !== undefined) busy.push({ at: s.at, share });
    machine = now;
    if (++ticks % 5 !== 0) return;
    const sent = requests();
    const urls = timings.filter((t) => t.urlsAt !== undefined).length;
    const done = timings.filter((t) => t.completedAt !== undefined).length;
    const failed = timings.filter((t) => t.error !== undefined).length;
    progress(
      `${label}: ${urls}/${timings.length} with URLs, ${s.waiting} waiting, ${done} completed, ${failed} failed; ` +
        `${((sent - lastRequests) / 5).toFixed(1)} req/s` +
        (workers.length ? `, worker RSS ${s.mb} MB` : ''),
    );
    lastRequests = sent;
  }, 1000);
  return { rss, busy, sample, stop: () => clearInterval(timer) };
}

/** Every saga POSTed at once; each end user authorises after its think time. */
export async function runBurst(
  ctx: ApiContext,
  plans: TimedPlan[],
  workers: WorkerChild[],
  progress: Progress,
) {
  const timings = plans.map((p) => newTiming(ctx, p));
  const m = monitor('burst', timings, workers, progress, () => ctx.tap.requests.length);
  const startedAt = Date.now();
  try {
    await Promise.all(plans.map((p, i) => driveApiSaga(ctx, p, timings[i] as SagaTiming)));
  } finally {
    m.stop();
  }
  return { timings, startedAt, finishedAt: Date.now(), rss: m.rss, busy: m.busy } satisfies Phase;
}

/** One saga at a time, the end user authorising at once. */
export async function runIdle(
  ctx: ApiContext,
  plans: TimedPlan[],
  workers: WorkerChild[],
  progress: Progress,
) {
  const timings = plans.map((p) => newTiming(ctx, { ...p, thinkMs: 0 }));
  const m = monitor('idle', timings, workers, progress, () => ctx.tap.requests.length);
  const startedAt = Date.now();
  try {
    for (const [i, p] of plans.entries()) {
      if (ctx.signal.aborted) break;
      await driveApiSaga(ctx, { ...p, thinkMs: 0 }, timings[i] as SagaTiming);
    }
  } finally {
    m.stop();
  }
  return { timings, startedAt, finishedAt: Date.now(), rss: m.rss, busy: m.busy } satisfies Phase;
}

/** Every saga started and left waiting, RSS noted at the milestones; then every one completed. */
export async function runWaiting(
  ctx: ApiContext,
  plans: TimedPlan[],
  workers: WorkerChild[],
  progress: Progress,
) {
  const timings = plans.map((p) => newTiming(ctx, p));
  const m = monitor('waiting', timings, workers, progress, () => ctx.tap.requests.length);
  const rssAtWaiting: Record<string, number> = {};
  const startedAt = Date.now();
  try {
    const indexed = plans.map((p, i) => ({ p, i }));
    const statuses = await pooled(indexed, WAITING_START_LANES, async ({ p, i }) => {
      const status = await startThroughApi(ctx, timings[i] as SagaTiming, p);
      const waiting = waitingCount(timings);
      for (const mark of MILESTONES) {
        if (waiting >= mark && rssAtWaiting[String(mark)] === undefined)
          rssAtWaiting[String(mark)] = m.sample().mb;
      }
      return status;
    });
    ctx.signal.throwIfAborted();
    progress(`waiting: ${waitingCount(timings)} saga(s) waiting; sampling RSS for ${SETTLE_MS / 1000} s …`);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    rssAtWaiting.all = m.sample().mb;
    const completionStart = Date.now();
    const pairs = plans.map((p, i) => ({ i, status: statuses[i] }));
    await pooled(pairs, WAITING_FINISH_LANES, async ({ i, status }) => {
      if (status) await finishThroughApi(ctx, timings[i] as SagaTiming, status, 0);
    });
    const completion = { startedAt: completionStart, finishedAt: Date.now(), sagas: pairs.length };
    return {
      timings,
      startedAt,
      finishedAt: Date.now(),
      rss: m.rss,
      busy: m.busy,
      rssAtWaiting,
      completion,
    } satisfies Phase;
  } finally {
    m.stop();
  }
}

/** The floor's burst (`lanes` = all) or idle (`lanes` = 1) run, with the same plans. */
export async function runFloor(
  ctx: FloorContext,
  plans: TimedPlan[],
  lanes: number,
  progress: Progress,
  activities: () => number,
): Promise<Phase> {
  const timings = plans.map((p) => newFloorTiming(p));
  const m = monitor('floor', timings, [], progress, activities);
  const startedAt = Date.now();
  try {
    await pooled(
      plans.map((p, i) => ({ p, i })),
      lanes,
      ({ p, i }) => driveFloorSaga(ctx, p, timings[i] as SagaTiming),
    );
  } finally {
    m.stop();
  }
  return { timings, startedAt, finishedAt: Date.now(), rss: [], busy: m.busy };
}
