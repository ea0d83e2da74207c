/**
 * Where a run's JSON result and charts go: the folder is made (one level at a time, lib/make-folders)
 * and checked before the run, so a run of several minutes does not end unable to save what it
 * measured.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { makeFolders } from '../lib/make-folders.js';

/** Where a run's result goes without `--out` (git-ignored). */
export const DEFAULT_OUT_DIR = join(PROJECT_ROOT, 'bench-results');

/** The path's stats, or undefined when nothing is there (also below a file: ENOTDIR). */
function statIfAny(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** The result's file or folder cannot be written. */
export class OutFileError extends Error {}

/**
 * Throws an OutFileError, naming the flag or folder and why, when the result could not be written
 * once the run is over: `file` (`--out`), or without it a new file in DEFAULT_OUT_DIR.
 */
export function checkOut(file: string | undefined): void {
  const what = file === undefined ? `the results folder ${DEFAULT_OUT_DIR}` : `--out ${file}`;
  try {
    const stats = file === undefined ? undefined : statIfAny(file);
    if (stats?.isDirectory()) throw new Error('it is a folder, not a file');
    const dir = file === undefined ? DEFAULT_OUT_DIR : dirname(file);
    makeFolders(dir);
    accessSync(file !== undefined && stats ? file : dir, constants.W_OK);
  } catch (error) {
    throw new OutFileError(`cannot write ${what}: ${(error as Error).message}`);
  }
}

/**
 * The file a run's result goes to: `out` (`--out`), or a new file in DEFAULT_OUT_DIR named by
 * `prefix` and the run's start; its folder made, as checkOut made it before the run.
 */
export function resultFile(out: string | undefined, startedAt: string, prefix = ''): string {
  const file = out ?? join(DEFAULT_OUT_DIR, `${prefix}${startedAt.replace(/[:.]/g, '-')}.json`);
  makeFolders(dirname(file));
  return file;
}
