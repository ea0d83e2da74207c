/** The saga's activity stubs with their timeouts and retry policies (activities as types only). */
import {
  proxyActivities,
  workflowInfo,
  type ActivityFunctionWithOptions,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { AsUser, ConnectActivities, IssueAuthCodesResult, Resealed } from '../common/activity-types.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import type { ReissueAuthUrlResult } from '../common/messages.js';
import { rateLimitAware, throughRateLimits, withAttemptsLeft } from './rate-limit.js';

// Listed although the activities throw them non-retryable: a slip there must not cost ten retries.
const NON_RETRYABLE_TRAY_TYPES = [
  TRAY_FAILURE_TYPES.validation,
  TRAY_FAILURE_TYPES.notFound,
  TRAY_FAILURE_TYPES.forbidden,
  TRAY_FAILURE_TYPES.permanent,
];
// A rate-limited answer ends the run at once, to be waited out and run again without using up an
// attempt (workflows/rate-limit.ts). The compensation stub retries it instead: it has no limit.
const STOP_RETRYING = [...NON_RETRYABLE_TRAY_TYPES, TRAY_FAILURE_TYPES.rateLimited];

/**
 * Task-queue priority keys (1 goes first): what undoes or finishes a saga whose user already acted
 * goes ahead, and before the URLs a later step ahead of an earlier one, so under a burst the sagas
 * that started first get their URLs first (docs/design.md#priority).
 */
export const PRIORITY = {
  afterAuth: 1,
  compensation: 1,
  urls: 2,
  token: 3,
  createUser: 4,
  findUser: 5,
} as const;

const priority = (priorityKey: number) => ({ priority: { priorityKey } });

const FORWARD_ATTEMPTS = 10;
const forwardStubs = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  ...priority(PRIORITY.findUser),
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: FORWARD_ATTEMPTS,
    nonRetryableErrorTypes: STOP_RETRYING,
  },
});

/** Forward steps: transient Tray errors retry with backoff, permanent ones fail at once. */
export const forward = rateLimitAware(forwardStubs, FORWARD_ATTEMPTS);

/**
 * A retried create looks in an attempt of its own before it creates again (activities/retried-create.ts),
 * so a create step gets ten creates and a look before each retry, as many creates as the other steps'
 * attempts.
 */
export const CREATE_ATTEMPTS = 2 * FORWARD_ATTEMPTS - 1;

/**
 * True in a run an operator made with `temporal workflow reset` (or the Web UI's Reset): it keeps the
 * history only up to the reset point, so a create it runs again may already have been sent by a run
 * before it, whose instance would otherwise be left behind beside a second one.
 */
function isResetRun(): boolean {
  const { runId, originalExecutionRunId } = workflowInfo();
  return originalExecutionRunId !== runId;
}

/**
 * A create through rate limits: a run after one whose attempts failed for real, or any run of a
 * reset saga, says it was retried, so it looks for the user or instance those attempts (or the runs
 * before the reset) may have made before creating another. It also names the run that scheduled it:
 * a create still pending at a reset goes on in the new run, which looks first too. Only the input
 * changes: no patch needed.
 */
export function createStep<K extends 'createUser' | 'createInstance'>(
  name: K,
  options: ActivityOptions,
  input: Parameters<ConnectActivities[K]>[0],
): ReturnType<ConnectActivities[K]> {
  const stub = forwardStubs[name] as unknown as ActivityFunctionWithOptions<
    (arg: typeof input) => ReturnType<ConnectActivities[K]>
  >;
  const reset = isResetRun();
  const scheduled = { ...input, scheduledByRun: workflowInfo().runId };
  return throughRateLimits(CREATE_ATTEMPTS, (round) =>
    stub.executeWithOptions(withAttemptsLeft(options, round), [
      reset || round.realFailures > 0 ? { ...scheduled, retried: true } : scheduled,
    ]),
  ) as ReturnType<ConnectActivities[K]>;
}

export interface InstanceRef extends AsUser {
  solutionInstanceId: string;
}

/**
 * Hands a fresh seal from an activity whose seal did not open (a rotated master token, an expiry) to
 * the inputs of the later ones, so a saga spends one `authorize` on it rather than one per worker.
 * Only inputs change: replays of histories with or without such seals issue the same commands.
 */
export function adoptSeal(result: Resealed | null | undefined, holders: readonly AsUser[]): void {
  const sealed = result?.sealedToken;
  if (typeof sealed !== 'string') return;
  for (const holder of holders) holder.sealedToken = sealed;
}

/** One URL per requested id, in order: the activity answers that or fails. */
export type UrlsFor<Ids extends readonly string[]> = { [K in keyof Ids]: ReissueAuthUrlResult };

/** Fresh codes and dialog URLs for `externalAuthIds` in one activity (one Tray request), typed per id. */
export function issueAuthUrls<const Ids extends readonly string[]>(
  summary: string,
  { userId, solutionInstanceId }: InstanceRef,
  externalAuthIds: Ids,
): Promise<UrlsFor<Ids>> {
  return forward.issueAuthUrls.executeWithOptions({ summary, ...priority(PRIORITY.urls) }, [
    { userId, solutionInstanceId, externalAuthIds: [...externalAuthIds] },
  ]) as Promise<UrlsFor<Ids>>;
}

/** One code per slot; needs only the user, so it runs beside the create. */
export function issueAuthCodes(userId: string, externalAuthIds: string[]): Promise<IssueAuthCodesResult> {
  return forward.issueAuthCodes.executeWithOptions(
    { summary: `issue ${externalAuthIds.length} auth code(s)`, ...priority(PRIORITY.urls) },
    [{ userId, externalAuthIds }],
  );
}

/** Per-call options of the forward steps: their summary and their place in the queue. */
export function forwardStep(summary: string, priorityKey: number) {
  return { summary, ...priority(priorityKey) };
}

/** After the user authorised: giving up throws their work away, so Tray trouble is waited out longer. */
export const afterAuth = rateLimitAware(
  proxyActivities<ConnectActivities>({
    startToCloseTimeout: '30s',
    ...priority(PRIORITY.afterAuth),
    scheduleToCloseTimeout: '30m',
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      nonRetryableErrorTypes: STOP_RETRYING,
    },
  }),
  undefined,
);

/** Best-effort clean-up after success: a few quick tries, then the caller logs and moves on. */
const CLEANUP_ATTEMPTS = 5;
export const cleanup = rateLimitAware(
  proxyActivities<ConnectActivities>({
    startToCloseTimeout: '30s',
    ...priority(PRIORITY.compensation),
    scheduleToCloseTimeout: '3m',
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      maximumAttempts: CLEANUP_ATTEMPTS,
      nonRetryableErrorTypes: STOP_RETRYING,
    },
  }),
  CLEANUP_ATTEMPTS,
);

/** Compensation: deleting what the saga created must eventually happen, so retries never give up. */
export const compensation = proxyActivities<ConnectActivities>({
  startToCloseTimeout: '30s',
  ...priority(PRIORITY.compensation),
  // No maximumAttempts: unlimited.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
