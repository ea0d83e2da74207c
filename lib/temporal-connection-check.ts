/**
 * Opens the Temporal connection at start and proves it usable for the namespace: a failure a setting
 * causes becomes a `ConfigError` naming it; a server merely not reachable yet, a retryable error.
 */
import { ConfigError, type ConfigProblem } from './config.js';
import type { TemporalConnectionConfig } from './temporal-connection.js';
import { rustlsCertificateProblem } from './temporal-rustls-errors.js';
import { probeTransport } from './temporal-transport-probe.js';
import { causeChain } from './cause-chain.js';
import { GrpcStatus } from './grpc-status.js';

/** Temporal did not answer; nothing says a setting is wrong. */
export class TemporalUnreachableError extends Error {
  constructor(
    address: string,
    /** Why, in the transport's words ("ECONNREFUSED"). */
    readonly reason: string,
    message = `Temporal at ${address} is not reachable: ${reason}`,
  ) {
    super(message);
    this.name = 'TemporalUnreachableError';
  }
}

export interface CheckableConnection {
  workflowService: { describeNamespace(request: { namespace: string }): Promise<unknown> };
  close(): Promise<void>;
}

/** The gRPC status code in `error` or its causes, however the client or the worker's core phrased it. */
function grpcCode(error: unknown): number | undefined {
  for (const e of causeChain(error)) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'number' && code > 0 && code <= 16) return code;
    const text = typeof message === 'string' ? message : '';
    const numbered = /^(\d{1,2}) [A-Z_]+:/.exec(text);
    if (numbered) return Number(numbered[1]);
    if (/valid authentication credentials/.test(text)) return GrpcStatus.UNAUTHENTICATED;
    if (/does not have permission/.test(text)) return GrpcStatus.PERMISSION_DENIED;
  }
  return undefined;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function credentialProblem(config: TemporalConnectionConfig, code: number): ConfigProblem {
  const { address, namespace, origins, connectionOptions } = config;
  const hasCert = typeof connectionOptions.tls === 'object' && connectionOptions.tls.clientCertPair;
  const variable = connectionOptions.apiKey
    ? origins.apiKey
    : hasCert
      ? origins.clientCert
      : 'TEMPORAL_API_KEY';
  if (code === GrpcStatus.PERMISSION_DENIED) {
    return {
      variable,
      problem: `gives no access to namespace "${namespace}" at ${address} (PERMISSION_DENIED)`,
    };
  }
  if (variable === 'TEMPORAL_API_KEY' && !connectionOptions.apiKey) {
    return { variable, problem: `is not set and ${address} requires authentication (UNAUTHENTICATED)` };
  }
  return { variable, problem: `was refused by ${address} (UNAUTHENTICATED)` };
}

/**
 * Why connecting failed; probes the transport itself when the gRPC error does not tell. A certificate
 * the worker's TLS refused is a setting problem even where the probe's TLS accepts it.
 */
export async function explainConnectFailure(
  error: unknown,
  config: TemporalConnectionConfig,
): Promise<ConfigError | TemporalUnreachableError> {
  const code = grpcCode(error);
  if (code === GrpcStatus.UNAUTHENTICATED || code === GrpcStatus.PERMISSION_DENIED) {
    return new ConfigError([credentialProblem(config, code)]);
  }
  if (code === GrpcStatus.NOT_FOUND) {
    return new ConfigError([
      {
        variable: config.origins.namespace,
        problem: `namespace "${config.namespace}" not found at ${config.address}`,
      },
    ]);
  }
  const refused = rustlsCertificateProblem(error, config);
  if (refused?.local) return new ConfigError([refused.problem]);
  const probe = await probeTransport(config);
  if (probe.kind === 'setting') return new ConfigError([probe.problem]);
  // Node's TLS may accept what the worker's refused (an X.509 v1 certificate): rustls' word stands.
  if (refused) return new ConfigError([refused.problem]);
  return new TemporalUnreachableError(
    config.address,
    probe.kind === 'unreachable' ? probe.reason : reasonOf(error),
  );
}

/**
 * Connects with `connect` and checks the namespace answers. Throws a `ConfigError` when a setting
 * is wrong, a `TemporalUnreachableError` when the server is not reachable.
 */
export async function openTemporalConnection<C extends CheckableConnection>(
  config: TemporalConnectionConfig,
  connect: () => Promise<C>,
): Promise<C> {
  let connection: C | undefined;
  try {
    connection = await connect();
    await connection.workflowService.describeNamespace({ namespace: config.namespace });
    return connection;
  } catch (error) {
    await connection?.close().catch(() => undefined);
    throw await explainConnectFailure(error, config);
  }
}
