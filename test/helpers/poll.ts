/**
 * Waits for a condition by polling with a deadline: the tests' only way to wait for state.
 */
import type { ChildProcess } from 'node:child_process';

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what: string;
}

/** Calls `fn` until it returns a value other than `undefined`/`false`, or throws at the deadline. */
export async function pollUntil<T>(
  fn: () => Promise<T | undefined | false>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/**
 * How `child` ended (exit code or signal), once it has. At the deadline the child is SIGKILLed, so a
 * hung process never outlives its test, and the wait throws.
 */
export async function exitOf(
  child: ChildProcess,
  options: PollOptions,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return pollUntil(
    async () =>
      child.exitCode !== null || child.signalCode !== null
        ? { code: child.exitCode, signal: child.signalCode }
        : undefined,
    options,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}
