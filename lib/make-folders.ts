/**
 * Folders made one level at a time. Node 20's `mkdir(…, { recursive: true })`, sync or async, never
 * returns for a folder whose parent exists yet refuses it with ENOENT (anything under `/proc`): a
 * start that would hang silently fails instead, with the error naming the folder.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** `dir` and the folders missing above it, each with `mode` (0o777 less the umask by default). */
export function makeFolders(dir: string, mode?: number): void {
  try {
    mkdirSync(dir, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir || existsSync(parent)) throw error;
    makeFolders(parent, mode);
    mkdirSync(dir, { mode });
  }
}
