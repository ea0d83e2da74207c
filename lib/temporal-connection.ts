/**
 * The Temporal connection of every process that connects (worker, API, `npm start` against a
 * server, the bench, scripts), read as Temporal's own tools read it: `@temporalio/envconfig` with
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*,
 * TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE (`temporal.toml` profiles), environment over profile.
 * An API key turns TLS on. Everything that can be checked without the network is checked at load
 * (the rules in temporal-setting-rules.ts, the TLS material in temporal-tls-files.ts), and every
 * problem names the variable or profile key it came from; key material and the API key are never
 * quoted.
 */
import { existsSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { toClientOptions } from '@temporalio/envconfig';
import {
  loadProfile,
  profileProblem,
  unsendableMetadata,
  unusableSettings,
  type LoadedProfile,
} from './temporal-setting-rules.js';
import {
  configFilePath,
  profileKey,
  settingOrigins,
  type TemporalSettingOrigins,
} from './temporal-setting-origins.js';
import { ConfigError, hostPort, type ConfigProblem } from './config.js';
import { checkedTls } from './temporal-tls-files.js';

export type { TemporalSettingOrigins } from './temporal-setting-origins.js';

/** Accepted as is by `Connection.connect`/`Connection.lazy` and `NativeConnection.connect`. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface TemporalConnectionConfig {
  address: string;
  namespace: string;
  connectionOptions: TemporalConnectionOptions;
  origins: TemporalSettingOrigins;
  /** The profile's name when a config file was read, for logs. */
  profile?: string;
  /** The config file's keys that are not read (a misspelling?), for a warning. */
  ignoredKeys?: string;
}

export interface TemporalConnectionDefaults {
  /** Used when neither TEMPORAL_ADDRESS nor the profile names a server; unset: the address is required. */
  address?: string;
}

type Env = Record<string, string | undefined>;

/** Trimmed, blanks dropped (as lib/config.ts reads the environment), TEMPORAL_TLS spelled as envconfig reads it. */
function cleanEnv(env: Env, problems: ConfigProblem[]): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [name, raw] of Object.entries(env)) {
    const value = raw?.trim();
    if (value) clean[name] = value;
  }
  if (clean.TEMPORAL_TLS !== undefined) {
    const flag = clean.TEMPORAL_TLS.toLowerCase();
    if (['1', 'true', '0', 'false'].includes(flag)) clean.TEMPORAL_TLS = flag;
    else {
      problems.push({
        variable: 'TEMPORAL_TLS',
        problem: `must be true or false (got "${clean.TEMPORAL_TLS}")`,
      });
      // Read on as if unset, so the other settings' problems are named in the same message.
      delete clean.TEMPORAL_TLS;
    }
  }
  return clean;
}

/**
 * A profile that holds an API key or TLS settings but no address would hand them to the default
 * server (a misspelt `adress`?): refused, naming the missing key.
 */
function credentialsForTheDefault(
  env: Env,
  { inFile, ignoredKeys }: LoadedProfile,
  file: string,
  defaultAddress: string,
): ConfigProblem[] {
  // A tls table that only turns TLS off carries nothing to send.
  const tls = inFile?.tls as Record<string, unknown> | undefined;
  const tlsOff =
    tls !== undefined && Object.keys(tls).every((key) => key === 'disabled') && tls.disabled === true;
  const held = ['api_key', 'tls'].filter((key) => inFile?.[key] !== undefined && !(key === 'tls' && tlsOff));
  if (held.length === 0) return [];
  const unread = ignoredKeys ? `; ${ignoredKeys}` : '';
  return [
    {
      variable: profileKey(env, file, 'address'),
      problem: `is not set, so the profile's ${held.join(' and ')} would go to the default ${defaultAddress}${unread}`,
    },
  ];
}

/**
 * Reads the Temporal connection from `env` (and the temporal.toml profile it selects) and checks it.
 * Throws one `ConfigError` naming every bad variable, profile key or file.
 */
export function loadTemporalConnection(
  env: Env = process.env,
  defaults: TemporalConnectionDefaults = { address: 'localhost:7233' },
): TemporalConnectionConfig {
  const problems: ConfigProblem[] = [];
  const clean = cleanEnv(env, problems);
  const file = configFilePath(clean);
  if (clean.TEMPORAL_CONFIG_FILE && !existsSync(clean.TEMPORAL_CONFIG_FILE)) {
    problems.push({
      variable: 'TEMPORAL_CONFIG_FILE',
      problem: `no such file: ${clean.TEMPORAL_CONFIG_FILE}`,
    });
    // The profile, and so every other setting, is in that file.
    throw new ConfigError(problems);
  }
  let loaded: LoadedProfile;
  try {
    loaded = loadProfile(clean, file);
  } catch (error) {
    throw new ConfigError([...problems, profileProblem(error, clean, file)]);
  }
  const { profile, ignoredKeys } = loaded;
  const from = settingOrigins(clean, loaded.inFile, file);
  const address = profile.address ?? defaults.address;
  if (address === undefined) {
    problems.push({ variable: 'TEMPORAL_ADDRESS', problem: 'is required but not set' });
  } else if (profile.address === undefined) {
    problems.push(...credentialsForTheDefault(clean, loaded, file, address));
  } else {
    const parsed = hostPort().parse(address);
    if (!parsed.ok) problems.push({ variable: from.address, problem: parsed.problem });
  }
  problems.push(...unusableSettings(clean, profile.apiKey, from.apiKey));
  problems.push(
    ...unsendableMetadata(clean, profile.grpcMeta, (key) => profileKey(clean, file, `grpc_meta.${key}`)),
  );
  const tls = checkedTls(profile, from, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const { connectionOptions, namespace } = toClientOptions({ ...profile, tls });
  return {
    address: address!,
    namespace: namespace ?? 'default',
    connectionOptions: {
      address: address!,
      ...(connectionOptions.tls !== undefined && connectionOptions.tls !== null
        ? { tls: connectionOptions.tls }
        : {}),
      ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey as string } : {}),
      // envconfig builds metadata from string values (TEMPORAL_GRPC_META_*, grpc_meta).
      ...(connectionOptions.metadata
        ? { metadata: connectionOptions.metadata as Record<string, string> }
        : {}),
    },
    origins: from,
    profile: existsSync(file) ? (clean.TEMPORAL_PROFILE ?? 'default') : undefined,
    ignoredKeys,
  };
}

/**
 * The connection to a dev server this process started itself: plaintext, no API key, no profile,
 * whatever TEMPORAL_* variables the shell has (they describe some other server).
 */
export function devServerConnection(address: string, namespace = 'default'): TemporalConnectionConfig {
  const here = 'the dev server started here';
  return {
    address,
    namespace,
    connectionOptions: { address },
    origins: Object.fromEntries(
      ['address', 'namespace', 'apiKey', 'tls', 'clientCert', 'clientKey', 'serverCa', 'serverName'].map(
        (key) => [key, here],
      ),
    ) as unknown as TemporalSettingOrigins,
  };
}

/** What a log line may say about the connection: where, which namespace, how secured; no material. */
export function describeTemporalConnection(config: TemporalConnectionConfig): Record<string, string> {
  const { tls, apiKey } = config.connectionOptions;
  const security =
    tls === undefined || tls === false
      ? 'plaintext'
      : typeof tls === 'object' && tls.clientCertPair
        ? 'mTLS'
        : 'TLS';
  return {
    temporalAddress: config.address,
    namespace: config.namespace,
    temporalSecurity: apiKey ? `${security} + API key` : security,
    ...(config.profile ? { temporalProfile: config.profile } : {}),
  };
}

/** Warns of the config file's keys the loader does not read (a misspelt `adress`?). */
export function warnIgnoredKeys(t: TemporalConnectionConfig, logger: { warn(o: object, m: string): void }) {
  if (t.ignoredKeys) logger.warn({ profile: t.profile }, `temporal.toml: ${t.ignoredKeys}; they are ignored`);
}

/**
 * Runs a process's own configuration loader and the Temporal connection's together, so one
 * `ConfigError` lists every problem of both (each variable once).
 */
export function loadWithTemporalConnection<T>(
  load: () => T,
  env: Env = process.env,
  defaults?: TemporalConnectionDefaults,
): { config: T; temporal: TemporalConnectionConfig } {
  const problems: ConfigProblem[] = [];
  const attempt = <R>(fn: () => R): R | undefined => {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const p of error.problems) if (!problems.some((q) => q.variable === p.variable)) problems.push(p);
      return undefined;
    }
  };
  const config = attempt(load);
  const temporal = attempt(() => loadTemporalConnection(env, defaults));
  if (problems.length > 0 || config === undefined || temporal === undefined) throw new ConfigError(problems);
  return { config, temporal };
}
