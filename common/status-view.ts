/**
 * The saga's status as the outside sees it without a worker: the memo (written by the workflow, read
 * by the API from describe; docs/design.md), and the step groups both decide by. Workflow-safe.
 */
import {
  STEPS,
  type AuthValue,
  type ConnectInput,
  type ConnectionStatus,
  type ConnectStep,
  type StatusError,
} from './messages.js';

export const MEMO_KEY = 'connect';
/** A memo key the saga never changes: the id of the API request that started the run (201 vs 200). */
export const START_REQUEST_MEMO_KEY = 'startRequest';

/** The memo under `MEMO_KEY`: written by the API at start, then upserted by the saga as it moves. */
export interface ConnectMemo {
  externalUserId: string;
  solutionId: string;
  authSlots: string[];
  step: ConnectStep;
  completedSlots: string[];
  userId?: string;
  solutionInstanceId?: string;
  deadline?: string;
  /** From attach on: the authId attached per slot, so a redelivery of it is told apart (202, not 409). */
  attached?: AuthValue[];
  /** Each completed slot's authId (the last one wins), as the status shows it. Absent in older runs. */
  authIds?: AuthValue[];
  /**
   * authIds a slot took and no longer shows (a later one replaced it, or it was found foreign), a
   * few per slot: a late redelivery of one finds this run. Absent when none, and in older runs.
   */
  replacedAuthIds?: AuthValue[];
  /**
   * Each slot's `lastError` (why the saga rejected its last authId), only while some slot has one, so
   * a status built without a worker shows it too. Absent when none, and in older runs.
   */
  lastErrors?: SlotError[];
  /**
   * Once `failed` or `timed_out`: why, as the status shows it, so a saga still finishing its handlers
   * reads with its error while no worker answers. Absent in runs that ended before it was kept.
   */
  error?: StatusError;
}

/** Steps before the auth URLs exist: POST keeps waiting while the saga is in one of them. */
export const STEPS_BEFORE_URLS: readonly ConnectStep[] = [
  'ensuring_user',
  'creating_instance',
  'issuing_auth_urls',
];

/** Every slot has a URL (or is done), or the saga is past issuing them: what POST waits for. */
export function hasAuthUrls(status: Pick<ConnectionStatus, 'step' | 'authSlots'>): boolean {
  if (!STEPS_BEFORE_URLS.includes(status.step)) return true;
  return status.authSlots.length > 0 && status.authSlots.every((s) => s.url || s.state === 'completed');
}

/** Steps the saga does not leave (it may still tidy up after `completed`). */
export const TERMINAL_STEPS: readonly ConnectStep[] = ['completed', 'failed', 'timed_out', 'cancelled'];

/** Steps from attach on, closing ones included: an authCompleted signal no longer changes anything. */
export const PAST_ATTACH_STEPS: readonly ConnectStep[] = STEPS.slice(STEPS.indexOf('attaching_auths'));

/** True for one of the saga's step names; a search attribute or memo read back is untyped. */
export function isStep(value: unknown): value is ConnectStep {
  return typeof value === 'string' && (STEPS as readonly string[]).includes(value);
}

/** A slot's `lastError` as the memo keeps it. */
export interface SlotError {
  externalId: string;
  message: string;
}

/** Keys always in the same order, so an unchanged status encodes the same. */
export function encodeMemo(view: Readonly<ConnectMemo>): ConnectMemo {
  return {
    externalUserId: view.externalUserId,
    solutionId: view.solutionId,
    authSlots: [...view.authSlots],
    step: view.step,
    completedSlots: [...view.completedSlots],
    ...(view.userId !== undefined ? { userId: view.userId } : {}),
    ...(view.solutionInstanceId !== undefined ? { solutionInstanceId: view.solutionInstanceId } : {}),
    ...(view.deadline !== undefined ? { deadline: view.deadline } : {}),
    ...(view.attached !== undefined ? { attached: pairs(view.attached) } : {}),
    ...(view.authIds !== undefined ? { authIds: pairs(view.authIds) } : {}),
    ...(view.replacedAuthIds !== undefined ? { replacedAuthIds: pairs(view.replacedAuthIds) } : {}),
    ...(view.lastErrors !== undefined
      ? { lastErrors: view.lastErrors.map(({ externalId, message }) => ({ externalId, message })) }
      : {}),
    ...(view.error !== undefined ? { error: { type: view.error.type, message: view.error.message } } : {}),
  };
}

/** Only the two fields, in a fixed order, whatever else the values carry. */
function pairs(values: readonly AuthValue[]): AuthValue[] {
  return values.map(({ externalId, authId }) => ({ externalId, authId }));
}

/** True when `authId` is what the saga attached for slot `externalAuthId` (a redelivery). */
export function isAttached(memo: ConnectMemo | undefined, externalAuthId: string, authId: string): boolean {
  return memo?.attached?.some((a) => a.externalId === externalAuthId && a.authId === authId) ?? false;
}

/** Written at start, so the API can answer from describe before any worker ran. */
export function initialMemo(
  input: Pick<ConnectInput, 'externalUserId' | 'solutionId' | 'authSlots'>,
): ConnectMemo {
  return encodeMemo({
    externalUserId: input.externalUserId,
    solutionId: input.solutionId,
    authSlots: input.authSlots,
    step: 'ensuring_user',
    completedSlots: [],
    authIds: [],
  });
}

/** Undefined when absent or malformed. */
export function decodeMemo(raw: unknown): ConnectMemo | undefined {
  const memo = raw as Partial<ConnectMemo> | undefined;
  if (!memo || typeof memo !== 'object' || !Array.isArray(memo.authSlots)) return undefined;
  const { error: rawError, ...rest } = memo;
  const error = decodeError(rawError);
  return {
    ...rest,
    externalUserId: String(memo.externalUserId ?? ''),
    solutionId: String(memo.solutionId ?? ''),
    authSlots: memo.authSlots.map(String),
    completedSlots: Array.isArray(memo.completedSlots) ? memo.completedSlots.map(String) : [],
    step: isStep(memo.step) ? memo.step : 'ensuring_user',
    ...(Array.isArray(memo.attached) ? { attached: decodePairs(memo.attached) } : {}),
    ...(Array.isArray(memo.authIds) ? { authIds: decodePairs(memo.authIds) } : {}),
    ...(Array.isArray(memo.replacedAuthIds) ? { replacedAuthIds: decodePairs(memo.replacedAuthIds) } : {}),
    ...(Array.isArray(memo.lastErrors) ? { lastErrors: decodeSlotErrors(memo.lastErrors) } : {}),
    ...(error ? { error } : {}),
  };
}

function decodeError(raw: unknown): StatusError | undefined {
  const error = raw as Partial<StatusError> | null | undefined;
  if (!error || typeof error.type !== 'string' || typeof error.message !== 'string') return undefined;
  return { type: error.type, message: error.message };
}

function decodeSlotErrors(raw: unknown[]): SlotError[] {
  return raw.map((e) => {
    const error = e as Partial<SlotError> | null | undefined;
    return { externalId: String(error?.externalId), message: String(error?.message) };
  });
}

function decodePairs(raw: unknown[]): AuthValue[] {
  return raw.map((a) => {
    const pair = a as Partial<AuthValue> | null | undefined;
    return { externalId: String(pair?.externalId), authId: String(pair?.authId) };
  });
}
