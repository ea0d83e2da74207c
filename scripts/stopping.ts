/**
 * When `npm start` stops: the first stop request wins (Ctrl-C, SIGTERM, a part that died, a launcher
 * that went away) and everything still starting gives way to it.
 */
import { readFileSync } from 'node:fs';
import { complain } from './output.js';

/** Thrown out of the start-up sequence when a stop was requested meanwhile. */
export class StopRequested extends Error {}

export class StopControl {
  /** Why the stack stops and the exit code that says so; unset while it runs. */
  reason: { message: string; code: number } | undefined;
  /** Resolves at the first stop request. */
  readonly requested: Promise<void>;
  private onStop: () => void = () => {};

  constructor() {
    this.requested = new Promise<void>((r) => (this.onStop = r));
  }

  request(message: string, code: number): void {
    if (this.reason) return;
    this.reason = { message, code };
    this.onStop();
  }

  /** Awaits `work`, unless a stop is requested first. */
  async unlessStopped<T>(work: Promise<T>): Promise<T> {
    const outcome = await Promise.race([
      work.then((value) => ({ value })),
      this.requested.then(() => undefined),
    ]);
    if (!outcome) throw new StopRequested();
    return outcome.value;
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP ask `stop` to stop; a second one, noticeably later, calls `killNow` and
 * exits. SIGHUP (the terminal closed) would otherwise end this process at once, leaving behind the
 * parts that run in process groups of their own, the Temporal dev server among them.
 */
export function handleSignals(stop: StopControl, killNow: () => void): void {
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') {
      // Writing to a terminal that is gone fails; stopping the stack matters more than saying so.
      for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
    }
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      stop.request(`${signal} received, stopping`, 0);
      return;
    }
    // One Ctrl-C can arrive twice: from the terminal to the whole process group, and relayed by the
    // tsx (and npm) wrapper above this process. Only a press noticeably later means "now".
    if (Date.now() - firstSignalAt < 1500) return;
    complain(`${signal} again: killing everything now`);
    killNow();
    process.exit(130);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

/** The parent pid of `pid` (Linux /proc), or undefined where that cannot be read. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces: state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone` when the launcher chain above this process is re-parented. A SIGTERM sent to `npm`
 * reaches only the `sh -c` npm runs, which dies without passing it on, leaving tsx and this script
 * behind; watching the grandparent catches that and stops the stack instead of orphaning it.
 */
export function watchLauncher(onGone: () => void): void {
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  const timer = setInterval(() => {
    if (process.ppid !== parent || (grandparent !== undefined && parentOf(parent) !== grandparent)) {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}
