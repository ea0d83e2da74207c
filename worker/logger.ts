/**
 * The worker's structured logs: one pino logger (JSON to stdout) that also receives the Temporal
 * SDK's and the activities' log lines, with anything token-like redacted.
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { trayErrorDetails } from '../activities/tray-errors.js';
import { pino, type Logger } from 'pino';
import { logLevelFromEnv, stdoutLogDestination } from '../lib/log-output.js';
import { REDACT } from '../lib/redact.js';

/**
 * The worker's logger; `LOG_LEVEL` picks the level (default info), and a word pino does not know
 * throws a ConfigError naming it.
 */
export function createWorkerLogger(level: string = logLevelFromEnv()): Logger {
  return pino({ name: 'connect-saga-worker', level, redact: REDACT }, stdoutLogDestination());
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Adapts pino to the Temporal SDK's Logger, for `Runtime.install({ logger })`. */
export function temporalLogger(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    // The SDK puts failures under `error`; pino serialises message, type and stack only under `err`.
    // The SDK calls this for every activation whatever the level: only lines pino writes are worked on.
    if (!logger.isLevelEnabled(LEVELS[level])) return;
    const { error, ...rest } = meta ?? {};
    // The saga's own lines carry `error` as a plain `{ type, message }`: kept as it is.
    const kept = error === undefined || error instanceof Error ? rest : { ...rest, error };
    const fields = level === 'TRACE' || level === 'DEBUG' ? withoutPayloadData(kept) : kept;
    logger[LEVELS[level]](
      withoutTaskTokenText(error instanceof Error ? { ...fields, err: logged(error, message) } : fields),
      withoutTaskTokenText(message),
    );
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/**
 * The SDK's core writes a task token as `TaskToken(<base64>)` where it formats one into text (a field
 * under another name, a span's context, a message): the token is left out wherever it appears, and a
 * token field at any depth is redacted (pino's paths reach one level down only).
 */
const TASK_TOKEN_TEXT = /TaskToken\([^)]*\)/g;
const TOKEN_KEYS = new Set(['taskToken', 'task_token']);

function withoutTaskTokenText<T>(value: T, copies = new WeakMap<object, unknown>()): T {
  if (typeof value === 'string') return value.replace(TASK_TOKEN_TEXT, `TaskToken(${REDACT.censor})`) as T;
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) return errorWithoutTaskToken(value) as T;
  const prototype = Object.getPrototypeOf(value) as unknown;
  const plain = Array.isArray(value) || prototype === Object.prototype || prototype === null;
  if (!plain) return value;
  // A cycle is copied as a cycle, which pino writes as "[Circular]", as it did before.
  const done = copies.get(value);
  if (done !== undefined) return done as T;
  const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>;
  copies.set(value, copy);
  for (const key of Object.keys(copy)) {
    copy[key] = TOKEN_KEYS.has(key) ? REDACT.censor : withoutTaskTokenText(copy[key], copies);
  }
  return copy as T;
}

/** `error` itself, or a stand-in whose message and stack leave a task token out. */
function errorWithoutTaskToken(error: Error): Error {
  const { message, stack } = error;
  if (!message.includes('TaskToken(') && !stack?.includes('TaskToken(')) return error;
  const clean = Object.create(error) as Error;
  Object.defineProperty(clean, 'message', { value: withoutTaskTokenText(message), enumerable: false });
  Object.defineProperty(clean, 'stack', { value: stack && withoutTaskTokenText(stack), enumerable: false });
  return clean;
}

/** The SDK's line for a workflow that ended by throwing, which only a Temporal failure does. */
const WORKFLOW_FAILED = 'Workflow failed';

/**
 * A Tray failure the client classified (a 429, a 503, a timeout) is an expected answer, logged by the
 * SDK at every failed attempt: its type, message and details say all, and the stack, the same client
 * frames each time, would be most of every line of a rate-limit storm. A saga that failed or timed
 * out threw on purpose (a bug in workflow code fails the task, not the workflow): its frames are the
 * bundle's, the same for every such saga, and an activity failure among its causes was logged whole
 * when the activity failed. Both keep the first line of each stack only; anything else keeps its
 * whole stack.
 */
function logged(error: Error, message: string): Error {
  if (message !== WORKFLOW_FAILED && trayErrorDetails(error) === undefined) return error;
  return firstLines(error);
}

/** `error` and its causes, each with the first line of its stack only (pino writes the causes' too). */
function firstLines(error: Error): Error {
  const short = Object.create(error) as Error;
  Object.defineProperty(short, 'stack', { value: `${error.name}: ${error.message}`, enumerable: false });
  if (error.cause instanceof Error) {
    Object.defineProperty(short, 'cause', { value: firstLines(error.cause), enumerable: false });
  }
  return short;
}

/**
 * A payload as JSON: its metadata, and its data in base64 (protobuf's toJSON) or as a Buffer's
 * toJSON (a message built rather than decoded).
 */
interface JsonPayload {
  metadata: Record<string, unknown>;
  data: string | { type: 'Buffer'; data: number[] };
}

function isJsonPayload(value: unknown): value is JsonPayload {
  const v = value as Partial<JsonPayload> | null;
  if (typeof v !== 'object' || v === null || typeof v.metadata !== 'object' || v.metadata === null)
    return false;
  return typeof v.data === 'string' || (v.data?.type === 'Buffer' && Array.isArray(v.data.data));
}

function byteLength(data: JsonPayload['data']): number {
  return typeof data === 'string' ? Buffer.from(data, 'base64').length : data.data.length;
}

/**
 * `fields` with the data of every payload in them replaced by its size. At trace level the SDK logs
 * each workflow activation and activity task whole, payloads included: base64 of what history holds,
 * one-time auth codes and personal data among it, which a log is not to carry. The task tokens in
 * them are left to withoutTaskTokenText, which every line goes through.
 */
export function withoutPayloadData(fields: Record<string, unknown>): Record<string, unknown> {
  const scrub = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(scrub);
    if (typeof value !== 'object' || value === null) return value;
    if (isJsonPayload(value)) return { ...value, data: `[${byteLength(value.data)} bytes, not logged]` };
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, scrub(inner)]));
  };
  let json: unknown;
  try {
    // As pino would write them: protobuf messages turn into JSON (bytes as base64) through toJSON.
    json = JSON.parse(JSON.stringify(fields));
  } catch {
    // Circular or a BigInt: not one of the SDK's task dumps, which are plain protobuf messages.
    return fields;
  }
  return scrub(json) as Record<string, unknown>;
}
