/**
 * A retried create keeps to one Tray request per attempt (docs/design.md#retried-creates). The rate
 * limit counts activities, so a retry that looked for an earlier attempt's create and then created in
 * the same attempt spent two requests and pushed a failing Tray's traffic over the budget. Now the
 * look and the create are separate attempts, and the heartbeat details carry between them what the
 * look found.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { failure } from './tray-errors.js';

/** What an attempt leaves in its heartbeat details for the attempt after it. */
export type CreateProgress = 'creating' | 'found-nothing';

/**
 * - `create`: nothing can exist yet, or the attempt before looked and found nothing.
 * - `look-only`: an earlier create may have landed; look, and if nothing is there, end the attempt.
 * - `look-then-create`: as before this rule, both in one attempt: for the last attempt, so the step
 *   never ends on a look, and when the retry policy cannot be seen.
 * A plan other than `create` on a first attempt is for a step run again after a rate limit.
 */
export type CreatePlan = 'create' | 'look-only' | 'look-then-create';

/** The failure type of an attempt that looked, found nothing, and leaves the create to the next. */
export const LOOKED_FOUND_NOTHING = 'CreateAfterLook';

// The next attempt should create soon: a create from before that lands in between is not seen.
const NEXT_ATTEMPT_DELAY = '100ms';

/** True when the attempt before looked and found nothing: this one may create at once. */
function foundNothingBefore(details: unknown): boolean {
  const step = (details as { createStep?: unknown } | null | undefined)?.createStep;
  return step === ('found-nothing' satisfies CreateProgress);
}

/** What this attempt of a create step does, and whether an earlier attempt or run may have created. */
export interface CreateAttempt {
  plan: CreatePlan;
  /** An earlier attempt, or (`retriedRun`) an earlier run of the step, may have sent a create. */
  retried: boolean;
}

/**
 * This attempt's plan, from its number, its retry policy and what the attempt before recorded.
 * `retriedRun`: the workflow says an earlier run of the step, cut short by a rate limit, had failed
 * attempts (a fresh run starts again at attempt 1). `scheduledByRun`: the workflow run that scheduled
 * it; a reset hands a pending activity to the new run, attempt 1 again, after the old one may have
 * sent the create.
 */
export function planCreate(retriedRun: boolean | undefined, scheduledByRun?: string): CreateAttempt {
  const { attempt, heartbeatDetails, retryPolicy, workflowExecution } = Context.current().info;
  const otherRun = scheduledByRun !== undefined && scheduledByRun !== workflowExecution?.runId;
  const retried = attempt > 1 || retriedRun === true || otherRun;
  if (!retried || foundNothingBefore(heartbeatDetails)) return { plan: 'create', retried };
  // No record is read as "a create may have been sent": the first attempt records nothing (to spare
  // every saga a heartbeat), nor does a look that failed, nor a worker from before this rule.
  const maximum = retryPolicy?.maximumAttempts;
  const unlimited = retryPolicy !== undefined && (maximum === undefined || maximum <= 0);
  const lookOnly = unlimited || (maximum !== undefined && attempt < maximum);
  return { plan: lookOnly ? 'look-only' : 'look-then-create', retried };
}

/**
 * Records that this retry sends the create. It replaces an earlier `found-nothing`, so the attempt
 * after a create that failed looks again.
 */
export function recordCreating(): void {
  Context.current().heartbeat({ createStep: 'creating' satisfies CreateProgress });
}

/**
 * Records that the look found nothing and returns the failure that ends the attempt. It is benign: the
 * SDK neither logs it as an error nor counts it as a failed activity.
 */
export function foundNothing(what: string): ApplicationFailure {
  Context.current().heartbeat({ createStep: 'found-nothing' satisfies CreateProgress });
  return ApplicationFailure.create({
    message: `No ${what} from an earlier attempt at Tray; the next attempt creates it`,
    type: LOOKED_FOUND_NOTHING,
    nextRetryDelay: NEXT_ATTEMPT_DELAY,
    category: 'BENIGN',
  });
}

/**
 * The id a create answered. An answer without one (a null payload or id) may still have created:
 * the failure is retried, and the retry looks for what this attempt made before creating again.
 */
export function createdId(id: unknown, operation: string): string {
  if (typeof id === 'string' && id.trim() !== '') return id;
  throw failure(TRAY_FAILURE_TYPES.transient, `Tray ${operation}: the answer carried no id`, false, {
    operation,
    code: 'no_id',
  });
}
