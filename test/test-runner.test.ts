/**
 * `npm test` (test/run.ts) itself: a test file whose failed test left something open must end with
 * the failure, not keep the run waiting for its process until CI's own limit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { ADDRESS_ENV } from './helpers/temporal.js';

test(
  'a test file that times out with a handle still open ends the run, failed',
  { timeout: 120_000 },
  async () => {
    // An address, so the runner starts no dev server (the fixture needs none); and not this runner's
    // context, with which node's runner in the child would refuse to run files.
    const env: NodeJS.ProcessEnv = { ...process.env, [ADDRESS_ENV]: '127.0.0.1:1' };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/run.ts', 'test/fixtures/left-open.test.ts'],
      {
        cwd: PROJECT_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // A group of its own, so the kill below also reaches the node runner and the fixture.
        detached: true,
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    // Long beside the fixture's 500 ms: only a run that waits on the open server gets here.
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(timer);
    assert.notEqual(child.signalCode, 'SIGKILL', `the run still waited after 60 s:\n${output}`);
    assert.equal(code, 1, output);
    assert.match(output, /test timed out after 500ms/);
  },
);
