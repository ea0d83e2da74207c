/**
 * How a failed Tray request becomes an `ApplicationFailure`. Tray documents one error shape (its rate
 * limit) and few codes, so an answer is judged by its status, its codes in any spelling and, when it
 * has no known code, its words: whatever a plausible Tray says, a failure that may pass retries and
 * one that cannot fails at once. No message or detail carries a token. What a code, name or words
 * mean is read in `tray-error-meaning.ts`; this file adds status, `Retry-After` and redaction.
 */
import { ApplicationFailure } from '@temporalio/common';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import {
  answerType,
  codeOf,
  isRateLimitError,
  messageOf,
  namedType,
  nameType,
} from './tray-error-meaning.js';
import { TrayAnswerError, TrayUnreadableAnswerError } from './tray-http.js';

/** What a Tray failure carries besides its message (safe for history: no tokens, no payloads). */
export interface TrayErrorDetails {
  operation: string;
  /** Tray's `extensions.code` (`not_found`, `conflict`, …), `unauthorized` for a 401, or a network code. */
  code?: string;
  httpStatus?: number;
  /** How long Tray asked to wait (`Retry-After`), if it said. */
  retryAfterMs?: number;
  /** Rate-limited only: the attempt Tray refused; the ones before it failed for real. */
  attempt?: number;
}

/** The details of a failure thrown by the Tray client, or undefined for any other error. */
export function trayErrorDetails(error: unknown): TrayErrorDetails | undefined {
  if (!(error instanceof ApplicationFailure)) return undefined;
  const detail = error.details?.[0] as Partial<TrayErrorDetails> | undefined;
  return typeof detail?.operation === 'string' ? (detail as TrayErrorDetails) : undefined;
}

/** True when `error` is a Tray failure of `type` (TRAY_FAILURE_TYPES). */
export function isTrayFailure(error: unknown, type: string): boolean {
  return error instanceof ApplicationFailure && error.type === type && trayErrorDetails(error) !== undefined;
}

const MAX_MESSAGE_LENGTH = 300;
const MAX_CODE_LENGTH = 64;
// A longer Retry-After is taken as this: a bogus header must not park a saga for hours.
const MAX_RETRY_AFTER_MS = 10 * 60_000;
// A failing server's wait uses up an attempt, so it stays near the steps' own longest backoff.
const MAX_SERVER_ERROR_WAIT_MS = 60_000;

const RETRYABLE_TYPES = new Set<string>([TRAY_FAILURE_TYPES.transient, TRAY_FAILURE_TYPES.rateLimited]);
const REFUSAL_TYPES = new Set<string>([
  TRAY_FAILURE_TYPES.forbidden,
  TRAY_FAILURE_TYPES.notFound,
  TRAY_FAILURE_TYPES.validation,
]);

/** The failure an answer from Tray (an HTTP error or GraphQL errors) means. */
function classifyAnswer(
  error: TrayAnswerError,
  operation: string,
  secrets: string[],
  attempt?: number,
): ApplicationFailure {
  const { status, errors } = error;
  const first = errors[0] ?? {};
  const trayMessage = sanitize(messageOf(first), secrets, MAX_MESSAGE_LENGTH);
  const rawCode = codeOf(first);
  const code = rawCode === undefined ? undefined : sanitize(rawCode, secrets, MAX_CODE_LENGTH);
  const suffix = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
  const waitMs = retryAfterMs(error);

  if (status === 429 || errors.some(isRateLimitError)) {
    return failure(
      TRAY_FAILURE_TYPES.rateLimited,
      `Tray ${operation}: rate limit exceeded (HTTP ${status})`,
      false,
      { operation, code: code ?? 'rate_limited', httpStatus: status, retryAfterMs: waitMs, attempt },
      waitMs,
    );
  }
  const named = namedType(code, trayMessage, nameType(first));
  const type = named ?? answerType(status, code, trayMessage);
  // express-graphql answers any error without data with HTTP 500: one whose code or name says what
  // was refused is that refusal. Not by words: a crash's could make a live instance look gone.
  const refusedAt500 = status === 500 && errors.length > 0 && REFUSAL_TYPES.has(named ?? '');
  if ((status >= 500 || status === 408) && !refusedAt500) {
    // A 503 may say when to come back: the retry waits that long (up to a minute), not its backoff.
    const serverWaitMs = waitMs === undefined ? undefined : Math.min(waitMs, MAX_SERVER_ERROR_WAIT_MS);
    return failure(
      TRAY_FAILURE_TYPES.transient,
      `Tray ${operation}: HTTP ${status} from Tray`,
      false,
      { operation, code, httpStatus: status, retryAfterMs: serverWaitMs },
      serverWaitMs,
    );
  }
  if (status === 401) {
    return failure(
      TRAY_FAILURE_TYPES.forbidden,
      `Tray ${operation}: the token was refused (unauthorized)`,
      true,
      { operation, code: 'unauthorized', httpStatus: status },
    );
  }
  const what = code ?? (errors.length > 0 ? 'error' : `HTTP ${status}`);
  return failure(
    type,
    `Tray ${operation}: ${what}${trayMessage ? `: ${trayMessage}` : ''}${suffix}`,
    !RETRYABLE_TYPES.has(type),
    { operation, code, httpStatus: status },
  );
}

/** Turns anything the HTTP exchange threw into the failure Temporal sees. */
export function classifyError(
  error: unknown,
  operation: string,
  secrets: string[],
  timeoutMs: number,
  attempt?: number,
): ApplicationFailure {
  if (error instanceof TrayAnswerError) return classifyAnswer(error, operation, secrets, attempt);
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    const message = `Tray ${operation}: no answer within ${timeoutMs} ms`;
    return failure(TRAY_FAILURE_TYPES.transient, message, false, { operation, code: 'timeout' });
  }

  if (error instanceof TrayUnreadableAnswerError) {
    // No httpStatus in the details: they mark an answer Tray meant (isRefusal reads them), and this
    // one says nothing, as a lost connection says nothing.
    const message = `Tray ${operation}: ${error.message}`;
    return failure(TRAY_FAILURE_TYPES.transient, message, false, { operation, code: 'unreadable_answer' });
  }
  // Resets, refused connections and dropped sockets carry a code (ECONNRESET, …). All of them may
  // pass on a retry.
  const causeCode = networkCode(error);
  return failure(
    TRAY_FAILURE_TYPES.transient,
    `Tray ${operation}: network error${causeCode ? ` (${causeCode})` : ''}`,
    false,
    { operation, code: causeCode ?? 'network' },
  );
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code.slice(0, MAX_CODE_LENGTH);
    current = current.cause;
  }
  return undefined;
}

/**
 * `Retry-After` as seconds or an HTTP date (RFC 9110), capped; undefined when absent or unreadable.
 * A date counts from the answer's own `Date`, so a Tray clock off from this one still means its wait.
 */
function retryAfterMs(error: TrayAnswerError, now = Date.now()): number | undefined {
  const value = error.headers['retry-after']?.trim();
  if (!value) return undefined;
  const sent = Date.parse(error.headers.date ?? '');
  const ms = /^\d+(\.\d+)?$/.test(value)
    ? Number(value) * 1000
    : Date.parse(value) - (Number.isFinite(sent) ? sent : now);
  return Number.isFinite(ms) && ms > 0 ? Math.min(Math.ceil(ms), MAX_RETRY_AFTER_MS) : undefined;
}

/** Tray's own text, cut short and with any token we hold (or anything shaped like a bearer) blanked. */
function sanitize(text: string, secrets: string[], maxLength: number): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret) clean = clean.split(secret).join('[redacted]');
  }
  clean = clean.replace(/bearer(?:\s|%20)+\S+/gi, 'Bearer [redacted]');
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}…` : clean;
}

/** A Tray failure with only the safe details, and the retry delay Tray asked for if any. */
export function failure(
  type: string,
  message: string,
  nonRetryable: boolean,
  details: TrayErrorDetails,
  nextRetryDelayMs?: number,
): ApplicationFailure {
  const clean: TrayErrorDetails = { operation: details.operation };
  if (details.code !== undefined) clean.code = details.code;
  if (details.httpStatus !== undefined) clean.httpStatus = details.httpStatus;
  if (details.retryAfterMs !== undefined) clean.retryAfterMs = details.retryAfterMs;
  if (details.attempt !== undefined) clean.attempt = details.attempt;
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable,
    details: [clean],
    ...(nextRetryDelayMs !== undefined ? { nextRetryDelay: nextRetryDelayMs } : {}),
  });
}
