/**
 * `npm run bench` end to end with two sagas (one new user, one known user): it must finish, and each
 * saga must stay within the spec's Tray request budget. Timings are the bench's business, not a
 * test's: nothing here asserts a duration.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { BenchResult } from '../bench/report.js';
import { PROJECT_ROOT } from '../lib/temporal-bin.js';
import { devServer } from './helpers/temporal.js';

const server = await devServer();
const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('two sagas stay within the 8 (new user) / 7 (known user) Tray request budget', async () => {
  const out = join(dir, 'result.json');
  const { code, stdout, stderr } = await runBench([
    '--sagas',
    '2',
    '--json',
    '--out',
    out,
    '--temporal-address',
    server.address,
    '--timeout',
    '90',
  ]);
  assert.equal(code, 0, `bench exited ${code}:\n${stderr}`);

  const result = JSON.parse(stdout) as BenchResult;
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), result, 'the --out file holds the printed result');
  assert.equal(result.sagas.completed, 2);
  assert.deepEqual(result.problems, []);

  assert.equal(result.requests.new.sagas, 1);
  assert.equal(result.requests.known.sagas, 1);
  assert.ok(result.requests.new.perSaga.max <= 8, `new user: ${result.requests.new.perSaga.max} requests`);
  assert.ok(
    result.requests.known.perSaga.max <= 7,
    `known user: ${result.requests.known.perSaga.max} requests`,
  );
  // Only a new user is created; a known user's saga never tries.
  assert.equal(result.requests.new.byOperation.CreateUser, 1);
  assert.equal(result.requests.known.byOperation.CreateUser, undefined);
  // The worker's count and the emulator's agree, so the per-saga numbers are the wire's truth.
  assert.equal(result.requests.total, result.requests.seenByEmulator);
  assert.equal(result.requests.total, result.requests.new.perSaga.max + result.requests.known.perSaga.max);

  assert.match(stderr, /Tray requests per saga/, 'the table goes to stderr with --json');
});

test('a bad flag exits 2 with the usage text and starts nothing', async () => {
  const { code, stderr } = await runBench(['--sagas', 'many']);
  assert.equal(code, 2);
  assert.match(stderr, /--sagas must be a whole number/);
  assert.match(stderr, /Usage: npm run bench/);
});
