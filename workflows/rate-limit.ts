/**
 * Rate-limited steps (docs/design.md#retries): the stubs stop retrying at a rate-limited answer, so
 * it comes back here; the step waits as Tray asks and runs again with the attempts its real failures
 * left. A rate-limit storm delays a saga, it never uses up a step's attempts.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  sleep,
  type ActivityFunctionWithOptions,
  type ActivityInterfaceFor,
  type ActivityOptions,
} from '@temporalio/workflow';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';

/** Marks histories that run a step again after a rate limit (older ones failed the step). */
const RATE_LIMIT_ROUNDS_PATCH = 'rate-limit-rounds';
/** Without Retry-After the pauses double from 1 s up to 1 min. */
const FIRST_PAUSE_MS = 1000;
const MAX_PAUSE_MS = 60_000;
/**
 * With Retry-After the pause is what Tray asked, but at least this share of the storm so far (up to
 * 1 min): a short storm is waited out exactly as asked, and a long one still costs only a few runs
 * of history events a minute, however short a wait Tray keeps asking for.
 */
const STORM_SHARE = 0.1;

/** What a step's next run must know about its earlier, rate-limited runs. */
export interface Round {
  /** Attempts of earlier runs that failed for real (not rate-limited). */
  realFailures: number;
  /** The attempts the step has left for real failures; undefined when it has no limit. */
  attemptsLeft?: number;
}

interface RateLimited {
  retryAfterMs?: number;
  attempt?: number;
}

/** The rate-limited answer an activity failed with, or undefined for any other failure. */
function rateLimited(err: unknown): RateLimited | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (err.cause.type !== TRAY_FAILURE_TYPES.rateLimited) return undefined;
  const detail = err.cause.details?.[0] as { retryAfterMs?: unknown; attempt?: unknown } | undefined;
  return {
    retryAfterMs: typeof detail?.retryAfterMs === 'number' ? detail.retryAfterMs : undefined,
    attempt: typeof detail?.attempt === 'number' ? detail.attempt : undefined,
  };
}

/**
 * How long to wait after the `round`-th rate-limited run of a storm that began `stormMs` ago. Timer
 * durations are not replayed against history, so changing this leaves running sagas replayable.
 */
function ratePauseMs(retryAfterMs: number | undefined, unasked: number, stormMs: number): number {
  const share = Math.min(stormMs * STORM_SHARE, MAX_PAUSE_MS);
  // Doubled over the answers that named no wait only: runs that waited as Tray asked were not guesses.
  if (retryAfterMs === undefined) {
    return Math.max(Math.min(FIRST_PAUSE_MS * 2 ** Math.min(unasked, 16), MAX_PAUSE_MS), share);
  }
  return Math.max(retryAfterMs, share);
}

/**
 * Runs `step` until it answers or fails for real. After each rate-limited run it waits as long as Tray
 * asked (or backs off when it did not say), and longer once the storm has lasted, so a storm costs a
 * few history events a minute.
 */
export async function throughRateLimits<T>(
  maximumAttempts: number | undefined,
  step: (round: Round) => Promise<T>,
): Promise<T> {
  let realFailures = 0;
  let stormStartedMs: number | undefined;
  let unasked = 0;
  for (;;) {
    const attemptsLeft = maximumAttempts === undefined ? undefined : maximumAttempts - realFailures;
    try {
      return await step({ realFailures, attemptsLeft });
    } catch (err) {
      const limited = rateLimited(err);
      if (limited === undefined || !patched(RATE_LIMIT_ROUNDS_PATCH)) throw err;
      realFailures += Math.max((limited.attempt ?? 1) - 1, 0);
      stormStartedMs ??= Date.now();
      const pauseMs = ratePauseMs(limited.retryAfterMs, unasked, Date.now() - stormStartedMs);
      if (limited.retryAfterMs === undefined) unasked++;
      await sleep(pauseMs, {
        summary: 'Tray rate-limited the step: wait as it asks, then run it again',
      });
    }
  }
}

/** A step's options for one run: its retry policy with the attempts left. */
export function withAttemptsLeft(options: ActivityOptions, { attemptsLeft }: Round): ActivityOptions {
  return attemptsLeft === undefined
    ? options
    : { ...options, retry: { ...options.retry, maximumAttempts: attemptsLeft } };
}

/** The same stubs, each call run through rate limits; `maximumAttempts` is the stubs' limit. */
export function rateLimitAware<A>(
  stubs: ActivityInterfaceFor<A>,
  maximumAttempts: number | undefined,
): ActivityInterfaceFor<A> {
  type Fn = ActivityFunctionWithOptions<(...args: unknown[]) => Promise<unknown>>;
  return new Proxy(stubs as object, {
    get(target, name) {
      const stub = (target as Record<string | symbol, Fn>)[name] as Fn;
      const run = (options: ActivityOptions, args: unknown[]) =>
        throughRateLimits(maximumAttempts, (round) =>
          stub.executeWithOptions(withAttemptsLeft(options, round), args),
        );
      return Object.assign((...args: unknown[]) => run({}, args), { executeWithOptions: run });
    },
  }) as ActivityInterfaceFor<A>;
}
