/**
 * Command-line flags of `npm run bench`, parsed and checked up front so a typo fails before any
 * server starts.
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
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
  --sagas <n>              sagas to run, half new users, half known users (default 20)
  --slots <n>              auth slots per saga, 1..20 (default 2)
  --concurrency <n>        sagas in flight at once (default 10)
  --rate-limit <n>         task-queue activity rate limit per second, like TRAY_RATE_LIMIT_PER_SECOND (default 25)
  --json                   print the JSON result on stdout (the table goes to stderr)
  --out <file>             write the JSON result here (default bench-results/<timestamp>.json)
  --temporal-address <a>   use a running Temporal server (with the search attributes) instead of a dev server;
                           TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE apply to it
  --timeout <seconds>      abort the run after this long (default 110)
  --probe-sagas <n>        sagas for the "workers down" probe (GET with no worker), 0 skips it (default 5)
  --help                   this text`;

export class UsageError extends Error {}

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
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const rateRaw = values['rate-limit'];
  const rateLimitPerSecond = rateRaw === undefined ? 25 : Number(rateRaw);
  if (!(rateLimitPerSecond > 0) || !Number.isFinite(rateLimitPerSecond)) {
    throw new UsageError(`--rate-limit must be a positive number, got ${JSON.stringify(rateRaw)}`);
  }
  return {
    sagas: positiveInt('sagas', values.sagas, 20, 10_000),
    slots: positiveInt('slots', values.slots, 2, 20),
    concurrency: positiveInt('concurrency', values.concurrency, 10, 1_000),
    rateLimitPerSecond,
    json: values.json,
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(values['temporal-address'] !== undefined ? { temporalAddress: values['temporal-address'] } : {}),
    timeoutSeconds: positiveInt('timeout', values.timeout, 110, 24 * 3600),
    probeSagas: wholeNumber('probe-sagas', values['probe-sagas'], 5, 0, 100),
  };
}
