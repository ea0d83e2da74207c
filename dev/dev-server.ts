/**
 * Starts `temporal server start-dev` as a child process and waits until it serves, with the
 * project's search attributes registered. Used by `npm start` and by the test runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';
import { freePort } from './free-port.js';
import { reasonInLog, usageAdvice } from './server-exit.js';
import { withoutProjectSecrets } from './secret-free-env.js';

export interface DevServerOptions {
  cliPath: string;
  /** gRPC port; 0 or undefined picks a free one. */
  port?: number;
  /**
   * Web UI port; 0 picks a free one on every start attempt (see DevServer.uiUrl for which), so a
   * port another process took meanwhile costs a retry, not the start; undefined runs headless.
   */
  uiPort?: number;
  /** The Web UI's codec server endpoint (e.g. the API's /codec), so it shows decrypted payloads. */
  uiCodecEndpoint?: string;
  /** SQLite file to persist to; undefined keeps everything in memory. */
  dbFile?: string;
  /** File that receives the server's own log lines; undefined discards them. */
  logFile?: string;
  namespace?: string;
  /** How long to wait for the server to answer (a loaded 2-core CI box can be slow). */
  startTimeoutMs?: number;
  /**
   * Partitions of every task queue (default 1): one partition meters the activity rate limit in a
   * single bucket, so the worker may ask for a rate close to the Tray budget (docs/design.md#rate-limit).
   */
  taskQueuePartitions?: number;
  /** More dynamic config values, e.g. a feature switched off as an older server has it (tests). */
  dynamicConfig?: Record<string, string>;
  /** Called while waiting, so long waits show progress. */
  onProgress?: (message: string) => void;
  /**
   * Runs the server in a process group (and session) of its own, so a terminal's Ctrl-C, sent to the
   * caller's whole group, does not stop it before what depends on it: the caller must stop it on
   * every way out. `npm start` only; tests and chaos keep it in their group.
   */
  ownProcessGroup?: boolean;
  /** Aborting it while the server starts stops the server, and the start rejects. */
  signal?: AbortSignal;
  /** Called with the server's pid as soon as it is spawned (npm start notes it, scripts/leftovers.ts). */
  onSpawn?: (pid: number | undefined) => void;
}

export interface DevServer {
  address: string;
  /** The gRPC port in `address`: the one asked for, or the one this start found free. */
  port: number;
  namespace: string;
  uiUrl?: string;
  process: ChildProcess;
  /** Sends `signal` to the server (to its process group with `ownProcessGroup`). */
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** The dev server's task-queue partitions, for workers that size the rate limit by them. */
export const DEV_TASK_QUEUE_PARTITIONS = 1;

/** Resolves once `connect` to `address` works and every namespace answers, or rejects at the deadline. */
export async function waitForTemporal(
  address: string,
  namespaces: readonly string[],
  timeoutMs: number,
  onProgress?: (message: string) => void,
  /** The error to stop with once the server has exited, else undefined. */
  isDead?: () => Error | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  let lastError: unknown;
  while (Date.now() < deadline) {
    const death = isDead?.();
    if (death) throw death;
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        for (const namespace of namespaces) {
          await connection.withDeadline(Date.now() + 3000, () =>
            connection.workflowService.describeNamespace({ namespace }),
          );
        }
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
    }
    if (onProgress && Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      onProgress(`still waiting for Temporal at ${address} …`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

/** The `temporal server start-dev` arguments for `options`, on `port` (and `uiPort`, if any). */
async function devServerArgs(
  options: DevServerOptions,
  namespaces: readonly string[],
  port: number,
  uiPort: number | undefined,
): Promise<string[]> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  for (const namespace of namespaces) args.push('--namespace', namespace);
  // The dev server also opens an HTTP API and a metrics port; pick free ones so parallel servers don't collide.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  if (uiPort) args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (uiPort && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  const partitions = options.taskQueuePartitions ?? DEV_TASK_QUEUE_PARTITIONS;
  for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
    args.push('--dynamic-config-value', `${key}=${partitions}`);
  }
  // Priority keys are honoured by 1.29's and 1.30's matcher only when this is on (a `temporal` on
  // PATH can be that old); the pinned CLI's server has it on already.
  args.push('--dynamic-config-value', 'matching.useNewMatcher=true');
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${value}`);
  }
  args.push('--log-level', 'warn');
  return args;
}

/** Settles once `child` has exited or could not be spawned; `reason()` then says which. */
function watchExit(child: ChildProcess): { done: Promise<void>; reason: () => string | undefined } {
  let exited: string | undefined;
  const done = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      exited = `exit code ${code ?? 'none'}${signal ? `, signal ${signal}` : ''}`;
      r();
    });
    // A binary that cannot be run fails the spawn itself: unheard, that 'error' would crash the
    // process with a stack trace, and no 'exit' need follow it.
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited ??= `could not be run (${error.code ?? error.message})`;
      r();
    });
  });
  return { done, reason: () => exited };
}

/** How often a dev server that exited while starting is started before the start fails. */
const START_ATTEMPTS = 3;

/** The server exited before it answered (not a spawn failure, and not a timeout). */
class ExitedBeforeReady extends Error {
  constructor(
    readonly reason: string,
    /** Set when the CLI refused its command line: another start would fail the same. */
    readonly advice?: string,
  ) {
    super(`Temporal dev server exited before it was ready: ${reason}${advice ? `; ${advice}` : ''}`);
  }
}

/**
 * Starts a dev server and resolves once it answers. The server picks ports for its own services by
 * itself, and one can be taken by another process before it binds it ("address already in use", a
 * panic, exit code 2): a server that exits while starting is started again, up to START_ATTEMPTS.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const again =
        error instanceof ExitedBeforeReady && !error.reason.startsWith('could not be run') && !error.advice;
      if (!again || attempt >= START_ATTEMPTS) throw error;
      options.onProgress?.(`${error.message}; starting it again (${attempt + 1} of ${START_ATTEMPTS})`);
    }
  }
}

/**
 * The namespaces a start creates and waits for: `namespace`, and in memory one of this start's own.
 * Another dev server that took the port first answers for `namespace` too, but not for that one, so
 * the wait goes on until this server exits and starts again elsewhere. Not with a database file,
 * which would keep one more namespace from every start.
 */
function startNamespaces(options: DevServerOptions, namespace: string): string[] {
  return options.dbFile ? [namespace] : [namespace, `dev-server-start-${randomUUID()}`];
}

/** Spawns the server with its log; `logFrom` is where this start's own lines begin in it. */
function spawnServer(options: DevServerOptions, args: string[]): { child: ChildProcess; logFrom: number } {
  // Opened before the spawn, so a log that cannot be written stops the start with an error and no
  // server; the server writes to it itself, so it does not depend on this process to keep its log.
  let log: number | undefined;
  let logFrom = 0;
  if (options.logFile) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    log = openSync(options.logFile, 'a');
    logFrom = fstatSync(log).size;
  }
  try {
    const child = spawn(options.cliPath, args, {
      stdio: ['ignore', log ?? 'ignore', log ?? 'ignore'],
      detached: options.ownProcessGroup ?? false,
      env: withoutProjectSecrets(process.env),
    });
    return { child, logFrom };
  } finally {
    if (log !== undefined) closeSync(log);
  }
}

/** Why the server exited while starting: the log's line that says so, and where the rest is. */
function exitedBeforeReady(options: DevServerOptions, exited: string, logFrom: number): ExitedBeforeReady {
  if (!options.logFile) return new ExitedBeforeReady(exited);
  const said = reasonInLog(options.logFile, logFrom);
  return new ExitedBeforeReady(
    `${exited}${said ? ` (${said})` : ''}; see ${options.logFile}`,
    usageAdvice(said, options.cliPath),
  );
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const namespace = options.namespace ?? 'default';
  // Fresh ports on every attempt: the one a failed attempt could not bind may still be held.
  const port = options.port || (await freePort());
  const uiPort = options.uiPort === 0 ? await freePort() : options.uiPort;
  const namespaces = startNamespaces(options, namespace);
  const args = await devServerArgs(options, namespaces, port, uiPort);
  const { child, logFrom } = spawnServer(options, args);
  options.onSpawn?.(child.pid);
  // The whole group when it has one of its own: nothing the server started outlives it.
  const kill = (name: NodeJS.Signals): void => {
    try {
      if (options.ownProcessGroup && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      child.kill(name);
    }
  };
  const exit = watchExit(child);
  const address = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (exit.reason()) return;
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 10_000);
    await exit.done;
    clearTimeout(timer);
  };
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new Error('the Temporal dev server start was cancelled'));
  });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    await Promise.race([
      waitForTemporal(address, namespaces, options.startTimeoutMs ?? 120_000, options.onProgress, () => {
        const exited = exit.reason();
        return exited === undefined ? undefined : exitedBeforeReady(options, exited, logFrom);
      }),
      aborted,
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return {
    address,
    port,
    namespace,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    process: child,
    kill,
    stop,
  };
}
