/**
 * The one place that talks HTTP to Tray's GraphQL API. Every failure leaves here as an
 * `ApplicationFailure` whose type (TRAY_FAILURE_TYPES) and `nonRetryable` flag tell Temporal whether
 * retrying can help, and whose message never carries a token.
 */
import { ApplicationFailure } from '@temporalio/common';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { graphqlData, jsonPoster, TrayAnswerError, type GraphQLErrorLike } from './tray-http.js';

/** A GraphQL operation's variables. */
export type Variables = Record<string, unknown>;

/** Tray's GraphQL endpoint and auth-only dialog host per region (docs/tray.md). */
export const REGION_ENDPOINTS = {
  us: { graphqlUrl: 'https://tray.io/graphql', dialogBaseUrl: 'https://embedded.tray.io' },
  eu: { graphqlUrl: 'https://eu1.tray.io/graphql', dialogBaseUrl: 'https://embedded.eu1.tray.io' },
  apac: { graphqlUrl: 'https://ap1.tray.io/graphql', dialogBaseUrl: 'https://embedded.ap1.tray.io' },
} as const satisfies Record<'us' | 'eu' | 'apac', { graphqlUrl: string; dialogBaseUrl: string }>;

export type TrayRegion = keyof typeof REGION_ENDPOINTS;

/** Which token a request carries: the partner's master token, or a user token from `authorize`. */
export type TrayAuth = 'master' | { userToken: string };

export interface TrayClient {
  /**
   * Sends one GraphQL operation and returns its `data`. Throws an ApplicationFailure typed by
   * TRAY_FAILURE_TYPES, with `TrayErrorDetails` as its only detail.
   */
  request<T>(
    document: string,
    variables: Variables | undefined,
    auth: TrayAuth,
    options?: TrayRequestOptions,
  ): Promise<T>;
}

export interface TrayRequestOptions {
  /** Aborts the request early, e.g. the activity's cancellation signal. */
  signal?: AbortSignal;
  /** The activity attempt sending it, carried by a rate-limited failure (docs/design.md#retries). */
  attempt?: number;
}

export interface TrayClientOptions {
  graphqlUrl: string;
  masterToken: string;
  /** Per-request timeout; a timed-out request is a transient failure. Default 10 s. */
  timeoutMs?: number;
}

/** What a Tray failure carries besides its message (safe for history: no tokens, no payloads). */
export interface TrayErrorDetails {
  operation: string;
  /** Tray's `extensions.code` (`not_found`, `conflict`, …), `unauthorized` for a 401, or a network code. */
  code?: string;
  httpStatus?: number;
  /** Rate-limited only: how long Tray asked to wait (`Retry-After`), if it said. */
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

const MAX_MESSAGE_LENGTH = 300;
// A longer Retry-After is taken as this: a bogus header must not park a saga for hours.
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Creates a client bound to one endpoint and master token; user tokens are passed per request. */
export function createTrayClient(options: TrayClientOptions): TrayClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const post = jsonPoster(options.graphqlUrl);

  return {
    async request<T>(
      document: string,
      variables: Variables | undefined,
      auth: TrayAuth,
      requestOptions: TrayRequestOptions = {},
    ): Promise<T> {
      const operation = operationName(document);
      const token = auth === 'master' ? options.masterToken : auth.userToken;
      const secrets = [options.masterToken, token];
      const outer = requestOptions.signal;
      let data: T | undefined;
      try {
        const answer = await post(
          JSON.stringify({ query: document, ...(variables ? { variables } : {}) }),
          `Bearer ${token}`,
          timeoutMs,
          outer,
        );
        data = graphqlData<T>(answer);
      } catch (error) {
        if (outer?.aborted) {
          throw failure(
            TRAY_FAILURE_TYPES.transient,
            `Tray ${operation}: request abandoned (activity cancelled)`,
            false,
            {
              operation,
              code: 'cancelled',
            },
          );
        }
        throw classifyError(error, operation, secrets, timeoutMs, requestOptions.attempt);
      }
      if (data === undefined || data === null) {
        throw failure(TRAY_FAILURE_TYPES.transient, `Tray ${operation}: the answer had no data`, false, {
          operation,
        });
      }
      return data;
    },
  };
}

/** The GraphQL operation name a document declares, for errors, metrics and spans. */
export function operationName(document: string): string {
  return /\b(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(document)?.[1] ?? 'anonymous';
}

function isRateLimitError(error: GraphQLErrorLike): boolean {
  const message = typeof error.message === 'string' ? error.message : '';
  return (
    /rate limit/i.test(message) ||
    (error.extensions?.code === 'access_not_allowed' && error.extensions.name === 'PreconditionError')
  );
}

/** Maps Tray's `extensions.code` to a failure type; undefined for codes with no fixed meaning. */
const CODE_TYPES: Record<string, string> = {
  forbidden: TRAY_FAILURE_TYPES.forbidden,
  FORBIDDEN: TRAY_FAILURE_TYPES.forbidden,
  unauthorized: TRAY_FAILURE_TYPES.forbidden,
  UNAUTHENTICATED: TRAY_FAILURE_TYPES.forbidden,
  not_found: TRAY_FAILURE_TYPES.notFound,
  NOT_FOUND: TRAY_FAILURE_TYPES.notFound,
  GRAPHQL_VALIDATION_FAILED: TRAY_FAILURE_TYPES.validation,
  GRAPHQL_PARSE_FAILED: TRAY_FAILURE_TYPES.validation,
  BAD_USER_INPUT: TRAY_FAILURE_TYPES.validation,
  bad_request: TRAY_FAILURE_TYPES.validation,
  conflict: TRAY_FAILURE_TYPES.permanent,
  INTERNAL_SERVER_ERROR: TRAY_FAILURE_TYPES.transient,
  internal_error: TRAY_FAILURE_TYPES.transient,
};

const RETRYABLE_TYPES = new Set<string>([TRAY_FAILURE_TYPES.transient, TRAY_FAILURE_TYPES.rateLimited]);

function classifyError(
  error: unknown,
  operation: string,
  secrets: string[],
  timeoutMs: number,
  attempt?: number,
): ApplicationFailure {
  if (error instanceof TrayAnswerError) {
    const { status, errors } = error;
    const first = errors[0];
    const trayMessage = sanitize(typeof first?.message === 'string' ? first.message : '', secrets);
    const rawCode = first?.extensions?.code;
    const code = typeof rawCode === 'string' ? rawCode : undefined;
    const suffix = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';

    if (status === 429 || errors.some(isRateLimitError)) {
      const waitMs = retryAfterMs(error);
      return failure(
        TRAY_FAILURE_TYPES.rateLimited,
        `Tray ${operation}: rate limit exceeded (HTTP ${status})`,
        false,
        { operation, code: code ?? 'rate_limited', httpStatus: status, retryAfterMs: waitMs, attempt },
        waitMs,
      );
    }
    if (status >= 500 || status === 408) {
      return failure(TRAY_FAILURE_TYPES.transient, `Tray ${operation}: HTTP ${status} from Tray`, false, {
        operation,
        code,
        httpStatus: status,
      });
    }
    if (status === 401) {
      return failure(
        TRAY_FAILURE_TYPES.forbidden,
        `Tray ${operation}: the token was refused (unauthorized)`,
        true,
        { operation, code: 'unauthorized', httpStatus: status },
      );
    }
    const type =
      (code !== undefined && Object.hasOwn(CODE_TYPES, code) ? CODE_TYPES[code] : undefined) ??
      TRAY_FAILURE_TYPES.permanent;
    const what = code ?? (errors.length > 0 ? 'error' : `HTTP ${status}`);
    return failure(
      type,
      `Tray ${operation}: ${what}${trayMessage ? `: ${trayMessage}` : ''}${suffix}`,
      !RETRYABLE_TYPES.has(type),
      { operation, code, httpStatus: status },
    );
  }

  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return failure(
      TRAY_FAILURE_TYPES.transient,
      `Tray ${operation}: no answer within ${timeoutMs} ms`,
      false,
      {
        operation,
        code: 'timeout',
      },
    );
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
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110), capped; undefined when absent or unreadable. */
function retryAfterMs(error: TrayAnswerError, now = Date.now()): number | undefined {
  const value = error.headers['retry-after']?.trim();
  if (!value) return undefined;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(Math.ceil(ms), MAX_RETRY_AFTER_MS) : undefined;
}

/** Tray's own text, cut short and with any token we hold (or anything shaped like a bearer) blanked. */
function sanitize(text: string, secrets: string[]): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret) clean = clean.split(secret).join('[redacted]');
  }
  clean = clean.replace(/bearer\s+\S+/gi, 'Bearer [redacted]');
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH)}…` : clean;
}

function failure(
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
