/**
 * Child processes of `npm start`: their output is relayed line by line under a `[name]` prefix, and
 * they are stopped with SIGTERM first and SIGKILL only after a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { relayLines } from './output.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedChild {
  name: string;
  process: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitInfo>;
  /** True once `stop()` was called: an exit after that is expected, not a crash. */
  readonly stopping: boolean;
  /** Sends `signal` to the child's process group. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  stop(graceMs: number): Promise<ExitInfo>;
}

/** Describes an exit for humans: "exit code 1" or "signal SIGKILL". */
export function describeExit(exit: ExitInfo): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

/**
 * Starts `command args` with `env`, relaying stdout and stderr under `prefix`. The child runs in a
 * process group of its own, so a Ctrl-C in the terminal reaches only the parent, which then sends
 * each child exactly one SIGTERM: a second signal makes the worker give up draining in-flight tasks.
 */
export function startChild(options: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  prefix: string;
}): ManagedChild {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const signal = (name: NodeJS.Signals): void => {
    try {
      // The whole group: also reaches helpers the child started (tsx's esbuild service).
      if (child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      child.kill(name);
    }
  };
  if (child.stdout) relayLines(child.stdout, options.prefix, process.stdout);
  if (child.stderr) relayLines(child.stderr, options.prefix, process.stderr);

  const exited = new Promise<ExitInfo>((resolveExit) => {
    // 'error' without 'exit' happens when the command cannot be spawned at all.
    child.once('error', (error) => {
      process.stderr.write(`${options.prefix}could not start: ${error.message}\n`);
      resolveExit({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });

  let stopping = false;
  let done = false;
  void exited.then(() => {
    done = true;
  });

  return {
    name: options.name,
    process: child,
    kill: signal,
    exited,
    get stopping() {
      return stopping;
    },
    async stop(graceMs: number) {
      stopping = true;
      if (done) return exited;
      signal('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`${options.prefix}did not stop within ${graceMs} ms; killing it\n`);
        signal('SIGKILL');
      }, graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}
