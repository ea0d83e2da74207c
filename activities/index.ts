/**
 * The saga's activities against Tray. Each one is short and, in the common case, spends one Tray
 * request (see common/activity-types.ts for why): `prepareUserToken` mints the user token into a
 * per-process cache, so the user-token activities after it find it there, and `authorize` runs once
 * per user per hour rather than once per call. No token ever leaves this module (results, errors, logs).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  TRAY_FAILURE_TYPES,
  type AttachAuthsInput,
  type ConnectActivities,
  type CreateInstanceInput,
  type CreateInstanceResult,
  type CreateUserInput,
  type CreateUserResult,
  type EnableInstanceInput,
  type FindUserInput,
  type FindUserResult,
  type IssueAuthUrlsInput,
  type PrepareUserTokenInput,
  type RemoveInstanceInput,
  type RemoveInstanceResult,
  type RemoveStrayInstancesInput,
  type VerifyAuthsInput,
  type VerifyAuthsResult,
} from '../common/activity-types.js';
import type { ReissueAuthUrlResult } from '../common/messages.js';
import {
  ATTACH_AUTHS,
  AUTHORIZE_USER,
  CREATE_INSTANCE,
  CREATE_USER,
  ENABLE_INSTANCE,
  FIND_INSTANCES,
  FIND_USER,
  LIST_AUTHENTICATIONS,
  REMOVE_INSTANCE,
  codeAlias,
  issueCodesDocument,
} from './documents.js';
import { UserTokenCache } from './token-cache.js';
import type { Variables } from 'graphql-request';
import { trayErrorDetails, type TrayAuth, type TrayClient } from './tray-client.js';

export { UserTokenCache } from './token-cache.js';
export { createTrayClient, REGION_ENDPOINTS, type TrayClient } from './tray-client.js';

export interface ActivityDeps {
  tray: TrayClient;
  /** The partner's embedded id, part of every dialog URL. */
  embeddedId: string;
  /** Dialog host: the region's `embedded.*` host, a white-label host, or the emulator. */
  dialogBaseUrl: string;
  /** Default: a fresh in-memory cache per `createActivities` call. */
  tokenCache?: UserTokenCache;
}

interface FindUserData {
  users: { edges: { node: { id: string; externalUserId: string | null } }[] };
}
interface InstanceNode {
  id: string;
  name: string;
  owner: string;
  created: string;
}
interface FindInstancesData {
  viewer: { solutionInstances: { edges: { node: InstanceNode }[] } };
}

/**
 * How much earlier than the saga's start Tray's `created` may read for an instance the saga made:
 * Tray's clock is not Temporal's and its timestamps may be whole seconds. It stays under the 2 s a
 * completed saga sleeps between create and enable, so an instance of an earlier saga of the same
 * connection (same owner, solution and name, created more than 2 s before this saga could start)
 * is still never taken for this saga's own.
 */
const CREATED_TOLERANCE_MS = 1000;

/** Milliseconds of an ISO time the workflow passed; a malformed one is a bug, never worth a retry. */
function isoTime(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw ApplicationFailure.nonRetryable(`${name} is not an ISO time: ${value}`, 'InvalidInput');
  return ms;
}

/** The attempt number of the running activity (1 outside an activity context). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** The running activity's cancellation signal, so a cancelled or timed-out activity stops its request. */
function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

function logInfo(message: string, attrs: Record<string, unknown>): void {
  try {
    Context.current().log.info(message, attrs);
  } catch {
    // outside an activity context there is nowhere useful to log
  }
}

/** Builds the activities the worker registers; see ConnectActivities for what each does. */
export function createActivities(deps: ActivityDeps): ConnectActivities {
  const { tray, embeddedId } = deps;
  const dialogBaseUrl = deps.dialogBaseUrl.replace(/\/+$/, '');
  const tokens = deps.tokenCache ?? new UserTokenCache();

  function send<T = unknown>(document: string, variables: Variables | undefined, auth: TrayAuth): Promise<T> {
    return tray.request<T>(document, variables, auth, { signal: cancellationSignal() });
  }

  async function mintToken(userId: string): Promise<string> {
    const data = await send<{ authorize: { accessToken: string } }>(AUTHORIZE_USER, { userId }, 'master');
    return data.authorize.accessToken;
  }

  /**
   * Runs `call` with the user's token. A cached token Tray refuses (expired early, revoked) is
   * dropped and the call is made once more with a freshly minted one.
   */
  async function asUser<T>(userId: string, call: (auth: TrayAuth) => Promise<T>): Promise<T> {
    const first = await tokens.obtain(userId, () => mintToken(userId));
    try {
      return await call({ userToken: first.token });
    } catch (error) {
      const code = trayErrorDetails(error)?.code;
      if (!first.cached || (code !== 'unauthorized' && code !== 'forbidden')) throw error;
      tokens.invalidate(userId, first.token);
      const fresh = await tokens.obtain(userId, () => mintToken(userId));
      return call({ userToken: fresh.token });
    }
  }

  async function findUserId(externalUserId: string): Promise<string | undefined> {
    const data = await send<FindUserData>(FIND_USER, { externalUserId }, 'master');
    return data.users.edges.find((edge) => edge.node.externalUserId === externalUserId)?.node.id;
  }

  /**
   * This saga's instances: same owner, solution and name, created at or after `notBefore` (less
   * CREATED_TOLERANCE_MS) and, when given, at or before `notAfter` (plus it); oldest first.
   */
  async function findOwnInstances(
    auth: TrayAuth,
    input: { userId: string; solutionId: string; instanceName: string; notBefore: string; notAfter?: string },
  ): Promise<InstanceNode[]> {
    const since = isoTime(input.notBefore, 'notBefore') - CREATED_TOLERANCE_MS;
    const until =
      input.notAfter === undefined ? Infinity : isoTime(input.notAfter, 'notAfter') + CREATED_TOLERANCE_MS;
    const data = await send<FindInstancesData>(
      FIND_INSTANCES,
      { owner: input.userId, solutionId: input.solutionId, name: input.instanceName },
      auth,
    );
    return data.viewer.solutionInstances.edges
      .map((edge) => edge.node)
      .filter(
        (node) =>
          node.owner === input.userId &&
          node.name === input.instanceName &&
          Date.parse(node.created) >= since &&
          Date.parse(node.created) <= until,
      )
      .sort((a, b) => Date.parse(a.created) - Date.parse(b.created));
  }

  /** Removes the instances `pick` names, each once; "already gone" and "no such user" count as done. */
  async function removeAll(
    userId: string,
    pick: (auth: TrayAuth) => Promise<string[]>,
  ): Promise<RemoveInstanceResult> {
    const removed = new Set<string>();
    try {
      await asUser(userId, async (auth) => {
        for (const id of new Set(await pick(auth))) {
          if (removed.has(id)) continue;
          try {
            await send(REMOVE_INSTANCE, { solutionInstanceId: id }, auth);
            removed.add(id);
          } catch (error) {
            // Already gone counts as removed: nothing is left to clean up.
            if (trayErrorDetails(error)?.code !== 'not_found') throw error;
          }
        }
      });
    } catch (error) {
      // A user Tray no longer knows has no instances left to remove.
      const details = trayErrorDetails(error);
      if (!(details?.code === 'not_found' && details.operation === 'AuthorizeUser')) throw error;
    }
    if (removed.size > 0) logInfo('Removed solution instance(s)', { removed: [...removed] });
    return { removed: [...removed] };
  }

  function dialogUrl(solutionInstanceId: string, externalAuthId: string, code: string): string {
    const path = [embeddedId, solutionInstanceId, externalAuthId].map(encodeURIComponent).join('/');
    return `${dialogBaseUrl}/external/auth/create/${path}?code=${encodeURIComponent(code)}`;
  }

  return {
    async findUser(input: FindUserInput): Promise<FindUserResult | null> {
      const userId = await findUserId(input.externalUserId);
      return userId === undefined ? null : { userId };
    },

    async createUser(input: CreateUserInput): Promise<CreateUserResult> {
      try {
        const data = await send<{ createExternalUser: { userId: string } }>(
          CREATE_USER,
          { externalUserId: input.externalUserId, name: input.userName },
          'master',
        );
        return { userId: data.createExternalUser.userId, created: true };
      } catch (error) {
        if (trayErrorDetails(error)?.code !== 'conflict') throw error;
        // Another saga created the same user since our look-up: take the winner's.
        const winner = await findUserId(input.externalUserId);
        if (winner !== undefined) return { userId: winner, created: false };
        throw ApplicationFailure.retryable(
          'Tray reported the user as existing but the look-up did not find it yet',
          TRAY_FAILURE_TYPES.transient,
        );
      }
    },

    async prepareUserToken(input: PrepareUserTokenInput): Promise<void> {
      await tokens.obtain(input.userId, () => mintToken(input.userId));
    },

    async createInstance(input: CreateInstanceInput): Promise<CreateInstanceResult> {
      const attempt = currentAttempt();
      return asUser(input.userId, async (auth) => {
        if (attempt > 1) {
          // An earlier attempt may have created the instance and lost the answer: adopt it.
          const [own] = await findOwnInstances(auth, input);
          if (own) {
            logInfo('Adopted the instance an earlier attempt created', {
              solutionInstanceId: own.id,
              attempt,
            });
            return { solutionInstanceId: own.id, adopted: true, retried: true };
          }
        }
        const configValues = input.configValues?.length
          ? input.configValues.map((slot) => ({
              externalId: slot.externalId,
              value: JSON.stringify(slot.value),
            }))
          : undefined;
        const data = await send<{ createSolutionInstance: { solutionInstance: { id: string } } }>(
          CREATE_INSTANCE,
          { solutionId: input.solutionId, instanceName: input.instanceName, configValues },
          auth,
        );
        return {
          solutionInstanceId: data.createSolutionInstance.solutionInstance.id,
          adopted: false,
          retried: attempt > 1,
        };
      });
    },

    async issueAuthUrls(input: IssueAuthUrlsInput): Promise<ReissueAuthUrlResult[]> {
      if (input.externalAuthIds.length === 0) return [];
      const data = await send<Record<string, { authorizationCode: string } | undefined>>(
        issueCodesDocument(input.externalAuthIds.length),
        { userId: input.userId },
        'master',
      );
      return input.externalAuthIds.map((externalAuthId, index) => {
        const code = data[codeAlias(index)]?.authorizationCode;
        if (!code) {
          throw ApplicationFailure.retryable(
            `Tray IssueAuthorizationCodes: no code for slot ${externalAuthId}`,
            TRAY_FAILURE_TYPES.transient,
          );
        }
        return { externalAuthId, url: dialogUrl(input.solutionInstanceId, externalAuthId, code) };
      });
    },

    async verifyAuths(input: VerifyAuthsInput): Promise<VerifyAuthsResult> {
      if (input.authIds.length === 0) return { foreign: [] };
      const data = await asUser(input.userId, (auth) =>
        send<{ viewer: { authentications: { edges: { node: { id: string } }[] } } }>(
          LIST_AUTHENTICATIONS,
          undefined,
          auth,
        ),
      );
      const own = new Set(data.viewer.authentications.edges.map((edge) => edge.node.id));
      return { foreign: [...new Set(input.authIds)].filter((authId) => !own.has(authId)) };
    },

    async attachAuths(input: AttachAuthsInput): Promise<void> {
      const authValues = input.authValues.map(({ externalId, authId }) => ({ externalId, authId }));
      await asUser(input.userId, (auth) =>
        send(ATTACH_AUTHS, { solutionInstanceId: input.solutionInstanceId, authValues }, auth),
      );
    },

    async enableInstance(input: EnableInstanceInput): Promise<void> {
      await asUser(input.userId, (auth) =>
        send(ENABLE_INSTANCE, { solutionInstanceId: input.solutionInstanceId }, auth),
      );
    },

    async removeInstance(input: RemoveInstanceInput): Promise<RemoveInstanceResult> {
      return removeAll(input.userId, async (auth) => {
        if (!input.solutionInstanceId) return (await findOwnInstances(auth, input)).map((node) => node.id);
        if (!input.includeStrays) return [input.solutionInstanceId];
        const own = await findOwnInstances(auth, input);
        return [input.solutionInstanceId, ...own.map((node) => node.id)];
      });
    },

    async removeStrayInstances(input: RemoveStrayInstancesInput): Promise<RemoveInstanceResult> {
      return removeAll(input.userId, async (auth) =>
        (await findOwnInstances(auth, input)).map((node) => node.id).filter((id) => id !== input.keep),
      );
    },
  };
}
