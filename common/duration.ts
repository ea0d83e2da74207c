/**
 * Durations as the API takes them: a positive whole number and one unit, `90s`, `15m`, `24h`, `7d`.
 * Pure, so the workflow, the API and the tests share one parser.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const MIN_AUTH_TIMEOUT_MS = 1000;
export const MAX_AUTH_TIMEOUT_MS = 30 * UNIT_MS.d;
export const DEFAULT_AUTH_TIMEOUT = '24h';

/** Parses `90s` / `15m` / `24h` / `7d` into milliseconds; `undefined` when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,9})([smhd])$/.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

/** Why `text` is not an acceptable `authTimeout`, or `undefined` when it is one. */
export function authTimeoutProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) return 'must be a duration such as 90s, 15m, 24h or 7d';
  if (ms < MIN_AUTH_TIMEOUT_MS || ms > MAX_AUTH_TIMEOUT_MS) return 'must lie between 1s and 30d';
  return undefined;
}
