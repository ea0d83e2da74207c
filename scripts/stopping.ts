/**
 * When `npm start` stops: the first stop request wins (Ctrl-C, SIGTERM, a part that died, a launcher
 * that went away) and everything still starting gives way to it.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { procStatFields } from '../dev/proc-stat.js';
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
 * parts that run in process groups of their own, the Temporal dev server among them; writing to
 * that terminal then fails, which `handleClosedOutput` (lib/closed-output.ts) lets pass.
 */
export function handleSignals(stop: StopControl, killNow: () => void): void {
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
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
  const ppid = Number(procStatFields(pid)?.[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** How far up an npm launcher is looked for: tsx, its `sh -c`, npm (or npx and its shell). */
const LAUNCHER_SEARCH_DEPTH = 4;
/** Without npm above (`node --import tsx scripts/start.ts`): the parent's own parent, as before. */
const DEFAULT_WATCHED = 1;

/** True when `pid` runs npm or npx (its title, or node running npm-cli.js / npx-cli.js). */
function isNpm(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const words = [...(argv[0] ?? '').split(' ').slice(0, 1), argv[1] ?? ''];
    return words.some((word) => /^(npm|npx)(-cli\.js)?$/.test(basename(word)));
  } catch {
    return false;
  }
}

/**
 * The processes between this one and its npm launcher, each with its parent: the chain to watch.
 * It ends with the one npm started, so npm gone (even by kill -9) breaks it, while npm itself being
 * re-parented (`nohup npm start &` and the shell left) does not. Without npm above, the parent's
 * parent only, as before npm was looked for (the parent itself is watched through `process.ppid`).
 */
export function ancestorChain(
  pid: number,
  parentOfPid: (pid: number) => number | undefined,
  isLauncher: (pid: number) => boolean = isNpm,
): [number, number][] {
  const chain: [number, number][] = [];
  for (let current = pid; chain.length < LAUNCHER_SEARCH_DEPTH && current > 1;) {
    const parent = parentOfPid(current);
    if (parent === undefined) break;
    chain.push([current, parent]);
    if (isLauncher(parent)) return chain;
    current = parent;
  }
  return chain.slice(0, DEFAULT_WATCHED);
}

/** True once a process of the chain is gone or has another parent (its own parent died). */
export function chainBroken(
  chain: [number, number][],
  parentOfPid: (pid: number) => number | undefined,
): boolean {
  return chain.some(([pid, parent]) => parentOfPid(pid) !== parent);
}

/**
 * Calls `onGone` when the launcher chain above this process breaks. A SIGTERM or SIGKILL sent to
 * `npm` reaches neither the `sh -c` it runs nor tsx, which then live on re-parented with this script
 * beneath them: any process of the chain gone or re-parented stops the stack instead of orphaning it.
 */
export function watchLauncher(onGone: () => void): void {
  const parent = process.ppid;
  const chain = ancestorChain(parent, parentOf);
  const timer = setInterval(() => {
    if (process.ppid !== parent || chainBroken(chain, parentOf)) {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}
