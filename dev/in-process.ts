/**
 * What the bench and the tests need to run the worker and the API inside their own process: a quiet
 * SDK runtime and an HTTP server that reports its port.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';

let runtimeInstalled = false;

/**
 * Keeps the SDK's logs, its Rust core's console lines included, to `level` and up, so progress and
 * test output stay readable. Once per process: a runtime installed earlier keeps its logger.
 */
export function quietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level, other: level }) } },
    });
  } catch {
    // Someone installed the runtime first; their logger stays.
  }
}

/** Resolves with the address once `server` (already told to listen) listens; rejects on its error. */
export function listen(server: Server): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('listening', () => resolve(server.address() as AddressInfo));
    server.once('error', reject);
  });
}

/** Closes `server`, ending kept-alive connections (fetch keeps them) instead of waiting them out. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
