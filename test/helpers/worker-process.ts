/**
 * `npm run worker` (worker/main.ts) as a child process, for tests of its process life: signals,
 * the Prometheus endpoint, tracing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StartedEmulator } from './emulator.js';
import { pollUntil } from './poll.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildRun {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
}

/** Runs `entry` (relative to the project) with exactly `env` (plus PATH); killed after the test file. */
export function runChild(entry: string, env: Record<string, string>): ChildRun {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => text, exited };
}

/** The worker's environment for a dev server, a task queue and an in-process emulator. */
export function workerEnv(
  temporal: { address: string; namespace: string },
  taskQueue: string,
  emu: StartedEmulator,
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TRAY_GRAPHQL_URL: emu.graphqlUrl,
    TRAY_AUTH_DIALOG_URL: emu.url,
    TRAY_MASTER_TOKEN: emu.masterToken,
    TRAY_EMBEDDED_ID: emu.embeddedId,
    TRAY_RATE_LIMIT_PER_SECOND: '1000',
  };
}

/** Starts the worker and waits until it logs that it serves its task queue. */
export async function startWorkerProcess(env: Record<string, string>): Promise<ChildRun> {
  const run = runChild('worker/main.ts', env);
  const state = await pollUntil(
    async () =>
      run.child.exitCode !== null ? 'exited' : run.output().includes('"msg":"worker serving') && 'serving',
    { timeoutMs: 120_000, what: 'the worker to start serving' },
  );
  if (state === 'exited') throw new Error(`the worker exited at start:\n${run.output()}`);
  return run;
}

/** Ports for the servers a test starts: distinct within the run (dev/dev-server.ts). */
export { freePort } from '../../dev/dev-server.js';
