/**
 * Durations as the API takes them: a positive whole number and one unit, `90s`, `15m`, `24h`, `7d`.
 * Pure, so the workflow, the API and the tests share one parser.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const MIN_AUTH_TIMEOUT_MS = 1000;
export const MAX_AUTH_TIMEOUT_MS = 30 * UNIT_MS.d;
export const DEFAULT_AUTH_TIMEOUT = '24h';
const RANGE_PROBLEM = 'must lie between 1s and 30d';

/** The form of a duration: the parser's rule, and the pattern the OpenAPI document shows. */
export const DURATION_PATTERN = '^[1-9][0-9]{0,9}[smhd]$';
const DURATION = new RegExp(DURATION_PATTERN);

/** Parses exactly `90s` / `15m` / `24h` / `7d` into milliseconds; `undefined` for anything else. */
export function parseExactDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  const unit = text.slice(-1) as keyof typeof UNIT_MS;
  return Number(text.slice(0, -1)) * UNIT_MS[unit];
}

/**
 * Like `parseExactDuration`, but forgives whitespace around the duration. Environment variables
 * (SHUTDOWN_GRACE) need that, and so do sagas the API started while it still trimmed `authTimeout`:
 * their histories must replay as they ran.
 */
export function parseDuration(text: string): number | undefined {
  return parseExactDuration(text.trim());
}

/**
 * Why `text` is not an acceptable `authTimeout`, or `undefined` when it is one. `lenient` forgives
 * whitespace around it, as `parseDuration` does; new input from the API never gets that.
 */
export function authTimeoutProblem(text: string, lenient = false): string | undefined {
  const ms = lenient ? parseDuration(text) : parseExactDuration(text);
  // `0s` has the right form; what is wrong is its size.
  if (ms === undefined && /^0+[smhd]$/.test(text)) return RANGE_PROBLEM;
  if (ms === undefined) {
    const padded = !lenient && parseDuration(text) !== undefined;
    return padded
      ? 'must be a duration such as 90s, 15m, 24h or 7d, with no whitespace around it'
      : 'must be a duration such as 90s, 15m, 24h or 7d';
  }
  if (ms < MIN_AUTH_TIMEOUT_MS || ms > MAX_AUTH_TIMEOUT_MS) return RANGE_PROBLEM;
  return undefined;
}
