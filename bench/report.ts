/**
 * Turns what a bench run observed into its result and decides pass/fail: the Tray request budget
 * per saga (docs/design.md), counts that agree, and a workers-down probe that answered as it must.
 */
import { cpus } from 'node:os';
import type { BenchResult, KindRequests, Observations, WorkersDownResult } from './result.js';
import { STATUS_POLL_MS, type SagaOutcome, type UserKind } from './sagas.js';
import type { MeteredRequest } from './request-meter.js';
import { peakWindow, summarize, type Summary } from './stats.js';
import { WORKERS_DOWN_TARGET_MS, type ProbeCallKind, type WorkersDownObservation } from './workers-down.js';

/** The ceiling on Tray requests per saga (any slot count: every code goes in one request). */
export const REQUEST_BUDGET: Record<UserKind, number> = { new: 8, known: 7 };

/** Width of the window the rate limit is averaged over. */
export const RATE_WINDOW_MS = 5000;

const round = (n: number, digits = 1) =>
  Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n;

function kindRequests(kind: UserKind, outcomes: SagaOutcome[], metered: MeteredRequest[]): KindRequests {
  const ids = new Set(outcomes.filter((o) => o.kind === kind).map((o) => o.workflowId));
  const perSaga = new Map<string, number>([...ids].map((id) => [id, 0]));
  const byOperation: Record<string, number> = {};
  for (const r of metered) {
    if (r.workflowId === undefined || !ids.has(r.workflowId)) continue;
    perSaga.set(r.workflowId, (perSaga.get(r.workflowId) ?? 0) + 1);
    byOperation[r.operation] = (byOperation[r.operation] ?? 0) + 1;
  }
  const counts = [...perSaga.values()];
  const sagas = ids.size;
  for (const op of Object.keys(byOperation)) byOperation[op] = round((byOperation[op] as number) / sagas, 2);
  const max = counts.length ? Math.max(...counts) : 0;
  return {
    sagas,
    budget: REQUEST_BUDGET[kind],
    perSaga: {
      min: counts.length ? Math.min(...counts) : 0,
      max,
      mean: counts.length ? round(counts.reduce((a, b) => a + b, 0) / counts.length, 2) : 0,
    },
    byOperation,
    withinBudget: max <= REQUEST_BUDGET[kind],
  };
}

function roundSummary(summary: Summary): Summary {
  return {
    count: summary.count,
    p50: round(summary.p50),
    p95: round(summary.p95),
    max: round(summary.max),
    mean: round(summary.mean),
  };
}

/** Summarizes the probe's calls against the 3 s target. */
export function workersDownResult(obs: WorkersDownObservation): WorkersDownResult {
  const { calls } = obs;
  const ms = (kinds: ProbeCallKind[]) =>
    roundSummary(summarize(calls.filter((c) => kinds.includes(c.kind)).map((c) => c.ms)));
  const statusCodes: WorkersDownResult['statusCodes'] = {};
  for (const c of calls) {
    const counts = (statusCodes[c.kind] ??= {});
    counts[String(c.status)] = (counts[String(c.status)] ?? 0) + 1;
  }
  const get = {
    sequential: ms(['get']),
    concurrent: ms(['get-concurrent']),
    all: ms(['get', 'get-concurrent']),
  };
  const webhook = calls.find((c) => c.kind === 'webhook');
  return {
    sagas: obs.sagas,
    started: calls.filter((c) => c.kind === 'start' && c.status === 201).length,
    taskQueue: obs.taskQueue,
    targetMs: WORKERS_DOWN_TARGET_MS,
    get,
    webhook: webhook ? { status: webhook.status, ms: round(webhook.ms) } : null,
    statusCodes,
    withinTarget: get.all.count > 0 && get.all.max <= WORKERS_DOWN_TARGET_MS,
    failures: calls
      .filter((c) => c.error !== undefined)
      .map((c) => ({ kind: c.kind, connectionId: c.connectionId, error: c.error as string })),
  };
}

/** Builds the result, including the list of problems that make the run fail. */
export function buildResult(obs: Observations): BenchResult {
  const { options, outcomes } = obs;
  const completed = outcomes.filter((o) => o.completedAt !== undefined && !o.error);
  const failed = outcomes
    .filter((o) => o.error !== undefined)
    .map((o) => ({ workflowId: o.workflowId, error: o.error as string }));
  const wallMs = obs.finishedAt - obs.startedAt;
  const activityStarts = new Map<string, number>();
  for (const r of obs.metered) {
    const key = `${r.workflowId ?? ''}|${r.activity ?? ''}`;
    if (r.activity !== undefined && !activityStarts.has(key)) activityStarts.set(key, r.at);
  }
  const peakRequests = peakWindow(
    obs.emulatorRequests.map((r) => r.at),
    RATE_WINDOW_MS,
  );
  const requests = {
    new: kindRequests('new', outcomes, obs.metered),
    known: kindRequests('known', outcomes, obs.metered),
    total: obs.metered.length,
    seenByEmulator: obs.emulatorRequests.length,
    failed: obs.metered.filter((r) => !r.ok).length,
  };
  const result: BenchResult = {
    startedAt: new Date(obs.startedAt).toISOString(),
    config: {
      sagas: options.sagas,
      slots: options.slots,
      concurrency: options.concurrency,
      rateLimitPerSecond: options.rateLimitPerSecond,
      statusPollMs: STATUS_POLL_MS,
      temporal: obs.ownDevServer ? 'own dev server' : 'given address',
    },
    machine: {
      cpus: cpus().length,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadAverage: { before: round(obs.loadBefore, 2), after: round(obs.loadAfter, 2) },
    },
    sagas: { total: outcomes.length, completed: completed.length, failed },
    requests,
    latencyMs: {
      endToEnd: summarize(completed.map((o) => (o.completedAt as number) - o.startedAt)),
      toAuthUrls: summarize(
        outcomes.filter((o) => o.authUrlsAt !== undefined).map((o) => (o.authUrlsAt as number) - o.startedAt),
      ),
    },
    throughput: { wallMs, sagasPerMinute: round(completed.length / (wallMs / 60_000)) },
    rate: {
      configuredPerSecond: options.rateLimitPerSecond,
      peakRequests,
      peakActivities: peakWindow([...activityStarts.values()], RATE_WINDOW_MS),
      averageRequestsPerSecond: round(obs.emulatorRequests.length / (wallMs / 1000)),
      requestsWithinLimit: peakRequests.perSecond <= options.rateLimitPerSecond,
    },
    memory: { before: obs.memoryBefore, after: obs.memoryAfter, peakRssMb: obs.peakRssMb },
    workersDown: obs.workersDown ? workersDownResult(obs.workersDown) : null,
    problems: [],
    warnings: [],
  };
  result.problems.push(...problemsOf(result, obs));
  result.warnings.push(...warningsOf(result));
  return result;
}

/** Why the run failed; empty when it passed. */
function problemsOf(result: BenchResult, obs: Observations): string[] {
  const problems: string[] = [];
  const { requests, sagas } = result;
  if (sagas.total < obs.options.sagas) problems.push(`only ${sagas.total} of ${obs.options.sagas} sagas ran`);
  if (sagas.failed.length > 0) problems.push(`${sagas.failed.length} saga(s) failed`);
  for (const kind of ['new', 'known'] as const) {
    const k = requests[kind];
    if (!k.withinBudget) {
      problems.push(`a ${kind}-user saga spent ${k.perSaga.max} Tray requests; the budget is ${k.budget}`);
    }
  }
  if (requests.total !== requests.seenByEmulator) {
    problems.push(
      `the worker sent ${requests.total} requests but the emulator saw ${requests.seenByEmulator}: the counts are not trustworthy`,
    );
  }
  const unattributed = obs.metered.filter((r) => r.workflowId === undefined).length;
  if (unattributed > 0) problems.push(`${unattributed} Tray request(s) were sent outside any activity`);
  const down = result.workersDown;
  if (down && down.failures.length > 0) {
    const first = down.failures[0] as WorkersDownResult['failures'][number];
    problems.push(
      `${down.failures.length} workers-down call(s) did not answer as expected ` +
        `(first: ${first.kind} ${first.connectionId} ${first.error})`,
    );
  }
  return problems;
}

/** Worth a look but not a failure. */
function warningsOf(result: BenchResult): string[] {
  const warnings: string[] = [];
  const { rate } = result;
  if (!rate.requestsWithinLimit) {
    // The limiter meters activities; each sends one request in the common case, but an uncommon path
    // (a lost user race, a worker without the user's token, a retry's look-up) sends two.
    warnings.push(
      `Tray requests peaked at ${rate.peakRequests.perSecond.toFixed(1)}/s over 5 s, above the configured ${rate.configuredPerSecond}/s ` +
        `(activities peaked at ${rate.peakActivities.perSecond.toFixed(1)}/s)`,
    );
  }
  const down = result.workersDown;
  // The box is shared: a slow GET is worth a look, not a failed run.
  if (down && down.get.all.count > 0 && !down.withinTarget) {
    warnings.push(
      `with no worker running, GET /v1/connections/{id} took up to ${down.get.all.max} ms ` +
        `(p50 ${down.get.all.p50} ms), above the ${down.targetMs} ms target`,
    );
  }
  return warnings;
}
