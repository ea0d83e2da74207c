/**
 * Connection settings that load but that the SDK's connections cannot use: refused at start, naming
 * the setting, instead of failing on the first call with an error that quotes them. And the profile
 * read with the temporal.toml keys it leaves unread, for a warning.
 */
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

/**
 * The profile `env` selects, and the temporal.toml keys it ignores as envconfig's strict reading
 * names them (key names only, never values). Ignored like the CLI ignores them, but a misspelt
 * `adress` would send the profile's API key to the default server, so the processes warn. The file
 * is read a second time, leniently, only when the strict reading refuses it.
 */
export function loadProfile(env: Record<string, string>): {
  profile: ClientConfigProfile;
  ignoredKeys?: string;
} {
  try {
    return { profile: loadClientConfigProfile({ overrideEnvVars: env, configFileStrict: true }) };
  } catch (error) {
    const unknown = /key\(s\) unrecognized.*$/.exec(error instanceof Error ? error.message : '');
    const profile = loadClientConfigProfile({ overrideEnvVars: env });
    return unknown ? { profile, ignoredKeys: unknown[0] } : { profile };
  }
}
