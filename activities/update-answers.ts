/**
 * What Tray's answers to the instance's updates and to its removal say, beyond their errors. Tray
 * documents no answer for an update or removal that did nothing: a payload of `null` with no errors
 * (as a GraphQL server may answer an unknown id) or an enable that answers `enabled: false` is taken
 * as a refusal, so the caller looks at the instance before it counts the step as done.
 */
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { failure } from './tray-errors.js';

/** The part of an update's answer the checks read. */
export interface UpdateAnswer {
  updateSolutionInstance?: { solutionInstance?: { enabled?: unknown } | null } | null;
}

/** A refusal Tray sent as an answer: HTTP 200, so the instance's state decides (isRefusal). */
function refusal(type: string, operation: string, code: string, what: string, nonRetryable: boolean) {
  return failure(type, `Tray ${operation}: ${what}`, nonRetryable, { operation, code, httpStatus: 200 });
}

/** Throws unless the update answered with the instance (not found, as Tray would say of an unknown id). */
export function checkUpdated(data: UpdateAnswer | undefined, operation: string): { enabled?: unknown } {
  const instance = data?.updateSolutionInstance?.solutionInstance;
  if (instance) return instance;
  throw refusal(TRAY_FAILURE_TYPES.notFound, operation, 'no_instance', 'answered without the instance', true);
}

/** Throws unless the enable answered with the instance enabled; `enabled: false` is tried again. */
export function checkEnabled(data: UpdateAnswer | undefined): void {
  const operation = 'EnableInstance';
  if (checkUpdated(data, operation).enabled !== false) return;
  throw refusal(TRAY_FAILURE_TYPES.transient, operation, 'not_enabled', 'answered enabled: false', false);
}

/** Throws unless the removal answered with its payload; the caller then looks whether it is gone. */
export function checkRemoved(data: { removeSolutionInstance?: unknown } | undefined): void {
  if (data?.removeSolutionInstance !== undefined && data.removeSolutionInstance !== null) return;
  throw refusal(
    TRAY_FAILURE_TYPES.notFound,
    'RemoveInstance',
    'no_result',
    'answered without a result',
    true,
  );
}
