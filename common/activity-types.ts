/**
 * The activities' interface as the workflow sees it. `activities/` implements it through
 * `createActivities(deps)`; the workflow imports this file for types only.
 * No token ever crosses this interface: activities mint user tokens themselves.
 */
import type { AuthValue, ConfigValueInput, ReissueAuthUrlResult } from './messages.js';

export interface EnsureUserInput {
  externalUserId: string;
  userName: string;
}
export interface EnsureUserResult {
  userId: string;
  created: boolean;
}

export interface CreateInstanceInput {
  userId: string;
  solutionId: string;
  instanceName: string;
  configValues?: ConfigValueInput[];
  /**
   * ISO time the saga started. A retry adopts an existing instance with this owner, solution and
   * name only if it was created at or after this time, so an older instance is never taken over.
   */
  notBefore: string;
}
export interface CreateInstanceResult {
  solutionInstanceId: string;
  /** true when a retry found the instance an earlier attempt had created. */
  adopted: boolean;
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
}
export interface RemoveInstanceResult {
  /** ids removed (empty when nothing was there: already gone, or never created). */
  removed: string[];
}

export interface ConnectActivities {
  /** Finds the Tray user by externalUserId, creating it if absent; race-safe. */
  ensureUser(input: EnsureUserInput): Promise<EnsureUserResult>;
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
