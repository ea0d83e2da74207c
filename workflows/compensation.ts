/**
 * Undoing what the saga created: its instance on failure or cancel, and after a retried create the
 * instances an earlier attempt may have left (docs/design.md, the late-create window).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  log,
  patched,
  sleep,
} from '@temporalio/workflow';
import type { InstanceOwnerKey, RemoveInstanceInput } from '../common/activity-types.js';
import { createdNothing } from '../common/activity-types.js';
import { codeSpan, plainText } from '../common/markdown.js';
import { cleanup, compensation } from './activity-stubs.js';
import { cancelledOr, describeFailure, finish } from './failure.js';
import type { SagaStatus } from './status.js';
import { countCompensation, countStrayRemoval } from './metrics.js';
import { LATE_CREATE_WINDOW_MS } from './late-create-window.js';

// Doubling pauses keep a days-long outage (a revoked master token) to a few events an hour, far
// below the history size limit, which would end the saga unremoved.
const REMOVE_RETRY_FIRST_PAUSE_MS = 60_000;
const REMOVE_RETRY_MAX_PAUSE_MS = 60 * 60_000;

/** The pause after the `failed`-th failed removal (counted from 0): 1 min, doubling up to 1 h. */
function removalPauseMs(failed: number): number {
  return Math.min(REMOVE_RETRY_FIRST_PAUSE_MS * 2 ** failed, REMOVE_RETRY_MAX_PAUSE_MS);
}

/** Marks histories whose compensation looks again after the late-create window (not older ones). */
const LOOK_AGAIN_PATCH = 'compensation-looks-again-after-late-creates';

/** Until when a create sent by an earlier attempt may still land (ISO time), counted from now. */
export function lateCreateWindowEnd(): string {
  return new Date(Date.now() + LATE_CREATE_WINDOW_MS).toISOString();
}

/** Marks histories whose clean-up after success tries again for about an hour (older ones gave up at once). */
const STRAY_RETRY_PATCH = 'stray-removal-retries';
// After the activity's quick tries: the removal's pauses, 1, 2, 4, … 32 minutes, about an hour in
// all, so a Tray outage of that length still ends with the strays removed, and a saga that is
// `completed` does not stay open (and its connection unable to start again) for days.
const STRAY_RETRY_PAUSES = 6;

/**
 * Removes the saga's instances but `keep`, as the saga is already `completed`: tried again over about
 * an hour, then left to an operator (an error log, the details and `connect_saga_stray_removals`).
 */
export async function removeStrayInstances(
  status: SagaStatus,
  target: InstanceOwnerKey,
  keep: string,
  notAfter: string,
): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    const waitMs = Date.parse(notAfter) - Date.now();
    if (waitMs > 0) await sleep(waitMs, { summary: 'let a late create land before looking for it' });
    for (let round = 0; ; round++) {
      try {
        const { removed } = await cleanup.removeStrayInstances.executeWithOptions(
          { summary: 'remove instances a retried create left behind' },
          [{ ...target, keep, notAfter }],
        );
        if (removed.length > 0) log.info('removed stray instances', { removed });
        countStrayRemoval('removed');
        if (round > 0)
          showStrays(
            status,
            removed.length > 0 ? `removed ${removed.map(codeSpan).join(', ')}` : 'none left',
          );
        return;
      } catch (err) {
        const error = describeFailure(err);
        // Without the patch this runs only in replay, where metrics and logs are not emitted.
        if (round >= STRAY_RETRY_PAUSES || !patched(STRAY_RETRY_PATCH)) {
          if (round === 0)
            log.warn('could not remove stray instances; they stay disabled at Tray', { error });
          else giveUpOnStrays(status, error);
          return;
        }
        // Only a round that is tried again: the last one is counted as given up, not twice.
        countStrayRemoval('failed');
        const pauseMs = removalPauseMs(round);
        const at = new Date(Date.now() + pauseMs).toISOString();
        log.warn('could not remove stray instances yet; trying again', { error, at });
        showStrays(status, `not removed yet (${plainText(error.message)}); trying again at ${at}`);
        await sleep(pauseMs, { summary: 'remove stray instances: try again after Tray failed' });
      }
    }
  });
}

function giveUpOnStrays(status: SagaStatus, error: { message: string }): void {
  log.error('gave up removing stray instances: they stay disabled at Tray; remove them there by hand', {
    error,
  });
  countStrayRemoval('given_up');
  showStrays(status, `gave up (${plainText(error.message)}): they stay disabled at Tray; see the worker log`);
}

/** Stray instances are the saga's own leftovers: shown as compensation, in the current details. */
function showStrays(status: SagaStatus, what: string): void {
  status.show({ compensation: `stray instances ${what}` });
  status.publish();
}

/** Removes the instance, immune to cancel and until it succeeds; then ends the workflow with the failure. */
export async function compensateAndFail(
  status: SagaStatus,
  failure: unknown,
  target: InstanceOwnerKey,
  solutionInstanceId: string | undefined,
  strayWindowEnd: string | undefined,
): Promise<never> {
  const err = cancelledOr(failure);
  const cause = describeFailure(err);
  status.show({ error: cause });
  status.enter('compensating');
  const input = removalInput(target, solutionInstanceId, strayWindowEnd);
  const settled = solutionInstanceId === undefined && createRefused(failure);
  await CancellationScope.nonCancellable(async () => {
    const removed = await removeUntilDone(status, input);
    showRemoved(status, removed);
    if (settled) return;
    removed.push(...(await lookAgainAfterLateCreates(status, target, input.notAfter)));
    showRemoved(status, removed);
  });
  return await finish(status, err, cause);
}

/**
 * When the create's outcome was unknown, a late create may land after the removal looked: once it no
 * longer can, look again (docs/design.md, the late-create window).
 */
async function lookAgainAfterLateCreates(
  status: SagaStatus,
  target: InstanceOwnerKey,
  notAfter: string | undefined,
): Promise<string[]> {
  if (notAfter === undefined) return [];
  const waitMs = Date.parse(notAfter) - Date.now();
  // Older histories end after the first removal; a window already over was covered by it.
  if (waitMs <= 0 || !patched(LOOK_AGAIN_PATCH)) return [];
  status.show({ compensation: `looking again at ${notAfter}, once a late create can no longer land` });
  status.publish();
  await sleep(waitMs, { summary: 'compensate: let a late create land before looking again' });
  return await removeUntilDone(status, { ...target, notAfter });
}

/** The create failed because Tray refused its only request: nothing can land late. */
function createRefused(failure: unknown): boolean {
  const inner = failure instanceof ActivityFailure ? failure.cause : undefined;
  return inner instanceof ApplicationFailure && createdNothing(inner.details);
}

function showRemoved(status: SagaStatus, removed: string[]): void {
  status.show({
    compensation:
      removed.length > 0 ? `removed instance ${removed.map(codeSpan).join(', ')}` : 'no instance to remove',
  });
}

function removalInput(
  target: InstanceOwnerKey,
  solutionInstanceId: string | undefined,
  strayWindowEnd: string | undefined,
): RemoveInstanceInput {
  // Looked up: an instance created after a late create had time to land is not the saga's.
  if (solutionInstanceId === undefined) return { ...target, notAfter: lateCreateWindowEnd() };
  if (strayWindowEnd === undefined) return { ...target, solutionInstanceId };
  return { ...target, solutionInstanceId, includeStrays: true, notAfter: strayWindowEnd };
}

async function removeUntilDone(status: SagaStatus, input: RemoveInstanceInput): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { removed } = await compensation.removeInstance.executeWithOptions(
        { summary: 'compensate: remove the solution instance' },
        [input],
      );
      countCompensation(removed.length > 0 ? 'removed' : 'nothing_to_remove');
      return [...removed];
    } catch (removeErr) {
      // Anything but an activity failure is a bug: failing the task lets a fixed worker resume.
      if (!(removeErr instanceof ActivityFailure)) throw removeErr;
      countCompensation('failed');
      const { message } = describeFailure(removeErr);
      log.error('removeInstance failed; retrying', { attempt, error: describeFailure(removeErr) });
      const pauseMs = removalPauseMs(attempt - 1);
      const nextTry = new Date(Date.now() + pauseMs).toISOString();
      status.show({
        compensation: `removal failed ${attempt} time(s), next try at ${nextTry}: ${plainText(message)}`,
      });
      status.publish();
      await sleep(pauseMs, { summary: 'compensate: pause before removing again' });
    }
  }
}
