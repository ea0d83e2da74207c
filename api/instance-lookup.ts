/**
 * Finding the saga that owns a Tray solution instance, for a webhook that names only the instance:
 * a visibility query on `TraySolutionInstanceId`. Visibility lags the saga's upsert, so a miss is
 * looked up again for about 3 s before it counts. A relay sending many unknown ids at once must not
 * swamp the server's visibility store: the queries queue for a few slots per API process, and an id
 * that was just missed in full is asked once more, without the waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../common/messages.js';
import { setBounded } from '../lib/bounded-map.js';
import { temporalBusy } from './errors.js';
import { visibilityString } from './list-query.js';
import { rpc } from './temporal-rpc.js';

/** Pauses between lookups of an instance id visibility does not know yet: about 3 s in all. */
export const VISIBILITY_RETRY_PAUSES_MS = [250, 500, 1000, 1250];
/** Visibility queries of these lookups running at once, per API process. */
export const LOOKUP_QUERY_SLOTS = 8;
/** How long a full miss is remembered, and how many are. */
const MISS_MEMORY_MS = 60_000;
const MISS_MEMORY_LIMIT = 10_000;

/** Queries waiting for a slot, at most: beyond it a webhook is answered 503 at once, to be sent again. */
export const LOOKUP_QUEUE_LIMIT = 200;

/**
 * At most `slots` calls run at once; the others wait their turn, first come first served, up to
 * `queueLimit` of them: past it, a 503 temporal_busy with Retry-After rather than a wait that
 * outlasts the sender's own timeout.
 */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(
    slots: number,
    private readonly queueLimit: number,
  ) {
    this.#free = slots;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else if (this.#waiting.length >= this.queueLimit) throw temporalBusy();
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

const querySlots = new Slots(LOOKUP_QUERY_SLOTS, LOOKUP_QUEUE_LIMIT);
/** Instance id → when its last full lookup missed; oldest first. */
const recentMisses = new Map<string, number>();

function missedRecently(solutionInstanceId: string): boolean {
  const at = recentMisses.get(solutionInstanceId);
  if (at === undefined) return false;
  if (Date.now() - at < MISS_MEMORY_MS) return true;
  recentMisses.delete(solutionInstanceId);
  return false;
}

function rememberMiss(solutionInstanceId: string): void {
  setBounded(recentMisses, solutionInstanceId, Date.now(), MISS_MEMORY_LIMIT);
}

/**
 * Finds the saga run that owns a Tray solution instance through the TraySolutionInstanceId search
 * attribute: the running one if any, else a closed one (so the caller can answer 409). The run
 * matters: a newer run of the same connection has an instance of its own.
 */
export async function findBySolutionInstanceId(
  client: Client,
  solutionInstanceId: string,
  options: { once?: boolean } = {},
): Promise<{ connectionId: string; runId: string; running: boolean } | undefined> {
  // Temporal's visibility query parser cannot take a NUL, and no Tray id holds one.
  if (solutionInstanceId.includes('\u0000')) return undefined;
  const base = `WorkflowType = ${visibilityString(WORKFLOW_TYPE)} AND TraySolutionInstanceId = ${visibilityString(solutionInstanceId)}`;
  const first = (query: string) =>
    querySlots.run(() =>
      rpc(client, async () => {
        for await (const info of client.workflow.list({ query, pageSize: 1 })) {
          return { connectionId: info.workflowId, runId: info.runId };
        }
        return undefined;
      }),
    );
  // The URLs (so the end user's dialog and this webhook) can come within visibility's lag.
  // `once`: the caller knows the instance is not new (an earlier run's), so lag cannot hide it.
  const pauses = options.once || missedRecently(solutionInstanceId) ? [] : VISIBILITY_RETRY_PAUSES_MS;
  for (const pauseMs of [...pauses, undefined]) {
    const running = await first(`${base} AND ExecutionStatus = "Running"`);
    if (running) {
      recentMisses.delete(solutionInstanceId);
      return { ...running, running: true };
    }
    const closed = await first(base);
    if (closed) {
      recentMisses.delete(solutionInstanceId);
      return { ...closed, running: false };
    }
    if (pauseMs !== undefined) await sleep(pauseMs);
  }
  rememberMiss(solutionInstanceId);
  return undefined;
}
