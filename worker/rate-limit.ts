/**
 * Turns the spec's Tray limit — requests per second on average over any 5 s, all workers together —
 * into the rate the worker hands Temporal's task-queue activity limit.
 *
 * The server enforces that limit as a token bucket per task-queue partition: rate R/N and a burst of
 * ceil(R/N) tasks. Any W-second window that opens on full buckets can therefore dispatch up to
 * R·W + N·ceil(R/N) < R·(W + 1) + N activities: with R = the limit itself, 6 s worth in 5 s, 30/s
 * for a limit of 25 (the bench saw 28.6/s). Solving R·(W + 1) + N ≤ L·W gives the rate below.
 * With one Tray request per activity (common/activity-types.ts), the bound on activities is the bound
 * on Tray requests.
 */

/** The window the spec averages the Tray limit over. */
export const RATE_WINDOW_SECONDS = 5;

/**
 * Read partitions per task queue: Temporal's default (`matching.numTaskqueueReadPartitions`).
 * Fewer partitions only make the burst smaller; a server configured with more needs a lower limit.
 */
export const TASK_QUEUE_PARTITIONS = 4;

/**
 * The `maxTaskQueueActivitiesPerSecond` that keeps activities at or under `trayRequestsPerSecond` on
 * average over any RATE_WINDOW_SECONDS, bursts included. Below 1 request/s the buckets' minimum burst
 * alone nearly fills a window, so the guarantee weakens there; the rate stays positive regardless.
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
