/**
 * Why a dev server exited while starting, in its own words: the line of its log that says so, and
 * whether starting it again could help (a command line the CLI refuses fails the same every time).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { TEMPORAL_CLI } from './temporal-bin.js';

const MAX_QUOTE = 300;
const READ_LIMIT = 64 * 1024;
const REASON = /^(?:Error:|panic:|fatal|level=(?:ERROR|FATAL))/i;
const USAGE = /^Error: (?:unknown (?:flag|shorthand flag|command)|invalid argument|flag needs an argument)/;

/**
 * The first line of `file` after byte `from` that gives a reason (`Error: …`, `panic: …`), else its
 * last line; undefined when there is none or the file cannot be read.
 */
export function reasonInLog(file: string, from: number): string | undefined {
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(READ_LIMIT);
      const read = readSync(fd, buffer, 0, READ_LIMIT, from);
      text = buffer.subarray(0, read).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const line = lines.find((l) => REASON.test(l)) ?? lines.at(-1);
  return line && (line.length > MAX_QUOTE ? `${line.slice(0, MAX_QUOTE)}…` : line);
}

/** For a line the CLI printed because it refused its command line: what to do instead; else undefined. */
export function usageAdvice(line: string | undefined, cliPath: string): string | undefined {
  if (!line || !USAGE.test(line)) return undefined;
  const pinned = `${TEMPORAL_CLI.pipPackage} ${TEMPORAL_CLI.pipVersion}`;
  return (
    `the CLI at ${cliPath} refused the arguments connect-saga passes (it is tested with ${pinned}); ` +
    `unset ${TEMPORAL_CLI.envVar}, or take that CLI off PATH, to use ${pinned}`
  );
}
