/**
 * The `connectIntegration` saga: find or create the Tray user, create the instance, collect one auth per
 * slot, attach them, wait 2 s, enable. Anything going wrong once the instance may exist removes it.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { DEFAULT_AUTH_TIMEOUT, parseDuration } from '../common/duration.js';
import { connectInputProblems } from '../common/input.js';
import type { InstanceOwnerKey, RemoveInstanceInput } from '../common/activity-types.js';
import type { ConnectInput, ConnectResult, StatusError } from '../common/messages.js';
import { FAILURE_TYPES } from '../common/messages.js';
import { afterAuth, cleanup, compensation, forward } from './activity-stubs.js';
import { registerHandlers } from './handlers.js';
import { countCompensation, countSagaFinished } from './metrics.js';
import { AuthSlots } from './slots.js';
import { SagaStatus } from './status.js';

/** Tray asks for at least this long between creating an instance and enabling it. */
const ENABLE_DELAY_MS = 2000;

/**
 * How long after a retried create answered a request an earlier attempt sent may still land at Tray:
 * an attempt lasts at most 30 s, and Tray is taken to finish or drop a request within as long again;
 * doubled for margin. Only instances created by then count as the saga's strays.
 */
const LATE_CREATE_WINDOW_MS = 2 * 60_000;

/**
 * Pause between workflow-level attempts when removeInstance failed as non-retryable: doubling from the
 * first to the last, so a problem that lasts days (a revoked master token) costs a few events an hour
 * and the history stays far below Temporal's size limit, which would end the saga unremoved.
 */
const REMOVE_RETRY_FIRST_PAUSE_MS = 60_000;
const REMOVE_RETRY_MAX_PAUSE_MS = 60 * 60_000;

/** Connects one integration for one end user; see the spec's "The saga". */
export async function connectIntegration(input: ConnectInput): Promise<ConnectResult> {
  const problems = connectInputProblems(input);
  const slots = new AuthSlots(Array.isArray(input.authSlots) ? input.authSlots : []);
  const status = new SagaStatus(input, slots);
  const startTime = workflowInfo().startTime;
  const notBefore = startTime.toISOString();
  const instanceName = input.instanceName ?? `${input.solutionId} for ${input.userName}`;
  const authTimeoutMs = parseDuration(input.authTimeout ?? DEFAULT_AUTH_TIMEOUT);

  registerHandlers(status, slots);

  if (problems.length > 0 || authTimeoutMs === undefined) {
    // The API validates input; this guards direct starts, with a status that says why.
    const invalid = ApplicationFailure.nonRetryable(`invalid input: ${problems.join('; ')}`, 'InvalidInput');
    return await finishWithoutInstance(status, invalid);
  }

  status.enter('ensuring_user');
  let userId: string;
  try {
    userId = await ensureUser(input);
  } catch (err) {
    // No instance can exist yet, so there is nothing to compensate.
    return await finishWithoutInstance(status, err);
  }
  status.userId = userId;

  status.enter('creating_instance');
  try {
    // Its own activity so each activity sends one Tray request: the rate limit meters activities.
    await forward.prepareUserToken.executeWithOptions(
      { summary: 'mint the user token into the worker (never into history)' },
      [{ userId }],
    );
  } catch (err) {
    return await finishWithoutInstance(status, err);
  }
  const target: InstanceOwnerKey = { userId, solutionId: input.solutionId, instanceName, notBefore };
  // Set once a retried create answered: until then, an earlier attempt's create may still land.
  let strayWindowEnd: string | undefined;
  try {
    const created = await forward.createInstance.executeWithOptions(
      {
        summary: 'create the solution instance',
        // The activity does not heartbeat, so a cancel cannot stop a create already sent to Tray; waiting
        // for the attempt to end keeps the removal from looking for the instance before it exists.
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      },
      [{ ...target, ...(input.configValues !== undefined ? { configValues: input.configValues } : {}) }],
    );
    status.solutionInstanceId = created.solutionInstanceId;
    const solutionInstanceId = created.solutionInstanceId;
    // Decided by the recorded result alone (absent, so false, in older histories): no patch needed.
    if (created.retried) strayWindowEnd = lateCreateWindowEnd();

    status.enter('issuing_auth_urls');
    const issued = await forward.issueAuthUrls.executeWithOptions(
      { summary: `issue ${input.authSlots.length} auth URL(s)` },
      [{ userId, solutionInstanceId, externalAuthIds: [...input.authSlots] }],
    );
    for (const { externalAuthId, url } of issued) slots.setUrl(externalAuthId, url);

    const deadlineMs = Date.now() + authTimeoutMs;
    status.deadline = new Date(deadlineMs).toISOString();
    status.enter('awaiting_auth');
    await awaitVerifiedAuths(slots, status, userId, deadlineMs);

    slots.freeze();
    status.enter('attaching_auths');
    const authValues = slots.authValues();
    await afterAuth.attachAuths.executeWithOptions({ summary: `attach ${authValues.length} auth(s)` }, [
      { userId, solutionInstanceId, authValues },
    ]);

    status.enter('waiting_before_enable');
    await sleep(ENABLE_DELAY_MS, { summary: 'Tray wants 2 s between create and enable' });

    status.enter('enabling');
    await afterAuth.enableInstance.executeWithOptions({ summary: 'enable the solution instance' }, [
      { userId, solutionInstanceId },
    ]);

    status.enter('completed');
    countSagaFinished('completed');
    if (strayWindowEnd !== undefined) await removeStrayInstances(target, solutionInstanceId, strayWindowEnd);
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return { userId, solutionInstanceId, authValues, enabled: true };
  } catch (err) {
    slots.freeze();
    return await compensateAndFail(status, err, target, strayWindowEnd);
  }
}

/**
 * The Tray user's id: looked up, or created when absent (createUser takes the winner's user when
 * another saga created it in between). Two activities, so each sends a single Tray request.
 */
async function ensureUser(input: ConnectInput): Promise<string> {
  const found = await forward.findUser.executeWithOptions({ summary: 'look up the Tray user' }, [
    { externalUserId: input.externalUserId },
  ]);
  if (found) return found.userId;
  const created = await forward.createUser.executeWithOptions({ summary: 'create the Tray user' }, [
    { externalUserId: input.externalUserId, userName: input.userName },
  ]);
  return created.userId;
}

/**
 * Waits until every slot holds an authId that belongs to the user. Each time all slots have one, a
 * single verifyAuths call checks the unchecked ones; foreign ones reopen their slot.
 */
async function awaitVerifiedAuths(
  slots: AuthSlots,
  status: SagaStatus,
  userId: string,
  deadlineMs: number,
): Promise<void> {
  while (!slots.allVerified()) {
    const remaining = deadlineMs - Date.now();
    const ready =
      remaining > 0 &&
      (await condition(() => slots.allHaveAuthIds() && slots.unverifiedAuthIds().length > 0, remaining, {
        summary: 'wait for the end user to complete every auth',
      }));
    if (!ready) {
      throw ApplicationFailure.create({
        type: FAILURE_TYPES.authTimeout,
        message: `auths not completed by ${new Date(deadlineMs).toISOString()}; pending: ${slots.pendingIds().join(', ')}`,
        nonRetryable: true,
      });
    }
    const authIds = slots.unverifiedAuthIds();
    const { foreign } = await afterAuth.verifyAuths.executeWithOptions(
      { summary: `check ${authIds.length} auth(s) belong to the user` },
      [{ userId, authIds }],
    );
    slots.applyVerification(authIds, foreign);
    if (foreign.length > 0) log.warn('foreign authIds rejected', { foreign });
    status.publish();
  }
}

/** ISO time after which no instance created from now on is the saga's (see LATE_CREATE_WINDOW_MS). */
function lateCreateWindowEnd(): string {
  return new Date(Date.now() + LATE_CREATE_WINDOW_MS).toISOString();
}

/**
 * After a retried create, removes the saga's instances other than `keep` (an earlier attempt's create
 * that reached Tray late), once the window for such a late create has passed. Best effort: the saga
 * is connected and reported `completed` by now, so neither a failure here nor a cancel may undo that;
 * a stray left behind is logged.
 */
async function removeStrayInstances(target: InstanceOwnerKey, keep: string, notAfter: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    const waitMs = Date.parse(notAfter) - Date.now();
    if (waitMs > 0) await sleep(waitMs, { summary: 'let a late create land before looking for it' });
    try {
      const { removed } = await cleanup.removeStrayInstances.executeWithOptions(
        { summary: 'remove instances a retried create left behind' },
        [{ ...target, keep, notAfter }],
      );
      if (removed.length > 0) log.info('removed stray instances', { removed });
    } catch (err) {
      log.warn('could not remove stray instances; they stay disabled at Tray', {
        error: describeFailure(err),
      });
    }
  });
}

/**
 * Removes the instance (by id when create answered, else by owner/solution/name/notBefore), out of
 * reach of cancellation and until it succeeds; then ends the workflow with the cause.
 */
async function compensateAndFail(
  status: SagaStatus,
  failure: unknown,
  target: InstanceOwnerKey,
  strayWindowEnd: string | undefined,
): Promise<never> {
  const err = cancelledOr(failure);
  const cause = describeFailure(err);
  status.error = cause;
  status.enter('compensating');
  const known = status.solutionInstanceId;
  let input: RemoveInstanceInput;
  if (known === undefined) {
    // Looked up: one created after the create attempts ended and a late request had time to land is
    // not the saga's.
    input = { ...target, notAfter: lateCreateWindowEnd() };
  } else if (strayWindowEnd === undefined) {
    input = { ...target, solutionInstanceId: known };
  } else {
    input = { ...target, solutionInstanceId: known, includeStrays: true, notAfter: strayWindowEnd };
  }
  await CancellationScope.nonCancellable(async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        const { removed } = await compensation.removeInstance.executeWithOptions(
          { summary: 'compensate: remove the solution instance' },
          [input],
        );
        status.compensation =
          removed.length > 0 ? `removed instance ${removed.join(', ')}` : 'no instance to remove';
        countCompensation(removed.length > 0 ? 'removed' : 'nothing_to_remove');
        return;
      } catch (removeErr) {
        // Only a non-retryable activity failure gets here; the deletion must still happen eventually.
        // Anything else is a bug in this code: let it fail the workflow task so a fix can resume it.
        if (!(removeErr instanceof ActivityFailure)) throw removeErr;
        countCompensation('failed');
        log.error('removeInstance failed; retrying', { attempt, error: describeFailure(removeErr) });
        status.compensation = `removal failed ${attempt} time(s), retrying: ${describeFailure(removeErr).message}`;
        status.publish();
        const pauseMs = Math.min(REMOVE_RETRY_FIRST_PAUSE_MS * 2 ** (attempt - 1), REMOVE_RETRY_MAX_PAUSE_MS);
        await sleep(pauseMs, { summary: 'compensate: pause before removing again' });
      }
    }
  });
  return await finish(status, err, cause);
}

/** Ends a saga that failed before any instance could exist. */
async function finishWithoutInstance(status: SagaStatus, failure: unknown): Promise<never> {
  const err = cancelledOr(failure);
  const cause = describeFailure(err);
  status.error = cause;
  return await finish(status, err, cause);
}

async function finish(status: SagaStatus, err: unknown, cause: StatusError): Promise<never> {
  const cancelled = isCancellation(err);
  const timedOut = cause.type === FAILURE_TYPES.authTimeout;
  const outcome = cancelled ? 'cancelled' : timedOut ? 'timed_out' : 'failed';
  status.enter(outcome);
  countSagaFinished(outcome);
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  // The saga's own failures (AuthTimeout) already say everything; activity failures are re-typed with
  // their cause's type, keeping the original as the cause for the UI.
  if (cancelled || err instanceof ApplicationFailure) throw err;
  throw ApplicationFailure.create({
    type: cause.type,
    message: cause.message,
    nonRetryable: true,
    ...(err instanceof Error ? { cause: err } : {}),
  });
}

/**
 * The failure the saga ends with: a cancellation whenever the saga was cancelled, even when the step it
 * interrupted ended in a failure of its own (an activity attempt the saga waited for after the cancel).
 * Call it before any await, so a cancel that arrives later, during compensation, does not count.
 */
function cancelledOr(err: unknown): unknown {
  if (isCancellation(err) || !CancellationScope.current().consideredCancelled) return err;
  return new CancelledFailure('the saga was cancelled', [], err instanceof Error ? err : undefined);
}

/** The type and message a failure is reported under: an activity's own failure, not its wrapper. */
function describeFailure(err: unknown): StatusError {
  if (isCancellation(err)) return { type: 'Cancelled', message: 'the saga was cancelled' };
  const inner = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (inner instanceof ApplicationFailure) {
    return { type: inner.type ?? 'Error', message: inner.message };
  }
  if (inner instanceof Error) return { type: inner.name, message: inner.message };
  return { type: 'Error', message: String(inner) };
}
