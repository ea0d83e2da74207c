/**
 * The environment for helper processes that talk to neither Tray nor a secured Temporal (the
 * embedded dev server, pip installing it): the caller's, minus the project's credentials, which such
 * a process has no use for and would otherwise hold in its environment for its whole life.
 */

/** The credentials the worker, the API and npm start read. */
export const PROJECT_SECRETS = [
  'TRAY_MASTER_TOKEN',
  'API_TOKEN',
  'CODEC_API_TOKEN',
  'WEBHOOK_SECRET',
  'PAYLOAD_ENCRYPTION_KEYS',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
] as const;

/** A copy of `env` without PROJECT_SECRETS. */
export function withoutProjectSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of PROJECT_SECRETS) delete copy[name];
  return copy;
}
