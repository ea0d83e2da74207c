/**
 * `npm run chaos`'s command line: --help answers on stdout with exit 0, and a flag it refuses exits 2
 * with the usage before any process starts. An empty scenario name is refused rather than read as
 * "every scenario", a 15-minute run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parseOptions, UsageError, type ChaosOptions } from '../chaos/options.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

function chaos(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'chaos/main.ts', ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('--help prints the usage on stdout and exits 0', () => {
  const help = chaos(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /npm run chaos -- \[--quick\]/);
  assert.equal(help.stderr, '');
});

test('an unknown flag or a missing value exits 2 with the usage, no stack trace', () => {
  for (const args of [['--bogus'], ['--seed'], ['--seed', 'abc'], ['extra']]) {
    const run = chaos(args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /npm run chaos -- \[--quick\]/, args.join(' '));
    assert.doesNotMatch(run.stderr, /\n\s+at /, `${args.join(' ')} printed a stack trace`);
  }
});

test('--seed takes decimal digits only; --scenario refuses an empty name', () => {
  assert.equal((parseOptions(['--seed', '42']) as ChaosOptions).seed, 42);
  for (const seed of ['', '1e3', '0x10', '-1', '1.5'])
    assert.throws(() => parseOptions(['--seed', seed]), UsageError, `--seed ${JSON.stringify(seed)}`);
  assert.deepEqual((parseOptions(['--scenario', 'tray-down, webhook-flood']) as ChaosOptions).scenarios, [
    'tray-down',
    'webhook-flood',
  ]);
  for (const scenario of ['', ',', 'tray-down,'])
    assert.throws(
      () => parseOptions(['--scenario', scenario]),
      /--scenario needs a scenario name/,
      `--scenario ${JSON.stringify(scenario)}`,
    );
  assert.equal(parseOptions(['--help']), 'help');
});
