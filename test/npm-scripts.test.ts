/**
 * `npm run worker`, `api`, `emulator` and `npm start` under a supervisor that signals only the PID it
 * started (systemd with KillMode=process or mixed, pm2, `kill <pid>`): npm passes SIGTERM to the
 * script's shell, and Debian's dash then dies without passing it on, so the process the script ran
 * would be left running, orphaned, and never drain. Each script therefore `exec`s its program.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { pollUntil } from './helpers/poll.js';

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

describe('npm scripts of long-running processes', () => {
  test('each replaces the shell with node itself, so npm’s SIGTERM reaches it', () => {
    for (const name of ['start', 'worker', 'api', 'emulator', 'bench', 'chaos']) {
      assert.match(pkg.scripts[name] ?? '', /^exec node --import tsx \S+\.ts$/, name);
    }
  });

  // The tsx command runs the program as its child and SIGKILLs it when the child has not said it got
  // the signal within about 60 ms: a worker busy for longer (a workflow task, a burst) died undrained,
  // and npm start's own cleanup never ran, leaving its dev server, worker and API holding their ports.
  test('a program busy when SIGTERM comes still runs its handler and drains', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'busy-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'busy.ts');
    writeFileSync(
      script,
      [
        "process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 100); });",
        // Busy 300 ms at a time from the start, as a worker in a burst can be, with the event loop
        // turning in between: a signal is taken within one stretch.
        'const busy = () => { const end = Date.now() + 300; while (Date.now() < end); setImmediate(busy); };',
        "console.log('ready');",
        'setImmediate(busy);',
      ].join('\n'),
    );
    const command = (pkg.scripts.worker ?? '').replace(/\S+\.ts$/, JSON.stringify(script));
    const child = spawn('sh', ['-c', command], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await pollUntil(async () => output.includes('ready'), {
      timeoutMs: 30_000,
      what: 'the busy program to start',
    });
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, null, `killed by ${signal}: ${output}`);
    assert.equal(code, 0, output);
    assert.match(output, /draining/);
  });

  test('SIGTERM to `npm run emulator` stops the emulator, not only npm', async () => {
    // Its own process group, so the cleanup below also reaches a process npm left orphaned.
    const npm = spawn('npm', ['run', 'emulator'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TRAY_EMULATOR_PORT: '0', TRAY_EMULATOR_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    after(() => {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await pollUntil(async () => /listening on (http:\/\/\S+)/.exec(output)?.[1], {
      timeoutMs: 30_000,
      what: 'the emulator to listen',
    });
    const exited = once(npm, 'exit');
    npm.kill('SIGTERM');
    await exited;
    await pollUntil(
      () =>
        fetch(`${url}/_emulator/state`).then(
          () => false,
          () => true,
        ),
      { timeoutMs: 10_000, what: `the emulator at ${url} to stop after npm's SIGTERM` },
    );
    assert.match(output, /SIGTERM: shutting down/);
  });
});

test('the environment-configured entry points refuse arguments rather than ignore them', () => {
  // A bad setting each, so a start that ignored the argument would stop at once too, with exit 1.
  const env = {
    PATH: process.env.PATH ?? '',
    API_PORT: 'x',
    TRAY_EMULATOR_PORT: 'x',
    CONNECT_SAGA_DATA_DIR: join(PROJECT_ROOT, 'test-artifacts', 'npm-scripts-args'),
  };
  const entries = {
    start: 'scripts/start.ts',
    worker: 'worker/main.ts',
    api: 'api/main.ts',
    emulator: 'emulator/main.ts',
  };
  for (const [name, entry] of Object.entries(entries)) {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], {
        cwd: PROJECT_ROOT,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const flag = run(['--port', '3001']);
    assert.equal(flag.status, 2, `${name}: ${flag.stderr}`);
    assert.match(flag.stderr, /takes no arguments \(got --port 3001\): .*environment variables/, name);
    const help = run(['--help']);
    assert.equal(help.status, 0, `${name}: ${help.stderr}`);
    assert.match(help.stdout, /takes no arguments: .*README\.md, "Configuration"/, name);
  }
});
