/** The auth slots of one saga, and its rules for `authCompleted`: pure state, no Temporal calls. */
import type { AuthCompletedPayload, AuthSlotStatus, AuthValue } from '../common/messages.js';
import { characterCount } from '../common/input.js';
import { LIMITS } from '../common/messages.js';
import type { SlotError } from '../common/status-view.js';

export type SignalOutcome =
  | { kind: 'accepted' }
  | { kind: 'duplicate'; reason: 'eventId' | 'authId' }
  | { kind: 'rejected'; reason: 'foreign' | 'invalid' | 'unchecked' }
  | { kind: 'unknown_slot' }
  | { kind: 'too_late' };

/** A signal for a slot the saga does not have, kept so operators can see it. */
export interface UnknownSlotReport {
  externalAuthId: string;
  authId: string;
  eventId?: string;
}

interface Slot {
  externalAuthId: string;
  url?: string;
  /** Checked and the user's: attached unless a newer candidate checks out too. */
  verified?: string;
  /** Relayed authIds not checked yet, oldest first: the newest one that checks out wins. */
  candidates: string[];
  /** The first authIds a signal gave the slot (accepted), so a late redelivery finds its run. */
  taken: string[];
  lastError?: string;
}

/**
 * How many accepted authIds each slot remembers for the memo: an end user re-authorizing a slot a
 * few times before attach is covered, and a relay flooding one slot adds at most this many.
 */
export const TAKEN_PER_SLOT = 5;

/**
 * The slots' state machine (docs/design.md, "Verify before attach"): the last of the user's authIds
 * before attach wins; a rejected authId is remembered and never displaces a verified one. Sagas
 * started before these rules (`strict` false) keep the old ones: the newest authId replaces all.
 */
export class AuthSlots {
  private readonly slots: Slot[];
  private readonly seenEventIds = new Set<string>();
  /** authIds the ownership check found foreign, or the user's: never checked again. */
  private readonly foreign = new Set<string>();
  private readonly owned = new Set<string>();
  private checksClosed = false;
  private frozen = false;
  readonly unknownSlotReports: UnknownSlotReport[] = [];

  constructor(
    externalAuthIds: readonly string[],
    private readonly strict = true,
  ) {
    this.slots = externalAuthIds.map((externalAuthId) => ({ externalAuthId, candidates: [], taken: [] }));
  }

  has(externalAuthId: string): boolean {
    return this.find(externalAuthId) !== undefined;
  }

  isCompleted(externalAuthId: string): boolean {
    const slot = this.find(externalAuthId);
    return slot !== undefined && current(slot) !== undefined;
  }

  /** Stores the dialog URL issued for a slot (a reissue replaces the old one). */
  setUrl(externalAuthId: string, url: string): void {
    const slot = this.find(externalAuthId);
    if (slot) slot.url = url;
  }

  /** Applies one `authCompleted` signal. After `freeze()` nothing changes any more. */
  apply(signal: AuthCompletedPayload): SignalOutcome {
    if (signal.eventId !== undefined) {
      if (this.seenEventIds.has(signal.eventId)) return { kind: 'duplicate', reason: 'eventId' };
      this.seenEventIds.add(signal.eventId);
    }
    const slot = this.find(signal.externalAuthId);
    if (!slot) {
      this.unknownSlotReports.push({
        externalAuthId: signal.externalAuthId,
        authId: signal.authId,
        ...(signal.eventId !== undefined ? { eventId: signal.eventId } : {}),
      });
      return { kind: 'unknown_slot' };
    }
    if (this.frozen) return { kind: 'too_late' };
    const { authId } = signal;
    if (current(slot) === authId) return { kind: 'duplicate', reason: 'authId' };
    if (!this.strict) {
      slot.candidates = [authId];
      slot.verified = undefined;
    } else {
      const refused = this.refusal(authId);
      if (refused) {
        slot.lastError = refused.message;
        return { kind: 'rejected', reason: refused.reason };
      }
      if (this.owned.has(authId)) {
        // Known to be the user's and the newest: nothing older can win any more.
        slot.verified = authId;
        slot.candidates = [];
      } else {
        slot.candidates = [...slot.candidates.filter((c) => c !== authId), authId];
      }
    }
    slot.lastError = undefined;
    if (slot.taken.length < TAKEN_PER_SLOT && !slot.taken.includes(authId)) slot.taken.push(authId);
    return { kind: 'accepted' };
  }

  allHaveAuthIds(): boolean {
    return this.slots.every((slot) => current(slot) !== undefined);
  }

  allVerified(): boolean {
    return this.slots.every((slot) => slot.verified !== undefined && slot.candidates.length === 0);
  }

  hasUnchecked(): boolean {
    return this.slots.some((slot) => slot.candidates.length > 0);
  }

  /** Up to `max` unchecked authIds for the next ownership check: each slot's newest first, in turns. */
  idsToCheck(max = Infinity): string[] {
    const queues = this.slots.map((slot) => [...slot.candidates].reverse());
    const ids: string[] = [];
    for (let depth = 0; ids.length < max && queues.some((q) => q.length > depth); depth++) {
      for (const queue of queues) {
        const id = queue[depth];
        if (id !== undefined && !ids.includes(id) && ids.length < max) ids.push(id);
      }
    }
    return ids;
  }

  /**
   * Records the ownership check of `checked`. Per slot the newest authId that is the user's becomes
   * the verified one (older candidates lose to it); a foreign one is dropped, and if it was the
   * slot's newest, the slot's `lastError` says so. Candidates that arrived during the check wait.
   */
  applyVerification(checked: readonly string[], foreign: readonly string[]): void {
    const foreignSet = new Set(foreign);
    for (const id of checked) (foreignSet.has(id) ? this.foreign : this.owned).add(id);
    const checkedSet = new Set(checked);
    for (const slot of this.slots) {
      let kept: string[] = [];
      let rejectedNewest: string | undefined;
      for (const id of slot.candidates) {
        if (!checkedSet.has(id)) {
          kept.push(id);
          rejectedNewest = undefined;
        } else if (foreignSet.has(id)) {
          rejectedNewest = id;
        } else {
          slot.verified = id;
          kept = [];
          rejectedNewest = undefined;
        }
      }
      slot.candidates = kept;
      if (rejectedNewest !== undefined) slot.lastError = foreignMessage(rejectedNewest, slot);
    }
  }

  /**
   * No more ownership checks: unchecked authIds are dropped, and later ones refused unless known to
   * be the user's. Answers the slots left without a verified authId.
   */
  closeChecks(reason: string): string[] {
    this.checksClosed = true;
    for (const slot of this.slots) {
      if (slot.candidates.length === 0) continue;
      slot.lastError = `authId ${clip(slot.candidates.at(-1) ?? '')} was not checked: ${reason}`;
      slot.candidates = [];
    }
    return this.pendingIds();
  }

  /** Stops accepting changes: from attach on the authIds are fixed. */
  freeze(): void {
    this.frozen = true;
  }

  pendingIds(): string[] {
    return this.slots.filter((s) => current(s) === undefined).map((s) => s.externalAuthId);
  }

  completedIds(): string[] {
    return this.slots.filter((s) => current(s) !== undefined).map((s) => s.externalAuthId);
  }

  /** The completed slots' authIds, as the status shows them. */
  completedAuthValues(): AuthValue[] {
    return this.authValues().filter((v) => v.authId !== '');
  }

  /**
   * authIds the slots took that they no longer show (replaced by a later one, or found foreign),
   * bounded by TAKEN_PER_SLOT: a redelivery of one of them belongs to this run, not to a later one.
   */
  replacedAuthValues(): AuthValue[] {
    return this.slots.flatMap((s) =>
      s.taken.filter((id) => id !== current(s)).map((authId) => ({ externalId: s.externalAuthId, authId })),
    );
  }

  /** Each slot's `lastError`, for the slots that have one. */
  lastErrors(): SlotError[] {
    return this.slots.flatMap((s) =>
      s.lastError === undefined ? [] : [{ externalId: s.externalAuthId, message: s.lastError }],
    );
  }

  authValues(): AuthValue[] {
    return this.slots.map((s) => ({ externalId: s.externalAuthId, authId: current(s) ?? '' }));
  }

  /**
   * The slots for the status object; `withUrls` false once the URLs lead nowhere. A completed slot
   * shows none either: its one-time code is spent.
   */
  toStatus(withUrls = true): AuthSlotStatus[] {
    return this.slots.map((s) => {
      const authId = current(s);
      return {
        externalAuthId: s.externalAuthId,
        state: authId !== undefined ? 'completed' : 'pending',
        ...(withUrls && authId === undefined && s.url !== undefined ? { url: s.url } : {}),
        ...(authId !== undefined ? { authId } : {}),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      };
    });
  }

  /** Why `authId` is refused without an ownership check, if it is. */
  private refusal(
    authId: unknown,
  ): { reason: 'foreign' | 'invalid' | 'unchecked'; message: string } | undefined {
    if (
      typeof authId !== 'string' ||
      authId.length === 0 ||
      characterCount(authId, LIMITS.maxIdLength) > LIMITS.maxIdLength
    ) {
      return { reason: 'invalid', message: `an authId must be 1..${LIMITS.maxIdLength} characters` };
    }
    if (this.foreign.has(authId)) {
      return { reason: 'foreign', message: `authId ${authId} does not belong to this user (checked before)` };
    }
    if (this.checksClosed && !this.owned.has(authId)) {
      return { reason: 'unchecked', message: `authId ${authId} was not checked: ${CHECKS_SPENT}` };
    }
    return undefined;
  }

  private find(externalAuthId: string): Slot | undefined {
    return this.slots.find((s) => s.externalAuthId === externalAuthId);
  }
}

const CHECKS_SPENT = 'this saga has spent its ownership checks';

/** The authId the slot stands for now: its newest unchecked one, else its verified one. */
function current(slot: Slot): string | undefined {
  return slot.candidates.at(-1) ?? slot.verified;
}

function foreignMessage(authId: string, slot: Slot): string {
  const then = current(slot) === undefined ? 'complete the auth again' : `the slot keeps ${current(slot)}`;
  return `authId ${authId} does not belong to this user; ${then}`;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
