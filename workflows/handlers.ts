/**
 * The saga's message handlers: the `status` query, the `authCompleted` signal and the
 * `reissueAuthUrl` update with its validator.
 */
import { ApplicationFailure, isCancellation, log, setHandler } from '@temporalio/workflow';
import { authCompletedSignal, FAILURE_TYPES, reissueAuthUrlUpdate, statusQuery } from '../common/messages.js';
import { forward } from './activity-stubs.js';
import type { AuthSlots } from './slots.js';
import type { SagaStatus } from './status.js';

/** Registers every handler; call once, first thing in the workflow, so no message finds none. */
export function registerHandlers(status: SagaStatus, slots: AuthSlots): void {
  setHandler(statusQuery, () => status.toStatus());
  setHandler(authCompletedSignal, (signal) => {
    const outcome = slots.apply(signal);
    if (outcome.kind === 'unknown_slot') {
      log.warn('authCompleted for an unknown slot ignored', {
        externalAuthId: signal.externalAuthId,
        authId: signal.authId,
        eventId: signal.eventId,
      });
    } else if (outcome.kind !== 'accepted') {
      log.info('authCompleted ignored', { externalAuthId: signal.externalAuthId, outcome: outcome.kind });
    }
    if (outcome.kind === 'accepted' || outcome.kind === 'unknown_slot') status.publish();
  });
  setHandler(
    reissueAuthUrlUpdate,
    async ({ externalAuthId }) => {
      const [issued] = await forward.issueAuthUrls
        .executeWithOptions({ summary: `reissue auth URL for ${externalAuthId}` }, [
          {
            userId: status.userId as string,
            solutionInstanceId: status.solutionInstanceId as string,
            externalAuthIds: [externalAuthId],
          },
        ])
        .catch((err: unknown) => {
          // A cancel stops the code's activity: answer as for any saga no longer awaiting auths.
          if (isCancellation(err)) {
            throw ApplicationFailure.nonRetryable('the saga was cancelled', FAILURE_TYPES.notAwaiting);
          }
          throw err;
        });
      if (!issued) throw ApplicationFailure.nonRetryable('no URL issued', 'NoUrlIssued');
      // The saga went on while the code was minted: a URL for a slot completed meanwhile, or for an
      // instance past the auth wait, would only send the user through a dialog nobody waits for.
      rejectReissue(externalAuthId);
      slots.setUrl(externalAuthId, issued.url);
      status.publish();
      return { externalAuthId, url: issued.url };
    },
    { validator: ({ externalAuthId }) => rejectReissue(externalAuthId) },
  );

  /** Throws why `externalAuthId` may not get a fresh URL now, if it may not. */
  function rejectReissue(externalAuthId: string): void {
    if (!slots.has(externalAuthId)) {
      throw ApplicationFailure.nonRetryable(`no auth slot ${externalAuthId}`, FAILURE_TYPES.unknownSlot);
    }
    if (slots.isCompleted(externalAuthId)) {
      throw ApplicationFailure.nonRetryable(
        `auth slot ${externalAuthId} is already completed`,
        FAILURE_TYPES.slotCompleted,
      );
    }
    if (status.step !== 'awaiting_auth') {
      throw ApplicationFailure.nonRetryable(
        `the saga is not awaiting auths (step ${status.step})`,
        FAILURE_TYPES.notAwaiting,
      );
    }
  }
}
