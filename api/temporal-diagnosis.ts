/**
 * While the API finds Temporal unreachable, it asks again now and then with the start-up check
 * (lib/temporal-connection-check.ts), which tells a wrong certificate, server name or API key from
 * an outage. An API started before its server would otherwise only ever say "unreachable".
 */
import { Connection, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { ConfigError } from '../lib/config.js';
import type { TemporalConnectionConfig } from '../lib/temporal-connection.js';
import { openTemporalConnection } from '../lib/temporal-connection-check.js';
import { isKnownUnreachable } from './temporal-rpc.js';

const CHECK_TIMEOUT_MS = 5_000;

/**
 * Connects, describes the namespace and disconnects: a `ConfigError` names a setting the server
 * refuses, a `TemporalUnreachableError` says it did not answer. The API's start-up check too.
 */
export async function checkTemporalSettings(temporal: TemporalConnectionConfig): Promise<void> {
  const probe = await openTemporalConnection(temporal, () =>
    Connection.connect({ ...temporal.connectionOptions, connectTimeout: CHECK_TIMEOUT_MS }),
  );
  await probe.close();
}

/**
 * Every `intervalMs` while `client` is known unreachable: runs the check, and logs a setting it finds
 * wrong (each distinct finding once). Returns a function that stops it.
 */
export function diagnoseOutages(
  client: Client,
  temporal: TemporalConnectionConfig,
  logger: Logger,
  intervalMs = 30_000,
): () => void {
  let said: string | undefined;
  let checking = false;
  const timer = setInterval(() => {
    if (checking || !isKnownUnreachable(client)) return;
    checking = true;
    checkTemporalSettings(temporal)
      .catch((error: unknown) => {
        if (!(error instanceof ConfigError) || error.message === said) return;
        said = error.message;
        logger.error(
          { problems: error.problems },
          'Temporal answers, but refuses this setting: fix it and restart the API',
        );
      })
      .finally(() => (checking = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
