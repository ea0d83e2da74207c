/**
 * The activities' interface as the workflow sees it. `activities/` implements it through
 * `createActivities(deps)`; the workflow imports this file for types only.
 * No token ever crosses this interface: activities mint user tokens themselves.
 *
 * One Tray request per activity: the task queue's activity rate limit (TRAY_RATE_LIMIT_PER_SECOND,
 * all workers together) is what keeps Tray's request rate in bounds, and it meters activities, not
 * requests. So each activity sends at most one Tray request in the common case (one worker, its
 * token cache warm); an activity that needs two must be split. Only the uncommon paths may spend
 * more: a user-creation race, a token cache miss (another worker ran `prepareUserToken`, or the
 * cached token expired or was refused), a retry that first looks for what an earlier attempt made.
 */
import type { AuthValue, ConfigValueInput, ReissueAuthUrlResult } from './messages.js';

export interface FindUserInput {
  externalUserId: string;
}
export interface FindUserResult {
  userId: string;
}

export interface CreateUserInput {
  externalUserId: string;
  userName: string;
}
export interface CreateUserResult {
  userId: string;
  /** false when another saga created the user first and this one took the winner's. */
  created: boolean;
}

export interface PrepareUserTokenInput {
  userId: string;
}

export interface CreateInstanceInput {
  userId: string;
  solutionId: string;
  instanceName: string;
  configValues?: ConfigValueInput[];
  /**
   * ISO time the saga started. A retry adopts an existing instance with this owner, solution and
   * name only if it was created at or after this time (less a second for Tray's clock and timestamp
   * precision), so an earlier saga's instance is never taken over.
   */
  notBefore: string;
}
export interface CreateInstanceResult {
  solutionInstanceId: string;
  /** true when a retry found the instance an earlier attempt had created. */
  adopted: boolean;
  /**
   * true on any attempt after the first. An earlier attempt's create may still reach Tray after this
   * one answered (Tray has no idempotency key), so the saga later removes its other instances.
   * Absent from results recorded before the field existed, which count as false.
   */
  retried?: boolean;
}

export interface IssueAuthUrlsInput {
  userId: string;
  solutionInstanceId: string;
  externalAuthIds: string[];
}

export interface VerifyAuthsInput {
  userId: string;
  authIds: string[];
}
export interface VerifyAuthsResult {
  /** authIds that are not among the user's authentications. */
  foreign: string[];
}

export interface AttachAuthsInput {
  userId: string;
  solutionInstanceId: string;
  authValues: AuthValue[];
}

export interface EnableInstanceInput {
  userId: string;
  solutionInstanceId: string;
}

export interface RemoveInstanceInput {
  userId: string;
  /** Known when create answered; otherwise the instance is looked up as in `CreateInstanceInput`. */
  solutionInstanceId?: string;
  solutionId: string;
  instanceName: string;
  notBefore: string;
  /**
   * With a known id, also remove the saga's other instances (looked up as in `CreateInstanceInput`):
   * set when the create was retried and may have made more than one.
   */
  includeStrays?: boolean;
  /**
   * Whenever instances are looked up: only those created at or before this ISO time count as the
   * saga's, so an instance someone else makes later under the same owner, solution and name is safe.
   */
  notAfter?: string;
}

export interface RemoveStrayInstancesInput {
  userId: string;
  solutionId: string;
  instanceName: string;
  notBefore: string;
  /** The saga's instance, which stays. */
  keep: string;
  /** Only instances created at or before this ISO time are the saga's (see `RemoveInstanceInput`). */
  notAfter: string;
}
export interface RemoveInstanceResult {
  /** ids removed (empty when nothing was there: already gone, or never created). */
  removed: string[];
}

export interface ConnectActivities {
  /** One `users` look-up by externalUserId; null when Tray has no such user. */
  findUser(input: FindUserInput): Promise<FindUserResult | null>;
  /**
   * One `createExternalUser`. Race-safe: when Tray refuses it as a conflict (another saga created
   * the user since our look-up), one more look-up returns the winner's user.
   */
  createUser(input: CreateUserInput): Promise<CreateUserResult>;
  /**
   * Mints the user's token with one `authorize` into this worker's in-memory cache (no request when
   * it holds a fresh one), so the user-token activities after it spend one request each. The token
   * stays in the worker; the activities mint their own on a cache miss.
   */
  prepareUserToken(input: PrepareUserTokenInput): Promise<void>;
  /** createSolutionInstance; on a retry, first adopts the instance an earlier attempt created. */
  createInstance(input: CreateInstanceInput): Promise<CreateInstanceResult>;
  /** One authorization code and dialog URL per slot, all codes in one aliased request. */
  issueAuthUrls(input: IssueAuthUrlsInput): Promise<ReissueAuthUrlResult[]>;
  /** One `viewer.authentications` call: which of the authIds are not the user's. */
  verifyAuths(input: VerifyAuthsInput): Promise<VerifyAuthsResult>;
  /** One updateSolutionInstance with every authValue. */
  attachAuths(input: AttachAuthsInput): Promise<void>;
  /** updateSolutionInstance { enabled: true, errorOnEnablingWithMissingValues: true }. */
  enableInstance(input: EnableInstanceInput): Promise<void>;
  /** removeSolutionInstance; "already gone" counts as done. */
  removeInstance(input: RemoveInstanceInput): Promise<RemoveInstanceResult>;
  /**
   * After a retried create: one look-up of the saga's instances, then removeSolutionInstance for each
   * one but `keep` (a create an earlier attempt sent that reached Tray late).
   */
  removeStrayInstances(input: RemoveStrayInstancesInput): Promise<RemoveInstanceResult>;
}

/** ApplicationFailure types the activities throw. Transient ones retry; the rest are non-retryable. */
export const TRAY_FAILURE_TYPES = {
  transient: 'TrayTransientError',
  rateLimited: 'TrayRateLimited',
  validation: 'TrayValidationError',
  notFound: 'TrayNotFound',
  forbidden: 'TrayForbidden',
  permanent: 'TrayPermanentError',
} as const;
