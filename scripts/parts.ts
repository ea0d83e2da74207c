/**
 * The parts one `npm start` run started, so that every way out of it stops exactly those, in order:
 * what takes requests first, what the others depend on last.
 */
import { DRAIN_MS } from '../api/temporal-rpc.js';
import { readEnv } from '../lib/config.js';
import type { DevServer } from '../dev/dev-server.js';
import type { ManagedChild } from './children.js';
import type { RunNotes } from './leftovers.js';
import { complain } from './output.js';
import { SHUTDOWN_FORCE_MARGIN_MS, shutdownGrace } from '../worker/shutdown.js';

/** The API's own drain, and a little more for it to exit. */
const API_GRACE_MS = DRAIN_MS + 5_000;

/**
 * The worker's own drain (SHUTDOWN_GRACE, which the worker inherits and npm start checked) and the
 * time after it the worker gives cancelled activities, and a little more; a second Ctrl-C is quicker.
 */
function workerGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  return readEnv({ SHUTDOWN_GRACE: shutdownGrace() }, env).SHUTDOWN_GRACE + SHUTDOWN_FORCE_MARGIN_MS + 5_000;
}

/** What this run started, so shutdown stops exactly that, dependants first. */
export class Parts {
  readonly children: ManagedChild[] = [];
  temporal: DevServer | undefined;
  /** Resolves once a dev server start is over; aborting `cancelTemporalStart` stops a server still starting. */
  temporalStarting: Promise<unknown> | undefined;
  readonly cancelTemporalStart = new AbortController();
  temporalStopping = false;
  closeEmulator: (() => Promise<void>) | undefined;

  /** `notes` records each part's pid, so a run after a `kill -9` of this one can stop them. */
  constructor(readonly notes: RunNotes) {}

  killAll(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.temporal?.kill('SIGKILL');
  }

  async shutdown(): Promise<void> {
    // The API first (no new sagas), then the worker, then what they depend on.
    const api = this.children.find((c) => c.name === 'api');
    const others = this.children.filter((c) => c !== api);
    if (api) await api.stop(API_GRACE_MS);
    const graceMs = workerGraceMs();
    await Promise.all(others.map((c) => c.stop(graceMs)));
    if (this.closeEmulator)
      await this.closeEmulator().catch((e: unknown) => complain(`emulator: ${String(e)}`));
    // The dev server is in a process group of its own: nothing else stops it, even mid-start.
    this.temporalStopping = true;
    this.cancelTemporalStart.abort();
    await this.temporalStarting;
    await this.temporal?.stop();
    this.notes.remove();
  }
}
