/**
 * How a failed Tray request becomes an `ApplicationFailure`. Tray documents one error shape (its rate
 * limit) and few codes, so an answer is judged by its status, its codes in any spelling and, when it
 * has no known code, its words: whatever a plausible Tray says, a failure that may pass retries and
 * one that cannot fails at once. No message or detail carries a token.
 */
import { ApplicationFailure } from '@temporalio/common';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { TrayAnswerError, type GraphQLErrorLike } from './tray-http.js';

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

/** Codes by meaning, compared lower-cased without separators: `NOT_FOUND`, `not-found`, `NotFound`. */
const CODE_TYPES: Record<string, string> = {
  forbidden: TRAY_FAILURE_TYPES.forbidden,
  unauthorized: TRAY_FAILURE_TYPES.forbidden,
  unauthorised: TRAY_FAILURE_TYPES.forbidden,
  unauthenticated: TRAY_FAILURE_TYPES.forbidden,
  accessdenied: TRAY_FAILURE_TYPES.forbidden,
  permissiondenied: TRAY_FAILURE_TYPES.forbidden,
  authenticationerror: TRAY_FAILURE_TYPES.forbidden,
  authenticationfailed: TRAY_FAILURE_TYPES.forbidden,
  invalidtoken: TRAY_FAILURE_TYPES.forbidden,
  tokenexpired: TRAY_FAILURE_TYPES.forbidden,
  notfound: TRAY_FAILURE_TYPES.notFound,
  graphqlvalidationfailed: TRAY_FAILURE_TYPES.validation,
  graphqlparsefailed: TRAY_FAILURE_TYPES.validation,
  baduserinput: TRAY_FAILURE_TYPES.validation,
  badrequest: TRAY_FAILURE_TYPES.validation,
  validationerror: TRAY_FAILURE_TYPES.validation,
  invalidinput: TRAY_FAILURE_TYPES.validation,
  conflict: TRAY_FAILURE_TYPES.permanent,
  alreadyexists: TRAY_FAILURE_TYPES.permanent,
  internalservererror: TRAY_FAILURE_TYPES.transient,
  internalerror: TRAY_FAILURE_TYPES.transient,
  serviceunavailable: TRAY_FAILURE_TYPES.transient,
  unavailable: TRAY_FAILURE_TYPES.transient,
  timeout: TRAY_FAILURE_TYPES.transient,
  timedout: TRAY_FAILURE_TYPES.transient,
  gatewaytimeout: TRAY_FAILURE_TYPES.transient,
  badgateway: TRAY_FAILURE_TYPES.transient,
  temporarilyunavailable: TRAY_FAILURE_TYPES.transient,
  tryagain: TRAY_FAILURE_TYPES.transient,
};

/** A code that is an HTTP status (`503`, as some servers put in `extensions.code`), by meaning. */
function statusCodeType(code: string | undefined): string | undefined {
  if (code === undefined || !/^\d{3}$/.test(code.trim())) return undefined;
  const status = Number(code);
  if (status >= 500 || status === 408) return TRAY_FAILURE_TYPES.transient;
  if (status === 401 || status === 403) return TRAY_FAILURE_TYPES.forbidden;
  if (status === 404) return TRAY_FAILURE_TYPES.notFound;
  if (status === 400 || status === 422) return TRAY_FAILURE_TYPES.validation;
  return undefined;
}

const RATE_LIMIT_WORDS = /rate[\s_-]?limit|too[\s_-]?many[\s_-]?requests|throttl/i;
// Only for an answer whose code says nothing known: the words Tray's own messages would use.
const FORBIDDEN_WORDS =
  /\b(?:un|not\s+)authori[sz]ed\b|\b(?:un|not\s+)authenticated\b|\bauthentication\s+(?:failed|required)\b|\b(?:invalid|expired|revoked)\s+(?:access\s+|user\s+)?(?:token|jwt)\b|\b(?:token|jwt|session)\s+(?:is\s+|has\s+)?(?:invalid|expired|revoked|malformed)\b|\b(?:token|jwt|session)\s+(?:was\s+)?not\s+found\b|\bforbidden\b|\bpermission denied\b|\baccess (?:denied|not allowed)\b/i;
// graphql-js's own words when `viewer` resolves to null, which a server does for a token it does not take.
const NO_VIEWER_WORDS = /\bnon-nullable field (?:Query\.)?viewer\b/i;
const NOT_FOUND_WORDS = /\bnot\s+found\b|\bdoes\s*n[o']t\s+exist\b|\bno\s+such\b/i;
// A failing server's words, in an answer whose code says nothing known: worth the bounded retries.
// Its own missing parts (a file, a table, a host) come first: read as "not found", they would let
// a search find nothing and a removal count a live instance as gone.
const TRANSIENT_WORDS =
  /\binternal\s+(?:server\s+)?error\b|\b(?:temporarily|service)\s+unavailable\b|\btimed?[\s_-]?out\b|\bno\s+such\s+(?:file|directory|table|column|host)\b|\brelation\b.*\bdoes\s+not\s+exist\b|\bE(?:NOENT|CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH|NOTFOUND|AI_AGAIN|PIPE)\b/i;

const RETRYABLE_TYPES = new Set<string>([TRAY_FAILURE_TYPES.transient, TRAY_FAILURE_TYPES.rateLimited]);
const REFUSAL_TYPES = new Set<string>([
  TRAY_FAILURE_TYPES.forbidden,
  TRAY_FAILURE_TYPES.notFound,
  TRAY_FAILURE_TYPES.validation,
]);

function normalizedCode(code: string | undefined): string {
  return (code ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** `extensions.code` as text (some servers send a number), or undefined. */
function codeOf(error: GraphQLErrorLike): string | undefined {
  const raw = error.extensions?.code;
  return typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
}

function messageOf(error: GraphQLErrorLike): string {
  return typeof error.message === 'string' ? error.message : '';
}

function isRateLimitError(error: GraphQLErrorLike): boolean {
  const code = codeOf(error);
  const extensions = error.extensions;
  return (
    RATE_LIMIT_WORDS.test(messageOf(error)) ||
    (code !== undefined && (RATE_LIMIT_WORDS.test(code) || code === '429')) ||
    extensions?.status === 429 ||
    extensions?.http?.status === 429 ||
    (code === 'access_not_allowed' && extensions?.name === 'PreconditionError')
  );
}

/** The type `extensions.name` names (`ForbiddenError`, `NotFoundError`), for a code that says nothing known. */
function nameType(error: GraphQLErrorLike): string | undefined {
  const name = error.extensions?.name;
  const key = normalizedCode(typeof name === 'string' ? name : undefined);
  // Own keys only: a code such as `constructor` must not find Object.prototype's.
  if (Object.hasOwn(CODE_TYPES, key)) return CODE_TYPES[key];
  const bare = key.replace(/error$/, '');
  return Object.hasOwn(CODE_TYPES, bare) ? CODE_TYPES[bare] : undefined;
}

/** The type an error's code or `extensions.name` names, or graphql-js's own words for a null viewer. */
function namedType(code: string | undefined, message: string, byName?: string): string | undefined {
  const key = normalizedCode(code);
  if (Object.hasOwn(CODE_TYPES, key)) return CODE_TYPES[key] as string;
  if (byName) return byName;
  return code === undefined && NO_VIEWER_WORDS.test(message) ? TRAY_FAILURE_TYPES.forbidden : undefined;
}

/** The failure type of a GraphQL-level answer whose code and name say nothing known: by status, then words. */
function answerType(status: number, code: string | undefined, message: string): string {
  const byStatusCode = statusCodeType(code);
  if (byStatusCode) return byStatusCode;
  if (status === 403) return TRAY_FAILURE_TYPES.forbidden;
  if (FORBIDDEN_WORDS.test(message) || NO_VIEWER_WORDS.test(message)) return TRAY_FAILURE_TYPES.forbidden;
  if (TRANSIENT_WORDS.test(message)) return TRAY_FAILURE_TYPES.transient;
  if (NOT_FOUND_WORDS.test(message)) return TRAY_FAILURE_TYPES.notFound;
  return TRAY_FAILURE_TYPES.permanent;
}

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

  // Resets, refused connections and dropped sockets carry a code (ECONNRESET, …); an unparsable 2xx
  // body (a proxy's error page) lands here too. All of them may pass on a retry.
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
