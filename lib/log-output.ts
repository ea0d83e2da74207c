/**
 * What the worker's and the API's loggers share: the level from `LOG_LEVEL`, checked, and where the
 * JSON lines go. stdout is written synchronously: pino's default writes asynchronously and, at exit,
 * flushes with a loop that retries a failed write for ever (sonic-boom 4), so a process whose stdout
 * reader had gone (`| head`, a log shipper that died, a killed `npm start`) never exited on SIGTERM.
 * Written synchronously, a broken pipe silences the logger instead (pino's EPIPE handling). The
 * price is Node's own for stdout on a pipe (`console.log` included): a reader that stops reading
 * without closing the pipe holds the process once the pipe is full.
 */
import { pino, type DestinationStream } from 'pino';
import { ConfigError, envVar } from './config.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const LEVEL_PROBLEM = `must be one of ${LOG_LEVELS.join(', ')}`;

function levelOf(raw: string): LogLevelName | undefined {
  const word = raw.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(word) ? (word as LogLevelName) : undefined;
}

/** `LOG_LEVEL` for a process's `readEnv` spec, so a bad one is listed with the other problems. */
export const logLevelVar = () =>
  envVar<LogLevelName, { default: LogLevelName }>({ default: 'info' }, (raw) => {
    const level = levelOf(raw);
    return level ? { value: level } : { problem: LEVEL_PROBLEM };
  });

/** `LOG_LEVEL` (default info, any letter case); a ConfigError naming it for any other word. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevelName {
  const raw = env.LOG_LEVEL;
  if (raw === undefined || raw.trim() === '') return 'info';
  const level = levelOf(raw);
  if (level) return level;
  throw new ConfigError([{ variable: 'LOG_LEVEL', problem: LEVEL_PROBLEM }]);
}

/** stdout, written line by line as it is logged. */
export function stdoutLogDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}
