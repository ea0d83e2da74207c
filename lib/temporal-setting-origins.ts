/**
 * Where each Temporal connection setting came from, for messages: the variable when the environment
 * sets it, the temporal.toml key when the selected profile holds it, else the variable that would
 * set it. A message never names a file or key that is not there.
 */
import { platform } from 'node:os';
import { join } from 'node:path';
import { isTable, type TomlTable } from './temporal-setting-rules.js';

/** Which variable (or profile key) each setting came from, for messages. */
export interface TemporalSettingOrigins {
  address: string;
  namespace: string;
  apiKey: string;
  /** What turned TLS on (or off): TEMPORAL_TLS, a TLS file or name, the API key, or their profile keys. */
  tls: string;
  clientCert: string;
  clientKey: string;
  serverCa: string;
  serverName: string;
}

type Env = Record<string, string | undefined>;

/** The file envconfig reads: TEMPORAL_CONFIG_FILE, else the user's temporalio/temporal.toml. */
export function configFilePath(env: Env): string {
  if (env.TEMPORAL_CONFIG_FILE) return env.TEMPORAL_CONFIG_FILE;
  const home = env.HOME;
  const dir =
    platform() === 'win32'
      ? env.APPDATA
      : platform() === 'darwin'
        ? home && join(home, 'Library', 'Application Support')
        : (env.XDG_CONFIG_HOME ?? (home && join(home, '.config')));
  return dir ? join(dir, 'temporalio', 'temporal.toml') : 'temporal.toml';
}

/** How a message names `key` (`tls.server_name`) of the profile `env` selects in `file`. */
export function profileKey(env: Env, file: string, key: string): string {
  return `${key} of profile "${env.TEMPORAL_PROFILE ?? 'default'}" in ${file}`;
}

/** Each of these turns TLS on, as envconfig reads the environment (even ..._HOST_VERIFICATION=false). */
const TLS_VARIABLES = [
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
];

/** The origins of `env`'s settings over `inFile`, the selected profile as `file` holds it. */
export function settingOrigins(
  env: Env,
  inFile: TomlTable | undefined,
  file: string,
): TemporalSettingOrigins {
  const tls = isTable(inFile?.tls) ? inFile.tls : undefined;
  const has = (key: string) =>
    key.startsWith('tls.') ? tls?.[key.slice(4)] !== undefined : inFile?.[key] !== undefined;
  const fromFile = (key: string) => profileKey(env, file, key);
  const pick = (variable: string, key: string) =>
    env[variable] === undefined && has(key) ? fromFile(key) : variable;
  const pem = (variable: string, key: string) => {
    for (const suffix of ['_PATH', '_DATA'])
      if (env[variable + suffix] !== undefined) return variable + suffix;
    if (has(`tls.${key}_data`)) return fromFile(`tls.${key}_data`);
    return pick(`${variable}_PATH`, `tls.${key}_path`);
  };
  const tlsSwitch = () => {
    if (env.TEMPORAL_TLS !== undefined || has('tls.disabled')) return pick('TEMPORAL_TLS', 'tls.disabled');
    const variable = TLS_VARIABLES.find((name) => env[name] !== undefined);
    if (variable) return variable;
    // An empty [profile.<name>.tls] table turns TLS on too.
    if (tls) return fromFile(Object.keys(tls).length > 0 ? `tls.${Object.keys(tls)[0]}` : 'tls');
    // Else an API key turns TLS on; else it is off, as TEMPORAL_TLS would say.
    if (env.TEMPORAL_API_KEY !== undefined) return 'TEMPORAL_API_KEY';
    return has('api_key') ? fromFile('api_key') : 'TEMPORAL_TLS';
  };
  return {
    address: pick('TEMPORAL_ADDRESS', 'address'),
    namespace: pick('TEMPORAL_NAMESPACE', 'namespace'),
    apiKey: pick('TEMPORAL_API_KEY', 'api_key'),
    tls: tlsSwitch(),
    clientCert: pem('TEMPORAL_TLS_CLIENT_CERT', 'client_cert'),
    clientKey: pem('TEMPORAL_TLS_CLIENT_KEY', 'client_key'),
    serverCa: pem('TEMPORAL_TLS_SERVER_CA_CERT', 'server_ca_cert'),
    serverName: pick('TEMPORAL_TLS_SERVER_NAME', 'tls.server_name'),
  };
}
