/**
 * The shape of the repository (issue 7's "done when"): rooms that fit on a screen, shipped code
 * that does not lean on test code, and comments that point inside the repository.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 80;

/** Tracked (or new, not ignored) files matching the git pathspecs, still in the working tree. */
function trackedFiles(...pathspecs: string[]): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...pathspecs], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f !== '' && !f.startsWith('node_modules/'))
    .filter((f) => {
      try {
        readFileSync(join(PROJECT_ROOT, f));
        return true;
      } catch {
        return false; // deleted in the working tree
      }
    });
}

const trackedTsFiles = () => trackedFiles('*.ts');

/** Every file that holds code or its comments: TypeScript, scripts, manifests, the Dockerfile. */
const codeFiles = () =>
  trackedFiles('*.ts', '*.mjs', '*.js', '*.cjs', '*.sh', '*.yaml', '*.yml', 'Dockerfile', '.ci/*');

const sourceFiles = () => trackedTsFiles().filter((f) => !f.startsWith('test/'));

function lineCount(text: string): number {
  return text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
}

/** Every function-like node longer than `max` lines, as `file:line name (N lines)`. */
function longFunctions(file: string, max: number): string[] {
  const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '<anonymous>';
        found.push(`${file}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test(`no source file outside test/ is over ${MAX_FILE_LINES} lines`, () => {
  const over = sourceFiles()
    .map((f) => ({ f, n: lineCount(readFileSync(join(PROJECT_ROOT, f), 'utf8')) }))
    .filter(({ n }) => n > MAX_FILE_LINES)
    .map(({ f, n }) => `${f} (${n} lines)`);
  assert.deepEqual(over, []);
});

test(`no function outside test/ is over ${MAX_FUNCTION_LINES} lines`, () => {
  assert.deepEqual(
    sourceFiles().flatMap((f) => longFunctions(f, MAX_FUNCTION_LINES)),
    [],
  );
});

test('shipped folders and scripts/ import nothing from test/', () => {
  const importsTest = /from\s+['"](\.\.\/)+test\/|import\(\s*['"](\.\.\/)+test\//;
  const offenders = sourceFiles().filter((f) =>
    importsTest.test(readFileSync(join(PROJECT_ROOT, f), 'utf8')),
  );
  assert.deepEqual(offenders, []);
});

test('code points at docs/ in the repository, not at documents outside it', () => {
  // Built from parts so this file does not match its own pattern; any case, as a comment may start
  // a sentence with it.
  const outside = new RegExp(['NOTES', 'md'].join('\\.') + '|the ' + 'spec\\b', 'i');
  const offenders = codeFiles().flatMap((f) =>
    readFileSync(join(PROJECT_ROOT, f), 'utf8')
      .split('\n')
      .flatMap((line, i) => (outside.test(line) ? [`${f}:${i + 1}`] : [])),
  );
  assert.deepEqual(offenders, []);
});
