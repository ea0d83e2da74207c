/**
 * Turns the Tray limit (requests per second averaged over any 5 s, all workers together; one request
 * per activity, docs/design.md) into the rate for Temporal's task-queue activity limit.
 *
 * The server meters that limit with a token bucket per task-queue partition: rate R/N, burst ceil(R/N).
 * A W-second window opening on full buckets may dispatch R·W + N·ceil(R/N) < R·(W + 1) + N activities
 * (30/s for R = 25; the bench saw 28.6/s). Solving R·(W + 1) + N ≤ L·W gives the rate below.
 */

export const RATE_WINDOW_SECONDS = 5;

/** Temporal's default `matching.numTaskqueueReadPartitions`; a server with more needs a lower limit. */
export const TASK_QUEUE_PARTITIONS = 4;

/**
 * The `maxTaskQueueActivitiesPerSecond` that keeps activities within `trayRequestsPerSecond` over any
 * window, bursts included. Below 1/s the minimum burst nearly fills a window, so the bound weakens.
 */
export function taskQueueActivitiesPerSecond(trayRequestsPerSecond: number): number {
  if (!(trayRequestsPerSecond > 0) || !Number.isFinite(trayRequestsPerSecond)) {
    throw new RangeError('the Tray rate limit must be a positive number');
  }
  const window = RATE_WINDOW_SECONDS;
  const fitted = (trayRequestsPerSecond * window - TASK_QUEUE_PARTITIONS) / (window + 1);
  // Both terms meet at 1 request/s; below it the fitted rate would reach zero or less.
  return Math.max(fitted, trayRequestsPerSecond / (window + 1));
}
