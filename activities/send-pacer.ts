/**
 * A last guard, in each worker process, on the Tray budget over any window. The task queue's rate
 * limit meters when the server hands activities out, not when their requests leave: a worker whose
 * event loop stalls for a few seconds (a loaded box) holds the activities it was handed meanwhile
 * and then sends them together, and one such run put 131 requests in 5 s on the wire for a budget
 * of 125 (docs/bench-notebook.md). The pacer lets at most `count` requests leave in any `windowMs`; the rest
 * wait until the window has room, the saga's later steps first (the activity's priority key, as
 * the task queue orders them), then in order of arrival. It never holds a request while the pace
 * holds.
 */

/** The priority key of a request that says none: Temporal's default, the middle of 1-5. */
export const DEFAULT_PRIORITY = 3;

export interface SendPacer {
  /**
   * Resolves when a request of `priority` (1 first) may leave now; rejects with the signal's reason
   * when it aborts first.
   */
  wait(signal?: AbortSignal, priority?: number): Promise<void>;
}

/** The budget pacer: its count is this process's share when several workers serve the queue. */
export interface BudgetPacer extends SendPacer {
  /** Splits the budget among `workers` processes (at least 1), from the next release on. */
  setWorkers(workers: number): void;
  /** Requests this process may send in any window now. */
  readonly count: number;
}

export interface SendPacerOptions {
  /** Requests allowed in any window. */
  count: number;
  windowMs: number;
  /** For tests: the clock and the timer. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

interface Waiter {
  priority: number;
  seq: number;
  release(): void;
}

/** A pacer keeping this process's requests to `count` in any `windowMs`. */
export function createSendPacer(
  options: SendPacerOptions,
): SendPacer & { readonly count: number; setCount(count: number): void } {
  const { windowMs } = options;
  if (!(options.count >= 1) || !Number.isFinite(windowMs) || windowMs <= 0) {
    throw new RangeError('a send pacer needs a count of at least 1 and a positive window');
  }
  let count = Math.floor(options.count);
  const now = options.now ?? Date.now;
  const setTimer = options.setTimer ?? realTimer;
  const sent: number[] = []; // send times inside the window, ascending
  const waiting: Waiter[] = [];
  let timer: { cancel(): void } | undefined;
  let seq = 0;

  const roomAt = (t: number): boolean => {
    while (sent.length > 0 && sent[0]! <= t - windowMs) sent.shift();
    return sent.length < count;
  };
  const schedule = (): void => {
    if (timer !== undefined || waiting.length === 0) return;
    const t = now();
    // The send that must leave the window before another fits: the count-th most recent.
    const at = roomAt(t) ? t : sent[sent.length - count]! + windowMs;
    timer = setTimer(release, Math.max(0, at - t));
  };
  function release(): void {
    timer = undefined;
    const t = now();
    while (waiting.length > 0 && roomAt(t)) {
      sent.push(t);
      takeFirst(waiting).release();
    }
    schedule();
  }

  return {
    get count() {
      return count;
    },
    setCount(value: number) {
      if (!(value >= 1) || !Number.isFinite(value)) return;
      count = Math.floor(value);
      timer?.cancel();
      timer = undefined;
      schedule();
    },
    wait(signal?: AbortSignal, priority = DEFAULT_PRIORITY): Promise<void> {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      const t = now();
      if (waiting.length === 0 && roomAt(t)) {
        sent.push(t);
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = waiting.indexOf(waiter);
          if (at >= 0) waiting.splice(at, 1);
          reject(signal?.reason as Error);
        };
        const waiter: Waiter = {
          priority,
          seq: seq++,
          release: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
        schedule();
      });
    },
  };
}

/**
 * The per-process pacer for a Tray budget of `perSecond` averaged over `windowSeconds`, the whole
 * budget until `setWorkers` says how many processes share it.
 */
export function trayBudgetPacer(perSecond: number, windowSeconds: number): BudgetPacer {
  // One below the share: the request's trip to Tray adds a little jitter to when it lands.
  const share = (workers: number) =>
    Math.max(1, Math.floor((perSecond * windowSeconds) / Math.max(1, Math.floor(workers))) - 1);
  const pacer = createSendPacer({ count: share(1), windowMs: windowSeconds * 1000 });
  return {
    wait: (signal, priority) => pacer.wait(signal, priority),
    get count() {
      return pacer.count;
    },
    setWorkers: (workers) => pacer.setCount(share(workers)),
  };
}

/** Removes and returns the waiter to go first: lowest priority key, then earliest. */
function takeFirst(waiting: Waiter[]): Waiter {
  let best = 0;
  for (let i = 1; i < waiting.length; i++) {
    const w = waiting[i]!;
    const b = waiting[best]!;
    if (w.priority < b.priority || (w.priority === b.priority && w.seq < b.seq)) best = i;
  }
  return waiting.splice(best, 1)[0]!;
}

function realTimer(fn: () => void, ms: number): { cancel(): void } {
  const handle = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(handle) };
}
