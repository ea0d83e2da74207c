/**
 * Where the bench writes its result: the folder is made and checked before a run starts, and a path
 * that cannot be written is refused with the reason, never a hang or a lost result at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { checkOut, DEFAULT_OUT_DIR, OutFileError, resultFile } from '../bench/out-file.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-out-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('checkOut makes the missing folders, accepts existing ones and names a file in the way', () => {
  const deep = join(dir, 'a', 'b', 'c');
  checkOut(join(deep, 'result.json'));
  assert.ok(statSync(deep).isDirectory(), 'the folders are made before the run');
  checkOut(join(deep, 'result.json'));
  writeFileSync(join(dir, 'file'), '');
  assert.throws(
    () => checkOut(join(dir, 'file', 'below', 'x.json')),
    (error: Error) => error instanceof OutFileError && /cannot write --out .*: ENOTDIR/.test(error.message),
  );
});

test('checkOut accepts an existing file in a writable folder and refuses a folder', () => {
  writeFileSync(join(dir, 'old.json'), '{}');
  checkOut(join(dir, 'old.json'));
  assert.throws(
    () => checkOut(dir),
    (error: Error) =>
      error instanceof OutFileError && /cannot write --out .*: it is a folder/.test(error.message),
  );
  assert.throws(() => checkOut(join(dir, 'file', 'x.json')), OutFileError);
});

test('a folder that cannot take new entries (/proc) is refused, not retried for ever', (t) => {
  if (process.platform !== 'linux') return t.skip('needs /proc');
  // In a child with a deadline: Node's own recursive mkdir loops here without returning.
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import('./bench/out-file.ts').then((m) => {
         try { m.checkOut('/proc/connect-saga-nope/x.json'); console.log('accepted'); }
         catch (e) { console.log(e.message); }
       })`,
    ],
    { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(child.signal, null, 'it returned instead of looping until killed');
  // ENOENT as root, EACCES for anyone else: either way a reason, not a hang.
  assert.match(child.stdout, /cannot write --out \/proc\/connect-saga-nope\/x\.json: E[A-Z]+/);
});

test('the bench refuses an --out it could not write before starting anything (exit 2)', () => {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/main.ts', '--sagas', '1', '--out', dir],
    { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /cannot write --out .*: it is a folder, not a file/);
  assert.doesNotMatch(run.stderr, /starting the Temporal dev server/);
});

test('resultFile: --out as given, its folder made; else a file in the results folder named by the start', () => {
  const given = join(dir, 'later', 'run.json');
  assert.equal(resultFile(given, '2026-11-29T06:00:00.000Z', 'burst-'), given);
  assert.ok(statSync(join(dir, 'later')).isDirectory());
  assert.equal(
    resultFile(undefined, '2026-11-29T06:00:00.000Z', 'burst-'),
    join(DEFAULT_OUT_DIR, 'burst-2026-11-29T06-00-00-000Z.json'),
  );
  assert.equal(
    resultFile(undefined, '2026-11-29T06:00:00.000Z'),
    join(DEFAULT_OUT_DIR, '2026-11-29T06-00-00-000Z.json'),
  );
});
