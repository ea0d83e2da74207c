/**
 * The saga's visible state: the `status` query's object, and what operators see on the server
 * (search attributes, memo, current details). Upserts happen only when a value changed, so the
 * history stays small and replay sees the same commands.
 */
import {
  log,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  ConnectInput,
  ConnectionStatus,
  ConnectMemo,
  ConnectStep,
  StatusError,
} from '../common/messages.js';
import { MEMO_KEY, SEARCH_ATTRIBUTES } from '../common/messages.js';
import type { AuthSlots } from './slots.js';

/** Everything the status shows, plus how it reaches the server. */
export class SagaStatus {
  step: ConnectStep = 'ensuring_user';
  userId?: string;
  solutionInstanceId?: string;
  deadline?: string;
  error?: StatusError;
  /** What compensation did, in words, for the current details. */
  compensation?: string;

  private lastStep?: ConnectStep;
  private lastInstanceId?: string;
  private lastMemo?: string;

  constructor(
    private readonly input: ConnectInput,
    readonly slots: AuthSlots,
  ) {}

  /** The object the `status` query answers. */
  toStatus(): ConnectionStatus {
    const info = workflowInfo();
    return {
      connectionId: info.workflowId,
      runId: info.runId,
      step: this.step,
      externalUserId: this.input.externalUserId,
      solutionId: this.input.solutionId,
      ...(this.userId !== undefined ? { userId: this.userId } : {}),
      ...(this.solutionInstanceId !== undefined ? { solutionInstanceId: this.solutionInstanceId } : {}),
      authSlots: this.slots.toStatus(),
      ...(this.deadline !== undefined ? { deadline: this.deadline } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
    };
  }

  /** Moves to `step` and publishes the change. */
  enter(step: ConnectStep): void {
    this.step = step;
    log.info('saga step', { step });
    this.publish();
  }

  /**
   * Pushes the state to the server: search attributes and memo when they changed, current details
   * always (they are not part of history).
   */
  publish(): void {
    const updates = [];
    if (this.lastStep === undefined) {
      updates.push(
        { key: SEARCH_ATTRIBUTES.externalUserId, value: this.input.externalUserId },
        { key: SEARCH_ATTRIBUTES.solutionId, value: this.input.solutionId },
      );
    }
    if (this.step !== this.lastStep) {
      updates.push({ key: SEARCH_ATTRIBUTES.step, value: this.step });
      this.lastStep = this.step;
    }
    if (this.solutionInstanceId !== undefined && this.solutionInstanceId !== this.lastInstanceId) {
      updates.push({ key: SEARCH_ATTRIBUTES.solutionInstanceId, value: this.solutionInstanceId });
      this.lastInstanceId = this.solutionInstanceId;
    }
    if (updates.length > 0) upsertSearchAttributes(updates);

    const memo = this.toMemo();
    const memoJson = JSON.stringify(memo);
    if (memoJson !== this.lastMemo) {
      upsertMemo({ [MEMO_KEY]: memo });
      this.lastMemo = memoJson;
    }
    setCurrentDetails(this.details());
  }

  private toMemo(): ConnectMemo {
    return {
      externalUserId: this.input.externalUserId,
      solutionId: this.input.solutionId,
      authSlots: [...this.input.authSlots],
      step: this.step,
      completedSlots: this.slots.completedIds(),
      ...(this.userId !== undefined ? { userId: this.userId } : {}),
      ...(this.solutionInstanceId !== undefined ? { solutionInstanceId: this.solutionInstanceId } : {}),
      ...(this.deadline !== undefined ? { deadline: this.deadline } : {}),
    };
  }

  /** A few lines of markdown for the Web UI: step, pending slots, deadline, and anything unusual. */
  private details(): string {
    const lines = [`**Step:** \`${this.step}\``];
    const pending = this.slots.pendingIds();
    if (pending.length > 0 && !['completed', 'failed', 'timed_out', 'cancelled'].includes(this.step)) {
      lines.push(`**Pending slots:** ${pending.map((id) => `\`${id}\``).join(', ')}`);
    }
    if (this.solutionInstanceId !== undefined) {
      const enabled = this.step === 'completed' ? ' (enabled)' : '';
      lines.push(`**Solution instance:** \`${this.solutionInstanceId}\`${enabled}`);
    }
    if (this.deadline !== undefined && this.step === 'awaiting_auth') {
      lines.push(`**Auth deadline:** ${this.deadline}`);
    }
    if (this.error) lines.push(`**Error:** \`${this.error.type}\`: ${this.error.message}`);
    if (this.compensation) lines.push(`**Compensation:** ${this.compensation}`);
    const unknown = this.slots.unknownSlotReports;
    if (unknown.length > 0) {
      lines.push(
        `**Ignored signals for unknown slots:** ${unknown.map((r) => `\`${r.externalAuthId}\``).join(', ')}`,
      );
    }
    return lines.join('  \n');
  }
}
