/**
 * `npm test` (test/run.ts) itself: a run must end with a failure that says why, not keep waiting
 * until CI's own limit, when a failed test left something open or the dev server died mid-run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findTemporalCli, PROJECT_ROOT } from '../dev/temporal-bin.js';
import { ADDRESS_ENV } from './helpers/temporal.js';

/** Long beside what each fixture takes to fail: only a run that waits on regardless gets here. */
const HUNG_AFTER_MS = 60_000;

/**
 * `npm test -- <fixture>` with `extra` (undefined unsets) in its environment; its exit code and
 * output, and whether it was still running HUNG_AFTER_MS after its output first matched `from`
 * (without `from`: after its start), so a slow dev server start is not taken for a hang.
 */
async function runFixture(fixture: string, extra: NodeJS.ProcessEnv, from?: RegExp) {
  // Not this runner's context either, with which node's runner in the child would run no files.
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, NODE_TEST_CONTEXT: undefined };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', `test/fixtures/${fixture}`], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own, so the kill below also reaches the node runner and the fixture.
    detached: true,
  });
  let output = '';
  let timer: NodeJS.Timeout | undefined;
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  const arm = () => (timer ??= setTimeout(kill, HUNG_AFTER_MS));
  const read = (chunk: Buffer) => {
    output += chunk.toString();
    if (from?.test(output)) arm();
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  if (!from) arm();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const code = await exited;
  clearTimeout(timer);
  return { code, hung: child.signalCode === 'SIGKILL', output };
}

test(
  'a test file that times out with a handle still open ends the run, failed',
  { timeout: 120_000 },
  async () => {
    // An address, so the runner starts no dev server: the fixture needs none.
    const run = await runFixture('left-open.test.ts', { [ADDRESS_ENV]: '127.0.0.1:1' });
    assert.equal(run.hung, false, `the run still waited after ${HUNG_AFTER_MS} ms:\n${run.output}`);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /test timed out after 500ms/);
  },
);

test('the dev server dying mid-run stops the run at once, naming it', { timeout: 240_000 }, async () => {
  // The real CLI behind a wrapper that notes its pid, for the fixture to kill.
  const dir = mkdtempSync(join(tmpdir(), 'runner-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pid');
  const wrapper = join(dir, 'temporal');
  writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${pidFile}'\nexec '${await findTemporalCli()}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  const run = await runFixture(
    'server-dies.test.ts',
    {
      TEMPORAL_CLI_PATH: wrapper,
      CONNECT_SAGA_TEST_SERVER_PID_FILE: pidFile,
      // No address from an outer `npm test`: this run starts its own server, through the wrapper.
      [ADDRESS_ENV]: undefined,
    },
    /Temporal dev server on /,
  );
  assert.equal(run.hung, false, `the run still waited after ${HUNG_AFTER_MS} ms:\n${run.output}`);
  assert.equal(run.code, 1, run.output);
  assert.match(
    run.output,
    /the Temporal dev server exited during the run \(exit code none, signal SIGKILL\)/,
  );
});
