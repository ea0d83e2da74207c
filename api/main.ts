/**
 * `npm run api`: the HTTP API against an existing Temporal server. Starts even while Temporal is
 * down (the connection is lazy and reconnects by itself; /readyz says 503 meanwhile) and drains
 * in-flight requests on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { ConfigError, exitOnConfigError, listenError, refuseArguments } from '../lib/config.js';
import { processDataConverter, EncryptionCodec } from '../lib/payload-codec.js';
import { joinHostPort } from '../lib/host-port.js';
import {
  describeTemporalConnection,
  loadWithTemporalConnection,
  warnIgnoredKeys,
  type TemporalConnectionConfig,
} from '../lib/temporal-connection.js';
import { TemporalUnreachableError } from '../lib/temporal-connection-check.js';
import { createApp } from './app.js';
import type { CodecServerOptions } from './codec.js';
import { codecTokenVariable, codecTokenWarning, loadApiConfig, type ApiConfig } from './config.js';
import { createLogger } from './logging.js';
import { checkTemporalSettings, diagnoseOutages } from './temporal-diagnosis.js';
import { watchSearchAttributes } from '../lib/search-attribute-check.js';
import { apiConnection } from './temporal-channel.js';
import { DRAIN_MS, noteReachable, stopWaiting } from './temporal-rpc.js';
import { prepareApiServer } from './client-errors.js';
import { warnIfUpdatesRefused } from './update-probe.js';

/**
 * Connects once before listening, so a wrong certificate, API key or namespace stops the API at
 * start (a ConfigError, printed; exit 1). An unreachable server does not: the API starts and
 * /readyz says 503.
 */
async function preflight(
  temporal: TemporalConnectionConfig,
  logger: ReturnType<typeof createLogger>,
): Promise<boolean> {
  try {
    await checkTemporalSettings(temporal);
    return true;
  } catch (error) {
    if (!(error instanceof TemporalUnreachableError)) exitOnConfigError(error);
    logger.warn(
      { reason: error.message },
      'Temporal not reachable at start; /readyz answers 503 until it is',
    );
    return false;
  }
}

async function main(): Promise<void> {
  refuseArguments('The API');
  let config: ApiConfig;
  let temporal: TemporalConnectionConfig;
  try {
    ({ config, temporal } = loadWithTemporalConnection(() => loadApiConfig()));
  } catch (err) {
    exitOnConfigError(err);
  }
  const logger = createLogger();
  const notStarted = exitOnSignalsUntilListening(logger);
  warnIgnoredKeys(temporal, logger);
  const codecWarning = codecTokenWarning(config);
  if (codecWarning !== undefined) logger.warn(codecWarning);
  const reachable = await preflight(temporal, logger);
  const connection = apiConnection(temporal.connectionOptions);
  const encryption = config.payloadEncryption;
  const dataConverter = processDataConverter(encryption?.keys);
  const tracing = config.otlpEndpoint ? (await import('./tracing.js')).startApiTracing() : undefined;
  const client = new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter,
    ...(tracing && { interceptors: { workflow: tracing.workflowInterceptors } }),
  });
  noteReachable(client, reachable);
  const stopDiagnosing = diagnoseOutages(client, temporal, logger);
  const app = createApp({
    client,
    taskQueue: config.taskQueue,
    namespace: temporal.namespace,
    apiToken: config.apiToken,
    webhookSecret: config.webhookSecret,
    logger,
    temporal,
    ...(config.port > 0 && { port: config.port }),
    codecServer: codecServerOptions(config),
    ...(tracing && { traceRequests: tracing.traceRequests }),
  });

  const server = await listen(app, config);
  const stopWatching = watchSearchAttributes(connection, temporal.namespace, logger);
  void warnIfUpdatesRefused(client, logger);
  const { address, port } = server.address() as AddressInfo;
  // What the socket is bound to (127.0.0.1 under npm start, :: or 0.0.0.0 without API_HOST), so the
  // line tells whether other machines can reach the API.
  const listening = joinHostPort(address, port);
  logger.info(
    {
      address,
      port,
      ...describeTemporalConnection(temporal),
      taskQueue: config.taskQueue,
      auth: config.apiToken ? 'bearer' : 'loopback-only',
      webhook: config.webhookSecret ? 'enabled' : 'disabled (WEBHOOK_SECRET unset: answers 503)',
      payloadEncryption: encryption
        ? { keyIds: encryption.keys.keyIds, codecServer: '/codec', codecAuth: codecAuth(config) }
        : 'off',
      metrics: `http://localhost:${port}/metrics`,
      tracing: tracing ? 'on' : 'off',
    },
    config.apiToken
      ? `API listening on ${listening}; /v1/connections requires the bearer API_TOKEN`
      : `API listening on ${listening}; API_TOKEN is not set, so /v1/connections answers loopback clients only`,
  );

  notStarted.listening();
  stopOnSignals(server, logger, async () => {
    stopDiagnosing();
    stopWatching();
    // The spans before the connection: a call still retrying (Temporal unreachable) throws from its
    // timer once the connection is closed, so nothing may wait between the close and the exit.
    const unsent = await tracing?.shutdown();
    if (unsent) logger.warn(unsent);
    await connection.close();
  });
}

/** The /codec server while PAYLOAD_ENCRYPTION_KEYS is set. */
function codecServerOptions(config: ApiConfig): CodecServerOptions | undefined {
  const encryption = config.payloadEncryption;
  return (
    encryption && {
      codec: new EncryptionCodec(encryption.keys),
      corsOrigins: encryption.corsOrigins,
      ...(config.codecApiToken !== undefined && { codecApiToken: config.codecApiToken }),
    }
  );
}

/** Which credential opens /codec, for the start-up line (names, never values). */
function codecAuth(config: ApiConfig): string {
  const variable = codecTokenVariable(config);
  return variable === undefined ? 'loopback-only' : `bearer ${variable}`;
}

/** Listens as configured; a port in use or a host this machine lacks is a ConfigError naming it. */
async function listen(app: ReturnType<typeof createApp>, config: ApiConfig): Promise<Server> {
  const server = config.host ? app.listen(config.port, config.host) : app.listen(config.port);
  prepareApiServer(server, config.keepAliveTimeoutMs);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err) =>
      reject(
        listenError(err, {
          port: config.port,
          portVariable: 'API_PORT',
          host: config.host,
          hostVariable: 'API_HOST',
        }),
      ),
    );
  });
  return server;
}

/**
 * Until the API listens (the start-up check alone may take 5 s), SIGTERM/SIGINT exit at once: there
 * is nothing to drain, and as a container's PID 1 without a handler the signal would be ignored,
 * leaving the pod to its whole grace period.
 */
function exitOnSignalsUntilListening(logger: Logger): { listening(): void } {
  const exit = (signal: NodeJS.Signals) => {
    logger.warn({ signal }, 'stopped before the API started');
    process.exit(0);
  };
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  return {
    listening: () => {
      process.off('SIGTERM', exit);
      process.off('SIGINT', exit);
    },
  };
}

/** SIGTERM/SIGINT: stop taking connections, let requests drain, close `resources`, exit. */
function stopOnSignals(server: Server, logger: Logger, closeResources: () => Promise<unknown>): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, draining requests');
    // POSTs waiting for their URLs answer now, with the status as it stands.
    stopWaiting();
    // An answered connection would otherwise stay open API_KEEP_ALIVE_TIMEOUT and hold the drain to
    // its grace; node reads this as each answer ends.
    server.keepAliveTimeout = 1;
    const force = setTimeout(() => {
      logger.warn('grace period over; closing remaining connections');
      server.closeAllConnections();
    }, DRAIN_MS);
    force.unref();
    server.close(() => {
      closeResources()
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
  if (err instanceof ConfigError) exitOnConfigError(err);
  process.stderr.write(`API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
