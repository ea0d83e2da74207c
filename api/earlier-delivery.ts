/**
 * A webhook that names only the connection reaches its newest run. A sender redelivering what it
 * first delivered to an earlier run of that connection (its 202 was lost; Standard Webhooks senders
 * retry for hours) would complete the new run's slot with the old authId before the end user did
 * anything, and the new run would attach it. The earlier run's history keeps each signal's request
 * id, which the webhook-id names (signal-once.ts): a delivery an earlier run took goes to that run,
 * and gets its answer (202 for what it attached, 409 once it was cancelled).
 */
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import { authCompletedSignal } from '../common/messages.js';
import { setBounded } from '../lib/bounded-map.js';
import { visibilityString } from './list-query.js';
import { describeConnection, isRunning, memoOf } from './saga-reads.js';
import { signalRequestId } from './signal-once.js';
import { rpc } from './temporal-rpc.js';

/** Closed runs looked at, newest first: a redelivery is for a run ended not long before. */
const EARLIER_RUNS = 3;

/** A closed run of the connection, with the authIds it showed per slot, and those it replaced. */
interface EarlierRun {
  workflowId: string;
  runId: string;
  seen: { externalId: string; authId: string }[];
}

function earlierRun(info: WorkflowExecutionInfo): EarlierRun {
  const memo = memoOf(info);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    seen: [...(memo?.authIds ?? []), ...(memo?.attached ?? []), ...(memo?.replacedAuthIds ?? [])],
  };
}

/**
 * The runs before a running one never change once visibility shows them closed, so each run's are
 * listed once: a list per delivery would spend the namespace's visibility rate (shared with the
 * list route and the instance look-ups) on every connectionId-only webhook.
 */
const earlierRunsCache = new Map<string, EarlierRun[]>();
const CACHED_RUNS_LIMIT = 10_000;

/** Whether the run shows `authId` for the slot: only then can it have taken that delivery. */
function took(run: EarlierRun, externalAuthId: string, authId: string): boolean {
  return run.seen.some((a) => a.externalId === externalAuthId && a.authId === authId);
}

/**
 * The earlier run of `newest`'s connection that already took this delivery, described; undefined
 * when none did (then it is for `newest`). Reads a history only for a run that shows the authId.
 */
export async function earlierRunThatTook(
  client: Client,
  newest: WorkflowExecutionDescription,
  delivery: { externalAuthId: string; authId: string; eventId: string },
): Promise<WorkflowExecutionDescription | undefined> {
  // A closed newest run answers for itself; only a running one could wrongly take the delivery.
  if (!isRunning(newest)) return undefined;
  try {
    return await lookBack(client, newest, delivery);
  } catch {
    // Visibility busy or failing: the newest run, as before this look existed. A real outage shows
    // in the signal that follows.
    return undefined;
  }
}

async function lookBack(
  client: Client,
  newest: WorkflowExecutionDescription,
  delivery: { externalAuthId: string; authId: string; eventId: string },
): Promise<WorkflowExecutionDescription | undefined> {
  const earlier = await earlierRuns(client, newest);
  const requestId = signalRequestId(authCompletedSignal.name, delivery.eventId);
  for (const run of earlier) {
    if (!took(run, delivery.externalAuthId, delivery.authId)) continue;
    const history = await rpc(client, () =>
      client.workflow.getHandle(run.workflowId, run.runId).fetchHistory(),
    );
    const signalled = (history.events ?? []).some(
      (e) => e.workflowExecutionSignaledEventAttributes?.requestId === requestId,
    );
    if (signalled) return describeConnection(client, run.workflowId, run.runId);
  }
  return undefined;
}

/** Up to EARLIER_RUNS closed runs before `newest`, newest first; from the cache once settled. */
async function earlierRuns(client: Client, newest: WorkflowExecutionDescription): Promise<EarlierRun[]> {
  const key = `${newest.workflowId}\u0000${newest.runId}`;
  const cached = earlierRunsCache.get(key);
  if (cached) return cached;
  // Every status: a run visibility still shows running has just closed, and the answer is not final.
  const query = `WorkflowId = ${visibilityString(newest.workflowId)}`;
  const { runs, settled } = await rpc(client, async () => {
    const found: EarlierRun[] = [];
    let lagging = false;
    let listed = 0;
    for await (const info of client.workflow.list({ query, pageSize: EARLIER_RUNS + 1 })) {
      // Visibility may match a value with `"` or `\` loosely: the exact id only, from one page.
      if (info.workflowId === newest.workflowId && info.runId !== newest.runId) {
        if (info.status.name === 'RUNNING') lagging = true;
        else found.push(earlierRun(info));
      }
      if (++listed > EARLIER_RUNS) break;
    }
    return { runs: found.slice(0, EARLIER_RUNS), settled: !lagging };
  });
  if (settled) {
    setBounded(earlierRunsCache, key, runs, CACHED_RUNS_LIMIT);
  }
  return runs;
}
