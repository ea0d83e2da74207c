/**
 * Child processes of the chaos run: each in a process group of its own (so a SIGKILL reaches tsx's
 * helpers too), output appended to a log file, and every one of them killed when the run ends,
 * also on Ctrl-C or an uncaught error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { handleClosedOutput } from '../lib/closed-output.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  readonly alive: boolean;
  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once a line of output matches, rejects at the deadline or when the process exits. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void>;
}

const live = new Set<Proc>();
const extraKills = new Set<() => void>();

/** Registers a kill for something not started through `startProc` (the Temporal dev server). */
export function onKillAll(kill: () => void): () => void {
  extraKills.add(kill);
  return () => extraKills.delete(kill);
}

/** SIGKILLs every child still running; synchronous, so it also works from an 'exit' handler. */
export function killAll(): void {
  for (const proc of live) proc.signal('SIGKILL');
  for (const kill of extraKills) kill();
}

/** Starts `node --import tsx <entry>` from the project root with `env` added to this process's env. */
export function startProc(name: string, entry: string, env: NodeJS.ProcessEnv, logDir: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  log.write(`--- ${new Date().toISOString()} started pid ${child.pid ?? '?'}\n`);
  let alive = true;
  const watchers = new Set<(line: string) => void>();
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) for (const w of watchers) w(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('exit', (code, sig) => {
      log.write(`--- ${new Date().toISOString()} exited code ${code ?? '-'} signal ${sig ?? '-'}\n`);
      resolve();
    });
  }).then(() => {
    alive = false;
    live.delete(proc);
  });
  const signal = (sig: NodeJS.Signals) => {
    if (!alive) return;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      child.kill(sig);
    }
  };
  const proc: Proc = {
    name,
    child,
    exited,
    get alive() {
      return alive;
    },
    signal,
    async kill() {
      signal('SIGKILL');
      await exited;
    },
    async stop(graceMs = 10_000) {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    waitForLine: (pattern, timeoutMs) => waitForLine(proc, watchers, pattern, timeoutMs),
  };
  live.add(proc);
  return proc;
}

function waitForLine(
  proc: Proc,
  watchers: Set<(line: string) => void>,
  pattern: RegExp,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      watchers.delete(watch);
      if (error) reject(error);
      else resolve();
    };
    const watch = (line: string) => {
      if (pattern.test(line)) done();
    };
    const timer = setTimeout(
      () => done(new Error(`${proc.name}: no line matching ${String(pattern)} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    watchers.add(watch);
    void proc.exited.then(() => done(new Error(`${proc.name} exited before it was ready`)));
  });
}

/**
 * Kills every child on exit, Ctrl-C, SIGTERM and an output with no reader (a second Ctrl-C is not
 * needed). Exits 130 on a signal and 141 on a closed output, as SIGPIPE would.
 */
export function installExitHandlers(onSignal: () => void): void {
  process.on('exit', killAll);
  const stopNow = (why: string, code: number) => {
    process.stderr.write(`\nchaos: ${why}, killing every child process\n`);
    onSignal();
    killAll();
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopNow(sig, 130));
  // `npm run chaos | head`: unhandled, the first failed write ends the run with Node's EPIPE trace.
  handleClosedOutput((why) => stopNow(`the output has no reader (${why})`, 141));
}
