/**
 * How many worker processes take activities from the task queue, as the server sees their polls, so
 * each keeps its requests on the wire to its share of the Tray budget (activities/send-pacer.ts):
 * the task-queue limit bounds them together only where the server hands activities out.
 */
import { tsToMs } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import { GrpcStatus } from '../lib/grpc-status.js';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** A poller counts while it polled this recently; a long poll lasts up to a minute. */
export const RECENT_POLL_MS = 90_000;
/** How often each worker looks again: a worker that joins is counted by the others within it. */
export const PEER_CHECK_INTERVAL_MS = 10_000;
const DESCRIBE_TIMEOUT_MS = 5_000;

type Poller = { identity?: string | null; lastAccessTime?: Parameters<typeof tsToMs>[0] };

/** Distinct identities among pollers seen within RECENT_POLL_MS of `now`; at least 1 (this one). */
export function recentPollers(pollers: readonly Poller[], now: number): number {
  const identities = new Set<string>();
  for (const poller of pollers) {
    const at = poller.lastAccessTime ? tsToMs(poller.lastAccessTime) : now;
    if (now - at <= RECENT_POLL_MS) identities.add(poller.identity ?? '');
  }
  return Math.max(1, identities.size);
}

/** The worker processes polling `taskQueue` for activities now. */
export async function countActivityWorkers(
  connection: NativeConnection,
  namespace: string,
  taskQueue: string,
): Promise<number> {
  const answer = await connection.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    }),
  );
  return recentPollers(answer.pollers ?? [], Date.now());
}

export interface PeerWatchOptions {
  count: () => Promise<number>;
  /** Called with the first count and whenever it changes. */
  onCount: (workers: number) => void;
  /** A failed look keeps the last count; told once per failure streak. */
  onError?: (error: unknown) => void;
  /** A look that works after a failure streak: the end of what onError announced. */
  onRecover?: () => void;
  intervalMs?: number;
  /** Extra looks soon after the start, while the workers of a deploy come up together. */
  firstLooksMs?: readonly number[];
}

/** A burst may begin right after a deploy: the first looks come before the steady interval. */
export const FIRST_LOOKS_MS = [1_000, 3_000, 6_000] as const;

/** What a failed call says when Temporal did not answer it: see isTemporalUnreachable. */
const UNANSWERED: readonly unknown[] = [
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  // A proxy in front of Temporal (an ingress, a TLS terminator) answers for a server that is gone
  // with an HTTP error page, which the worker's connection reads as INTERNAL or UNKNOWN.
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
];

/**
 * True for a failed look that says Temporal does not answer at all (refused, unreachable, no answer
 * in time, a proxy's error in its place), not one it answered with a refusal (credentials that may
 * not describe the task queue).
 */
export function isTemporalUnreachable(error: unknown): boolean {
  return UNANSWERED.includes((error as { code?: unknown } | null)?.code);
}

/**
 * `look`, noting after it whether Temporal answered: true for an answer or a refusal, false when it
 * did not answer at all. Every look is noted, not only the first failure of a streak (which is all a
 * watch's onError hears): where the credentials may not describe the task queue every look fails,
 * and an outage must still show, as must Temporal answering again with that same refusal.
 */
export async function notingReachability<T>(
  look: () => Promise<T>,
  note: (reachable: boolean) => void,
): Promise<T> {
  try {
    const answer = await look();
    note(true);
    return answer;
  } catch (error) {
    note(!isTemporalUnreachable(error));
    throw error;
  }
}

/** Looks now and every interval until stopped; the timer never keeps the process alive. */
export function watchPeerWorkers(options: PeerWatchOptions): { stop(): void } {
  let last: number | undefined;
  let failing = false;
  let stopped = false;
  const look = async () => {
    try {
      const workers = await options.count();
      if (failing && !stopped) options.onRecover?.();
      failing = false;
      if (!stopped && workers !== last) {
        last = workers;
        options.onCount(workers);
      }
    } catch (error) {
      if (!failing) options.onError?.(error);
      failing = true;
    }
  };
  void look();
  const early = (options.firstLooksMs ?? FIRST_LOOKS_MS).map((ms) => setTimeout(() => void look(), ms));
  const timer = setInterval(() => void look(), options.intervalMs ?? PEER_CHECK_INTERVAL_MS);
  for (const t of [...early, timer]) t.unref();
  return {
    stop() {
      stopped = true;
      for (const t of early) clearTimeout(t);
      clearInterval(timer);
    },
  };
}
