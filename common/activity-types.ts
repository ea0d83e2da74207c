/**
 * The activities' interface as the workflow sees it; no token crosses it. Each activity spends one
 * Tray request in the common case, because the rate limit meters activities (docs/design.md).
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
  /** Always true today; false in older histories, when another saga created the user first. */
  created: boolean;
}

export interface PrepareUserTokenInput {
  userId: string;
}

/**
 * The saga's own instances: this owner, solution and name, created at or after `notBefore` (the
 * saga's start, ISO). The field names are in recorded histories: do not rename them.
 */
export interface InstanceOwnerKey {
  userId: string;
  solutionId: string;
  instanceName: string;
  notBefore: string;
}

export interface CreateInstanceInput extends InstanceOwnerKey {
  configValues?: ConfigValueInput[];
}
export interface CreateInstanceResult {
  solutionInstanceId: string;
  adopted: boolean;
  /** An earlier attempt's create may still land, to be removed later. Absent (false) in older histories. */
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

export interface RemoveInstanceInput extends InstanceOwnerKey {
  /** Unknown when no create answered: then the saga's instances are looked up. */
  solutionInstanceId?: string;
  /** A retried create may have made more than one. */
  includeStrays?: boolean;
  /** Only instances created by this ISO time are the saga's, so later ones are safe. */
  notAfter?: string;
}

export interface RemoveStrayInstancesInput extends InstanceOwnerKey {
  keep: string;
  notAfter: string;
}
export interface RemoveInstanceResult {
  removed: string[];
}

export interface ConnectActivities {
  /** Several users for one externalUserId (a Tray that made a duplicate): always the smallest id, logged. */
  findUser(input: FindUserInput): Promise<FindUserResult | null>;
  /** One request; any failure (another saga may have won the race) sends the saga to findUser again. */
  createUser(input: CreateUserInput): Promise<CreateUserResult>;
  /** Mints the user token into this worker's cache, so the activities after it spend one request each. */
  prepareUserToken(input: PrepareUserTokenInput): Promise<void>;
  /** On a retry, first adopts the instance an earlier attempt created and lost the answer of. */
  createInstance(input: CreateInstanceInput): Promise<CreateInstanceResult>;
  issueAuthUrls(input: IssueAuthUrlsInput): Promise<ReissueAuthUrlResult[]>;
  /** Which of the authIds are not the user's. */
  verifyAuths(input: VerifyAuthsInput): Promise<VerifyAuthsResult>;
  attachAuths(input: AttachAuthsInput): Promise<void>;
  enableInstance(input: EnableInstanceInput): Promise<void>;
  /** "Already gone" counts as done. */
  removeInstance(input: RemoveInstanceInput): Promise<RemoveInstanceResult>;
  /** After a retried create: the saga's instances but `keep` (an earlier attempt's late create). */
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

/** A detail createInstance adds to a failure when Tray refused its only request: no instance exists. */
export const CREATED_NOTHING = { createdNothing: true } as const;

/** True for a failure that carries CREATED_NOTHING among its details. */
export function createdNothing(details: readonly unknown[] | null | undefined): boolean {
  return (details ?? []).some(
    (d) => typeof d === 'object' && d !== null && (d as { createdNothing?: unknown }).createdNothing === true,
  );
}
