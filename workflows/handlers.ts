/** The saga's message handlers: `status` query, `authCompleted` signal, `reissueAuthUrl` update. */
import { ApplicationFailure, isCancellation, log, patched, setHandler } from '@temporalio/workflow';
import {
  authCompletedSignal,
  FAILURE_TYPES,
  type AuthCompletedPayload,
  reissueAuthUrlUpdate,
  REISSUE_REFUSALS,
  statusQuery,
  type ReissueAuthUrlRequest,
  type ReissueAuthUrlResult,
} from '../common/messages.js';
import { issueAuthUrls, type InstanceRef } from './activity-stubs.js';
import type { AuthSlots } from './slots.js';
import type { SagaStatus } from './status.js';

/**
 * Reissues one saga answers. Each costs up to 11 history events (a shared one fewer), so a partner
 * page that asks for a fresh URL on every load would otherwise push a long auth wait into the
 * history guard (auth-wait.ts) and lose the saga; this keeps all of them under a third of the guard
 * and far below Temporal's 2,000 updates per run. Refused in the validator: no history, no Tray request.
 */
export const REISSUE_LIMIT = 300;

/** Marks histories in which concurrent reissues of one slot share one code (not in older ones). */
const SHARED_REISSUE_PATCH = 'shared-reissue';

/** Applies one `authCompleted` signal to the slots and shows the change. */
function onAuthCompleted(status: SagaStatus, slots: AuthSlots, signal: AuthCompletedPayload): void {
  // A signal needs no API to reach the saga (the CLI, the Web UI). Thrown here, a malformed one
  // would fail every workflow task from then on: the saga could neither go on, compensate nor cancel.
  const raw: unknown = signal;
  if (typeof raw !== 'object' || raw === null || typeof signal.externalAuthId !== 'string') {
    log.warn('authCompleted without an externalAuthId ignored');
    return;
  }
  const hadError = slots.lastErrors().some((e) => e.externalId === signal.externalAuthId);
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
  // A refusal shows in the memo when it gives the slot its first lastError; a relay repeating refused
  // authIds then grows the history by its signals alone.
  const firstRefusal = outcome.kind === 'rejected' && !hadError;
  if (outcome.kind === 'accepted' || outcome.kind === 'unknown_slot' || firstRefusal) status.publish();
}

/**
 * The slot a reissue names. The CLI and the Web UI send any payload, even none: refused with a plain
 * reason rather than a TypeError that reads as retryable.
 */
function slotOf(request: ReissueAuthUrlRequest | null | undefined): string {
  const externalAuthId: unknown = request?.externalAuthId;
  if (typeof externalAuthId === 'string') return externalAuthId;
  throw ApplicationFailure.nonRetryable(
    'reissueAuthUrl takes { "externalAuthId": "<slot>" }',
    FAILURE_TYPES.unknownSlot,
  );
}

/** Throws once the saga has accepted all the reissues it may. */
function refuseBeyondLimit(reissuesAccepted: number): void {
  if (reissuesAccepted < REISSUE_LIMIT) return;
  throw ApplicationFailure.nonRetryable(
    `this saga has issued its ${REISSUE_LIMIT} fresh URLs; cancel it and start a new connection for more`,
    FAILURE_TYPES.reissueLimit,
  );
}

/**
 * Registers every handler. Call it once, before the workflow's first await, so that every message
 * finds its handler. `awaitingAuthsOn` answers the instance while the saga awaits auths, else undefined.
 */
export function registerHandlers(
  status: SagaStatus,
  slots: AuthSlots,
  awaitingAuthsOn: () => InstanceRef | undefined,
): void {
  setHandler(statusQuery, () => status.toStatus());
  setHandler(authCompletedSignal, (signal) => onAuthCompleted(status, slots, signal));
  // Reissues of a slot still minting its code: a second one at that moment (a double click, a
  // retry) shares the answer instead of spending a Tray request on a code nobody would use.
  const minting = new Map<string, Promise<ReissueAuthUrlResult>>();
  // Counted in the handler, which replay runs again for every accepted reissue (validators it skips).
  let reissuesAccepted = 0;
  setHandler(
    reissueAuthUrlUpdate,
    async (request) => {
      reissuesAccepted++;
      const externalAuthId = slotOf(request);
      const inFlight = minting.get(externalAuthId);
      if (inFlight && patched(SHARED_REISSUE_PATCH)) return inFlight;
      const mint = reissue(externalAuthId);
      minting.set(externalAuthId, mint);
      try {
        return await mint;
      } finally {
        if (minting.get(externalAuthId) === mint) minting.delete(externalAuthId);
      }
    },
    {
      validator: (request) => {
        reissueTarget(slotOf(request));
        refuseBeyondLimit(reissuesAccepted);
      },
    },
  );

  /** Mints a fresh code for the slot and stores its URL. */
  async function reissue(externalAuthId: string): Promise<ReissueAuthUrlResult> {
    const target = reissueTarget(externalAuthId);
    const [issued] = await issueAuthUrls(`reissue auth URL for ${externalAuthId}`, target, [
      externalAuthId,
    ]).catch((err: unknown) => {
      // A cancel stops the activity: answer as for any saga no longer awaiting auths.
      if (isCancellation(err)) {
        throw ApplicationFailure.nonRetryable('the saga was cancelled', FAILURE_TYPES.notAwaiting);
      }
      throw err;
    });
    // The saga may have moved on while the code was minted; a URL nobody waits for would only send
    // the user through a useless dialog.
    reissueTarget(externalAuthId);
    slots.setUrl(externalAuthId, issued.url);
    status.publish();
    return { externalAuthId, url: issued.url };
  }

  /** The instance to issue a fresh URL for `externalAuthId` on; throws why there is none now. */
  function reissueTarget(externalAuthId: string): InstanceRef {
    if (!slots.has(externalAuthId)) {
      throw ApplicationFailure.nonRetryable(`no auth slot ${externalAuthId}`, FAILURE_TYPES.unknownSlot);
    }
    if (slots.isCompleted(externalAuthId)) {
      throw ApplicationFailure.nonRetryable(
        REISSUE_REFUSALS.slotCompleted(externalAuthId),
        FAILURE_TYPES.slotCompleted,
      );
    }
    const target = awaitingAuthsOn();
    if (target === undefined) {
      throw ApplicationFailure.nonRetryable(
        REISSUE_REFUSALS.notAwaiting(status.step),
        FAILURE_TYPES.notAwaiting,
      );
    }
    return target;
  }
}
