/**
 * `npm test`: every test, on real Temporal servers. Makes sure both Temporal binaries are there
 * (installing the pinned ones once, before the test files start in parallel), starts one dev server
 * that all test files share, then runs node's test runner over test/**\/*.test.ts (or the files
 * given as arguments) and exits with its code.
 *   npm test                        # everything
 *   npm test -- test/api.test.ts    # some files
 *   npm test -- --test-name-pattern reissue [files]  # some tests, of every file or of the given ones
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startDevServer, type DevServer } from '../dev/dev-server.js';
import {
  locateTemporalBinary,
  PROJECT_ROOT,
  TEMPORAL_CLI,
  TEMPORAL_TEST_SERVER,
} from '../dev/temporal-bin.js';
import { wholeNumber } from '../lib/config.js';
import { ADDRESS_ENV } from './helpers/temporal.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory())
        return name === 'helpers' || name === 'fixtures' ? [] : testFiles(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

function log(message: string): void {
  process.stderr.write(`[npm test] ${message}\n`);
}

/**
 * Options (`--test-name-pattern=x`, or `--test-name-pattern x`) go to node's runner; only the other
 * arguments pick files, so options alone still run every file rather than none (node's own default
 * finds no .ts files). A word after a bare option is its value unless it names a file.
 */
function splitArgs(args: string[]): { options: string[]; chosen: string[] } {
  const options: string[] = [];
  const chosen: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    const next = args[i + 1];
    if (!arg.startsWith('-')) chosen.push(arg);
    else if (arg.includes('=') || next === undefined || next.startsWith('-') || existsSync(next))
      options.push(arg);
    else {
      options.push(arg, next);
      i += 1;
    }
  }
  return { options, chosen };
}

async function main(): Promise<number> {
  const { options, chosen } = splitArgs(process.argv.slice(2));
  // Three files at a time: most tests spend much of their time waiting on timers, servers and child
  // processes, so on a 2-core machine three finish the run about a tenth sooner than two.
  const concurrency = wholeNumber({ default: 3 }).parse(process.env.TEST_CONCURRENCY);
  if (!concurrency.ok) throw new Error(`TEST_CONCURRENCY: ${concurrency.problem}`);
  const files =
    chosen.length > 0 ? chosen : testFiles(join(PROJECT_ROOT, 'test')).map((f) => relative(PROJECT_ROOT, f));

  const env: NodeJS.ProcessEnv = { ...process.env };
  const cli = await locateTemporalBinary(TEMPORAL_CLI);
  const testServer = await locateTemporalBinary(TEMPORAL_TEST_SERVER);
  // Pass the found paths on, so no test file searches (or installs) again.
  if (cli.path) env.TEMPORAL_CLI_PATH = cli.path;
  else log(`Temporal CLI not found (${cli.tried.join('; ')}); tests fall back to the SDK's download`);
  if (testServer.path) env.TEMPORAL_TEST_SERVER_PATH = testServer.path;
  else
    log(
      `time-skipping test server not found (${testServer.tried.join('; ')}); tests fall back to the SDK's download`,
    );

  let server: DevServer | undefined;
  if (cli.path && !env[ADDRESS_ENV]) {
    log('starting the Temporal dev server for the tests …');
    server = await startDevServer({ cliPath: cli.path, onProgress: log });
    env[ADDRESS_ENV] = server.address;
    log(`Temporal dev server on ${server.address}`);
  }

  // A test that timed out or failed half-way can leave a worker, a server or a child process
  // behind, and node's runner waits for that file's process to end: the run would hang, silent,
  // until CI's own limit. Each file ends once its tests have (the flag is why engines.node is 20.14).
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency.value}`,
      '--test-timeout=300000',
      '--test-force-exit',
      '--test-reporter=spec',
      ...options,
      ...files,
    ],
    { cwd: PROJECT_ROOT, env, stdio: 'inherit' },
  );
  let stopping = false;
  const stopChild = (signal: NodeJS.Signals) => {
    stopping = true;
    child.kill(signal);
  };
  process.on('SIGINT', stopChild);
  process.on('SIGTERM', stopChild);
  // A dev server that dies mid-run leaves the later tests to fail one by one, many only at their
  // deadlines, with no more than UNAVAILABLE to show for it: stop the run at once, saying why.
  let serverDied = false;
  server?.process.once('exit', (exitCode, signal) => {
    if (stopping) return;
    serverDied = true;
    const how = `exit code ${exitCode ?? 'none'}${signal ? `, signal ${signal}` : ''}`;
    log(`the Temporal dev server exited during the run (${how}); stopping the tests`);
    child.kill('SIGTERM');
  });
  const code = await new Promise<number>((r) => child.once('exit', (c, s) => r(c ?? (s ? 1 : 0))));
  stopping = true;
  await server?.stop();
  return serverDied ? 1 : code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
