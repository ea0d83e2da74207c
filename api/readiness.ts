/**
 * `GET /readyz`'s question to Temporal, shared. The route answers anyone (probes carry no token), so
 * one `DescribeNamespace` per request would let any client drive the server's frontend as fast as
 * it can send: concurrent requests share the call in flight, and an answer serves everyone for a
 * second after it came.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { isTemporalUnavailable } from './errors.js';
import { noteReachable, within } from './temporal-rpc.js';

const READY_TIMEOUT_MS = 2_000;
/** How long one answer stands for every request; probes come every few seconds. */
export const READY_REUSE_MS = 1_000;

/** Resolves true when the namespace answered, false (logged once per check) when it did not. */
export type ReadinessCheck = () => Promise<boolean>;

interface Check {
  answer: Promise<boolean>;
  /** When it answered; undefined while in flight. */
  at?: number;
}

/** The check `/readyz` awaits: one `DescribeNamespace` at a time, its answer reused for READY_REUSE_MS. */
export function readinessCheck(client: Client, namespace: string, logger: Logger): ReadinessCheck {
  const ask = async (): Promise<boolean> => {
    try {
      await within(client, READY_TIMEOUT_MS, () => client.workflowService.describeNamespace({ namespace }));
      noteReachable(client, true);
      return true;
    } catch (err) {
      if (isTemporalUnavailable(err)) noteReachable(client, false);
      logger.warn({ err: { message: (err as Error).message } }, 'readiness check failed');
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
