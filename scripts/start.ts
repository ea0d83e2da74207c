/**
 * `npm start`: the whole stack on one machine. A Temporal dev server (persisted under .data/, Web UI,
 * search attributes registered) unless TEMPORAL_ADDRESS names one; the local Tray emulator unless
 * TRAY_MASTER_TOKEN is set; the worker and the API as child processes. Prints what runs where, and
 * stops everything on Ctrl-C / SIGTERM or as soon as one part dies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../common/messages.js';
import { ConfigError, exitOnConfigError, hostPort, port, readEnv, str } from '../lib/config.js';
import { startDevServer, type DevServer } from '../lib/dev-server.js';
import { findTemporalCli, PROJECT_ROOT } from '../lib/temporal-bin.js';
import { createEmulator } from '../emulator/server.js';
import { describeExit, prefixFor, startChild, type ManagedChild } from './children.js';
import { loadOrCreateDevSecrets } from './dev-secrets.js';

const DATA_DIR = join(PROJECT_ROOT, '.data');
const SECRETS_FILE = join(DATA_DIR, 'dev-secrets.json');
// The emulator's users, instances and codes, so sagas left waiting by an earlier run can still finish.
const EMULATOR_STATE_FILE = join(DATA_DIR, 'emulator-state.json');
const TEMPORAL_DB = join(DATA_DIR, 'temporal.db');
const TEMPORAL_LOG = join(DATA_DIR, 'temporal.log');
const CHILD_GRACE_MS = 15_000;
const READY_TIMEOUT_MS = 120_000;

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
  METRICS_PORT: port({ default: 9464 }),
};

const say = (message: string): void => {
  process.stdout.write(`${prefixFor('start', 4, process.stdout)}${message}\n`);
};
const complain = (message: string): void => {
  process.stderr.write(`${prefixFor('start', 4, process.stderr)}${message}\n`);
};

/** Thrown out of the start-up sequence when a stop was requested meanwhile. */
class StopRequested extends Error {}

async function portInUse(portNumber: number): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const server = createServer();
    server.once('error', () => resolveCheck(true));
    server.listen(portNumber, '127.0.0.1', () => server.close(() => resolveCheck(false)));
  });
}

async function wait(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<number> {
  const env = readEnv(START_ENV);
  if (env.TRAY_MASTER_TOKEN && !env.TRAY_EMBEDDED_ID) {
    throw new ConfigError([
      { variable: 'TRAY_EMBEDDED_ID', problem: 'is required when TRAY_MASTER_TOKEN is set (real Tray)' },
    ]);
  }
  const useEmulator = !env.TRAY_MASTER_TOKEN;
  const embeddedServer = !env.TEMPORAL_ADDRESS;

  // Say which port is taken before starting anything, rather than failing half-way with a stack trace.
  const ports: [number, string][] = [
    [env.API_PORT, 'API_PORT'],
    [env.METRICS_PORT, 'METRICS_PORT'],
  ];
  if (useEmulator) ports.push([env.TRAY_EMULATOR_PORT, 'TRAY_EMULATOR_PORT']);
  if (embeddedServer)
    ports.push(
      [env.TEMPORAL_DEV_PORT, 'TEMPORAL_DEV_PORT'],
      [env.TEMPORAL_DEV_UI_PORT, 'TEMPORAL_DEV_UI_PORT'],
    );
  const taken: string[] = [];
  for (const [p, variable] of ports) if (await portInUse(p)) taken.push(`${p} (${variable})`);
  if (taken.length > 0) {
    complain(
      `port${taken.length > 1 ? 's' : ''} already in use: ${taken.join(', ')}. ` +
        'Is another `npm start` running? Stop it, or set the variable(s) named to free ports.',
    );
    return 1;
  }

  // --- stopping: everything below registers what it started here -----------------------------------
  let stopReason: { message: string; code: number } | undefined;
  let onStop: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (onStop = r));
  const requestStop = (message: string, code: number): void => {
    if (stopReason) return;
    stopReason = { message, code };
    onStop();
  };
  /** Awaits `work`, unless a stop is requested first. */
  const unlessStopped = async <T>(work: Promise<T>): Promise<T> => {
    const outcome = await Promise.race([
      work.then((value) => ({ value })),
      stopRequested.then(() => undefined),
    ]);
    if (!outcome) throw new StopRequested();
    return outcome.value;
  };

  const children: ManagedChild[] = [];
  let temporal: DevServer | undefined;
  let temporalStopping = false;
  let closeEmulator: (() => Promise<void>) | undefined;

  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      requestStop(`${signal} received, stopping`, 0);
      return;
    }
    // One Ctrl-C can arrive twice: from the terminal to the whole process group, and relayed by the
    // tsx (and npm) wrapper above this process. Only a press noticeably later means "now".
    if (Date.now() - firstSignalAt < 1500) return;
    complain(`${signal} again: killing everything now`);
    for (const child of children) child.kill('SIGKILL');
    temporal?.process.kill('SIGKILL');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  watchLauncher(() => requestStop('the process that launched `npm start` is gone, stopping', 0));

  const shutdown = async (): Promise<void> => {
    // The API first (no new sagas), then the worker, then what they depend on.
    const api = children.find((c) => c.name === 'api');
    const others = children.filter((c) => c !== api);
    if (api) await api.stop(CHILD_GRACE_MS);
    await Promise.all(others.map((c) => c.stop(CHILD_GRACE_MS)));
    if (closeEmulator) await closeEmulator().catch((e: unknown) => complain(`emulator: ${String(e)}`));
    if (temporal) {
      temporalStopping = true;
      await temporal.stop();
    }
  };

  try {
    // --- Temporal -----------------------------------------------------------------------------------
    let temporalAddress: string;
    if (embeddedServer) {
      say(`starting the Temporal dev server (state ${rel(TEMPORAL_DB)}, log ${rel(TEMPORAL_LOG)}) …`);
      const cliPath = await unlessStopped(findTemporalCli());
      temporal = await unlessStopped(
        startDevServer({
          cliPath,
          port: env.TEMPORAL_DEV_PORT,
          uiPort: env.TEMPORAL_DEV_UI_PORT,
          dbFile: TEMPORAL_DB,
          logFile: TEMPORAL_LOG,
          namespace: env.TEMPORAL_NAMESPACE,
          startTimeoutMs: READY_TIMEOUT_MS,
          onProgress: say,
        }),
      );
      temporalAddress = temporal.address;
      temporal.process.once('exit', (code, signal) => {
        // A terminal Ctrl-C reaches the dev server too; give our own SIGINT handler the first word.
        setTimeout(() => {
          if (!temporalStopping)
            requestStop(
              `the Temporal dev server exited unexpectedly (${describeExit({ code, signal })}); see ${rel(TEMPORAL_LOG)}`,
              1,
            );
        }, 300);
      });
      say(`Temporal is up on ${temporalAddress}`);
    } else {
      temporalAddress = env.TEMPORAL_ADDRESS as string;
      say(`using the Temporal server at ${temporalAddress} (TEMPORAL_ADDRESS)`);
    }

    // --- Tray: the emulator, or the real thing ------------------------------------------------------
    const apiBase = `http://127.0.0.1:${env.API_PORT}`;
    let tray: { masterToken: string; embeddedId: string; graphqlUrl?: string; dialogUrl?: string };
    let webhookSecret = process.env.WEBHOOK_SECRET;
    let emulatorUrl: string | undefined;
    if (useEmulator) {
      const { secrets, created } = await loadOrCreateDevSecrets(SECRETS_FILE);
      say(`${created ? 'generated' : 'reusing'} the emulator's credentials in ${rel(SECRETS_FILE)}`);
      const emulator = createEmulator({
        masterToken: secrets.masterToken,
        embeddedId: secrets.embeddedId,
        webhookUrl: `${apiBase}/v1/webhooks/auth-completed`,
        webhookSecret: secrets.webhookSecret,
        stateFile: EMULATOR_STATE_FILE,
        log: (line) => process.stdout.write(`${prefixFor('emulator', 3, process.stdout)}${line}\n`),
      });
      const listening = await emulator.listen(env.TRAY_EMULATOR_PORT, '127.0.0.1');
      closeEmulator = listening.close;
      emulatorUrl = listening.url;
      tray = {
        masterToken: secrets.masterToken,
        embeddedId: secrets.embeddedId,
        graphqlUrl: `${listening.url}/graphql`,
        dialogUrl: listening.url,
      };
      webhookSecret = secrets.webhookSecret;
    } else {
      tray = { masterToken: env.TRAY_MASTER_TOKEN as string, embeddedId: env.TRAY_EMBEDDED_ID as string };
    }

    // --- worker and API -----------------------------------------------------------------------------
    const shared: NodeJS.ProcessEnv = {
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE,
      TEMPORAL_TASK_QUEUE: env.TEMPORAL_TASK_QUEUE,
    };
    // Each process gets only the secrets it needs: the master token never reaches the API.
    const workerEnv: NodeJS.ProcessEnv = {
      ...withoutSecrets(process.env),
      ...shared,
      TRAY_MASTER_TOKEN: tray.masterToken,
      TRAY_EMBEDDED_ID: tray.embeddedId,
      METRICS_PORT: String(env.METRICS_PORT),
      METRICS_HOST: process.env.METRICS_HOST || '127.0.0.1',
    };
    if (tray.graphqlUrl) workerEnv.TRAY_GRAPHQL_URL = tray.graphqlUrl;
    if (tray.dialogUrl) workerEnv.TRAY_AUTH_DIALOG_URL = tray.dialogUrl;
    const apiEnv: NodeJS.ProcessEnv = {
      ...withoutSecrets(process.env),
      ...shared,
      API_PORT: String(env.API_PORT),
      // A laptop stack stays on this machine unless the developer asks otherwise.
      API_HOST: process.env.API_HOST || '127.0.0.1',
    };
    if (env.API_TOKEN) apiEnv.API_TOKEN = env.API_TOKEN;
    if (webhookSecret) apiEnv.WEBHOOK_SECRET = webhookSecret;

    const launch = (
      name: string,
      entry: string,
      childEnv: NodeJS.ProcessEnv,
      colour: number,
    ): ManagedChild => {
      // Same as `npm run <name>` (tsx), without npm and tsx's wrapper in between, so signals reach it directly.
      const child = startChild({
        name,
        command: process.execPath,
        args: ['--import', 'tsx', entry],
        env: childEnv,
        cwd: PROJECT_ROOT,
        prefix: prefixFor(name, colour, process.stdout),
      });
      children.push(child);
      void child.exited.then((exit) => {
        if (!child.stopping) requestStop(`the ${name} exited unexpectedly (${describeExit(exit)})`, 1);
      });
      return child;
    };
    const startedAt = Date.now();
    const worker = launch('worker', 'worker/main.ts', workerEnv, 0);
    launch('api', 'api/main.ts', apiEnv, 1);

    say('waiting for the worker to poll and the API to answer …');
    await unlessStopped(
      Promise.all([
        waitForWorker(temporalAddress, env.TEMPORAL_NAMESPACE, env.TEMPORAL_TASK_QUEUE, worker, startedAt),
        waitForApi(apiBase),
      ]),
    );

    process.stdout.write(
      readyBlock({
        apiPort: env.API_PORT,
        metricsPort: env.METRICS_PORT,
        apiToken: Boolean(env.API_TOKEN),
        temporalAddress,
        uiUrl: temporal ? `http://localhost:${env.TEMPORAL_DEV_UI_PORT}` : undefined,
        namespace: env.TEMPORAL_NAMESPACE,
        emulatorUrl,
        embeddedServer,
      }),
    );
    await stopRequested;
  } catch (error) {
    if (!(error instanceof StopRequested)) {
      requestStop(error instanceof ConfigError ? error.message : `start-up failed: ${errorText(error)}`, 1);
    }
  }

  const reason = stopReason ?? { message: 'stopping', code: 1 };
  (reason.code === 0 ? say : complain)(reason.message);
  await shutdown();
  say('stopped');
  return reason.code;
}

/** The parent pid of `pid` (Linux /proc), or undefined where that cannot be read. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces: state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone` when the launcher chain above this process is re-parented. A SIGTERM sent to `npm`
 * reaches only the `sh -c` npm runs, which dies without passing it on, leaving tsx and this script
 * behind; watching the grandparent catches that and stops the stack instead of orphaning it.
 */
function watchLauncher(onGone: () => void): void {
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  const timer = setInterval(() => {
    if (process.ppid !== parent || (grandparent !== undefined && parentOf(parent) !== grandparent)) {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}

function rel(path: string): string {
  return path.startsWith(`${PROJECT_ROOT}/`) ? path.slice(PROJECT_ROOT.length + 1) : path;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The parent's environment minus the variables this script hands out itself, per process. */
function withoutSecrets(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...source };
  for (const name of ['TRAY_MASTER_TOKEN', 'WEBHOOK_SECRET', 'API_TOKEN']) delete copy[name];
  return copy;
}

/**
 * Resolves once the worker we started polls the task queue. A previous run's poller can still be
 * listed on a persisted server, so only a poll seen after this start counts.
 */
async function waitForWorker(
  address: string,
  namespace: string,
  taskQueue: string,
  worker: ManagedChild,
  startedAt: number,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const connection = await Connection.connect({ address });
  try {
    let lastNote = Date.now();
    while (Date.now() < deadline) {
      const response = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
      });
      const ours = response.pollers.some((poller) => {
        const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
        return (
          poller.identity?.startsWith(`${worker.process.pid}@`) === true || seconds * 1000 >= startedAt - 1000
        );
      });
      if (ours) return;
      if (Date.now() - lastNote > 10_000) {
        lastNote = Date.now();
        say('still waiting for the worker (it bundles the workflow code on start) …');
      }
      await wait(250);
    }
    throw new Error(`the worker did not poll task queue ${taskQueue} within ${READY_TIMEOUT_MS / 1000} s`);
  } finally {
    await connection.close();
  }
}

async function waitForApi(base: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = errorText(error);
    }
    await wait(250);
  }
  throw new Error(`the API at ${base} was not ready within ${READY_TIMEOUT_MS / 1000} s (${last})`);
}

function readyBlock(info: {
  apiPort: number;
  metricsPort: number;
  apiToken: boolean;
  temporalAddress: string;
  uiUrl?: string;
  namespace: string;
  emulatorUrl?: string;
  embeddedServer: boolean;
}): string {
  const api = `http://localhost:${info.apiPort}`;
  const auth = info.apiToken ? ` -H "Authorization: Bearer $API_TOKEN"` : '';
  const uiQuery = info.uiUrl
    ? `${info.uiUrl}/namespaces/${info.namespace}/workflows?query=${encodeURIComponent('TrayExternalUserId="user-1"')}`
    : undefined;
  const lines = [
    '',
    'connect-saga is running',
    `  API            ${api}   (OpenAPI: ${api}/openapi.json)`,
    `  Metrics        ${api}/metrics (API), http://localhost:${info.metricsPort}/metrics (worker)`,
    info.uiUrl ? `  Temporal UI    ${info.uiUrl}` : `  Temporal UI    (the one of your server)`,
    `  Temporal gRPC  ${info.temporalAddress}${info.embeddedServer ? '   (state in .data/temporal.db, server log .data/temporal.log)' : ''}`,
    info.emulatorUrl
      ? `  Tray emulator  ${info.emulatorUrl}   (credentials in .data/dev-secrets.json, state in .data/emulator-state.json)`
      : '  Tray           the real one (TRAY_MASTER_TOKEN is set)',
    '',
    'Start a saga for sol-1 (one auth slot, "slack"):',
    `  curl -s -X POST ${api}/v1/connections${auth} -H 'content-type: application/json' \\`,
    `    -d '{"externalUserId":"user-1","userName":"Ada","solutionId":"sol-1","authSlots":["slack"]}'`,
    'Open the authSlots[0].url it returns and click Authorize; then',
    `  curl -s${auth} ${api}/v1/connections/connect:user-1:sol-1     # step: completed`,
    uiQuery
      ? `Find it in the Temporal UI: ${uiQuery}`
      : 'Find it in your Temporal UI by TrayExternalUserId="user-1".',
    'Ctrl-C stops everything.',
    '',
  ];
  return `${lines.join('\n')}\n`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) exitOnConfigError(error);
    complain(`failed: ${errorText(error)}`);
    process.exit(1);
  },
);
