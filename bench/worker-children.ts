/**
 * Worker processes for the bench, one per `--workers`, all on one task queue. By default they run as
 * the image runs them: TypeScript compiled ahead and the workflow bundle read from a file
 * (`--worker image`); `--worker tsx` runs `worker/main.ts` under tsx, as `npm run worker` does, which
 * compiles and bundles at start. Their RSS is read from /proc, so it is the worker's alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { readBenchEnv } from './env.js';
import { BUNDLE_FILE } from './worker-build.js';

export type WorkerRuntime = 'image' | 'tsx';
export const WORKER_RUNTIMES: readonly WorkerRuntime[] = ['image', 'tsx'];

/** The runtime environment the Dockerfile sets (test/image.test.ts keeps the two the same). */
export const IMAGE_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=4',
};

export interface WorkerChildEnv {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  graphqlUrl: string;
  dialogBaseUrl: string;
  masterToken: string;
  embeddedId: string;
  rateLimitPerSecond: number;
  runtime: WorkerRuntime;
  /** With `runtime: 'image'`: the folder imageWorkerBuild() gave. */
  buildDir?: string;
  /** A server of yours: its TEMPORAL_* TLS, API key, profile and gRPC metadata variables. */
  connectionEnv?: NodeJS.ProcessEnv;
}

/** Set per child from the bench's own choices, not taken from the environment. */
const SET_PER_CHILD = new Set([
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'TEMPORAL_TASK_QUEUE_PARTITIONS',
]);

/**
 * The TEMPORAL_* connection variables of `env` (TLS, API key, profile, config file, gRPC metadata),
 * and XDG_CONFIG_HOME, where the default temporal.toml may be.
 */
export function temporalConnectionEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name]) => (name.startsWith('TEMPORAL_') && !SET_PER_CHILD.has(name)) || name === 'XDG_CONFIG_HOME',
    ),
  );
}

export interface WorkerChild {
  pid: number;
  /** Rejects when the process exits before stop(). */
  exited: Promise<void>;
  /** The last lines it wrote, for an error message. */
  tail(): string;
  stop(): Promise<void>;
}

/** The line worker/main.ts logs once it polls its task queue. */
const READY_TEXT = 'worker serving task queue';
const TAIL_LINES = 30;

/** VmRSS of a process in MB (one decimal), or undefined once it is gone or off Linux. */
export function rssOfPid(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

function childEnv(env: WorkerChildEnv): NodeJS.ProcessEnv {
  const benchEnv = readBenchEnv();
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...env.connectionEnv,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: env.namespace,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
    TRAY_GRAPHQL_URL: env.graphqlUrl,
    TRAY_AUTH_DIALOG_URL: env.dialogBaseUrl,
    TRAY_MASTER_TOKEN: env.masterToken,
    TRAY_EMBEDDED_ID: env.embeddedId,
    TRAY_RATE_LIMIT_PER_SECOND: String(env.rateLimitPerSecond),
    TEMPORAL_TASK_QUEUE_PARTITIONS: String(benchEnv.taskQueuePartitions),
    WORKER_MAX_CACHED_WORKFLOWS: String(benchEnv.maxCachedWorkflows),
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: String(benchEnv.maxWorkflowTasks),
    ...(env.runtime === 'image'
      ? { ...IMAGE_ENV, WORKFLOW_BUNDLE_PATH: join(imageBuild(env), BUNDLE_FILE) }
      : {}),
    // Lets a run try node or V8 flags on the workers alone (docs/bench.md).
    ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}),
  };
}

function imageBuild(env: WorkerChildEnv): string {
  if (!env.buildDir) throw new Error('an image worker needs the folder imageWorkerBuild() gave');
  return env.buildDir;
}

/** Stamps each request with when it was sent, for the wire tap (bench/stamp-sends.mjs). */
const STAMP_SENDS = ['--import', pathToFileURL(join(PROJECT_ROOT, 'bench', 'stamp-sends.mjs')).href];

function workerCommand(env: WorkerChildEnv): string[] {
  return env.runtime === 'image'
    ? [...STAMP_SENDS, join(imageBuild(env), 'worker', 'main.js')]
    : [...STAMP_SENDS, '--import', 'tsx', 'worker/main.ts'];
}

/** Starts one worker process; resolves once it says it serves the task queue. */
export function startWorkerChild(env: WorkerChildEnv, signal: AbortSignal): Promise<WorkerChild> {
  const child: ChildProcess = spawn(process.execPath, workerCommand(env), {
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let ready = false;
  let stopping = false;
  let onReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (onReady = resolve));
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      if (!ready && line.includes(READY_TEXT)) {
        ready = true;
        onReady();
      }
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const tail = () => lines.join('\n');
  const exited = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, sig) => {
      if (stopping) resolve();
      else reject(new Error(`worker ${child.pid} exited (${code ?? sig}) on its own:\n${tail()}`));
    });
  });
  exited.catch(() => undefined);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited.catch(() => undefined);
    clearTimeout(killer);
  };
  const handle: WorkerChild = { pid: child.pid ?? -1, exited, tail, stop };
  return new Promise<WorkerChild>((resolve, reject) => {
    const onAbort = () => void stop().finally(() => reject(signal.reason as Error));
    signal.addEventListener('abort', onAbort, { once: true });
    readyPromise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(handle);
    }, reject);
    exited.catch((error: unknown) => {
      signal.removeEventListener('abort', onAbort);
      reject(error as Error);
    });
  });
}
