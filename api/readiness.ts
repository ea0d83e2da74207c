/**
 * `GET /readyz`'s question to Temporal, shared. The route answers anyone (probes carry no token), so
 * one `DescribeNamespace` per request would let any client drive the server's frontend as fast as
 * it can send: concurrent requests share the call in flight, and an answer serves everyone for a
 * second after it came.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { ConfigError } from '../lib/config.js';
import type { TemporalConnectionConfig } from '../lib/temporal-connection.js';
import { explainConnectFailure } from '../lib/temporal-connection-check.js';
import { isTemporalUnavailable, temporalCredentialRefusal } from './errors.js';
import { noteReachable, within } from './temporal-rpc.js';

const READY_TIMEOUT_MS = 2_000;
/** How long one answer stands for every request; probes come every few seconds. */
export const READY_REUSE_MS = 1_000;
/** While checks keep failing, how often the failure is logged again. */
export const READY_FAILURE_REPEAT_MS = 5 * 60_000;

/**
 * Resolves true when the namespace answered, false when it did not. A probe every few seconds during
 * an outage would write the same warning for as long as it lasts: the first failure is logged, then
 * again every READY_FAILURE_REPEAT_MS while it lasts, and the recovery once.
 */
export type ReadinessCheck = () => Promise<boolean>;

interface Check {
  answer: Promise<boolean>;
  /** When it answered; undefined while in flight. */
  at?: number;
}

/**
 * Why the check failed, in the start-up check's words. The client says only "DEADLINE_EXCEEDED" for
 * a refused connection, a TLS failure or a silent server alike; the start-up check's transport probe
 * tells them apart. Its messages name settings, never their values.
 */
function readinessFailureReason() {
  let diagnosing: Promise<string> | undefined;
  const diagnose = async (err: unknown, temporal: TemporalConnectionConfig): Promise<string> => {
    const explained = await explainConnectFailure(err, temporal);
    return explained instanceof ConfigError
      ? explained.problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')
      : explained.message;
  };
  return (err: unknown, temporal: TemporalConnectionConfig | undefined): Promise<string> => {
    const message = (err as Error).message;
    if (!temporal || !(isTemporalUnavailable(err) || temporalCredentialRefusal(err))) {
      return Promise.resolve(message);
    }
    // One probe at a time: while Temporal is down, probes to /readyz must not open a socket each.
    diagnosing ??= diagnose(err, temporal)
      .catch(() => message)
      .finally(() => (diagnosing = undefined));
    return diagnosing;
  };
}

/**
 * The check `/readyz` awaits: one `DescribeNamespace` at a time, its answer reused for READY_REUSE_MS.
 * With `temporal` (the connection's settings), a failure's warning names its cause.
 */
export function readinessCheck(
  client: Client,
  namespace: string,
  logger: Logger,
  temporal?: TemporalConnectionConfig,
): ReadinessCheck {
  const reasonOf = readinessFailureReason();
  /** When the failure streak was last logged; undefined while checks pass. */
  let failureLoggedAt: number | undefined;
  let failures = 0;
  const ask = async (): Promise<boolean> => {
    try {
      await within(client, READY_TIMEOUT_MS, () => client.workflowService.describeNamespace({ namespace }));
      noteReachable(client, true);
      if (failureLoggedAt !== undefined) logger.info({ failures }, 'readiness check passes again');
      failureLoggedAt = undefined;
      failures = 0;
      return true;
    } catch (err) {
      if (isTemporalUnavailable(err)) noteReachable(client, false);
      failures += 1;
      const now = Date.now();
      if (failureLoggedAt === undefined || now - failureLoggedAt >= READY_FAILURE_REPEAT_MS) {
        failureLoggedAt = now;
        const streak = failures;
        // The probe may take seconds (a server that does not answer); the 503 need not wait for it.
        void reasonOf(err, temporal).then((reason) =>
          logger.warn({ reason, failures: streak }, 'readiness check failed'),
        );
      }
      return false;
    }
  };
  let last: Check | undefined;
  return () => {
    if (last && (last.at === undefined || Date.now() - last.at < READY_REUSE_MS)) return last.answer;
    const check: Check = { answer: ask() };
    check.answer = check.answer.finally(() => (check.at = Date.now()));
    last = check;
    return check.answer;
  };
}
