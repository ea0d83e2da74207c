/**
 * Structured logs for the API: a pino logger that redacts credentials and tags every line written
 * while serving a request with its id, and a one-line-per-request access log (method, path, status,
 * an error answer's code, duration) that never records headers or bodies.
 */
import type { RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { logLevelFromEnv, stdoutLogDestination } from '../lib/log-output.js';
import { REDACT } from '../lib/redact.js';
import { ERROR_CODE_LOCAL } from './errors.js';
import { requestIdFrom, requestIdMixin, runInRequest } from './request-context.js';

/**
 * The API's logger: JSON lines to stdout, or to `destination` (tests capture it). Throws a
 * ConfigError for a `LOG_LEVEL` pino does not know, unless `options` sets the level.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    name: 'connect-saga-api',
    redact: REDACT,
    mixin: requestIdMixin,
    // Most lines pass `err` as a plain `{ message }` (no stack, nothing else the error carried):
    // written as given, not as an Error of type "Object" with an empty stack.
    serializers: { err: (err: unknown) => (err instanceof Error ? pino.stdSerializers.err(err) : err) },
    ...options,
    level: options.level ?? logLevelFromEnv(),
  };
  return pino(settings, destination ?? stdoutLogDestination());
}

const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Serves the rest of the request inside its request context (see request-context.ts) and logs it once
 * answered, tagged with the request id echoed in `x-request-id`. Mount it on the app itself, not under
 * a path, so the logged path is the whole one.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Taken now: once a router has matched, `req.path` is relative to its mount path. `req.path`
    // also leaves out the query string, whose values can be user ids.
    const { path } = req;
    const requestId = requestIdFrom(req.headers);
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // An error answer's code says which of a status's causes it was (a 503: busy or unreachable).
      const code = res.locals[ERROR_CODE_LOCAL] as string | undefined;
      const line = {
        requestId,
        method: req.method,
        path,
        status: res.statusCode,
        ...(code === undefined ? {} : { code }),
        ms: Math.round(ms),
      };
      // Probes and scrapes come every few seconds from each prober: at info they would bury the
      // partner's requests, and a failing /readyz is told once by `readiness check failed`.
      if (PROBE_PATHS.has(path) && (res.statusCode < 500 || res.statusCode === 503))
        logger.debug(line, 'request');
      else if (res.statusCode >= 500) logger.error(line, 'request');
      else if (res.statusCode >= 400) logger.warn(line, 'request');
      else logger.info(line, 'request');
    });
    runInRequest(requestId, next);
  };
}
