/**
 * The saga's activities against Tray, each a short use of the Tray session (tray-session.ts) and the
 * instance operations (instances.ts). In the common case each spends one Tray request
 * (docs/design.md). No token ever leaves the worker: not in results, errors or logs.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  CREATED_NOTHING,
  TRAY_FAILURE_TYPES,
  type ConnectActivities,
  type CreateInstanceInput,
  type CreateInstanceResult,
  type CreateUserInput,
  type CreateUserResult,
  type AsUser,
  type IssueAuthCodesInput,
  type Resealed,
  type SealedUserToken,
  type VerifyAuthsInput,
  type VerifyAuthsResult,
} from '../common/activity-types.js';
import { authDialogUrl } from '../common/auth-url.js';
import {
  ATTACH_AUTHS,
  CREATE_INSTANCE,
  CREATE_USER,
  ENABLE_INSTANCE,
  LIST_AUTHENTICATIONS,
  codeAlias,
  issueCodesDocument,
} from './documents.js';
import {
  createInstances,
  instanceState,
  isRefusal,
  lookupFailure,
  viewerOf,
  type Instances,
} from './instances.js';
import { createdId, foundNothing, planCreate, recordCreating } from './retried-create.js';
import { isTrayFailure } from './tray-errors.js';
import { checkEnabled, checkUpdated, type UpdateAnswer } from './update-answers.js';
import { UserTokenCache } from './token-cache.js';
import { TokenSealer } from './token-seal.js';
import type { TrayAuth, TrayClient } from './tray-client.js';
import { createTraySession, type TraySession } from './tray-session.js';
import { findUserId } from './users.js';

export { createTrayClient, type TrayClient } from './tray-client.js';

export interface ActivityDeps {
  tray: TrayClient;
  /** The partner's embedded id, part of every dialog URL. */
  embeddedId: string;
  /** Dialog host: the region's `embedded.*` host, a white-label host, or the emulator. */
  dialogBaseUrl: string;
  /** Default: a fresh in-memory cache per `createActivities` call. */
  tokenCache?: UserTokenCache;
  /**
   * The master token, from which the key of sealed user tokens derives, so every worker opens what any
   * other sealed. Default: a random key, so seals open only in this process.
   */
  sealSecret?: string;
  /** Default: a sealer over `sealSecret`. */
  tokenSealer?: TokenSealer;
}

/** Builds the activities the worker registers; see ConnectActivities for what each does. */
export function createActivities(deps: ActivityDeps): ConnectActivities {
  const sealer = deps.tokenSealer ?? new TokenSealer(deps.sealSecret);
  const session = createTraySession(deps.tray, deps.tokenCache ?? new UserTokenCache(), sealer);
  const instances = createInstances(session);
  const dialogs = { embeddedId: deps.embeddedId, baseUrl: deps.dialogBaseUrl.replace(/\/+$/, '') };
  return {
    findUser: async (input) => {
      const userId = await findUserId(session, input.externalUserId);
      return userId === undefined ? null : { userId };
    },
    createUser: (input) => createUser(session, input),
    prepareUserToken: async (input) => ({ sealedToken: await session.prepareToken(input.userId) }),
    createInstance: (input) => createInstance(session, instances, input),
    issueAuthCodes: async (input) => ({ dialog: dialogs, codes: await issueCodes(session, input) }),
    issueAuthUrls: async (input) =>
      (await issueCodes(session, input)).map(({ externalAuthId, code }) => ({
        externalAuthId,
        url: authDialogUrl(dialogs, input.solutionInstanceId, externalAuthId, code),
      })),
    verifyAuths: (input) => verifyAuths(session, input),
    attachAuths: async (input) => {
      const authValues = input.authValues.map(({ externalId, authId }) => ({ externalId, authId }));
      const { solutionInstanceId } = input;
      const [, resealed] = await resealing(session, input, (auth) =>
        unlessDone(
          async () =>
            checkUpdated(
              await session.send<UpdateAnswer>(ATTACH_AUTHS, { solutionInstanceId, authValues }, auth),
              'AttachAuths',
            ),
          async () => {
            const state = await instanceState(session, auth, solutionInstanceId);
            return authValues.every((want) =>
              state?.authValues.some((v) => v.externalId === want.externalId && v.authId === want.authId),
            );
          },
        ),
      );
      return resealed;
    },
    enableInstance: async (input) => {
      const { solutionInstanceId } = input;
      const [, resealed] = await resealing(session, input, (auth) =>
        unlessDone(
          async () =>
            checkEnabled(await session.send<UpdateAnswer>(ENABLE_INSTANCE, { solutionInstanceId }, auth)),
          async () => (await instanceState(session, auth, solutionInstanceId))?.enabled === true,
        ),
      );
      return resealed;
    },
    removeInstance: (input) => instances.remove(input),
    removeStrayInstances: (input) => instances.removeStrays(input),
  };
}

/**
 * As the user: `call`'s answer, and the token sealed afresh when the seal passed did not open
 * (undefined when it did), for the activity's result.
 */
async function resealing<T>(
  session: TraySession,
  user: AsUser,
  call: (auth: TrayAuth) => Promise<T>,
): Promise<[T, Resealed | undefined]> {
  let sealedToken: SealedUserToken | undefined;
  const answer = await session.asUser(user, call, (sealed) => (sealedToken = sealed));
  return [answer, sealedToken === undefined ? undefined : { sealedToken }];
}

/**
 * Sends a request whose aim the instance's state shows (attached, enabled). When Tray refuses it
 * ("already enabled", a conflict), an earlier attempt may have done it and lost the answer: if the
 * state says done, so is the step, rather than failing a saga whose instance works.
 */
async function unlessDone(send: () => Promise<unknown>, done: () => Promise<boolean>): Promise<void> {
  try {
    await send();
  } catch (error) {
    // A refused token says nothing of the instance: the session mints a fresh one and sends again.
    const tokenRefused = isTrayFailure(error, TRAY_FAILURE_TYPES.forbidden);
    if (!isRefusal(error) || tokenRefused) throw error;
    // A look that could not be made (rate limit, failing server) is retried with the step.
    if (!(await done().catch(lookupFailure(error)))) throw error;
    Context.current().log.info('Tray refused a request whose aim the instance already shows; taken as done', {
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * One request; any failure goes back to the workflow, which looks the user up again. A retry looks
 * first, in an attempt of its own (retried-create.ts): the attempt before may have created the user and
 * lost the answer, and a Tray that allows duplicates would otherwise make a second one.
 */
async function createUser(session: TraySession, input: CreateUserInput): Promise<CreateUserResult> {
  const { plan, retried } = planCreate(input.retried, input.scheduledByRun);
  if (plan !== 'create') {
    const existing = await findUserId(session, input.externalUserId);
    if (existing !== undefined) return { userId: existing, created: true };
    if (plan === 'look-only') throw foundNothing('user');
  }
  if (retried) recordCreating();
  const data = await session.send<{ createExternalUser?: { userId?: unknown } | null }>(
    CREATE_USER,
    { externalUserId: input.externalUserId, name: input.userName },
    'master',
  );
  return { userId: createdId(data.createExternalUser?.userId, 'CreateUser'), created: true };
}

async function createInstance(
  session: TraySession,
  instances: Instances,
  input: CreateInstanceInput,
): Promise<CreateInstanceResult> {
  const { plan, retried } = planCreate(input.retried, input.scheduledByRun);
  return session.asUser(input, async (auth) => {
    if (plan !== 'create') {
      // An earlier attempt may have created the instance and lost the answer: adopt it.
      const [own] = await instances.findOwn(auth, input);
      if (own !== undefined) {
        Context.current().log.info('Adopted the instance an earlier attempt created', {
          solutionInstanceId: own,
          attempt: Context.current().info.attempt,
        });
        return { solutionInstanceId: own, adopted: true, retried: true };
      }
      if (plan === 'look-only') throw foundNothing('instance');
    }
    if (retried) recordCreating();
    const configValues = input.configValues?.length
      ? input.configValues.map((slot) => ({ externalId: slot.externalId, value: JSON.stringify(slot.value) }))
      : undefined;
    const data = await session
      .send<{ createSolutionInstance?: { solutionInstance?: { id?: unknown } | null } | null }>(
        CREATE_INSTANCE,
        { solutionId: input.solutionId, instanceName: input.instanceName, configValues },
        auth,
      )
      .catch((error: unknown) => {
        throw retried ? error : markCreatedNothing(error);
      });
    const solutionInstanceId = createdId(data.createSolutionInstance?.solutionInstance?.id, 'CreateInstance');
    return { solutionInstanceId, adopted: false, retried };
  });
}

/**
 * Tray refused the only create ever sent (a non-retryable answer to attempt 1): nothing can land
 * late, so the compensation need not wait out the late-create window.
 */
function markCreatedNothing(error: unknown): unknown {
  if (!(error instanceof ApplicationFailure) || !error.nonRetryable) return error;
  return ApplicationFailure.create({
    type: error.type ?? undefined,
    message: error.message,
    nonRetryable: true,
    details: [...(error.details ?? []), CREATED_NOTHING],
  });
}

/** One one-time code per slot, every slot in one request (aliased mutations). */
async function issueCodes(
  session: TraySession,
  input: IssueAuthCodesInput,
): Promise<{ externalAuthId: string; code: string }[]> {
  if (input.externalAuthIds.length === 0) return [];
  const data = await session.send<Record<string, { authorizationCode: string } | undefined>>(
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
    return { externalAuthId, code };
  });
}

async function verifyAuths(session: TraySession, input: VerifyAuthsInput): Promise<VerifyAuthsResult> {
  if (input.authIds.length === 0) return { foreign: [] };
  const [{ edges, pageInfo }, resealed] = await resealing(session, input, async (auth) => {
    const data = await session.send<{
      viewer?: {
        authentications: {
          edges: { node: { id: string } }[];
          pageInfo?: { hasNextPage?: boolean | null } | null;
        };
      } | null;
    }>(LIST_AUTHENTICATIONS, undefined, auth);
    return viewerOf(data, 'ListAuthentications').authentications;
  });
  const own = new Set(edges.map((edge) => edge.node.id));
  const unseen = [...new Set(input.authIds)].filter((authId) => !own.has(authId));
  if (unseen.length > 0 && pageInfo?.hasNextPage === true) {
    // The list is cut off and cannot be paged: an authId past its end cannot be shown to be the
    // user's, and an unverified one is never attached (docs/tray.md, authentications listed in part).
    Context.current().log.warn(
      "Tray listed only part of the user's authentications; unlisted authIds are refused as unverified",
      { authIds: unseen },
    );
  }
  return { foreign: unseen, ...resealed };
}
