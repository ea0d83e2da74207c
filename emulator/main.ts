/**
 * `npm run emulator`: the local Tray Embedded emulator as a process of its own.
 * Configuration comes from the environment (see config.ts); it stops cleanly on SIGTERM/SIGINT.
 */
import { exitOnConfigError, listenError, refuseArguments } from '../lib/config.js';
import { loadEmulatorConfig, type EmulatorConfig } from './config.js';
import { createEmulator } from './server.js';

const say = (line: string) => process.stdout.write(`[tray-emulator] ${line}\n`);

refuseArguments('The Tray emulator');
let config: EmulatorConfig;
try {
  config = loadEmulatorConfig();
} catch (error) {
  exitOnConfigError(error);
}

const emulator = createEmulator({
  masterToken: config.masterToken,
  embeddedId: config.embeddedId,
  webhookUrl: config.webhookUrl,
  webhookSecret: config.webhookSecret,
  stateFile: config.stateFile,
  log: say,
});
const { url, close } = await emulator.listen(config.port, config.host).catch((error: unknown) =>
  exitOnConfigError(
    listenError(error, {
      port: config.port,
      portVariable: 'TRAY_EMULATOR_PORT',
      host: config.host,
      hostVariable: 'TRAY_EMULATOR_HOST',
    }),
  ),
);

say(`listening on ${url}`);
say(`  GraphQL (TRAY_GRAPHQL_URL):        ${url}/graphql`);
say(`  auth dialog (TRAY_AUTH_DIALOG_URL): ${url}`);
say(`  embedded id (TRAY_EMBEDDED_ID):     ${config.embeddedId}`);
say(`  demo solutions:                     ${[...emulator.store.solutions.keys()].join(', ')}`);
say(`  relays completed auths to:          ${config.webhookUrl}`);
say(
  config.stateFile
    ? `  state kept in (TRAY_EMULATOR_STATE_FILE): ${config.stateFile}`
    : '  state: memory only (set TRAY_EMULATOR_STATE_FILE to keep it across restarts)',
);
if (!config.webhookSecret)
  say('  WEBHOOK_SECRET is not set: relays go out unsigned and a real API will refuse them');
// A generated token is a local throwaway the operator has to hand to the worker, so it is shown;
// a token from the environment never is.
if (config.masterTokenGenerated)
  say(`  TRAY_MASTER_TOKEN was not set; generated for this run: ${config.masterToken}`);
else say('  TRAY_MASTER_TOKEN: set (from the environment)');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: shutting down`);
  close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`[tray-emulator] shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
