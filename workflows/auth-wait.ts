/**
 * Step 4, awaiting the auths: rounds of ownership checks over the relayed authIds, bounded in number
 * and size, and a guard that ends the saga well before Temporal's history limits (docs/design.md,
 * "Verify before attach").
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  log,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { AsUser } from '../common/activity-types.js';
import { FAILURE_TYPES } from '../common/messages.js';
import { adoptSeal, afterAuth } from './activity-stubs.js';
import type { AuthSlots } from './slots.js';
import type { SagaStatus } from './status.js';

/** What one saga may spend on ownership checks: a legitimate one needs one round, rarely a few. */
export const AUTH_CHECK_LIMITS = {
  rounds: 8,
  idsPerRound: 50,
  /** Before each round after the first, so a flood is checked in batches: 1 s doubling to 30 s. */
  firstPauseMs: 1_000,
  maxPauseMs: 30_000,
} as const;

/** Far below Temporal's 50,000 events / 50 MB, leaving room for compensation and late signals. */
export const HISTORY_GUARD = { events: 10_000, bytes: 10 * 1024 * 1024 } as const;

/** Whether a history this long or large has reached the guard. */
export function historyNearLimit(length: number, sizeBytes: number): boolean {
  return length >= HISTORY_GUARD.events || sizeBytes >= HISTORY_GUARD.bytes;
}

function nearLimit(): boolean {
  const { historyLength, historySize } = workflowInfo();
  return historyNearLimit(historyLength, historySize);
}

function historyLimitFailure(): ApplicationFailure {
  const { historyLength, historySize } = workflowInfo();
  return ApplicationFailure.create({
    type: FAILURE_TYPES.historyLimit,
    message: `the saga's history reached ${historyLength} events / ${historySize} bytes (guard: ${HISTORY_GUARD.events} / ${HISTORY_GUARD.bytes}); too many signals`,
    nonRetryable: true,
  });
}

/**
 * Waits until every slot holds a verified authId of the user's and none waits to be checked. `strict`
 * is false for sagas started before the limits: they wait and check as they always did.
 */
export async function awaitVerifiedAuths(
  slots: AuthSlots,
  status: SagaStatus,
  user: AsUser,
  deadlineMs: number,
  strict: boolean,
  /** Also given a fresh seal a check hands back (`user` always is). */
  sealHolders: readonly AsUser[] = [],
): Promise<void> {
  let rounds = 0;
  while (!slots.allVerified()) {
    await untilCheckable(slots, deadlineMs, strict);
    // Settled by authIds an earlier check found the user's: nothing is left to check.
    if (slots.allVerified()) break;
    if (strict && rounds >= AUTH_CHECK_LIMITS.rounds) {
      const pending = slots.closeChecks(
        `the saga has spent its ${AUTH_CHECK_LIMITS.rounds} ownership checks`,
      );
      status.publish();
      if (pending.length > 0) throw checksSpentFailure(pending);
      continue;
    }
    if (strict && rounds > 0) await pause(rounds, deadlineMs);
    const authIds = slots.idsToCheck(strict ? AUTH_CHECK_LIMITS.idsPerRound : Infinity);
    // The pause's relays may have settled every candidate the same way: no empty check.
    if (authIds.length === 0 && patched(OWNED_SETTLES_PATCH)) continue;
    rounds++;
    const check = () =>
      afterAuth.verifyAuths.executeWithOptions(
        { summary: `check ${authIds.length} auth(s) belong to the user` },
        [{ ...user, authIds }],
      );
    const checked = strict ? await guarded(check) : await check();
    const { foreign } = checked;
    adoptSeal(checked, [user, ...sealHolders]);
    slots.applyVerification(authIds, foreign);
    if (foreign.length > 0) log.warn('foreign authIds rejected', { foreign: foreign.slice(0, 10) });
    status.publish();
  }
}

/**
 * Marks histories that still check the authIds relayed while a check ran past the deadline: every
 * slot had an authId in time, so a re-completion during that check must not turn into a timeout.
 */
const LATE_CHECK_PATCH = 'check-relayed-during-late-check';

/**
 * Marks histories in which a slot completed with an authId an earlier check found the user's (one
 * authorisation for two slots, say) settled the wait with nothing left to check. Before it such a
 * saga waited for another authId until its deadline. Asked only when that happens, so other runs
 * record nothing more.
 */
const OWNED_SETTLES_PATCH = 'owned-authid-settles-wait';

/**
 * Until every slot has an authId and some wait to be checked, or every slot is settled by authIds
 * already checked; throws at the deadline or the guard.
 */
async function untilCheckable(slots: AuthSlots, deadlineMs: number, strict: boolean): Promise<void> {
  const remaining = deadlineMs - Date.now();
  const guardTripped = () => strict && nearLimit();
  const checkable = () => slots.allHaveAuthIds() && slots.hasUnchecked();
  const settled = () => strict && slots.allVerified() && patched(OWNED_SETTLES_PATCH);
  let ready =
    remaining > 0 &&
    (await condition(() => guardTripped() || checkable() || settled(), remaining, {
      summary: 'wait for the end user to complete every auth',
    }));
  if (guardTripped()) throw historyLimitFailure();
  // Bounded like any round (AUTH_CHECK_LIMITS.rounds), so late signals cannot keep a saga checking.
  if (!ready && strict && checkable() && patched(LATE_CHECK_PATCH)) ready = true;
  if (!ready && settled()) ready = true;
  if (!ready) {
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.authTimeout,
      message: `auths not completed by ${new Date(deadlineMs).toISOString()}; pending: ${slots.pendingIds().join(', ')}`,
      nonRetryable: true,
    });
  }
}

/** Lets more relayed authIds gather before the next round; the guard still ends the saga meanwhile. */
async function pause(roundsDone: number, deadlineMs: number): Promise<void> {
  const { firstPauseMs, maxPauseMs } = AUTH_CHECK_LIMITS;
  const pauseMs = Math.min(firstPauseMs * 2 ** (roundsDone - 1), maxPauseMs, deadlineMs - Date.now());
  if (pauseMs <= 0) return;
  const tripped = await condition(nearLimit, pauseMs, {
    summary: 'gather relayed authIds before the next ownership check',
  });
  if (tripped) throw historyLimitFailure();
}

/** Runs `work`, cancelling it and failing if the history reaches the guard first (signals keep coming). */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  let done = false;
  const scope = new CancellationScope();
  const running = scope.run(work).finally(() => (done = true));
  // A cancel of the saga rejects the wait below before the check's own rejection arrives; left
  // unheard, that one fails every workflow task from then on and the saga never ends.
  running.catch(() => undefined);
  await condition(() => done || nearLimit());
  if (done) return await running;
  scope.cancel();
  throw historyLimitFailure();
}

function checksSpentFailure(pending: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.authCheckLimit,
    message: `${AUTH_CHECK_LIMITS.rounds} ownership checks spent on relayed authIds and still no authId of the user's for: ${pending.join(', ')}`,
    nonRetryable: true,
  });
}
