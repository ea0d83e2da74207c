/**
 * The worker's `/healthz` and `/readyz` (HEALTH_PORT). The SDK's metrics endpoint answers from its
 * own thread even while Node's event loop is stuck, so it cannot tell a hung worker from a healthy one:
 * these answer from the event loop, and readiness follows the worker's own state.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State } from '@temporalio/worker';
import { joinHostPort } from '../lib/host-port.js';

/** The worker's state as `Worker.getState()` says it, or `STARTING` before the worker exists. */
export type HealthState = State | 'STARTING';

export interface HealthServer {
  /** `host:port` it listens on. */
  address: string;
  close(): Promise<void>;
}

/**
 * Serves `/healthz` (200 while the event loop answers) and `/readyz` (200 only while the worker runs
 * and, as far as `temporalReachable` knows, reaches Temporal; else 503 with the state), both as JSON;
 * anything else is a 404.
 */
export async function startHealthServer(options: {
  port: number;
  host: string;
  state: () => HealthState;
  /**
   * False while Temporal does not answer. The SDK keeps the worker RUNNING through an outage, retrying
   * its polls, so its state alone would call a worker that can take no task ready.
   */
  temporalReachable?: () => boolean;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, body: Record<string, string>) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { error: 'GET only' });
    const state = options.state();
    if (path === '/healthz')
      return answer(state === 'FAILED' ? 503 : 200, { status: state === 'FAILED' ? 'failed' : 'ok', state });
    if (path === '/readyz') {
      if (state === 'RUNNING' && options.temporalReachable?.() === false)
        return answer(503, { status: 'not ready', state, temporal: 'unreachable' });
      return answer(state === 'RUNNING' ? 200 : 503, {
        status: state === 'RUNNING' ? 'ready' : 'not ready',
        state,
      });
    }
    return answer(404, { error: `no route ${path}; try /healthz or /readyz` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    address: joinHostPort(address, port),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
