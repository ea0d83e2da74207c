/**
 * A last guard, in each worker process, on the Tray budget over any window. The task queue's rate
 * limit meters when the server hands out activities, not when their requests leave: a worker whose
 * event loop stalls for a few seconds (a loaded box) holds the activities it was handed meanwhile
 * and then sends them together, and one such run put 131 requests in 5 s on the wire for a budget
 * of 125 (docs/bench.md). The pacer lets at most `count` requests leave in any `windowMs`; the rest
 * wait, in order, until the oldest leaves the window. It never waits while the server's pace holds.
 */

export interface SendPacer {
  /** Resolves when a request may leave now; rejects with the signal's reason when it aborts first. */
  wait(signal?: AbortSignal): Promise<void>;
}

/** The budget pacer: its count is this process's share when several workers serve the queue. */
export interface BudgetPacer extends SendPacer {
  /** Splits the budget among `workers` processes (at least 1), from the next request on. */
  setWorkers(workers: number): void;
  /** Requests this process may send in any window now. */
  readonly count: number;
}

export interface SendPacerOptions {
  /** Requests allowed in any window. */
  count: number;
  windowMs: number;
  /** For tests: the clock and the pause. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
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
  const sleep = options.sleep ?? abortableSleep;
  // Send times given out, ascending; the ones still inside the window (or ahead, for waiters).
  const given: number[] = [];
  return {
    get count() {
      return count;
    },
    setCount(next: number) {
      if (next >= 1 && Number.isFinite(next)) count = Math.floor(next);
    },
    async wait(signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted();
      const t = now();
      while (given.length > 0 && given[0]! <= t - windowMs) given.shift();
      // The count-th most recent send leaves the window at its time plus the window; never before
      // a time already given out, so the times stay in order.
      const freed = given.length >= count ? given[given.length - count]! + windowMs : t;
      const at = Math.max(t, freed, given.at(-1) ?? t);
      given.push(at);
      if (at > t) await sleep(at - t, signal);
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
    wait: (signal) => pacer.wait(signal),
    get count() {
      return pacer.count;
    },
    setWorkers: (workers) => pacer.setCount(share(workers)),
  };
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
