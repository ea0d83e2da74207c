/**
 * The compiled worker `--worker image` runs: what the Dockerfile's build stage does (`tsc -p
 * tsconfig.build.json` and the workflow bundle as a file), kept under bench-results/worker-build/
 * by a digest of everything it is made from. A run on unchanged sources (the next bench, the test
 * suite's other API modes) starts from the build already there instead of compiling again.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { writeConnectWorkflowBundle } from '../lib/workflow-bundle-file.js';

const execFileAsync = promisify(execFile);

/** Inside the project, so node_modules resolves from the compiled files; git-ignored. */
const IMAGE_BUILDS = join(PROJECT_ROOT, 'bench-results', 'worker-build');
export const BUNDLE_FILE = 'workflow-bundle.js';
const BUILD_CONFIG = 'tsconfig.build.json';
/** Besides the compiled folders: the compiler settings, and every dependency's version (the bundle holds the SDK's workflow code). */
const ALSO_READ = ['tsconfig.json', BUILD_CONFIG, 'package-lock.json'];
const TEMP_PREFIX = 'run-';
/** A build no run has used for this long is removed; so is a half-written one (a run killed mid-build). */
const KEEP_UNUSED_MS = 24 * 60 * 60 * 1000;
const KEEP_TEMP_MS = 60 * 60 * 1000;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** A digest of the files the build is made from: the folders tsconfig.build.json compiles, and ALSO_READ. */
export function workerBuildKey(root = PROJECT_ROOT): string {
  const config = JSON.parse(readFileSync(join(root, BUILD_CONFIG), 'utf8')) as { include?: string[] };
  const files = [
    ...(config.include ?? []).flatMap((dir) => filesUnder(join(root, dir))),
    ...ALSO_READ.map((name) => join(root, name)).filter((path) => existsSync(path)),
  ]
    .map((path) => relative(root, path))
    .sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)))
      .update('\0');
  return hash.digest('hex').slice(0, 20);
}

function complete(dir: string): boolean {
  return existsSync(join(dir, BUNDLE_FILE)) && existsSync(join(dir, 'worker', 'main.js'));
}

/** Renames `temp` to `dir`, unless another run put the same build there first; then theirs is used. */
async function putInPlace(temp: string, dir: string): Promise<void> {
  try {
    await rename(temp, dir);
  } catch (error) {
    if (complete(dir)) return;
    // Something unfinished by that name (copied in by hand, say): a build of ours replaces it.
    if (!existsSync(dir)) throw error;
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  }
}

/** Removes builds unused for a day and half-written ones an hour old, never `keep`. */
async function prune(keep: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(IMAGE_BUILDS)) {
    const path = join(IMAGE_BUILDS, name);
    if (path === keep) continue;
    const modified = (await stat(path).catch(() => undefined))?.mtimeMs ?? now;
    if (now - modified > (name.startsWith(TEMP_PREFIX) ? KEEP_TEMP_MS : KEEP_UNUSED_MS))
      await rm(path, { recursive: true, force: true });
  }
}

/**
 * The folder holding the compiled worker and its bundle for the current sources, compiling it first
 * unless a build of the same sources is there. Compiles into a folder of its own and renames it into
 * place, so runs side by side never see a half-written build; when two compile at once, one keeps its
 * own and the other's is removed.
 */
export async function imageWorkerBuild(
  signal: AbortSignal,
  progress: (line: string) => void,
): Promise<string> {
  await mkdir(IMAGE_BUILDS, { recursive: true });
  const key = workerBuildKey();
  const dir = join(IMAGE_BUILDS, key);
  if (complete(dir)) {
    progress(`the worker compiled for these sources is there (bench-results/worker-build/${key}) …`);
    const now = new Date();
    await utimes(dir, now, now);
  } else {
    progress('compiling the worker and writing the workflow bundle, as the image build does …');
    const temp = await mkdtemp(join(IMAGE_BUILDS, TEMP_PREFIX));
    try {
      const tsc = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      await execFileAsync(process.execPath, [tsc, '-p', BUILD_CONFIG, '--outDir', temp], {
        cwd: PROJECT_ROOT,
        signal,
      });
      await writeConnectWorkflowBundle(join(temp, BUNDLE_FILE));
      await putInPlace(temp, dir);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
  await prune(dir);
  return dir;
}
