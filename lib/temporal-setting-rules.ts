/**
 * Connection settings that load but that the SDK's connections cannot use: refused at start, naming
 * the setting, instead of failing on the first call with an error that quotes them. And the profile
 * read with the temporal.toml keys it leaves unread, for a warning, and the reading's own errors
 * as problems that name the variable or file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  loadClientConfigFromToml,
  loadClientConfigProfile,
  type ClientConfigProfile,
} from '@temporalio/envconfig';
import type { ConfigProblem } from './config.js';

/** The variables that only mean something over TLS (the API key may also go to a plaintext proxy). */
const TLS_SETTING = /^TEMPORAL_TLS_(?:(?:CLIENT_CERT|CLIENT_KEY|SERVER_CA_CERT)_(?:PATH|DATA)|SERVER_NAME)$/;

/** What a gRPC metadata value may hold: printable ASCII. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;

/**
 * The problems with `env`'s host-verification switch, TLS turned off beside TLS settings, and the API
 * key (from `apiKeyOrigin`, a variable or a profile key); never the key itself.
 */
export function unusableSettings(
  env: Record<string, string>,
  apiKey: string | undefined,
  apiKeyOrigin: string,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (['1', 'true'].includes(env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION?.toLowerCase() ?? '')) {
    // The CLI honours it; the SDK's connections cannot, and would fail later on the host name.
    problems.push({
      variable: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
      problem:
        'is not supported by the worker and the API (the Temporal TypeScript SDK always verifies the host); set TEMPORAL_TLS_SERVER_NAME to a name in the server certificate instead',
    });
  }
  const tlsSettings = Object.keys(env).filter((name) => TLS_SETTING.test(name));
  if (['0', 'false'].includes(env.TEMPORAL_TLS ?? '') && tlsSettings.length > 0) {
    // envconfig drops them without a word: the operator meant TLS and would get plaintext.
    problems.push({
      variable: 'TEMPORAL_TLS',
      problem: `is false, so ${tlsSettings.sort().join(', ')} would be ignored; unset TEMPORAL_TLS or them`,
    });
  }
  if (apiKey !== undefined && !HEADER_VALUE.test(apiKey)) {
    // gRPC refuses the header only when the first call is made, quoting it in the error.
    problems.push({
      variable: apiKeyOrigin,
      problem:
        'holds characters a gRPC header cannot carry (printable ASCII only); look for a stray quote, accent or line break from copy-paste',
    });
  }
  return problems;
}

/** A gRPC metadata key as the API's client (grpc-js) takes it with a string value. */
const METADATA_KEY = /^[:0-9a-z_.-]+$/;

/**
 * gRPC metadata (TEMPORAL_GRPC_META_*, the profile's grpc_meta) that the API's client refuses on
 * every call, quoting the value in the error, while the worker's sends it: named at start instead,
 * by the variable that holds it (else `profileKeyOf` its key), never printing the value.
 */
export function unsendableMetadata(
  env: Record<string, string>,
  metadata: Record<string, string> | undefined,
  profileKeyOf: (key: string) => string,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(metadata ?? {})) {
    const problem = !METADATA_KEY.test(key)
      ? `names the header "${key}", which holds characters a gRPC header name cannot (a-z, 0-9, "-", "_", "." only)`
      : key.endsWith('-bin')
        ? `names the binary header "${key}" ("-bin"), which takes no text value`
        : value !== '' && !HEADER_VALUE.test(String(value))
          ? 'holds characters a gRPC header cannot carry (printable ASCII only); look for a stray quote, accent or line break from copy-paste'
          : undefined;
    if (problem === undefined) continue;
    const variable =
      Object.keys(env).find((name) => name.startsWith('TEMPORAL_GRPC_META_') && env[name] === value) ??
      profileKeyOf(key);
    problems.push({ variable, problem });
  }
  return problems;
}

/** A TOML table as the parser answers it. */
export type TomlTable = Record<string, unknown>;

interface Toml {
  parse(text: string): TomlTable;
  stringify(value: TomlTable): string;
}

/** smol-toml, the parser envconfig reads temporal.toml with, resolved as envconfig resolves it. */
function toml(): Toml {
  const envconfig = createRequire(import.meta.url).resolve('@temporalio/envconfig');
  return createRequire(envconfig)('smol-toml') as Toml;
}

/** True for a TOML table (not an array or a value). */
export function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The selected profile's table as `file` holds it; undefined without the file or the profile. */
function fileProfile(env: Record<string, string>, file: string): TomlTable | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const profiles = toml().parse(text).profile;
  const table = isTable(profiles) ? profiles[env.TEMPORAL_PROFILE ?? 'default'] : undefined;
  return isTable(table) ? table : undefined;
}

/**
 * The keys of the profile `name` that envconfig's strict reading refuses (key names only, never
 * values). Its check stops at the first profile with one, whichever: it is given this profile alone,
 * so a misspelling in a profile not selected warns no one and hides none in the selected one.
 */
function unreadKeys(name: string, table: TomlTable): string | undefined {
  try {
    const data = new TextEncoder().encode(toml().stringify({ profile: { [name]: table } }));
    loadClientConfigFromToml(data, { strict: true });
    return undefined;
  } catch (error) {
    return /key\(s\) unrecognized.*$/.exec(error instanceof Error ? error.message : '')?.[0];
  }
}

export interface LoadedProfile {
  /** The settings, environment over profile. */
  profile: ClientConfigProfile;
  /** The selected profile as written in the config file (temporal.toml key names), if there. */
  inFile?: TomlTable;
  /** The selected profile's keys the loader does not read, for a warning. */
  ignoredKeys?: string;
}

/**
 * The profile `env` selects from `file` (the file envconfig reads), as written and with the
 * environment over it, and its temporal.toml keys the loader ignores: ignored as the CLI ignores
 * them, but named in a warning, or a misspelt key would go unnoticed.
 */
export function loadProfile(env: Record<string, string>, file: string): LoadedProfile {
  const profile = loadClientConfigProfile({ overrideEnvVars: env });
  const inFile = fileProfile(env, file);
  if (!inFile) return { profile };
  const ignoredKeys = unreadKeys(env.TEMPORAL_PROFILE ?? 'default', inFile);
  return ignoredKeys ? { profile, inFile, ignoredKeys } : { profile, inFile };
}

/** Turns envconfig's own errors into a problem naming the variable or file. */
export function profileProblem(error: unknown, env: Record<string, string>, file: string): ConfigProblem {
  const message = error instanceof Error ? error.message : String(error);
  const missing = /^Profile '(.*)' not found/.exec(message);
  if (missing)
    return { variable: 'TEMPORAL_PROFILE', problem: `profile "${missing[1]}" not found in ${file}` };
  const both = /^Cannot specify both (\w+)_path and \w+_data/.exec(message);
  if (both) {
    const name = `TEMPORAL_TLS_${both[1]!.toUpperCase()}`;
    return {
      variable: `${name}_PATH/_DATA`,
      problem: `both a path and data are set (environment or profile); set one`,
    };
  }
  const variable = env.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : file;
  const { line, column, code } = error as { line?: number; column?: number; code?: string };
  // A TOML error's own message quotes the line, which may hold the API key: give the position only.
  if (line !== undefined)
    return { variable, problem: `is not valid TOML (line ${line}, column ${column ?? 0})` };
  return { variable, problem: `cannot be read (${code ?? (error instanceof Error ? error.name : 'error')})` };
}
