/**
 * `npm run chaos | head`: once its output has no reader the run must kill the stack it started and
 * exit 141 with a line saying why, not end on Node's EPIPE stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { exitOf, pollUntil } from './helpers/poll.js';

/** The pids the run's processes logged when they started (`--- … started pid N`). */
function startedPids(runDir: string): number[] {
  return readdirSync(runDir)
    .filter((file) => file.endsWith('.log'))
    .flatMap((file) =>
      [...readFileSync(join(runDir, file), 'utf8').matchAll(/started pid (\d+)/g)].map((m) => Number(m[1])),
    );
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a chaos run whose output loses its reader kills its stack and exits 141', async (t) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'chaos/main.ts', '--quick', '--scenario', 'tray-down'],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let seen = '';
  const runDir = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const up = /stack up \(logs and state in (.+)\)/.exec(seen);
      if (up?.[1]) resolve(up[1]);
    });
    child.stderr.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`chaos exited ${code} before its stack was up:\n${seen}`)));
  });
  t.after(() => rmSync(runDir, { recursive: true, force: true }));
  const pids = startedPids(runDir);
  assert.ok(pids.length >= 3, `the emulator, API and worker logged their pids: ${pids.join(', ')}`);

  // Hang up, as `head` does once it has its lines; the scenario's next line meets EPIPE.
  let said = '';
  child.stdout.destroy();
  child.stderr.removeAllListeners('data');
  child.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const ended = await exitOf(child, {
    timeoutMs: 60_000,
    what: 'chaos to exit once its output had no reader',
  });
  assert.deepEqual(ended, { code: 141, signal: null }, said);
  assert.match(said, /chaos: the output has no reader \(EPIPE\), killing every child process/);
  assert.doesNotMatch(said, /\n\s+at /, 'no stack trace');
  await pollUntil(async () => pids.every((pid) => !running(pid)), {
    timeoutMs: 20_000,
    what: `the stack's processes (${pids.join(', ')}) to be gone`,
  });
});
