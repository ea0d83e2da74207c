/** The auth slots of one saga, and its rules for `authCompleted`: pure state, no Temporal calls. */
import type { AuthCompletedPayload, AuthSlotStatus, AuthValue } from '../common/messages.js';

export type SignalOutcome =
  | { kind: 'accepted' }
  | { kind: 'duplicate'; reason: 'eventId' | 'authId' }
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
  authId?: string;
  /** The ownership check passed for `authId`. */
  verified: boolean;
  lastError?: string;
}

/** The slots' state machine: pending until an authId arrives; the last authId before attach wins. */
export class AuthSlots {
  private readonly slots: Slot[];
  private readonly seenEventIds = new Set<string>();
  private frozen = false;
  readonly unknownSlotReports: UnknownSlotReport[] = [];

  constructor(externalAuthIds: readonly string[]) {
    this.slots = externalAuthIds.map((externalAuthId) => ({ externalAuthId, verified: false }));
  }

  has(externalAuthId: string): boolean {
    return this.find(externalAuthId) !== undefined;
  }

  isCompleted(externalAuthId: string): boolean {
    return this.find(externalAuthId)?.authId !== undefined;
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
    if (slot.authId === signal.authId) return { kind: 'duplicate', reason: 'authId' };
    slot.authId = signal.authId;
    slot.verified = false;
    slot.lastError = undefined;
    return { kind: 'accepted' };
  }

  allHaveAuthIds(): boolean {
    return this.slots.every((slot) => slot.authId !== undefined);
  }

  allVerified(): boolean {
    return this.slots.every((slot) => slot.authId !== undefined && slot.verified);
  }

  unverifiedAuthIds(): string[] {
    return this.slots.filter((s) => s.authId !== undefined && !s.verified).map((s) => s.authId as string);
  }

  /**
   * Records the ownership check of `checked`: a foreign authId reopens its slot with a `lastError`.
   * A slot whose authId changed during the check stays unverified, for the next round.
   */
  applyVerification(checked: readonly string[], foreign: readonly string[]): void {
    const foreignSet = new Set(foreign);
    for (const slot of this.slots) {
      if (slot.authId === undefined || !checked.includes(slot.authId)) continue;
      if (foreignSet.has(slot.authId)) {
        slot.lastError = `authId ${slot.authId} does not belong to this user; complete the auth again`;
        slot.authId = undefined;
        slot.verified = false;
      } else {
        slot.verified = true;
      }
    }
  }

  /** Stops accepting changes: from attach on the authIds are fixed. */
  freeze(): void {
    this.frozen = true;
  }

  pendingIds(): string[] {
    return this.slots.filter((s) => s.authId === undefined).map((s) => s.externalAuthId);
  }

  completedIds(): string[] {
    return this.slots.filter((s) => s.authId !== undefined).map((s) => s.externalAuthId);
  }

  authValues(): AuthValue[] {
    return this.slots.map((s) => ({ externalId: s.externalAuthId, authId: s.authId ?? '' }));
  }

  toStatus(): AuthSlotStatus[] {
    return this.slots.map((s) => ({
      externalAuthId: s.externalAuthId,
      state: s.authId !== undefined ? 'completed' : 'pending',
      ...(s.url !== undefined ? { url: s.url } : {}),
      ...(s.authId !== undefined ? { authId: s.authId } : {}),
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    }));
  }

  private find(externalAuthId: string): Slot | undefined {
    return this.slots.find((s) => s.externalAuthId === externalAuthId);
  }
}
