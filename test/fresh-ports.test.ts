/**
 * A child started on a port another process took after freePort() named it (a test file running in
 * parallel) is started again on a fresh one, rather than failing the test that started it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../dev/free-port.js';
import { addressInUse, START_ATTEMPTS, withFreshPorts } from './helpers/fresh-ports.js';
import { startApiProcess } from './helpers/worker-process.js';

/** A port held by another process for the rest of this file, as a parallel test file's server holds one. */
async function portHeldElsewhere(): Promise<number> {
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  after(() => {
    holder.kill('SIGKILL');
  });
  const [chunk] = (await once(holder.stdout, 'data')) as [Buffer];
  return Number(chunk.toString().trim());
}

test('an API whose port another process took first is started again on a fresh one', async () => {
  const held = await portHeldElsewhere();
  const picked: number[] = [];
  const pick = async () => {
    const port = picked.length === 0 ? held : await freePort();
    picked.push(port);
    return port;
  };
  // Refused at once: the API starts without waiting for Temporal.
  const api = await startApiProcess({ TEMPORAL_ADDRESS: '127.0.0.1:1' }, pick);
  after(() => {
    api.child.kill('SIGKILL');
  });
  assert.equal(picked.length, 2, `ports tried: ${picked.join(', ')}`);
  assert.equal(api.url, `http://127.0.0.1:${picked[1]}`);
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
});

test('an API killed by a signal while starting fails the start at once, naming the signal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fresh-ports-signal-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // As the kernel's OOM killer ends a process on a loaded machine: no exit code, no last words.
  const killSelf = join(dir, 'kill-self.cjs');
  writeFileSync(killSelf, "process.kill(process.pid, 'SIGKILL');\n");
  const startedAt = Date.now();
  await assert.rejects(
    startApiProcess({ TEMPORAL_ADDRESS: '127.0.0.1:1', NODE_OPTIONS: `--require ${killSelf}` }),
    /the API exited at start \(signal SIGKILL\)/,
  );
  assert.ok(Date.now() - startedAt < 30_000, 'noticed at once, not at the 120 s deadline');
});

test('a start that fails for anything but a port in use is not tried again', async () => {
  let starts = 0;
  await assert.rejects(
    withFreshPorts(['PORT'], async () => {
      starts += 1;
      throw new Error('TEMPORAL_ADDRESS: not a host:port');
    }),
    /not a host:port/,
  );
  assert.equal(starts, 1);
});

test('a port that stays taken fails the start after the last attempt, with its reason', async () => {
  let starts = 0;
  const error = Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' });
  await assert.rejects(
    withFreshPorts(['PORT'], async () => {
      starts += 1;
      throw error;
    }),
    error,
  );
  assert.equal(starts, START_ATTEMPTS);
  assert.ok(addressInUse(new Error('the worker exited at start:\nHEALTH_PORT: port 1 is already in use')));
  assert.ok(!addressInUse(new Error('the worker exited at start:\nTRAY_REGION: not a region')));
});
