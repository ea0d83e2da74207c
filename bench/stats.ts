/** Small, dependency-free statistics for the bench report. */

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (p in 0..100) of an unsorted list; NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Count and percentiles of `values`. */
export function summarize(values: readonly number[]): Summary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: values.length ? Math.max(...values) : Number.NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
  };
}

export interface PeakWindow {
  /** Most requests in any window of `windowMs` that starts at a request. */
  count: number;
  /** That count divided by the window length in seconds. */
  perSecond: number;
  /** ms since epoch at which that window starts (NaN when there were no requests). */
  startsAt: number;
}

/**
 * The busiest window of `windowMs`: every window starting at a request is considered, which covers
 * every window position's maximum (a window's count can only grow when its start moves onto a request).
 */
export function peakWindow(timestamps: readonly number[], windowMs: number): PeakWindow {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let best = 0;
  let startsAt = Number.NaN;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    const from = sorted[start] as number;
    while (end < sorted.length && (sorted[end] as number) < from + windowMs) end++;
    if (end - start > best) {
      best = end - start;
      startsAt = from;
    }
  }
  return { count: best, perSecond: best / (windowMs / 1000), startsAt };
}
