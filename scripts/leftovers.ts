/**
 * What a `kill -9` of `npm start` leaves running: its parts run in process groups of their own, so
 * they outlive it. Each run notes its own pid and its parts' in .data/runs/<pid>.json; the next run
 * stops the parts of any run whose launcher is gone, before it checks its ports. A run that is still
 * going is left alone, and the new one does not start: two dev servers on one SQLite file, or two
 * emulators saving one state file, would spoil both.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { ConfigError } from '../lib/config.js';
import { makeFolders } from '../lib/make-folders.js';

interface NotedProcess {
  name: string;
  pid: number;
  /** Its command line when noted: a pid the system gave to another program since is not ours. */
  command: string;
}

interface RunNote {
  launcher: NotedProcess;
  parts: NotedProcess[];
}

const STOP_GRACE_MS = 15_000;
const POLL_MS = 100;

/** The command line of `pid`, or undefined when it is not running (or cannot be read). */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() || undefined;
  } catch {
    // No /proc (macOS): ps has the same.
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() || undefined : undefined;
  }
}

const isRunning = (p: NotedProcess) => commandOf(p.pid) === p.command;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM to its group, SIGKILL after the grace period; true when it was running. */
async function stopProcess(p: NotedProcess): Promise<boolean> {
  if (!isRunning(p)) return false;
  signalGroup(p.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isRunning(p) && Date.now() < deadline) await sleep(POLL_MS);
  if (isRunning(p)) signalGroup(p.pid, 'SIGKILL');
  return true;
}

function readNote(file: string): RunNote | undefined {
  try {
    const note = JSON.parse(readFileSync(file, 'utf8')) as RunNote;
    return typeof note.launcher?.pid === 'number' && Array.isArray(note.parts) ? note : undefined;
  } catch {
    return undefined;
  }
}

/** Every run note in `runsDir` with its path; `note` is undefined for a file that does not parse. */
function runNotesIn(runsDir: string): { path: string; note: RunNote | undefined }[] {
  try {
    return readdirSync(runsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(runsDir, f))
      .map((path) => ({ path, note: readNote(path) }));
  } catch {
    return [];
  }
}

/**
 * Stops the parts earlier runs left behind, the last started first (API, worker, dev server: the
 * order a clean stop uses), saying each one it stops. Returns how many it stopped.
 */
export async function stopLeftovers(runsDir: string, say: (line: string) => void): Promise<number> {
  let stopped = 0;
  for (const { path, note } of runNotesIn(runsDir)) {
    if (note && isRunning(note.launcher)) continue;
    for (const part of [...(note?.parts ?? [])].reverse()) {
      if (await stopProcess(part)) {
        stopped++;
        say(`stopped the ${part.name} (pid ${part.pid}) that an earlier npm start left running`);
      }
    }
    rmSync(path, { force: true });
  }
  return stopped;
}

/**
 * npm start's state folder: CONNECT_SAGA_DATA_DIR, relative to the project, or `.data` there when it
 * is unset or blank (as every variable is read; a blank one would otherwise name a folder of spaces).
 */
export function dataDirOf(env: NodeJS.ProcessEnv): string {
  return resolve(PROJECT_ROOT, env.CONNECT_SAGA_DATA_DIR?.trim() || '.data');
}

/**
 * Makes npm start's state folder `dir` (owner-only when made here: the dev server's database holds
 * end users' names and ids), or throws a ConfigError naming CONNECT_SAGA_DATA_DIR when `dir` is a
 * file or cannot be written.
 */
export function makeDataDir(dir: string): void {
  try {
    makeFolders(dir, 0o700);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError([
      {
        variable: 'CONNECT_SAGA_DATA_DIR',
        problem: `${dir} cannot hold npm start's state (${code}); point it at a folder you can write`,
      },
    ]);
  }
}

/**
 * Why this run must not start while another `npm start` still runs on the same data folder
 * (`dataDir`, as shown), or undefined when none does.
 */
export function otherRunProblem(runsDir: string, dataDir: string): string | undefined {
  const other = runNotesIn(runsDir).find(
    ({ note }) => note && note.launcher.pid !== process.pid && isRunning(note.launcher),
  )?.note;
  return (
    other &&
    `another npm start (pid ${other.launcher.pid}) is running on the state in ${dataDir}; stop it ` +
      'first, or give this one a folder of its own with CONNECT_SAGA_DATA_DIR'
  );
}

/** This run's note: its parts are added as they start; `remove()` once they are all stopped. */
export class RunNotes {
  private readonly file: string;
  private readonly note: RunNote;

  constructor(runsDir: string) {
    mkdirSync(runsDir, { recursive: true });
    this.file = join(runsDir, `${process.pid}.json`);
    this.note = { launcher: this.noted('npm start', process.pid), parts: [] };
  }

  private noted(name: string, pid: number): NotedProcess {
    return { name, pid, command: commandOf(pid) ?? '' };
  }

  /** Notes a part; a pid that already ended (or cannot be read) is left out. */
  add(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    const part = this.noted(name, pid);
    if (!part.command) return;
    this.note.parts.push(part);
    writeFileSync(this.file, `${JSON.stringify(this.note, null, 2)}\n`, { mode: 0o600 });
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}
