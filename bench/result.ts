/**
 * The shape of a bench run's result (the JSON written to bench-results/) and of what a run observes
 * to build it.
 */
import type { RecordedRequest } from '../emulator/server.js';
import type { BenchOptions } from './options.js';
import type { MeteredRequest } from './request-meter.js';
import type { SagaOutcome } from './sagas.js';
import type { PeakWindow, Summary } from './stats.js';
import type { ProbeCallKind, WorkersDownObservation } from './workers-down.js';

export interface MemorySample {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
}

/** This process's memory in MB, to one decimal. */
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
  /** The ceiling for GET /v1/connections/{id} while no worker runs. */
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
