/**
 * Structured logs for the API: a pino logger that redacts credentials, and a one-line-per-request
 * access log (method, path, status, duration) that never records headers or bodies.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACT } from '../lib/redact.js';

/** The API's logger: JSON lines to stdout, or to `destination` (tests capture it). */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    name: 'connect-saga-api',
    level: process.env.LOG_LEVEL ?? 'info',
    redact: REDACT,
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** Logs each request once it is answered, tagged with a request id echoed in `x-request-id`. */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId =
      typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(ms),
      };
      if (res.statusCode >= 500) logger.error(line, 'request');
      else if (res.statusCode >= 400) logger.warn(line, 'request');
      else logger.info(line, 'request');
    });
    next();
  };
}
