/**
 * Command-line flags of `npm run bench`, parsed and checked up front so a typo fails before any
 * server starts.
 */
import { parseArgs } from 'node:util';
import { hostPort } from '../lib/config.js';
import { WORKER_RUNTIMES, type WorkerRuntime } from './worker-children.js';
import { UsageError } from '../lib/command-line.js';

// Tests and callers catch it from here, beside the parser that throws it.
export { UsageError };

export type BenchMode = 'sagas' | 'burst' | 'idle' | 'waiting';
export const MODES: readonly BenchMode[] = ['sagas', 'burst', 'idle', 'waiting'];

export interface BenchOptions {
  /** `sagas` (the default) drives sagas in-process; the others go through the API (docs/bench.md). */
  mode: BenchMode;
  /** Worker processes (`worker/main.ts`) on the task queue; modes other than `sagas` only. */
  workers: number;
  /** `image` (default): compiled with a prebuilt workflow bundle, as the image runs; `tsx`: as `npm run worker`. */
  workerRuntime: WorkerRuntime;
  /** Also run the same shape with no-op activities on another task queue (Temporal's floor). */
  floor: boolean;
  /** Seeds the end users' think times (burst, waiting). */
  seed: number;
  /** `--no-limit` / `--rate-limit 0`: the rate limit lifted (a limit far above what the box reaches). */
  noLimit: boolean;
  /** Sagas to run; half for new users, half for users that exist in Tray before the saga starts. */
  sagas: number;
  /** Auth slots per saga (1..20). */
  slots: number;
  /** Sagas in flight at once. */
  concurrency: number;
  /** The worker's task-queue-wide activity rate limit, like TRAY_RATE_LIMIT_PER_SECOND. */
  rateLimitPerSecond: number;
  /** Print the JSON result on stdout (the table then goes to stderr). */
  json: boolean;
  /** Where the JSON result is written; default bench-results/<timestamp>.json. */
  out?: string;
  /**
   * Use this Temporal server instead of starting a dev server (it needs the four search attributes),
   * with the TEMPORAL_* connection settings of the environment.
   */
  temporalAddress?: string;
  /** The whole run is aborted (and cleaned up) after this long. */
  timeoutSeconds: number;
  /** Sagas the "workers down" probe starts on a task queue no worker polls; 0 skips the probe. */
  probeSagas: number;
}

export const USAGE = `Usage: npm run bench -- [flags]
  --mode <m>               sagas (default: in-process, 10 at a time), burst (N POSTed at once through the API),
                           idle (one at a time through the API), waiting (N left waiting, worker RSS sampled)
  --sagas <n>              sagas to run, half new users, half known users
                           (default 20; burst 100; idle 20; waiting 1000)
  --workers <n>            worker processes on the task queue, API modes only (default 1)
  --worker <image|tsx>     how worker processes run: image (default) compiles first and loads the workflow
                           bundle from a file, as the image does; tsx runs worker/main.ts as npm run worker does
  --floor                  also run the same shape with no-op activities (Temporal's floor), burst and idle
  --seed <n>               seed for the end users' 2-8 s think times, burst only (default 1)
  --no-limit               lift the rate limit (same as --rate-limit 0), API modes only
  --slots <n>              auth slots per saga, 1..20 (default 2)
  --concurrency <n>        sagas in flight at once, --mode sagas only (default 10)
  --rate-limit <n>         task-queue activity rate limit per second, like TRAY_RATE_LIMIT_PER_SECOND (default 25)
  --json                   print the JSON result on stdout (the table goes to stderr)
  --out <file>             write the JSON result here (default bench-results/<timestamp>.json)
  --temporal-address <a>   use a running Temporal server (with the search attributes) instead of a dev server;
                           TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE apply to it
  --timeout <seconds>      abort the run after this long (default 110; burst 900; idle 600; waiting 2400)
  --probe-sagas <n>        sagas for the "workers down" probe (GET with no worker), 0 skips it, --mode sagas
                           only (default 5)
  --help                   this text`;

/**
 * Flags given to a mode that has no use for them, each named: a run that silently ignored one
 * would measure something other than what was asked for.
 */
function unusedFlags(
  mode: BenchMode,
  values: {
    workers?: string;
    worker?: string;
    floor?: boolean;
    'no-limit'?: boolean;
    concurrency?: string;
    'probe-sagas'?: string;
    seed?: string;
  },
): string[] {
  const problems: string[] = [];
  if (mode === 'sagas') {
    if (values['no-limit'] || values.floor || values.workers !== undefined || values.worker)
      problems.push('--workers, --worker, --floor and --no-limit need --mode burst, idle or waiting');
  } else {
    const given = (['concurrency', 'probe-sagas'] as const).filter((flag) => values[flag] !== undefined);
    if (given.length > 0)
      problems.push(`${given.map((flag) => `--${flag}`).join(' and ')} apply to --mode sagas only`);
  }
  if (mode !== 'burst' && values.seed !== undefined) {
    problems.push("--seed applies to --mode burst only (it seeds the end users' think times)");
  }
  if (mode === 'waiting' && values.floor) problems.push('--floor has no phase in --mode waiting');
  return problems;
}

const DEFAULT_SAGAS: Record<BenchMode, number> = { sagas: 20, burst: 100, idle: 20, waiting: 1000 };
const DEFAULT_TIMEOUT: Record<BenchMode, number> = { sagas: 110, burst: 900, idle: 600, waiting: 2400 };

function wholeNumber(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name} must be a whole number between ${min} and ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  return wholeNumber(name, raw, fallback, 1, max);
}

/** Parses argv (without node and the script); throws UsageError naming the bad flag. */
export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        sagas: { type: 'string' },
        slots: { type: 'string' },
        concurrency: { type: 'string' },
        'rate-limit': { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        'temporal-address': { type: 'string' },
        timeout: { type: 'string' },
        'probe-sagas': { type: 'string' },
        mode: { type: 'string' },
        workers: { type: 'string' },
        worker: { type: 'string' },
        floor: { type: 'boolean', default: false },
        seed: { type: 'string' },
        'no-limit': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const mode = (values.mode ?? 'sagas') as BenchMode;
  if (!MODES.includes(mode)) {
    throw new UsageError(`--mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(values.mode)}`);
  }
  const viaApi = mode !== 'sagas';
  const rateRaw = values['rate-limit'];
  const rateLimitPerSecond = rateRaw === undefined ? 25 : Number(rateRaw);
  const noLimit = values['no-limit'] || (viaApi && rateLimitPerSecond === 0);
  if (!noLimit && (!(rateLimitPerSecond > 0) || !Number.isFinite(rateLimitPerSecond))) {
    throw new UsageError(`--rate-limit must be a positive number, got ${JSON.stringify(rateRaw)}`);
  }
  const unused = unusedFlags(mode, values);
  if (unused.length > 0) throw new UsageError(unused.join('; '));
  const address = values['temporal-address'];
  // Checked here, so the message names the flag rather than the TEMPORAL_ADDRESS it becomes.
  if (address !== undefined && !hostPort().parse(address.trim() || undefined).ok) {
    throw new UsageError(
      `--temporal-address must be host:port, e.g. localhost:7233, got ${JSON.stringify(address)}`,
    );
  }
  const workerRuntime = (values.worker ?? 'image') as WorkerRuntime;
  if (!WORKER_RUNTIMES.includes(workerRuntime)) {
    throw new UsageError(
      `--worker must be one of ${WORKER_RUNTIMES.join(', ')}, got ${JSON.stringify(values.worker)}`,
    );
  }
  return {
    mode,
    workers: positiveInt('workers', values.workers, 1, 16),
    workerRuntime,
    floor: values.floor,
    seed: wholeNumber('seed', values.seed, 1, 0, 2 ** 31),
    noLimit,
    sagas: positiveInt('sagas', values.sagas, DEFAULT_SAGAS[mode], 10_000),
    slots: positiveInt('slots', values.slots, 2, 20),
    concurrency: positiveInt('concurrency', values.concurrency, 10, 1_000),
    rateLimitPerSecond,
    json: values.json,
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(address !== undefined ? { temporalAddress: address.trim() } : {}),
    timeoutSeconds: positiveInt('timeout', values.timeout, DEFAULT_TIMEOUT[mode], 24 * 3600),
    probeSagas: wholeNumber('probe-sagas', values['probe-sagas'], 5, 0, 100),
  };
}
