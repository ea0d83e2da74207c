/**
 * Worker processes for the bench: `worker/main.ts` under tsx, as `npm run worker` runs it, one per
 * `--workers`, all on one task queue. Their RSS is read from /proc, so it is the worker's alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { DEV_TASK_QUEUE_PARTITIONS } from '../dev/dev-server.js';

export interface WorkerChildEnv {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  graphqlUrl: string;
  dialogBaseUrl: string;
  masterToken: string;
  embeddedId: string;
  rateLimitPerSecond: number;
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
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: env.namespace,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
    TRAY_GRAPHQL_URL: env.graphqlUrl,
    TRAY_AUTH_DIALOG_URL: env.dialogBaseUrl,
    TRAY_MASTER_TOKEN: env.masterToken,
    TRAY_EMBEDDED_ID: env.embeddedId,
    TRAY_RATE_LIMIT_PER_SECOND: String(env.rateLimitPerSecond),
    // The bench's own dev server has one partition; a server of yours says so through the variable.
    TEMPORAL_TASK_QUEUE_PARTITIONS:
      process.env.TEMPORAL_TASK_QUEUE_PARTITIONS ?? String(DEV_TASK_QUEUE_PARTITIONS),
    ...(process.env.WORKER_MAX_CACHED_WORKFLOWS
      ? { WORKER_MAX_CACHED_WORKFLOWS: process.env.WORKER_MAX_CACHED_WORKFLOWS }
      : {}),
  };
}

/** Starts one worker process; resolves once it says it serves the task queue. */
export function startWorkerChild(env: WorkerChildEnv, signal: AbortSignal): Promise<WorkerChild> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
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
