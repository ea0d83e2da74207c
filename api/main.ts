/**
 * `npm run api`: the HTTP API against an existing Temporal server. Starts even while Temporal is
 * down (the connection is lazy and reconnects by itself; /readyz says 503 meanwhile) and drains
 * in-flight requests on SIGTERM/SIGINT.
 */
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { exitOnConfigError } from '../lib/config.js';
import { createApp } from './app.js';
import { loadApiConfig, type ApiConfig } from './config.js';
import { createLogger } from './logging.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config: ApiConfig;
  try {
    config = loadApiConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const logger = createLogger();
  const connection = Connection.lazy({ address: config.temporalAddress });
  const tracing = config.otlpEndpoint ? (await import('./tracing.js')).startApiTracing() : undefined;
  const client = new Client({
    connection,
    namespace: config.namespace,
    ...(tracing && { interceptors: { workflow: tracing.workflowInterceptors } }),
  });
  const app = createApp({
    client,
    taskQueue: config.taskQueue,
    namespace: config.namespace,
    apiToken: config.apiToken,
    webhookSecret: config.webhookSecret,
    logger,
    ...(tracing && { traceRequests: tracing.traceRequests }),
  });

  const server = config.host ? app.listen(config.port, config.host) : app.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  logger.info(
    {
      port,
      temporalAddress: config.temporalAddress,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      auth: config.apiToken ? 'bearer' : 'loopback-only',
      webhook: config.webhookSecret ? 'enabled' : 'disabled (WEBHOOK_SECRET unset: answers 503)',
      metrics: `http://localhost:${port}/metrics`,
      tracing: tracing ? 'on' : 'off',
    },
    config.apiToken
      ? `API listening on :${port}; /v1/connections requires the bearer API_TOKEN`
      : `API listening on :${port}; API_TOKEN is not set, so /v1/connections answers loopback clients only`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, draining requests');
    const force = setTimeout(() => {
      logger.warn('grace period over; closing remaining connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      Promise.all([connection.close(), tracing?.shutdown()])
        .catch((err: unknown) => logger.warn({ err }, 'closing the Temporal connection failed'))
        .finally(() => {
          logger.info('stopped');
          process.exit(0);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
