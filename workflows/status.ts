/**
 * The saga's status as a view: the workflow feeds it and it shows the state as the `status` query,
 * search attributes, memo and current details. Upserts happen only when a value changed, so the
 * history stays small and replay sees the same commands.
 */
import {
  log,
  patched,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  AuthValue,
  ConnectInput,
  ConnectionStatus,
  ConnectStep,
  StatusError,
} from '../common/messages.js';
import { SEARCH_ATTRIBUTES } from '../common/messages.js';
import { encodeMemo, MEMO_KEY, type SlotError } from '../common/status-view.js';
import { codeSpan, plainText } from '../common/markdown.js';
import type { AuthSlots } from './slots.js';

/** Marks runs whose memo carries each completed slot's authId (older ones upsert it less often). */
const MEMO_AUTH_IDS_PATCH = 'memo-auth-ids';
/** Marks runs whose memo also names the authIds a slot took and no longer shows (older ones do not). */
const MEMO_REPLACED_PATCH = 'memo-replaced-auth-ids';
/** Marks runs whose memo also carries each slot's `lastError`, so a status without a worker shows it. */
const MEMO_LAST_ERRORS_PATCH = 'memo-last-errors';
/** How many distinct unknown slot names the details list before "and N more". */
const UNKNOWN_SLOTS_SHOWN = 10;
/** Steps in which no slot is awaited (no URLs, none shown pending): the instance is being removed or gone. */
const URLS_DEAD_STEPS: readonly ConnectStep[] = ['compensating', 'failed', 'timed_out', 'cancelled'];
/**
 * Steps whose status carries `error` (the details keep it for the others). Without a worker the API
 * reads a compensating or cancelled saga from its memo and a cancelled run's result, neither of which
 * holds an error: a query that showed one would make it come and go with who answered the poll.
 */
const ERROR_STEPS: readonly ConnectStep[] = ['failed', 'timed_out'];

/** What the view shows besides the step and the slots. */
export interface StatusFacts {
  userId?: string;
  solutionInstanceId?: string;
  deadline?: string;
  error?: StatusError;
  /** The authIds attached, from the attach on (the API answers their redelivery 202). */
  attached?: AuthValue[];
  /** What compensation did, for the current details: markdown, ids and messages already escaped. */
  compensation?: string;
}

export class SagaStatus {
  private current: ConnectStep = 'ensuring_user';
  private readonly facts: StatusFacts = {};
  private lastStep?: ConnectStep;
  private lastInstanceId?: string;
  private lastMemo?: string;

  /**
   * `folded`: the run took its first task's patches as one (the memo's authIds among them, not asked
   * again), and upserts only what its start did not already set.
   */
  constructor(
    private readonly input: ConnectInput,
    private readonly slots: AuthSlots,
    private readonly folded = false,
  ) {
    if (folded) this.takeStartValues();
  }

  /**
   * The API starts a run with the first step's search attributes and memo: upserting them again in
   * the first task would cost the server a validation and a write for values it holds. Anything
   * else (a direct start without them, another API version's memo) is upserted as before.
   */
  private takeStartValues(): void {
    const { typedSearchAttributes: started, memo } = workflowInfo();
    const { externalUserId, solutionId } = this.input;
    if (
      started.get(SEARCH_ATTRIBUTES.externalUserId) === externalUserId &&
      started.get(SEARCH_ATTRIBUTES.solutionId) === solutionId &&
      started.get(SEARCH_ATTRIBUTES.step) === this.current
    ) {
      this.lastStep = this.current;
    }
    if (memo?.[MEMO_KEY] !== undefined) this.lastMemo = JSON.stringify(memo[MEMO_KEY]);
  }

  get step(): ConnectStep {
    return this.current;
  }

  /** Records facts to show; they reach the server with the next `enter` or `publish`. */
  show(facts: StatusFacts): void {
    Object.assign(this.facts, facts);
  }

  /** The object the `status` query answers. */
  toStatus(): ConnectionStatus {
    const info = workflowInfo();
    const { userId, solutionInstanceId, deadline, error } = this.facts;
    return {
      connectionId: info.workflowId,
      runId: info.runId,
      step: this.current,
      externalUserId: this.input.externalUserId,
      solutionId: this.input.solutionId,
      ...(userId !== undefined ? { userId } : {}),
      ...(solutionInstanceId !== undefined ? { solutionInstanceId } : {}),
      // From compensation on the instance is being removed: its dialog URLs lead nowhere.
      authSlots: this.slots.toStatus(!URLS_DEAD_STEPS.includes(this.current)),
      ...(deadline !== undefined ? { deadline } : {}),
      ...(error !== undefined && ERROR_STEPS.includes(this.current) ? { error } : {}),
    };
  }

  /** Moves to `step` and publishes the change. */
  enter(step: ConnectStep): void {
    this.current = step;
    log.info('saga step', { step });
    this.publish();
  }

  /** Pushes search attributes and memo when they changed, current details always (not in history). */
  publish(): void {
    const { solutionInstanceId } = this.facts;
    const updates = [];
    if (this.lastStep === undefined) {
      // Keyword attributes take text only: a direct start with other values fails as invalid input
      // without them, instead of failing its workflow task for ever.
      const { externalUserId, solutionId } = this.input as { externalUserId: unknown; solutionId: unknown };
      if (typeof externalUserId === 'string')
        updates.push({ key: SEARCH_ATTRIBUTES.externalUserId, value: externalUserId });
      if (typeof solutionId === 'string')
        updates.push({ key: SEARCH_ATTRIBUTES.solutionId, value: solutionId });
    }
    if (this.current !== this.lastStep) {
      updates.push({ key: SEARCH_ATTRIBUTES.step, value: this.current });
      this.lastStep = this.current;
    }
    if (solutionInstanceId !== undefined && solutionInstanceId !== this.lastInstanceId) {
      updates.push({ key: SEARCH_ATTRIBUTES.solutionInstanceId, value: solutionInstanceId });
      this.lastInstanceId = solutionInstanceId;
    }
    if (updates.length > 0) upsertSearchAttributes(updates);

    // The error only where the status shows it: the step's own change upserts the memo then, so
    // keeping it adds no command, and histories from before it replay unchanged.
    const { error, ...facts } = this.facts;
    const memo = encodeMemo({
      externalUserId: this.input.externalUserId,
      solutionId: this.input.solutionId,
      // A direct start may pass anything here; the memo keeps a list, as the slots do.
      authSlots: Array.isArray(this.input.authSlots) ? this.input.authSlots : [],
      step: this.current,
      completedSlots: this.slots.completedIds(),
      ...facts,
      ...(error !== undefined && ERROR_STEPS.includes(this.current) ? { error } : {}),
      ...(this.folded || patched(MEMO_AUTH_IDS_PATCH) ? { authIds: this.slots.completedAuthValues() } : {}),
      ...this.replaced(),
      ...this.lastErrors(),
    });
    const memoJson = JSON.stringify(memo);
    if (memoJson !== this.lastMemo) {
      upsertMemo({ [MEMO_KEY]: memo });
      this.lastMemo = memoJson;
    }
    setCurrentDetails(this.details());
  }

  /**
   * The memo's `replacedAuthIds`, only once a slot has one: most runs never replace an authId, and
   * their memo (and history) stays as before. Asked only then, so the patch marker is too.
   */
  private replaced(): { replacedAuthIds?: AuthValue[] } {
    const replaced = this.slots.replacedAuthValues();
    if (replaced.length === 0 || !patched(MEMO_REPLACED_PATCH)) return {};
    return { replacedAuthIds: replaced };
  }

  /**
   * The memo's `lastErrors`, only while a slot has one: most runs never reject an authId, and their
   * memo (and history) stays as before. Asked only then, so the patch marker is too.
   */
  private lastErrors(): { lastErrors?: SlotError[] } {
    const errors = this.slots.lastErrors();
    if (errors.length === 0 || !patched(MEMO_LAST_ERRORS_PATCH)) return {};
    return { lastErrors: errors };
  }

  /** A few lines of markdown for the Web UI: step, pending slots, deadline, and anything unusual. */
  private details(): string {
    const { solutionInstanceId, deadline, error, compensation } = this.facts;
    const lines = [`**Step:** \`${this.current}\``];
    const pending = this.slots.pendingIds();
    // While compensating the instance is being removed: its slots are no longer awaited.
    if (pending.length > 0 && !URLS_DEAD_STEPS.includes(this.current)) {
      lines.push(`**Pending slots:** ${pending.map(codeSpan).join(', ')}`);
    }
    if (solutionInstanceId !== undefined) {
      const enabled = this.current === 'completed' ? ' (enabled)' : '';
      lines.push(`**Solution instance:** ${codeSpan(solutionInstanceId)}${enabled}`);
    }
    if (deadline !== undefined && this.current === 'awaiting_auth') {
      lines.push(`**Auth deadline:** ${deadline}`);
    }
    if (error) lines.push(`**Error:** ${codeSpan(error.type)}: ${plainText(error.message)}`);
    if (compensation) lines.push(`**Compensation:** ${compensation}`);
    const unknown = [...new Set(this.slots.unknownSlotReports.map((r) => r.externalAuthId))];
    if (unknown.length > 0) {
      // Relayed slot names are untrusted: a flood of them must not grow the UI's details without end.
      const shown = unknown.slice(0, UNKNOWN_SLOTS_SHOWN).map(codeSpan);
      const more = unknown.length - shown.length;
      lines.push(
        `**Ignored signals for unknown slots:** ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`,
      );
    }
    return lines.join('  \n');
  }
}
