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
import { envVar, readEnv } from './config.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** `LOG_LEVEL` for a process's `readEnv` spec, so a bad one is listed with the other problems. */
export const logLevelVar = () =>
  envVar<LogLevelName, { default: LogLevelName }>({ default: 'info' }, (raw) => {
    const word = raw.toLowerCase();
    return (LOG_LEVELS as readonly string[]).includes(word)
      ? { value: word as LogLevelName }
      : { problem: `must be one of ${LOG_LEVELS.join(', ')}` };
  });

/** `LOG_LEVEL` (default info, any letter case); a ConfigError naming it for any other word. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevelName {
  return readEnv({ LOG_LEVEL: logLevelVar() }, env).LOG_LEVEL;
}

/** stdout, written line by line as it is logged. */
export function stdoutLogDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}
