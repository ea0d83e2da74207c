/**
 * The saga's activity stubs and their timeouts and retry policies. Activities are imported as types
 * only: the workflow sandbox never loads their code.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ConnectActivities } from '../common/activity-types.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';

// The activities already throw these as non-retryable; listing them keeps a mistake there from
// turning a permanent error into ten retries.
const NON_RETRYABLE_TRAY_TYPES = [
  TRAY_FAILURE_TYPES.validation,
  TRAY_FAILURE_TYPES.notFound,
  TRAY_FAILURE_TYPES.forbidden,
  TRAY_FAILURE_TYPES.permanent,
];

/** Forward steps: transient Tray errors retry with backoff, permanent ones fail at once. */
export const forward = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_TRAY_TYPES,
  },
});

/**
 * Steps after the end user has authorised: giving up here throws their work away (compensation
 * removes the instance), so transient Tray trouble is waited out for longer than before the auths.
 */
export const afterAuth = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '30m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: NON_RETRYABLE_TRAY_TYPES,
  },
});

/** Best-effort clean-up once the saga has succeeded: a few quick tries, then the caller logs and moves on. */
export const cleanup = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '3m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_TRAY_TYPES,
  },
});

/** Compensation: deleting what the saga created must eventually happen, so retries never give up. */
export const compensation = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  // No maximumAttempts: unlimited.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
