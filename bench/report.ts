/**
 * Turns what a bench run observed into its result (the JSON written to bench-results/) and renders
 * that result as a plain-text table. Also decides pass/fail: the spec's request budget per saga.
 */
import { cpus } from 'node:os';
import type { RecordedRequest } from '../emulator/server.js';
import type { BenchOptions } from './options.js';
import type { MeteredRequest } from './request-meter.js';
import { STATUS_POLL_MS, type SagaOutcome, type UserKind } from './sagas.js';
import { peakWindow, summarize, type PeakWindow, type Summary } from './stats.js';
import { WORKERS_DOWN_TARGET_MS, type ProbeCallKind, type WorkersDownObservation } from './workers-down.js';

/** The spec's ceiling on Tray requests per saga (any slot count: every code goes in one request). */
export const REQUEST_BUDGET: Record<UserKind, number> = { new: 8, known: 7 };

/** Width of the window the spec averages the rate limit over. */
export const RATE_WINDOW_MS = 5000;

export interface MemorySample {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
}

export function sampleMemory(): MemorySample {
  const m = process.memoryUsage();
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal) };
}

export interface KindRequests {
  sagas: number;
  budget: number;
  perSaga: { min: number; max: number; mean: number };
  /** Mean requests per saga by GraphQL operation name. */
  byOperation: Record<string, number>;
  withinBudget: boolean;
}

export interface WorkersDownResult {
  /** Sagas the probe tried to start through the API. */
  sagas: number;
  /** Of those, how many the API started (201). */
  started: number;
  /** The task queue they were started on, which no worker polls. */
  taskQueue: string;
  /** The spec's ceiling for GET /v1/connections/{id} while no worker runs. */
  targetMs: number;
  /** GET latency in ms: one after another, then all at the same time, and both together. */
  get: { sequential: Summary; concurrent: Summary; all: Summary };
  /** One signed POST /v1/webhooks/auth-completed for the first saga (202 expected); null if none was sent. */
  webhook: { status: number; ms: number } | null;
  /** HTTP status → number of answers, per kind of call; 0 means no answer. */
  statusCodes: Partial<Record<ProbeCallKind, Record<string, number>>>;
  /** Every GET answered within targetMs. */
  withinTarget: boolean;
  /** Calls that did not answer as expected (a failure of the run). */
  failures: { kind: ProbeCallKind; connectionId: string; error: string }[];
}

export interface BenchResult {
  startedAt: string;
  config: {
    sagas: number;
    slots: number;
    concurrency: number;
    rateLimitPerSecond: number;
    statusPollMs: number;
    temporal: 'own dev server' | 'given address';
  };
  /** loadAverage is os.loadavg()'s 1-minute figure before and after the run: a busy machine skews timings. */
  machine: { cpus: number; node: string; platform: string; loadAverage: { before: number; after: number } };
  sagas: { total: number; completed: number; failed: { workflowId: string; error: string }[] };
  requests: {
    new: KindRequests;
    known: KindRequests;
    /** Requests the worker sent during the run (all sagas). */
    total: number;
    /** Requests the emulator received during the run; equals `total` unless something else called it. */
    seenByEmulator: number;
    /** Requests that did not end in data (errors, retries' failed attempts). */
    failed: number;
  };
  latencyMs: { endToEnd: Summary; toAuthUrls: Summary };
  throughput: { wallMs: number; sagasPerMinute: number };
  rate: {
    configuredPerSecond: number;
    /** Busiest 5 s of Tray requests, as the emulator received them. */
    peakRequests: PeakWindow;
    /** Busiest 5 s of activity executions (what the task-queue rate limit actually meters). */
    peakActivities: PeakWindow;
    averageRequestsPerSecond: number;
    requestsWithinLimit: boolean;
  };
  memory: { before: MemorySample; after: MemorySample; peakRssMb: number };
  /** The "workers down" probe; null when it was skipped (--probe-sagas 0). */
  workersDown: WorkersDownResult | null;
  /** Why the run failed; empty when it passed. */
  problems: string[];
  /** Worth a look but not a failure: e.g. the observed request rate above the configured limit. */
  warnings: string[];
}

export interface Observations {
  options: BenchOptions;
  ownDevServer: boolean;
  startedAt: number;
  finishedAt: number;
  outcomes: SagaOutcome[];
  metered: MeteredRequest[];
  emulatorRequests: RecordedRequest[];
  memoryBefore: MemorySample;
  memoryAfter: MemorySample;
  peakRssMb: number;
  loadBefore: number;
  loadAfter: number;
  /** Absent when the probe was skipped. */
  workersDown?: WorkersDownObservation;
}

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
  const problems = result.problems;
  if (outcomes.length < options.sagas) problems.push(`only ${outcomes.length} of ${options.sagas} sagas ran`);
  if (failed.length > 0) problems.push(`${failed.length} saga(s) failed`);
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
  if (!result.rate.requestsWithinLimit) {
    // The limiter meters activities; each sends one request in the common case, but an uncommon path
    // (a lost user race, a worker without the user's token, a retry's look-up) sends two.
    result.warnings.push(
      `Tray requests peaked at ${peakRequests.perSecond.toFixed(1)}/s over 5 s, above the configured ${options.rateLimitPerSecond}/s ` +
        `(activities peaked at ${result.rate.peakActivities.perSecond.toFixed(1)}/s)`,
    );
  }
  const down = result.workersDown;
  if (down) {
    if (down.failures.length > 0) {
      const first = down.failures[0] as WorkersDownResult['failures'][number];
      problems.push(
        `${down.failures.length} workers-down call(s) did not answer as expected ` +
          `(first: ${first.kind} ${first.connectionId} ${first.error})`,
      );
    }
    // The box is shared: a slow GET is worth a look, not a failed run.
    if (down.get.all.count > 0 && !down.withinTarget) {
      result.warnings.push(
        `with no worker running, GET /v1/connections/{id} took up to ${down.get.all.max} ms ` +
          `(p50 ${down.get.all.p50} ms), above the ${down.targetMs} ms target`,
      );
    }
  }
  return result;
}

const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

/** The result as plain text for a terminal. */
export function renderResult(result: BenchResult): string {
  const { config, requests: req, latencyMs, rate, memory } = result;
  const ops = [...new Set([...Object.keys(req.new.byOperation), ...Object.keys(req.known.byOperation)])];
  const lines: string[] = [];
  lines.push(
    `connect-saga bench — ${result.sagas.completed}/${result.sagas.total} sagas completed, ${config.slots} slot(s) each, ` +
      `concurrency ${config.concurrency}, rate limit ${config.rateLimitPerSecond}/s ` +
      `(${result.machine.cpus} CPUs, load ${result.machine.loadAverage.before}→${result.machine.loadAverage.after}, ` +
      `Node ${result.machine.node}, ${config.temporal})`,
    '',
    'Tray requests per saga (mean; budget is a per-saga maximum)',
    table([
      ['operation', 'new user', 'known user'],
      ...ops.map((op) => [op, String(req.new.byOperation[op] ?? 0), String(req.known.byOperation[op] ?? 0)]),
      ['total (mean)', String(req.new.perSaga.mean), String(req.known.perSaga.mean)],
      [
        'total (min–max)',
        `${req.new.perSaga.min}–${req.new.perSaga.max}`,
        `${req.known.perSaga.min}–${req.known.perSaga.max}`,
      ],
      ['budget (max)', String(req.new.budget), String(req.known.budget)],
      ['within budget', req.new.withinBudget ? 'yes' : 'NO', req.known.withinBudget ? 'yes' : 'NO'],
      ['sagas', String(req.new.sagas), String(req.known.sagas)],
    ]),
    `requests sent ${req.total}, seen by the emulator ${req.seenByEmulator}, failed ${req.failed}`,
    '',
    'Latency per saga',
    table([
      ['', 'p50', 'p95', 'max'],
      [
        'start → completed (incl. 2 s timer)',
        fmtMs(latencyMs.endToEnd.p50),
        fmtMs(latencyMs.endToEnd.p95),
        fmtMs(latencyMs.endToEnd.max),
      ],
      [
        `start → auth URLs (polled every ${config.statusPollMs} ms)`,
        fmtMs(latencyMs.toAuthUrls.p50),
        fmtMs(latencyMs.toAuthUrls.p95),
        fmtMs(latencyMs.toAuthUrls.max),
      ],
    ]),
    '',
    `Throughput: ${result.throughput.sagasPerMinute} sagas/min (${result.sagas.completed} in ${fmtMs(result.throughput.wallMs)})`,
    `Tray rate: peak ${rate.peakRequests.perSecond.toFixed(1)} req/s over a 5 s window ` +
      `(${rate.peakRequests.count} requests), average ${rate.averageRequestsPerSecond} req/s, ` +
      `limit ${rate.configuredPerSecond}/s → ${rate.requestsWithinLimit ? 'within' : 'OVER'}; ` +
      `peak activities ${rate.peakActivities.perSecond.toFixed(1)}/s`,
    `Memory (bench process: worker + emulator + client): RSS ${memory.before.rssMb} → ${memory.after.rssMb} MB ` +
      `(peak ${memory.peakRssMb} MB), heap used ${memory.before.heapUsedMb} → ${memory.after.heapUsedMb} MB`,
  );
  const down = result.workersDown;
  if (down) {
    const verdict = (summary: Summary) =>
      summary.count === 0 ? '—' : summary.max <= down.targetMs ? 'ok' : 'OVER';
    const codes = (Object.entries(down.statusCodes) as [string, Record<string, number>][])
      .map(([kind, counts]) =>
        Object.entries(counts)
          .map(([code, n]) => `${kind} ${code === '0' ? 'no answer' : code}×${n}`)
          .join(', '),
      )
      .join(', ');
    lines.push(
      '',
      `Workers down (${down.started}/${down.sagas} sagas started through the API on a task queue no worker polls)`,
      table([
        ['GET /v1/connections/{id}', 'n', 'p50', 'max', 'target', 'result'],
        ...(
          [
            ['one at a time', down.get.sequential],
            [`${down.get.concurrent.count} at once`, down.get.concurrent],
            ['all', down.get.all],
          ] as const
        ).map(([label, summary]) => [
          label,
          String(summary.count),
          fmtMs(summary.p50),
          fmtMs(summary.max),
          fmtMs(down.targetMs),
          verdict(summary),
        ]),
      ]),
      `signed webhook: ${down.webhook ? `${down.webhook.status} in ${fmtMs(down.webhook.ms)}` : 'not sent'}; answers: ${codes}`,
    );
    for (const f of down.failures.slice(0, 10)) lines.push(`  ${f.kind} ${f.connectionId}: ${f.error}`);
  }
  if (result.sagas.failed.length > 0) {
    lines.push('', 'Failed sagas:');
    for (const f of result.sagas.failed.slice(0, 10)) lines.push(`  ${f.workflowId}: ${f.error}`);
  }
  lines.push('');
  for (const warning of result.warnings) lines.push(`WARNING: ${warning}`);
  lines.push(result.problems.length === 0 ? 'PASS' : `FAIL: ${result.problems.join('; ')}`);
  return lines.join('\n');
}
