/**
 * Turns the Tray limit (requests per second averaged over any 5 s, all workers together; one request
 * per activity, docs/design.md) into the rate for Temporal's task-queue activity limit.
 *
 * The server meters that limit with a token bucket per task-queue partition: rate R/N, burst ceil(R/N).
 * A W-second window opening on full buckets may dispatch R·W + N·ceil(R/N) < R·(W + 1) + N activities
 * (30/s for R = 25; the bench saw 28.6/s). Up to BURST_SLACK more than that reached the wire in
 * the first seconds of a burst (docs/bench-notebook.md, "After the burst slack"). Solving
 * R·(W + 1) + N + BURST_SLACK ≤ L·W gives the rate below.
 */

export const RATE_WINDOW_SECONDS = 5;

/**
 * Requests beyond the token buckets' bound seen on the wire in a burst's first seconds: up to 4 on
 * the earlier boxes; on a slower one 6 with one worker process and 8 with three, whose pollers
 * take the first second's tasks together (docs/bench-notebook.md). 9 still lets the burst itself count in
 * full (a bucket of 20 for 25/s, where 10 would make it 19), which keeps the busiest 5 s near 90%
 * of the budget or above.
 */
export const BURST_SLACK = 9;

/**
 * Temporal's default `matching.numTaskqueueReadPartitions`, so the safe default. The dev server and
 * compose give the task queue a single partition (TEMPORAL_TASK_QUEUE_PARTITIONS=1): one bucket
 * meters exactly, where four leave tokens unused in partitions that have no task (docs/design.md).
 */
export const TASK_QUEUE_PARTITIONS = 4;

/**
 * The `maxTaskQueueActivitiesPerSecond` that keeps activities within `trayRequestsPerSecond` over any
 * window, bursts included. Below (partitions + BURST_SLACK) / 4 per second the floor of a sixth of
 * the limit takes over, and the bound weakens: the send pacers then keep the wire within budget.
 */
export function taskQueueActivitiesPerSecond(
  trayRequestsPerSecond: number,
  partitions: number = TASK_QUEUE_PARTITIONS,
): number {
  if (!(trayRequestsPerSecond > 0) || !Number.isFinite(trayRequestsPerSecond)) {
    throw new RangeError('the Tray rate limit must be a positive number');
  }
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError('the task queue has a whole number of partitions, at least 1');
  }
  const window = RATE_WINDOW_SECONDS;
  const fitted = (trayRequestsPerSecond * window - partitions - BURST_SLACK) / (window + 1);
  // Both terms meet at (partitions + BURST_SLACK) / 4 requests/s (2.5 with one partition); below it
  // the fitted rate would reach zero or less, and the workers' send pacers keep the wire in budget.
  return Math.max(fitted, trayRequestsPerSecond / (window + 1));
}
