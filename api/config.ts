/**
 * The API process's environment, checked at once: a bad variable stops the process with a message
 * naming every problem (see lib/config.ts).
 */
import { DEFAULT_TASK_QUEUE } from '../common/messages.js';
import { encryptionKeysVar, type EncryptionKeys } from '../lib/payload-codec.js';
import { DEFAULT_CODEC_CORS_ORIGINS, parseOrigins } from './codec.js';
import {
  ConfigError,
  duration,
  envVar,
  hostPort,
  listenHost,
  oneOf,
  port,
  readEnv,
  str,
  url,
} from '../lib/config.js';
import { logLevelVar } from '../lib/log-output.js';
import { webhookSecretVar } from '../lib/webhook-secret.js';

/**
 * The bearer token: visible ASCII without spaces, all an `Authorization: Bearer <token>` header
 * carries intact. Any other token would refuse every request.
 */
const apiToken = envVar<string, { optional: true; secret: true }>({ optional: true, secret: true }, (raw) =>
  /^[\x21-\x7e]+$/.test(raw)
    ? { value: raw }
    : {
        problem:
          'must be printable ASCII without spaces (clients send it as "Authorization: Bearer <token>")',
      },
);

/**
 * API_KEEP_ALIVE_TIMEOUT: how long an idle client connection stays open. Longer than the idle
 * timeout of the load balancer in front (60 s for AWS ALB and nginx; Google's needs more than
 * 600 s), or the balancer may send a request down a connection the API is closing that moment, and
 * its client gets a 502.
 */
const keepAliveTimeout = duration({ default: '65s', max: '15m', examples: '65s or 10m' });

const API_ENV = {
  TEMPORAL_ADDRESS: hostPort({ default: 'localhost:7233' }),
  TEMPORAL_NAMESPACE: str({ default: 'default' }),
  TEMPORAL_TASK_QUEUE: str({ default: DEFAULT_TASK_QUEUE }),
  API_PORT: port({ default: 3000 }),
  API_HOST: listenHost({ optional: true }),
  API_KEEP_ALIVE_TIMEOUT: keepAliveTimeout,
  API_TOKEN: apiToken,
  API_AUTH_REQUIRED: oneOf(['true', 'false'], { default: 'false' }),
  CODEC_API_TOKEN: apiToken,
  WEBHOOK_SECRET: webhookSecretVar(),
  PAYLOAD_ENCRYPTION_KEYS: encryptionKeysVar(),
  CODEC_CORS_ORIGIN: envVar({ default: DEFAULT_CODEC_CORS_ORIGINS }, parseOrigins),
  OTEL_EXPORTER_OTLP_ENDPOINT: url({ optional: true }),
  LOG_LEVEL: logLevelVar(),
};

export interface ApiConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  port: number;
  /** Interface to listen on; unset means every interface (as in a container). */
  host?: string;
  /** Idle time before the API closes a client's connection (API_KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number;
  /** Bearer token for /v1/connections* (and /codec without codecApiToken); unset: loopback clients only. */
  apiToken?: string;
  /** `whsec_…`; unset means the webhook answers 503. */
  webhookSecret?: string;
  /** Bearer token for /codec alone, in place of apiToken there; only set when CODEC_API_TOKEN is. */
  codecApiToken?: string;
  /** Only while PAYLOAD_ENCRYPTION_KEYS is set: payloads are encrypted and /codec is served. */
  payloadEncryption?: { keys: EncryptionKeys; corsOrigins: string[] };
  /** OTLP/HTTP collector for traces; unset: no tracing code loads. */
  otlpEndpoint?: string;
}

/** Reads the API's configuration; throws a `ConfigError` naming every bad variable. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  const v = readEnv(API_ENV, env);
  if (v.API_AUTH_REQUIRED === 'true' && !v.API_TOKEN) {
    // Without a token the API trusts loopback clients, and a service mesh's sidecar (Istio,
    // Linkerd) relays every client from a loopback address: a blank Secret would open it to all.
    throw new ConfigError([
      {
        variable: 'API_TOKEN',
        problem:
          'is unset or blank, and API_AUTH_REQUIRED is true (the Kubernetes manifests set it): without a token the API ' +
          'trusts loopback clients, and a service mesh sidecar relays every client from a loopback address',
      },
    ]);
  }
  return {
    temporalAddress: v.TEMPORAL_ADDRESS,
    namespace: v.TEMPORAL_NAMESPACE,
    taskQueue: v.TEMPORAL_TASK_QUEUE,
    port: v.API_PORT,
    host: v.API_HOST,
    keepAliveTimeoutMs: v.API_KEEP_ALIVE_TIMEOUT,
    apiToken: v.API_TOKEN,
    webhookSecret: v.WEBHOOK_SECRET,
    ...(v.CODEC_API_TOKEN ? { codecApiToken: v.CODEC_API_TOKEN } : {}),
    ...(v.PAYLOAD_ENCRYPTION_KEYS
      ? { payloadEncryption: { keys: v.PAYLOAD_ENCRYPTION_KEYS, corsOrigins: v.CODEC_CORS_ORIGIN } }
      : {}),
    ...(v.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  };
}

/**
 * What is odd, though not wrong, about CODEC_API_TOKEN: set without PAYLOAD_ENCRYPTION_KEYS (no
 * /codec to guard; a shared Secret may well carry it everywhere), or equal to API_TOKEN (the
 * partner's token still opens /codec). A line for the start-up log, never carrying a token.
 */
export function codecTokenWarning(config: ApiConfig): string | undefined {
  if (config.codecApiToken === undefined) return undefined;
  if (!config.payloadEncryption)
    return 'CODEC_API_TOKEN is set but PAYLOAD_ENCRYPTION_KEYS is not, so /codec is not served and the token is unused';
  if (config.codecApiToken === config.apiToken)
    return 'CODEC_API_TOKEN equals API_TOKEN, so the token clients of /v1/connections hold also decrypts payloads at /codec; give /codec a token of its own';
  return undefined;
}

/** The variable whose bearer token opens /codec: its own when set, else the API's; undefined: loopback only. */
export function codecTokenVariable(tokens: {
  apiToken?: string | undefined;
  codecApiToken?: string | undefined;
}): 'CODEC_API_TOKEN' | 'API_TOKEN' | undefined {
  if (tokens.codecApiToken) return 'CODEC_API_TOKEN';
  return tokens.apiToken ? 'API_TOKEN' : undefined;
}
