/**
 * The one place that talks HTTP to Tray's GraphQL API. Every failure leaves here as an
 * `ApplicationFailure` whose type (TRAY_FAILURE_TYPES) and `nonRetryable` flag tell Temporal whether
 * retrying can help, and whose message never carries a token.
 */
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import type { SendPacer } from './send-pacer.js';
import { classifyError, failure } from './tray-errors.js';
import { graphqlData, jsonPoster } from './tray-http.js';

export { trayErrorDetails, type TrayErrorDetails } from './tray-errors.js';

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
  /** The activity's priority key (1 first): the order in which the pacer lets held requests go. */
  priority?: number;
}

export interface TrayClientOptions {
  graphqlUrl: string;
  masterToken: string;
  /** Per-request timeout; a timed-out request is a transient failure. Default 10 s. */
  timeoutMs?: number;
  /** Holds a request back while this process has spent the budget's window (`trayBudgetPacer`). */
  pacer?: SendPacer;
}

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
      let httpStatus: number | undefined;
      try {
        await options.pacer?.wait(outer, requestOptions.priority);
        const answer = await post(
          JSON.stringify({ query: document, ...(variables ? { variables } : {}) }),
          `Bearer ${token}`,
          timeoutMs,
          outer,
        );
        httpStatus = answer.status;
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
        // An answer all the same: a removal, attach or enable looks at the instance (isRefusal).
        throw failure(TRAY_FAILURE_TYPES.transient, `Tray ${operation}: the answer had no data`, false, {
          operation,
          httpStatus,
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
