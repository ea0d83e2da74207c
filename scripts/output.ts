/**
 * What `npm start` prints: each part's lines under a `[name]` prefix, pino's JSON made readable, and
 * the script's own lines under `[start]`.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

const COLORS = [36, 35, 33, 32, 34];

/** `[name] ` in a colour when the output is a terminal, plain otherwise. */
export function prefixFor(name: string, index: number, out: Writable & { isTTY?: boolean }): string {
  const label = `[${name}]`;
  if (!out.isTTY || process.env.NO_COLOR) return `${label} `;
  return `\u001b[${COLORS[index % COLORS.length]}m${label}\u001b[0m `;
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const BORING = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/**
 * A pino JSON line, or one of the Temporal SDK core's, as one readable line (`warn  message
 * key=value …`); anything else unchanged. The worker and the API log JSON for machines; in a
 * terminal a person reads `npm start`.
 */
export function humanizeLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const core = record.fields as Record<string, unknown> | undefined;
  if (typeof record.level === 'string' && typeof core?.message === 'string') {
    // The Temporal SDK core's own JSON (`level: "WARN"`, the text in `fields.message`).
    const { message, ...rest } = core;
    return [record.level.toLowerCase().padEnd(5), message, ...pairs(rest)].join('  ');
  }
  if (typeof record.msg !== 'string' || typeof record.level !== 'number') return line;
  const level = (LEVELS[record.level] ?? String(record.level)).padEnd(5);
  const fields = pairs(Object.fromEntries(Object.entries(record).filter(([key]) => !BORING.has(key))));
  return [level, record.msg, ...fields].join('  ');
}

function pairs(record: Record<string, unknown>): string[] {
  return Object.entries(record).map(
    ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
}

/** Copies each line of `input` to `out`, prefixed and made readable. */
export function relayLines(input: Readable, prefix: string, out: Writable): void {
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => out.write(`${prefix}${humanizeLine(line)}\n`));
}

/** One line of the start script's own, on stdout. */
export function say(message: string): void {
  process.stdout.write(`${prefixFor('start', 4, process.stdout)}${message}\n`);
}

/** One line of the start script's own, on stderr: something went wrong. */
export function complain(message: string): void {
  process.stderr.write(`${prefixFor('start', 4, process.stderr)}${message}\n`);
}

/** An error's message without its stack, for a one-line complaint. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
