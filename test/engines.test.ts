/**
 * The Node.js floor that package.json (`engines`) and the README state is one the project's own
 * commands run on. The compiled worker and API need what the Temporal SDK needs (20.3), but from
 * source more is used: `npm start` runs its parts with `node --import tsx`, and tsx needs
 * `module.register` there (20.6); `npm test` passes `--test-concurrency` (20.10) and its tests mock
 * `Date` with `mock.timers.enable({ apis })` (20.11); `npm run lint` loads eslint.config.mjs, which
 * reads `import.meta.dirname` (20.11); and `npm test` passes `--test-force-exit` (20.14), without
 * which a test file that fails leaving a worker or server open holds the whole run open. Node 21
 * never got that flag (it came with 22 and was brought back to 20.14), so the range skips 21.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

const NEEDED = [20, 14, 0] as const;

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
};

function parse(version: string): number[] {
  return version.split('.').map(Number);
}

function atLeast(version: number[], floor: readonly number[]): boolean {
  for (let i = 0; i < floor.length; i += 1) {
    const a = version[i] ?? 0;
    const b = floor[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

const RANGE = /^\^(\d+\.\d+\.\d+) \|\| >=(\d+)\.0\.0$/;

function statedRange(): { floor: number[]; nextMajor: number } {
  const match = RANGE.exec(pkg.engines.node.trim());
  assert.ok(match?.[1] && match[2], `engines.node is "^x.y.z || >=N.0.0" (got ${pkg.engines.node})`);
  return { floor: parse(match[1]), nextMajor: Number(match[2]) };
}

function statedFloor(): number[] {
  return statedRange().floor;
}

/** Whether `version` is inside engines.node: the floor's major from the floor, or nextMajor and later. */
function allowed(version: number[]): boolean {
  const { floor, nextMajor } = statedRange();
  return (version[0] === floor[0] && atLeast(version, floor)) || (version[0] ?? 0) >= nextMajor;
}

test('engines.node is no lower than what npm start, npm test and npm run lint use', () => {
  assert.ok(
    atLeast(statedFloor(), NEEDED),
    `engines.node ${pkg.engines.node} allows a Node.js below ${NEEDED.join('.')}`,
  );
});

test('engines.node skips Node 21, which has no --test-force-exit', () => {
  assert.ok(!allowed([21, 7, 3]), `engines.node ${pkg.engines.node} allows Node.js 21`);
  assert.ok(allowed([20, 20, 2]) && allowed([22, 0, 0]) && allowed([24, 1, 0]));
  assert.ok(!allowed([20, 13, 1]));
});

test('the README states the same floor as engines.node', () => {
  const [major, minor] = statedFloor();
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  assert.match(readme, new RegExp(`Node\\.js ≥ ${major}\\.${minor}\\b`));
});

test('this Node.js meets engines.node', () => {
  assert.ok(
    allowed(parse(process.versions.node)),
    `Node.js ${process.versions.node} is below engines.node ${pkg.engines.node}`,
  );
});
