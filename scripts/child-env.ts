/**
 * The environments `npm start` gives the worker and the API: each gets only the secrets it needs, so
 * the master token never reaches the API.
 */
import { DEV_TASK_QUEUE_PARTITIONS } from '../dev/dev-server.js';

/** The Tray the worker talks to: the local emulator, or the real one. */
export interface TrayTarget {
  masterToken: string;
  embeddedId: string;
  graphqlUrl?: string;
  dialogUrl?: string;
  /** The secret the webhook is signed with, when one is known. */
  webhookSecret?: string;
  /** Set when the emulator runs. */
  emulatorUrl?: string;
}

export interface ChildEnvOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  apiPort: number;
  apiToken?: string;
  /** CODEC_API_TOKEN, the API's alone: the worker has no use for it. */
  codecApiToken?: string;
  tray: TrayTarget;
  /** The dev server `npm start` runs itself: plaintext, whatever the shell's TEMPORAL_* say. */
  embeddedServer?: boolean;
  /** The dev server's Web UI port, whose origins may call the API's /codec. */
  webUiPort?: number;
}

/**
 * The shell's value, or npm start's default when it is unset or blank: the worker and the API read
 * a blank value as unset and would apply their own defaults (every interface, four partitions).
 */
function orDefault(value: string | undefined, fallback: string): string {
  return value?.trim() ? value : fallback;
}

/** How to reach a secured server or Cloud; meaningless, and harmful, against the embedded dev server. */
const CONNECTION_VARIABLE = /^TEMPORAL_(API_KEY|TLS.*|PROFILE|CONFIG_FILE|GRPC_META_.*)$/;

/** The connection variables set in `env` that the embedded dev server leaves unused, for a warning. */
export function unusedConnectionVariables(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => CONNECTION_VARIABLE.test(name) && env[name]?.trim())
    .sort();
}

/**
 * The parent's environment minus the variables this script hands out itself and, for the embedded
 * server, minus the connection settings of another server.
 */
function inheritedEnv(source: NodeJS.ProcessEnv, embeddedServer: boolean): NodeJS.ProcessEnv {
  const copy = { ...source };
  for (const name of ['TRAY_MASTER_TOKEN', 'WEBHOOK_SECRET', 'API_TOKEN', 'CODEC_API_TOKEN'])
    delete copy[name];
  if (embeddedServer) {
    for (const name of Object.keys(copy)) if (CONNECTION_VARIABLE.test(name)) delete copy[name];
    // Also over a default profile in the user's temporal.toml.
    copy.TEMPORAL_TLS = 'false';
  }
  return copy;
}

/** The worker's and the API's environments, built from `source` (this process's). */
export function childEnvs(
  options: ChildEnvOptions,
  source: NodeJS.ProcessEnv = process.env,
): { worker: NodeJS.ProcessEnv; api: NodeJS.ProcessEnv } {
  const { tray } = options;
  const inherited = inheritedEnv(source, options.embeddedServer ?? false);
  const shared: NodeJS.ProcessEnv = {
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_NAMESPACE: options.namespace,
    TEMPORAL_TASK_QUEUE: options.taskQueue,
  };
  const worker: NodeJS.ProcessEnv = {
    ...inherited,
    ...shared,
    TRAY_MASTER_TOKEN: tray.masterToken,
    TRAY_EMBEDDED_ID: tray.embeddedId,
    METRICS_HOST: orDefault(source.METRICS_HOST, '127.0.0.1'),
  };
  // Our own dev server gives every task queue one partition: the worker sizes its rate limit by it.
  if (options.embeddedServer) {
    const partitions = String(DEV_TASK_QUEUE_PARTITIONS);
    worker.TEMPORAL_TASK_QUEUE_PARTITIONS = orDefault(source.TEMPORAL_TASK_QUEUE_PARTITIONS, partitions);
  }
  if (tray.graphqlUrl) worker.TRAY_GRAPHQL_URL = tray.graphqlUrl;
  if (tray.dialogUrl) worker.TRAY_AUTH_DIALOG_URL = tray.dialogUrl;
  const api: NodeJS.ProcessEnv = {
    ...inherited,
    ...shared,
    API_PORT: String(options.apiPort),
    // A laptop stack stays on this machine unless the developer asks otherwise.
    API_HOST: orDefault(source.API_HOST, '127.0.0.1'),
  };
  const ui = options.webUiPort ?? 8233;
  api.CODEC_CORS_ORIGIN = orDefault(
    source.CODEC_CORS_ORIGIN,
    `http://localhost:${ui},http://127.0.0.1:${ui}`,
  );
  if (options.apiToken) api.API_TOKEN = options.apiToken;
  if (options.codecApiToken) api.CODEC_API_TOKEN = options.codecApiToken;
  if (tray.webhookSecret) api.WEBHOOK_SECRET = tray.webhookSecret;
  return { worker, api };
}
