/**
 * The emulator's state file: users, instances, authentications and one-time codes as JSON, so a
 * restarted emulator still knows what the sagas of an earlier run point at. Loaded once at start;
 * written after changes (debounced), always as a whole through a temporary file and a rename, so a
 * crash leaves either the old file or the new one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { makeFolders } from '../lib/make-folders.js';
import type { StoreState } from './store.js';

/** Bumped when the file's shape changes in a way an older reader would misread. */
export const STATE_FILE_VERSION = 1;

const date = z.iso.datetime().transform((s) => new Date(s));
const time = z.number().int().nonnegative();

const stateFileSchema = z.object({
  version: z.literal(STATE_FILE_VERSION),
  users: z.array(z.object({ id: z.string().min(1), name: z.string(), externalUserId: z.string().min(1) })),
  instances: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string(),
      owner: z.string().min(1),
      solutionId: z.string().min(1),
      created: date,
      enabled: z.boolean(),
      authValues: z.array(z.object({ externalId: z.string(), authId: z.string() })),
      configValues: z.array(z.object({ externalId: z.string(), value: z.unknown() })),
    }),
  ),
  authentications: z.array(
    z.object({
      id: z.string().min(1),
      owner: z.string().min(1),
      name: z.string(),
      serviceName: z.string(),
      serviceTitle: z.string(),
      created: date,
    }),
  ),
  codes: z.array(
    z.object({
      code: z.string().min(1),
      userId: z.string().min(1),
      createdAt: time,
      usedAt: time.optional(),
    }),
  ),
});

/** The file's text for `state`; equal states give equal text, which is how unchanged saves are skipped. */
export function serializeState(state: StoreState): string {
  return `${JSON.stringify({ version: STATE_FILE_VERSION, ...state }, null, 2)}\n`;
}

/** Why `text` is not a state file this version can read, or the state it holds. */
export function parseState(text: string): { state: StoreState } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof json === 'object' && json !== null && version !== STATE_FILE_VERSION) {
    return {
      problem:
        version === undefined
          ? 'no "version" field'
          : `version ${JSON.stringify(version)} is not ${STATE_FILE_VERSION}`,
    };
  }
  const parsed = stateFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'the top level';
    return { problem: `unexpected shape at ${where}: ${issue?.message ?? 'invalid'}` };
  }
  const { version: _version, ...state } = parsed.data;
  return { state };
}

export interface LoadedState {
  /** Undefined: start empty. */
  state?: StoreState;
  /** False when the file could be neither read nor moved aside: saving would overwrite it. */
  writable: boolean;
}

/**
 * Reads the state file at start-up (synchronously: the emulator is not serving yet). A missing file
 * means an empty start. A file that is not a readable state file is never thrown away: it is renamed
 * to `<file>.unreadable-<timestamp>` and the emulator starts empty, saying so in one log line.
 */
export function loadStateFile(file: string, log: (line: string) => void, now = new Date()): LoadedState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      log(`state: no file at ${file} yet, starting empty`);
      return { writable: true };
    }
    log(`state: cannot read ${file} (${errorText(error)}); starting empty and not saving this run`);
    return { writable: false };
  }
  const result = parseState(text);
  if ('state' in result) {
    const s = result.state;
    log(
      `state: restored ${s.users.length} users, ${s.instances.length} instances, ` +
        `${s.authentications.length} authentications and ${s.codes.length} codes from ${file}`,
    );
    return { state: s, writable: true };
  }
  const stamp = `${file}.unreadable-${now.toISOString().replace(/[:.]/g, '-')}`;
  // rename() replaces an existing target, which would lose an earlier unreadable file.
  let aside = stamp;
  for (let n = 2; existsSync(aside); n += 1) aside = `${stamp}-${n}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    log(
      `state: ${file} is unreadable (${result.problem}) and could not be moved aside (${errorText(error)}); ` +
        'starting empty and not saving this run',
    );
    return { writable: false };
  }
  log(`state: ${file} is unreadable (${result.problem}); moved it to ${aside} and started empty`);
  return { writable: true };
}

/** Writes `text` to `file` with mode 0600 via a temporary file in the same folder and a rename. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  makeFolders(dirname(file));
  const temporary = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Saves the store's state to its file: `schedule()` after a change (writes once per `delayMs` at
 * most), `flush()` to write now. Writes run one at a time, and only when the text changed.
 */
export class StateFileWriter {
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  #written: string;

  constructor(
    private readonly file: string,
    private readonly read: () => StoreState,
    private readonly log: (line: string) => void,
    private readonly delayMs = 100,
  ) {
    // What the file holds now (or, for a new file, nothing worth writing until something changes).
    this.#written = serializeState(read());
  }

  schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((error: unknown) =>
        this.log(`state: could not save ${this.file} (${errorText(error)}); will retry on the next change`),
      );
    }, this.delayMs);
    // A pending save must not keep a process alive; close() flushes explicitly.
    this.#timer.unref();
  }

  /** Writes the current state now if it differs from what was last written. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const run = this.#queue.then(async () => {
      const text = serializeState(this.read());
      if (text === this.#written) return;
      await writeFileAtomically(this.file, text);
      this.#written = text;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
