/**
 * Connection settings that load but that the SDK's connections cannot use: refused at start, naming
 * the setting, instead of failing on the first call with an error that quotes them. And the profile
 * read with the temporal.toml keys it leaves unread, for a warning.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import type { ConfigProblem } from './config.js';

/** What a gRPC metadata value may hold: printable ASCII. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;

/**
 * The problems with `env`'s host-verification switch and the API key (from `apiKeyOrigin`, a
 * variable or a profile key); never the key itself.
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

/** A TOML table as the parser answers it. */
export type TomlTable = Record<string, unknown>;

interface Toml {
  parse(text: string): TomlTable;
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
 * environment over it, and the temporal.toml keys it ignores as envconfig's strict reading names
 * them (key names only, never values). Ignored like the CLI ignores them, but a misspelt `adress`
 * would send the profile's API key to the default server, so the processes warn. The file is read a
 * second time, leniently, only when the strict reading refuses it.
 */
export function loadProfile(env: Record<string, string>, file: string): LoadedProfile {
  const inFile = fileProfile(env, file);
  try {
    const profile = loadClientConfigProfile({ overrideEnvVars: env, configFileStrict: true });
    return inFile ? { profile, inFile } : { profile };
  } catch (error) {
    const unknown = /key\(s\) unrecognized.*$/.exec(error instanceof Error ? error.message : '');
    const profile = loadClientConfigProfile({ overrideEnvVars: env });
    return { profile, ...(inFile && { inFile }), ...(unknown && { ignoredKeys: unknown[0] }) };
  }
}
