/**
 * `npm run worker`, `api`, `emulator` and `npm start` under a supervisor that signals only the PID it
 * started (systemd with KillMode=process or mixed, pm2, `kill <pid>`): npm passes SIGTERM to the
 * script's shell, and Debian's dash then dies without passing it on, so the process the script ran
 * would be left running, orphaned, and never drain. Each script therefore `exec`s its program.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { pollUntil } from './helpers/poll.js';

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

describe('npm scripts of long-running processes', () => {
  test('each replaces the shell with its program, so npm’s SIGTERM reaches it', () => {
    for (const name of ['start', 'worker', 'api', 'emulator']) {
      assert.match(pkg.scripts[name] ?? '', /^exec tsx \S+\.ts$/, name);
    }
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
