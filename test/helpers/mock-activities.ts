/**
 * An in-memory fake of the saga's activities for workflow tests: it records every call and can be
 * told to fail given calls, so a test drives the saga through each branch without Tray.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectActivities } from '../../common/activity-types.js';
import { TRAY_FAILURE_TYPES } from '../../common/activity-types.js';

export type ActivityName = keyof ConnectActivities;

export interface RecordedCall {
  name: ActivityName;
  input: unknown;
  /** Date.now() when the call ran; under the time-skipping server this is skipped time too. */
  at: number;
}

export interface MockOptions {
  userId?: string;
  /** findUser finds the user (a known user); by default it finds none and createUser creates it. */
  knownUser?: boolean;
  solutionInstanceId?: string;
  /** What removeStrayInstances reports it removed. */
  strays?: string[];
  /** authIds verifyAuths reports as not the user's. */
  foreignAuthIds?: string[];
  /** Fresh seals the user-token activities after the auth wait hand back, as when a seal did not open. */
  resealed?: Partial<Record<'verifyAuths' | 'attachAuths' | 'enableInstance', string>>;
  /**
   * Failures thrown by the next calls of an activity, one per call, before it starts succeeding; a
   * function is called when its call runs (see rateLimitedError).
   */
  failures?: Partial<Record<ActivityName, (Error | (() => Error))[]>>;
  /**
   * Calls of an activity wait for this promise before answering, to hold the saga in a step. Read when
   * a call runs, so a test may set it mid-saga to hold only the calls from then on.
   */
  holds?: Partial<Record<ActivityName, Promise<void>>>;
}

export interface MockActivities {
  activities: ConnectActivities;
  calls: RecordedCall[];
  /** Inputs of every call of one activity, in order. */
  inputsOf<N extends ActivityName>(name: N): Parameters<ConnectActivities[N]>[0][];
}

/** A transient Tray error: the activity retry policy retries it. */
export function transientError(message = 'Tray answered 503'): ApplicationFailure {
  return ApplicationFailure.retryable(message, TRAY_FAILURE_TYPES.transient);
}

/**
 * Tray's rate-limited answer as the Tray client reports it, made when the call runs so it carries that
 * call's attempt; `retryAfterMs` as if Tray sent `Retry-After`.
 */
export function rateLimitedError(retryAfterMs?: number): () => ApplicationFailure {
  return () =>
    ApplicationFailure.create({
      type: TRAY_FAILURE_TYPES.rateLimited,
      message: 'Tray CreateSolutionInstance: rate limit exceeded (HTTP 429)',
      details: [
        {
          operation: 'CreateSolutionInstance',
          code: 'rate_limited',
          httpStatus: 429,
          attempt: Context.current().info.attempt,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        },
      ],
      ...(retryAfterMs !== undefined ? { nextRetryDelay: retryAfterMs } : {}),
    });
}

/** A permanent Tray error of `type`: fails the activity at once. */
export function permanentError(
  type: string = TRAY_FAILURE_TYPES.validation,
  message = 'Tray rejected the request',
): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** Builds a fresh fake; each test gets its own so call records never mix. */
export function createMockActivities(options: MockOptions = {}): MockActivities {
  const userId = options.userId ?? 'user-1';
  const solutionInstanceId = options.solutionInstanceId ?? 'instance-1';
  const foreign = new Set(options.foreignAuthIds ?? []);
  const pendingFailures = new Map<ActivityName, (Error | (() => Error))[]>(
    Object.entries(options.failures ?? {}).map(([name, errors]) => [
      name as ActivityName,
      [...(errors ?? [])],
    ]),
  );
  const calls: RecordedCall[] = [];
  let codeCounter = 0;

  async function record(name: ActivityName, input: unknown): Promise<void> {
    calls.push({ name, input, at: Date.now() });
    await options.holds?.[name];
    const failure = pendingFailures.get(name)?.shift();
    if (failure) throw typeof failure === 'function' ? failure() : failure;
  }

  const activities: ConnectActivities = {
    async findUser(input) {
      await record('findUser', input);
      return options.knownUser ? { userId } : null;
    },
    async createUser(input) {
      await record('createUser', input);
      return { userId, created: true };
    },
    async prepareUserToken(input) {
      await record('prepareUserToken', input);
      return { sealedToken: `sealed-for-${input.userId}` };
    },
    async createInstance(input) {
      await record('createInstance', input);
      // As the real one: any attempt after the first may have left a stray behind.
      return {
        solutionInstanceId,
        adopted: false,
        retried: Context.current().info.attempt > 1 || input.retried === true,
      };
    },
    async issueAuthCodes(input) {
      await record('issueAuthCodes', input);
      return {
        dialog: { baseUrl: 'https://dialog.example', embeddedId: 'embedded-1' },
        codes: input.externalAuthIds.map((externalAuthId) => ({
          externalAuthId,
          code: `code-${++codeCounter}`,
        })),
      };
    },
    async issueAuthUrls(input) {
      await record('issueAuthUrls', input);
      return input.externalAuthIds.map((externalAuthId) => ({
        externalAuthId,
        url: `https://dialog.example/auth?code=code-${++codeCounter}&slot=${externalAuthId}`,
      }));
    },
    async verifyAuths(input) {
      await record('verifyAuths', input);
      const sealedToken = options.resealed?.verifyAuths;
      return { foreign: input.authIds.filter((id) => foreign.has(id)), ...(sealedToken && { sealedToken }) };
    },
    async attachAuths(input) {
      await record('attachAuths', input);
      const sealedToken = options.resealed?.attachAuths;
      return sealedToken ? { sealedToken } : undefined;
    },
    async enableInstance(input) {
      await record('enableInstance', input);
      const sealedToken = options.resealed?.enableInstance;
      return sealedToken ? { sealedToken } : undefined;
    },
    async removeInstance(input) {
      await record('removeInstance', input);
      return { removed: [input.solutionInstanceId ?? solutionInstanceId] };
    },
    async removeStrayInstances(input) {
      await record('removeStrayInstances', input);
      return { removed: options.strays ?? [] };
    },
  };

  return {
    activities,
    calls,
    inputsOf: (name) => calls.filter((c) => c.name === name).map((c) => c.input) as never,
  };
}
