/**
 * `npm run worker` (worker/main.ts) and `npm run api` (api/main.ts) as child processes, for tests
 * of their process life: signals, the Prometheus endpoint, tracing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StartedEmulator } from './emulator.js';
import { withFreshPorts } from './fresh-ports.js';
import { pollUntil } from './poll.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildRun {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  /** Resolves once the process ended and its output is all read (it can come after the exit). */
  closed: Promise<unknown>;
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
  const closed = once(child, 'close').catch(() => undefined);
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => text, exited, closed };
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

/**
 * Starts the worker and waits until it logs that it serves its task queue. Each of `portVariables`
 * (METRICS_PORT, HEALTH_PORT) gets a free port, fresh ones on a start that lost one to another
 * process; `ports` says which it got.
 */
export async function startWorkerProcess<N extends string = never>(
  env: Record<string, string>,
  portVariables: readonly N[] = [],
): Promise<ChildRun & { ports: Record<N, number> }> {
  return withFreshPorts(portVariables, async (ports) => {
    const run = runChild('worker/main.ts', { ...env, ...portsEnv(ports) });
    const state = await pollUntil(
      async () => (ended(run) ? 'exited' : run.output().includes('"msg":"worker serving') && 'serving'),
      { timeoutMs: 120_000, what: 'the worker to start serving' },
    );
    if (state === 'exited') throw new Error(`the worker exited at start${how(run)}:\n${await all(run)}`);
    return { ...run, ports };
  });
}

/**
 * Starts the API on 127.0.0.1 and a free API_PORT (a fresh one when another process took it first)
 * and waits until it says it listens there: a poll of the port alone could be answered by whoever
 * took it. `url` is where it listens; `pick` (default freePort) names the ports to try.
 */
export async function startApiProcess(
  env: Record<string, string>,
  pick?: () => Promise<number>,
): Promise<ChildRun & { url: string }> {
  return withFreshPorts(
    ['API_PORT'],
    async (ports) => {
      const run = runChild('api/main.ts', { ...env, ...portsEnv(ports), API_HOST: '127.0.0.1' });
      const listening = `API listening on 127.0.0.1:${ports.API_PORT};`;
      const state = await pollUntil(
        async () => (ended(run) ? 'exited' : run.output().includes(listening) && 'listening'),
        { timeoutMs: 120_000, what: 'the API to listen' },
      );
      if (state === 'exited') throw new Error(`the API exited at start${how(run)}:\n${await all(run)}`);
      return { ...run, url: `http://127.0.0.1:${ports.API_PORT}` };
    },
    pick,
  );
}

// A process a signal ended (the OOM killer on a loaded machine) has no exit code, only a signal.
function ended(run: ChildRun): boolean {
  return run.child.exitCode !== null || run.child.signalCode !== null;
}

function how(run: ChildRun): string {
  return run.child.signalCode === null ? '' : ` (signal ${run.child.signalCode})`;
}

/** The output of a process that exited, once it is all read. */
async function all(run: ChildRun): Promise<string> {
  await run.closed;
  return run.output();
}

function portsEnv(ports: Record<string, number>): Record<string, string> {
  return Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)]));
}

/** Ports for the servers a test starts: distinct within the run (dev/free-port.ts). */
export { freePort } from '../../dev/free-port.js';
