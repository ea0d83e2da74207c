/**
 * The saga's contract, shared by the workflow, the activities, the worker, the API and the tests:
 * names, payload types, message definitions and search attributes. Workflow-safe.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const WORKFLOW_TYPE = 'connectIntegration';
export const DEFAULT_TASK_QUEUE = 'connect-integration';

/** The workflow id, which the API also hands out as the `connectionId`. */
export function connectionIdFor(externalUserId: string, solutionId: string): string {
  return `connect:${externalUserId}:${solutionId}`;
}

/** Limits of the input (docs/design.md). */
export const LIMITS = { maxIdLength: 200, minSlots: 1, maxSlots: 20 } as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A config slot value; `value` is any JSON value (sent to Tray JSON-encoded, as its `Json` scalar wants). */
export interface ConfigValueInput {
  externalId: string;
  value: JsonValue;
}

export interface ConnectInput {
  externalUserId: string;
  userName: string;
  solutionId: string;
  instanceName?: string;
  /** externalAuthIds of the solution's auth slots, 1..20, unique. */
  authSlots: string[];
  configValues?: ConfigValueInput[];
  /** Duration string (`90s`, `15m`, `24h`, `7d`), 1s..30d; default `24h`. */
  authTimeout?: string;
}

export interface AuthValue {
  externalId: string;
  authId: string;
}

export interface ConnectResult {
  userId: string;
  solutionInstanceId: string;
  authValues: AuthValue[];
  enabled: true;
}

export const STEPS = [
  'ensuring_user',
  'creating_instance',
  'issuing_auth_urls',
  'awaiting_auth',
  'attaching_auths',
  'waiting_before_enable',
  'enabling',
  'completed',
  'compensating',
  'failed',
  'timed_out',
  'cancelled',
] as const;
export type ConnectStep = (typeof STEPS)[number];

export interface AuthSlotStatus {
  externalAuthId: string;
  state: 'pending' | 'completed';
  url?: string;
  authId?: string;
  lastError?: string;
}

export interface StatusError {
  type: string;
  message: string;
}

/** What the `status` query and the API answer. */
export interface ConnectionStatus {
  connectionId: string;
  runId: string;
  step: ConnectStep;
  externalUserId: string;
  solutionId: string;
  userId?: string;
  solutionInstanceId?: string;
  authSlots: AuthSlotStatus[];
  /** ISO 8601 time at which the auth wait times out (set from the awaiting step on). */
  deadline?: string;
  error?: StatusError;
}

export interface AuthCompletedPayload {
  externalAuthId: string;
  authId: string;
  /** The webhook's `webhook-id`; a second signal with the same eventId is a no-op. */
  eventId?: string;
}

export interface ReissueAuthUrlRequest {
  externalAuthId: string;
}

export interface ReissueAuthUrlResult {
  externalAuthId: string;
  url: string;
}

export const authCompletedSignal = defineSignal<[AuthCompletedPayload]>('authCompleted');
export const statusQuery = defineQuery<ConnectionStatus>('status');
export const reissueAuthUrlUpdate = defineUpdate<ReissueAuthUrlResult, [ReissueAuthUrlRequest]>(
  'reissueAuthUrl',
);
/**
 * Answers the status once every slot has a URL or the saga moved past issuing them; the API sends it
 * with the start (update-with-start), so POST waits for the URLs without polling. Needs no Tray request.
 */
export const waitForAuthUrlsUpdate = defineUpdate<WaitForAuthUrlsAnswer, [WaitForAuthUrlsRequest]>(
  'waitForAuthUrls',
);

/**
 * What a caller asks of `waitForAuthUrls`. `startRequest: true` asks the answer to name the request
 * that started the run; asked for, so an API from before it never sees a field it would pass on.
 */
export interface WaitForAuthUrlsRequest {
  startRequest?: boolean;
}

/**
 * The update's answer: the status, and when asked the id of the API request whose start made the run
 * (from the start's memo), so that request knows it created the saga without reading it back. Absent
 * when the run was started some other way, and from workers that predate it.
 */
export interface WaitForAuthUrlsAnswer extends ConnectionStatus {
  startRequest?: string;
}

/**
 * The id every POST gives its `waitForAuthUrls`: Temporal runs one update per id and run, so a POST
 * that comes while the saga is still before its URLs joins the wait already in the saga instead of
 * costing a workflow task, and a retrying partner adds nothing to the history. Later calls with it
 * get the answer stored when the URLs came out (the API then asks afresh, api/saga-start.ts).
 */
export const WAIT_FOR_AUTH_URLS_UPDATE_ID = 'wait-for-auth-urls';

/** ApplicationFailure types of the saga's own failures and refusals (Tray's are in activity-types). */
export const FAILURE_TYPES = {
  authTimeout: 'AuthTimeout',
  unknownSlot: 'UnknownSlot',
  slotCompleted: 'SlotCompleted',
  notAwaiting: 'NotAwaitingAuth',
  invalidInput: 'InvalidInput',
  /** The history neared Temporal's limits (a flood of signals): failed through compensation. */
  historyLimit: 'HistoryLimit',
  /** Every ownership check a saga may spend went to relayed authIds that were not the user's. */
  authCheckLimit: 'AuthCheckLimit',
  /** The saga has handed out as many reissued URLs as it may (refused by the validator). */
  reissueLimit: 'ReissueLimit',
} as const;

/**
 * The words of the saga's reissue refusals, which the API repeats when it answers one from the memo
 * (no worker), so both say the same.
 */
export const REISSUE_REFUSALS = {
  slotCompleted: (externalAuthId: string) => `auth slot ${externalAuthId} is already completed`,
  notAwaiting: (step: ConnectStep) => `the saga is not awaiting auths (step ${step})`,
} as const;

export const SEARCH_ATTRIBUTES = {
  externalUserId: defineSearchAttributeKey('TrayExternalUserId', SearchAttributeType.KEYWORD),
  solutionId: defineSearchAttributeKey('TraySolutionId', SearchAttributeType.KEYWORD),
  solutionInstanceId: defineSearchAttributeKey('TraySolutionInstanceId', SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey('ConnectStep', SearchAttributeType.KEYWORD),
} as const;

/** For registering the search attributes on a server. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SEARCH_ATTRIBUTES).map((key) => key.name);
