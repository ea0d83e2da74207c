/**
 * The activities' interface as the workflow sees it; no token crosses it. Each activity spends one
 * Tray request in the common case, because the rate limit meters activities (docs/design.md).
 */
import type { AuthDialog } from './auth-url.js';
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
  /** An earlier run of this step may have sent a create: look for the user first. Absent in older histories. */
  retried?: boolean;
  /** The workflow run that scheduled the create (see `CreateInstanceInput`). Absent in older histories. */
  scheduledByRun?: string;
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
 * A user token sealed for this user by the workers (AES-256-GCM under a key derived from the master
 * token, with an expiry): the only form in which a token may travel through history (docs/design.md).
 */
export type SealedUserToken = string;

export interface PrepareUserTokenResult {
  sealedToken: SealedUserToken;
}

/** Who a user-token activity acts as; without `sealedToken` (older histories) the worker mints or caches. */
export interface AsUser {
  userId: string;
  sealedToken?: SealedUserToken;
}

/**
 * The saga's own instances: this owner, solution and name, created at or after `notBefore` (the
 * saga's start, ISO). The field names are in recorded histories: do not rename them.
 */
export interface InstanceOwnerKey extends AsUser {
  solutionId: string;
  instanceName: string;
  notBefore: string;
}

export interface CreateInstanceInput extends InstanceOwnerKey {
  configValues?: ConfigValueInput[];
  /**
   * An earlier run of this step may have sent a create (it failed for real before Tray rate-limited
   * it): look for the instance before creating, as a retried attempt does. Absent in older histories.
   */
  retried?: boolean;
  /**
   * The workflow run that scheduled the create. Run by another, it was pending when an operator
   * reset the saga, and the run the reset ended may have sent it already: look first. Absent in
   * older histories.
   */
  scheduledByRun?: string;
}
export interface CreateInstanceResult {
  solutionInstanceId: string;
  adopted: boolean;
  /** An earlier attempt's create may still land, to be removed later. Absent (false) in older histories. */
  retried?: boolean;
}

export interface IssueAuthCodesInput {
  userId: string;
  externalAuthIds: string[];
}
/** One-time codes per slot, with the dialog host they are for: the workflow assembles the URLs. */
export interface IssueAuthCodesResult {
  dialog: AuthDialog;
  codes: { externalAuthId: string; code: string }[];
}

export interface IssueAuthUrlsInput {
  userId: string;
  solutionInstanceId: string;
  externalAuthIds: string[];
}

export interface VerifyAuthsInput extends AsUser {
  authIds: string[];
}
/**
 * From a user-token activity whose seal did not open (a rotated master token, an expiry): the token
 * it used, sealed afresh, which the workflow passes on to later activities. Absent in older histories.
 */
export interface Resealed {
  sealedToken?: SealedUserToken;
}

export interface VerifyAuthsResult extends Resealed {
  foreign: string[];
}

export interface AttachAuthsInput extends AsUser {
  solutionInstanceId: string;
  authValues: AuthValue[];
}

export interface EnableInstanceInput extends AsUser {
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
  /**
   * Mints the user token (one `authorize`) and answers it sealed, so the user-token activities after
   * it spend one request each on any worker. Older histories recorded no result (void).
   */
  prepareUserToken(input: PrepareUserTokenInput): Promise<PrepareUserTokenResult>;
  /** On a retry, first adopts the instance an earlier attempt created and lost the answer of. */
  createInstance(input: CreateInstanceInput): Promise<CreateInstanceResult>;
  /** Needs no instance, so it runs beside the create; one request for every slot. */
  issueAuthCodes(input: IssueAuthCodesInput): Promise<IssueAuthCodesResult>;
  issueAuthUrls(input: IssueAuthUrlsInput): Promise<ReissueAuthUrlResult[]>;
  /** Which of the authIds are not the user's. */
  verifyAuths(input: VerifyAuthsInput): Promise<VerifyAuthsResult>;
  attachAuths(input: AttachAuthsInput): Promise<Resealed | undefined>;
  enableInstance(input: EnableInstanceInput): Promise<Resealed | undefined>;
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
