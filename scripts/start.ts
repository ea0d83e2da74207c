/**
 * `npm start`: the whole stack on one machine. A Temporal dev server (persisted under .data/, Web UI,
 * search attributes registered) unless TEMPORAL_ADDRESS names one; the local Tray emulator unless
 * TRAY_MASTER_TOKEN is set; the worker and the API as child processes. Prints what runs where, and
 * stops everything on Ctrl-C / SIGTERM or as soon as one part dies.
 */
import { join } from 'node:path';
import { codecTokenVariable } from '../api/config.js';
import { DEFAULT_TASK_QUEUE } from '../common/messages.js';
import { startDevServer } from '../dev/dev-server.js';
import { findTemporalCli, PROJECT_ROOT } from '../dev/temporal-bin.js';
import { createEmulator } from '../emulator/server.js';
import { encryptionKeysVar } from '../lib/payload-codec.js';
import {
  ConfigError,
  exitOnConfigError,
  hostPort,
  port,
  readEnv,
  refuseArguments,
  str,
  type EnvValues,
} from '../lib/config.js';
import {
  describeTemporalConnection,
  devServerConnection,
  loadTemporalConnection,
  type TemporalConnectionConfig,
} from '../lib/temporal-connection.js';
import { checkedStartEnv } from './child-config-check.js';
import { childEnvs, unusedConnectionVariables, type TrayTarget } from './child-env.js';
import { describeExit, startChild, type ManagedChild } from './children.js';
import { dataDirOf, makeDataDir, otherRunProblem, RunNotes, stopLeftovers } from './leftovers.js';
import { Parts } from './parts.js';
import { loadOrCreateDevSecrets } from './dev-secrets.js';
import { complain, errorText, prefixFor, say } from './output.js';
import { portProblem, READY_TIMEOUT_MS, waitForApi, waitForWorker } from './readiness.js';
import { encryptionNote, readyBlock, uiOriginLeftOut } from './ready-banner.js';
import { handleClosedOutput } from '../lib/closed-output.js';
import { handleSignals, StopControl, StopRequested, watchLauncher } from './stopping.js';

// Where npm start keeps its state (tests give it a folder of their own).
const DATA_DIR = dataDirOf(process.env);
const SECRETS_FILE = join(DATA_DIR, 'dev-secrets.json');
// The emulator's users, instances and codes, so sagas left waiting by an earlier run can still finish.
const EMULATOR_STATE_FILE = join(DATA_DIR, 'emulator-state.json');
const TEMPORAL_DB = join(DATA_DIR, 'temporal.db');
const TEMPORAL_LOG = join(DATA_DIR, 'temporal.log');
// One note per run of the pids it started (scripts/leftovers.ts).
const RUNS_DIR = join(DATA_DIR, 'runs');

const START_ENV = {
  TEMPORAL_ADDRESS: hostPort({ optional: true }),
  TEMPORAL_NAMESPACE: str({ default: 'default' }),
  TEMPORAL_TASK_QUEUE: str({ default: DEFAULT_TASK_QUEUE }),
  // Ports of the embedded dev server; only worth changing when 7233/8233 are taken.
  TEMPORAL_DEV_PORT: port({ default: 7233 }),
  TEMPORAL_DEV_UI_PORT: port({ default: 8233 }),
  TRAY_MASTER_TOKEN: str({ optional: true, secret: true }),
  TRAY_EMBEDDED_ID: str({ optional: true }),
  TRAY_EMULATOR_PORT: port({ default: 4000 }),
  API_PORT: port({ default: 3000 }),
  API_TOKEN: str({ optional: true, secret: true }),
  CODEC_API_TOKEN: str({ optional: true, secret: true }),
  // Checked here too, so a bad value stops npm start before anything runs.
  PAYLOAD_ENCRYPTION_KEYS: encryptionKeysVar(),
  METRICS_PORT: port({ default: 9464 }),
};
type StartEnv = EnvValues<typeof START_ENV>;

function rel(path: string): string {
  return path.startsWith(`${PROJECT_ROOT}/`) ? path.slice(PROJECT_ROOT.length + 1) : path;
}

/** The codec endpoint the dev server's Web UI is given and the banner names: the browser's view. */
function codecEndpoint(apiPort: number): string {
  return `http://localhost:${apiPort}/codec`;
}

/** The connection: to the given server (`server`, from the loader), or to a dev server started here. */
async function startTemporal(
  env: StartEnv,
  server: TemporalConnectionConfig | undefined,
  parts: Parts,
  stop: StopControl,
): Promise<TemporalConnectionConfig> {
  if (server) {
    const { temporalSecurity } = describeTemporalConnection(server);
    say(
      `using the Temporal server at ${server.address}, namespace ${server.namespace} (${temporalSecurity})`,
    );
    return server;
  }
  const unused = unusedConnectionVariables(process.env);
  if (unused.length > 0) {
    say(
      `${unused.join(', ')} ${unused.length > 1 ? 'are' : 'is'} set but TEMPORAL_ADDRESS is not, so npm start ` +
        'runs its own dev server and does not use them; set TEMPORAL_ADDRESS to use a server of yours',
    );
  }
  say(`starting the Temporal dev server (state ${rel(TEMPORAL_DB)}, log ${rel(TEMPORAL_LOG)}) …`);
  const cliPath = await stop.unlessStopped(findTemporalCli());
  const starting = startDevServer({
    cliPath,
    port: env.TEMPORAL_DEV_PORT,
    uiPort: env.TEMPORAL_DEV_UI_PORT,
    // With payload encryption the Web UI decodes through the API's codec server.
    uiCodecEndpoint: env.PAYLOAD_ENCRYPTION_KEYS && codecEndpoint(env.API_PORT),
    dbFile: TEMPORAL_DB,
    logFile: TEMPORAL_LOG,
    namespace: env.TEMPORAL_NAMESPACE,
    startTimeoutMs: READY_TIMEOUT_MS,
    onProgress: say,
    // Out of the terminal's Ctrl-C, so it outlives the worker's shutdown; Parts.shutdown stops it.
    ownProcessGroup: true,
    signal: parts.cancelTemporalStart.signal,
    onSpawn: (pid) => parts.notes.add('Temporal dev server', pid),
  });
  // Noted even when a stop comes first, so shutdown still stops a server that came up meanwhile. A
  // failed start stopped its server itself, and its error reaches main through `starting`.
  parts.temporalStarting = starting.then(
    (started) => (parts.temporal = started),
    () => undefined,
  );
  const temporal = await stop.unlessStopped(starting);
  temporal.process.once('exit', (code, signal) => {
    if (!parts.temporalStopping)
      stop.request(
        `the Temporal dev server exited unexpectedly (${describeExit({ code, signal })}); see ${rel(TEMPORAL_LOG)}`,
        1,
      );
  });
  say(`Temporal is up on ${temporal.address}`);
  return devServerConnection(temporal.address, env.TEMPORAL_NAMESPACE);
}

/** The real Tray when TRAY_MASTER_TOKEN is set, else the emulator, started here. */
async function startTray(env: StartEnv, parts: Parts, apiBase: string): Promise<TrayTarget> {
  if (env.TRAY_MASTER_TOKEN) {
    return {
      masterToken: env.TRAY_MASTER_TOKEN,
      embeddedId: env.TRAY_EMBEDDED_ID as string,
      webhookSecret: process.env.WEBHOOK_SECRET,
    };
  }
  const { secrets, created } = await loadOrCreateDevSecrets(SECRETS_FILE);
  say(`${created ? 'generated' : 'reusing'} the emulator's credentials in ${rel(SECRETS_FILE)}`);
  if (process.env.WEBHOOK_SECRET) {
    say(`WEBHOOK_SECRET is not used: the emulator and the API share the one in ${rel(SECRETS_FILE)}`);
  }
  const emulator = createEmulator({
    masterToken: secrets.masterToken,
    embeddedId: secrets.embeddedId,
    webhookUrl: `${apiBase}/v1/webhooks/auth-completed`,
    webhookSecret: secrets.webhookSecret,
    stateFile: EMULATOR_STATE_FILE,
    log: (line) => process.stdout.write(`${prefixFor('emulator', 3, process.stdout)}${line}\n`),
  });
  const listening = await emulator.listen(env.TRAY_EMULATOR_PORT, '127.0.0.1');
  parts.closeEmulator = listening.close;
  return {
    masterToken: secrets.masterToken,
    embeddedId: secrets.embeddedId,
    graphqlUrl: `${listening.url}/graphql`,
    dialogUrl: listening.url,
    webhookSecret: secrets.webhookSecret,
    emulatorUrl: listening.url,
  };
}

/** Starts a part as a child; its exit before a stop was asked for stops the stack. */
function launch(
  parts: Parts,
  stop: StopControl,
  part: { name: string; entry: string; env: NodeJS.ProcessEnv; colour: number },
): ManagedChild {
  // Same as `npm run <name>` (tsx), without npm and tsx's wrapper in between, so signals reach it directly.
  const child = startChild({
    name: part.name,
    command: process.execPath,
    args: ['--import', 'tsx', part.entry],
    env: part.env,
    cwd: PROJECT_ROOT,
    prefix: prefixFor(part.name, part.colour, process.stdout),
  });
  parts.children.push(child);
  parts.notes.add(part.name, child.process.pid);
  void child.exited.then((exit) => {
    if (!child.stopping) stop.request(`the ${part.name} exited unexpectedly (${describeExit(exit)})`, 1);
  });
  return child;
}

/** Starts every part in dependency order, waits until the stack is ready and says where it runs. */
async function startStack(
  env: StartEnv,
  server: TemporalConnectionConfig | undefined,
  parts: Parts,
  stop: StopControl,
): Promise<void> {
  const temporal = await startTemporal(env, server, parts, stop);
  const apiBase = `http://127.0.0.1:${env.API_PORT}`;
  const tray = await startTray(env, parts, apiBase);
  const envs = childEnvs({
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    embeddedServer: !server,
    apiPort: env.API_PORT,
    webUiPort: env.TEMPORAL_DEV_UI_PORT,
    ...(env.API_TOKEN ? { apiToken: env.API_TOKEN } : {}),
    ...(env.CODEC_API_TOKEN ? { codecApiToken: env.CODEC_API_TOKEN } : {}),
    tray,
  });
  envs.worker.METRICS_PORT = String(env.METRICS_PORT);
  if (env.PAYLOAD_ENCRYPTION_KEYS) {
    const codecToken = codecTokenVariable({ apiToken: env.API_TOKEN, codecApiToken: env.CODEC_API_TOKEN });
    const ui = parts.temporal
      ? uiOriginLeftOut(envs.api.CODEC_CORS_ORIGIN, env.TEMPORAL_DEV_UI_PORT)
      : undefined;
    say(
      encryptionNote(env.PAYLOAD_ENCRYPTION_KEYS.primaryKeyId, codecEndpoint(env.API_PORT), codecToken, ui),
    );
  }
  const startedAt = Date.now();
  const worker = launch(parts, stop, {
    name: 'worker',
    entry: 'worker/main.ts',
    env: envs.worker,
    colour: 0,
  });
  launch(parts, stop, { name: 'api', entry: 'api/main.ts', env: envs.api, colour: 1 });

  say('waiting for the worker to poll and the API to answer …');
  const [serverVersion] = await stop.unlessStopped(
    Promise.all([waitForWorker(temporal, env.TEMPORAL_TASK_QUEUE, worker, startedAt), waitForApi(apiBase)]),
  );
  process.stdout.write(
    readyBlock({
      apiPort: env.API_PORT,
      apiToken: Boolean(env.API_TOKEN),
      temporalAddress: temporal.address,
      uiUrl: parts.temporal ? `http://localhost:${env.TEMPORAL_DEV_UI_PORT}` : undefined,
      namespace: temporal.namespace,
      emulatorUrl: tray.emulatorUrl,
      embeddedServer: !server,
      metricsPort: env.METRICS_PORT,
      dataDir: rel(DATA_DIR),
      ...(serverVersion ? { serverVersion } : {}),
    }),
  );
}

async function main(): Promise<number> {
  const stop = new StopControl();
  handleClosedOutput((why) => stop.request(`the output closed (${why}), stopping`, 0));
  refuseArguments('npm start');
  const env = checkedStartEnv((source) => readEnv(START_ENV, source));
  // TLS, API key and profile as the worker and the API read them; a bad one stops npm start here.
  const server = env.TEMPORAL_ADDRESS ? loadTemporalConnection(process.env, {}) : undefined;
  makeDataDir(DATA_DIR);
  // A run that was killed with SIGKILL left its parts running, on the ports this one needs.
  await stopLeftovers(RUNS_DIR, say);
  const trouble = otherRunProblem(RUNS_DIR, rel(DATA_DIR)) ?? (await portProblem(env));
  if (trouble) {
    complain(trouble);
    return 1;
  }

  const parts = new Parts(new RunNotes(RUNS_DIR));
  handleSignals(stop, () => parts.killAll());
  watchLauncher(() => stop.request('the process that launched `npm start` is gone, stopping', 0));
  try {
    await startStack(env, server, parts, stop);
    await stop.requested;
  } catch (error) {
    if (!(error instanceof StopRequested)) {
      stop.request(error instanceof ConfigError ? error.message : `start-up failed: ${errorText(error)}`, 1);
    }
  }

  const reason = stop.reason ?? { message: 'stopping', code: 1 };
  (reason.code === 0 ? say : complain)(reason.message);
  await parts.shutdown();
  say('stopped');
  return reason.code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) exitOnConfigError(error);
    complain(`failed: ${errorText(error)}`);
    process.exit(1);
  },
);
