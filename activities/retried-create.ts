/**
 * A retried create keeps to one Tray request per attempt (docs/design.md#retried-creates). The rate
 * limit counts activities, so a retry that looked for an earlier attempt's create and then created in
 * the same attempt spent two requests and pushed a failing Tray's traffic over the budget. Now the
 * look and the create are separate attempts, and the heartbeat details carry between them what the
 * look found.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

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

function progressOf(details: unknown): CreateProgress | undefined {
  const step = (details as { createStep?: unknown } | null | undefined)?.createStep;
  return step === 'creating' || step === 'found-nothing' ? step : undefined;
}

/** This attempt's plan, from its number, its retry policy and what the attempt before recorded. */
export function planCreate(mayHaveCreated: boolean): CreatePlan {
  if (!mayHaveCreated) return 'create';
  const { attempt, heartbeatDetails, retryPolicy } = Context.current().info;
  const progress = progressOf(heartbeatDetails);
  if (progress === 'found-nothing') return 'create';
  // No record is read as "a create may have been sent": the first attempt records nothing (to spare
  // every saga a heartbeat), nor does a look that failed, nor a worker from before this rule.
  const maximum = retryPolicy?.maximumAttempts;
  const unlimited = retryPolicy !== undefined && (maximum === undefined || maximum <= 0);
  return unlimited || (maximum !== undefined && attempt < maximum) ? 'look-only' : 'look-then-create';
}

/** Records that this retry sends the create, so the next one knows to look first. */
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
