/**
 * Whether `npm start` can start (its ports are free) and when it is ready (the worker polls, the API
 * answers `/readyz`).
 */
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { openTemporalConnection } from '../lib/temporal-connection-check.js';
import type { TemporalConnectionConfig } from '../lib/temporal-connection.js';
import type { ManagedChild } from './children.js';
import { errorText, say } from './output.js';

/** How long each part may take to become ready. */
export const READY_TIMEOUT_MS = 120_000;

async function portInUse(portNumber: number): Promise<boolean> {
  // `localhost` may resolve to ::1 first (curl, browsers), so a listener on [::1] alone would answer
  // the README's localhost URLs in place of ours. A host without IPv6 cannot bind ::1: that is free.
  const [v4, v6] = [await bindError(portNumber, '127.0.0.1'), await bindError(portNumber, '::1')];
  return v4 !== undefined || v6 === 'EADDRINUSE' || v6 === 'EACCES';
}

/** The error code binding `host:port` gives, or undefined when it can be bound. */
async function bindError(portNumber: number, host: string): Promise<string | undefined> {
  return new Promise((resolveCheck) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolveCheck(err.code ?? 'unknown'));
    server.listen(portNumber, host, () => server.close(() => resolveCheck(undefined)));
  });
}

/** The ports of `[port, variable]` that something listens on, as `port (VARIABLE)`. */
export async function takenPorts(ports: [number, string][]): Promise<string[]> {
  const taken: string[] = [];
  for (const [p, variable] of ports) if (await portInUse(p)) taken.push(`${p} (${variable})`);
  return taken;
}

/** The ports `npm start` listens on, as it reads them. */
export interface StartPorts {
  API_PORT: number;
  METRICS_PORT: number;
  TRAY_MASTER_TOKEN?: string | undefined;
  TRAY_EMULATOR_PORT: number;
  TEMPORAL_ADDRESS?: string | undefined;
  TEMPORAL_DEV_PORT: number;
  TEMPORAL_DEV_UI_PORT: number;
}

/** The ports this run would listen on, with the variable that sets each. */
export function portsToCheck(env: StartPorts): [number, string][] {
  const ports: [number, string][] = [
    [env.API_PORT, 'API_PORT'],
    [env.METRICS_PORT, 'METRICS_PORT'],
  ];
  if (!env.TRAY_MASTER_TOKEN) ports.push([env.TRAY_EMULATOR_PORT, 'TRAY_EMULATOR_PORT']);
  if (!env.TEMPORAL_ADDRESS)
    ports.push(
      [env.TEMPORAL_DEV_PORT, 'TEMPORAL_DEV_PORT'],
      [env.TEMPORAL_DEV_UI_PORT, 'TEMPORAL_DEV_UI_PORT'],
    );
  return ports;
}

/**
 * Why npm start cannot have its ports, else undefined: two variables naming one port (each part
 * needs its own), or a port another process holds.
 */
export async function portProblem(env: StartPorts): Promise<string | undefined> {
  const ports = portsToCheck(env);
  const names = new Map<number, string[]>();
  for (const [port, name] of ports) names.set(port, [...(names.get(port) ?? []), name]);
  const shared = [...names].filter(([, list]) => list.length > 1);
  if (shared.length > 0) {
    const clashes = shared.map(
      ([port, list]) => `${list.join(' and ')} are ${list.length > 2 ? 'all' : 'both'} ${port}`,
    );
    return `${clashes.join('; ')}: every part needs a port of its own. Set one of them to another port.`;
  }
  const taken = await takenPorts(ports);
  if (taken.length === 0) return undefined;
  return (
    `port${taken.length > 1 ? 's' : ''} already in use: ${taken.join(', ')}. ` +
    'Is another `npm start` running? Stop it, or set the variable(s) named to free ports.'
  );
}

async function wait(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves once the worker we started polls the task queue. A previous run's poller can still be
 * listed on a persisted server, so only a poll seen after this start counts. Connects with `temporal`,
 * the worker's own connection settings. Resolves with the server's version, when it says one.
 */
export async function waitForWorker(
  temporal: TemporalConnectionConfig,
  taskQueue: string,
  worker: ManagedChild,
  startedAt: number,
): Promise<string | undefined> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // The same loader's options as the worker's (TLS, API key, profile): a setting it rejects is named here too.
  const connection = await openTemporalConnection(temporal, () =>
    Connection.connect(temporal.connectionOptions),
  );
  const { namespace } = temporal;
  try {
    let lastNote = Date.now();
    while (Date.now() < deadline) {
      const response = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
      });
      const ours = response.pollers.some((poller) => {
        const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
        return (
          poller.identity?.startsWith(`${worker.process.pid}@`) === true || seconds * 1000 >= startedAt - 1000
        );
      });
      if (ours) return await serverVersion(connection);
      if (Date.now() - lastNote > 10_000) {
        lastNote = Date.now();
        say('still waiting for the worker (it bundles the workflow code on start) …');
      }
      await wait(250);
    }
    throw new Error(`the worker did not poll task queue ${taskQueue} within ${READY_TIMEOUT_MS / 1000} s`);
  } finally {
    await connection.close();
  }
}

/** The server's version for the banner (`temporal` on PATH may be older than the pinned one). */
async function serverVersion(connection: Connection): Promise<string | undefined> {
  try {
    const info = await connection.withDeadline(Date.now() + 3000, () =>
      connection.workflowService.getSystemInfo({}),
    );
    return info.serverVersion || undefined;
  } catch {
    return undefined; // the banner leaves it out: nothing else depends on it
  }
}

/** Resolves once the API answers `/readyz` with 2xx. */
export async function waitForApi(base: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = errorText(error);
    }
    await wait(250);
  }
  throw new Error(`the API at ${base} was not ready within ${READY_TIMEOUT_MS / 1000} s (${last})`);
}
