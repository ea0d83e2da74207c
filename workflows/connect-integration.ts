/**
 * The `connectIntegration` saga: ensure the Tray user, create the instance, collect one auth per
 * slot, attach them, wait 2 s, enable; on failure remove the instance (docs/design.md).
 */
import {
  ActivityCancellationType,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  patched,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { DEFAULT_AUTH_TIMEOUT, parseDuration } from '../common/duration.js';
import type { AsUser, InstanceOwnerKey, IssueAuthCodesResult } from '../common/activity-types.js';
import { authDialogUrl } from '../common/auth-url.js';
import { connectInputProblems } from '../common/input.js';
import type { AuthValue, ConnectInput, ConnectResult } from '../common/messages.js';
import { FAILURE_TYPES } from '../common/messages.js';
import {
  adoptSeal,
  afterAuth,
  createStep,
  forward,
  forwardStep,
  issueAuthCodes,
  issueAuthUrls,
  PRIORITY,
  type InstanceRef,
} from './activity-stubs.js';
import { compensateAndFail, lateCreateWindowEnd, removeStrayInstances } from './compensation.js';
import { workflowIdProblems } from './connection-id.js';
import { finishWithoutInstance } from './failure.js';
import { registerHandlers } from './handlers.js';
import { countSagaFinished } from './metrics.js';
import { AuthSlots } from './slots.js';
import { awaitVerifiedAuths } from './auth-wait.js';
import { registerWaitForAuthUrls } from './wait-for-urls.js';
import { SagaStatus } from './status.js';

/** Tray asks for at least this long between creating an instance and enabling it (docs/tray.md). */
const ENABLE_DELAY_MS = 2000;
/** Runs started before it issue the URLs after the create; from it on, the codes beside it. */
const CODES_BESIDE_CREATE = 'auth-codes-beside-create';
/** Marks histories that look the user up again after a failed create (not in older ones). */
const USER_RELOOKUP_PATCH = 'user-relookup-after-create';
/**
 * Marks runs that ask CODES_BESIDE_CREATE in their first workflow task. A new run's patch marker comes
 * with a search attribute upsert (the SDK's own), so a task that upserts nothing else costs the server
 * one more visibility write: asked beside the first task's upserts, the token's task writes none.
 */
const CODES_ASKED_FIRST_PATCH = 'codes-patch-asked-first';
/** Marks histories with the bounded foreign-authId rules (remembered rejections, check limits, guard). */
const FOREIGN_AUTH_PATCH = 'foreign-auth-limits';
/** Marks histories that end a saga cancelled with the token's result without compensating. */
const CANCELLED_BEFORE_CREATE_PATCH = 'cancelled-before-create-compensates-nothing';
/**
 * Marks runs that take, as one, the four patches every run asked in its first workflow task
 * (FOREIGN_AUTH_PATCH, CODES_ASKED_FIRST_PATCH, CODES_BESIDE_CREATE and the memo's authIds). Each
 * marker comes with the SDK's own upsert of TemporalChangeVersion, which the server validates and
 * writes: one marker instead of four is six events fewer in the task the burst queues behind. Asked
 * once, first, so runs from before (no such marker) ask each patch where they did.
 */
const FIRST_TASK_PATCHES = 'first-task-patches-folded';

/** The auth wait in ms; undefined for a bad one (a direct start may pass anything: a problem names it). */
function authTimeoutMsOf(input: ConnectInput): number | undefined {
  const authTimeout: unknown = input.authTimeout ?? DEFAULT_AUTH_TIMEOUT;
  return typeof authTimeout === 'string' ? parseDuration(authTimeout) : undefined;
}

/**
 * The input's problems, and the input as an object: a direct start may pass none at all, and the
 * status still reads its fields.
 */
function checkedInput(given: ConnectInput): { input: ConnectInput; problems: string[] } {
  const raw: unknown = given;
  const input = typeof raw === 'object' && raw !== null ? given : ({} as ConnectInput);
  return { input, problems: connectInputProblems(given) };
}

/** The input's problems, the run's id among them, and the patches the first workflow task asks. */
function checkedStart(given: ConnectInput) {
  const { input, problems } = checkedInput(given);
  const patches = firstTaskPatches();
  if (problems.length === 0) problems.push(...workflowIdProblems(input));
  return { input, problems, ...patches };
}

/**
 * The saga's workflow function: runs the steps in order, compensates on failure, timeout or cancel,
 * and answers the connected instance or fails with the cause's type.
 */
export async function connectIntegration(given: ConnectInput): Promise<ConnectResult> {
  const { input, problems, folded, strictAuths, codesBeside } = checkedStart(given);
  const slots = new AuthSlots(Array.isArray(input.authSlots) ? input.authSlots : [], strictAuths);
  const status = new SagaStatus(input, slots, folded);
  const notBefore = workflowInfo().startTime.toISOString();
  const instanceName = input.instanceName ?? `${input.solutionId} for ${input.userName}`;
  const authTimeoutMs = authTimeoutMsOf(input);
  // Set only while the saga awaits auths: the instance the reissue update issues URLs for.
  let awaiting: InstanceRef | undefined;
  registerHandlers(status, slots, () => awaiting);
  registerWaitForAuthUrls(status);

  if (problems.length > 0 || authTimeoutMs === undefined) {
    // The API validates input; this guards direct starts, with a status that says why.
    return await finishWithoutInstance(
      status,
      ApplicationFailure.nonRetryable(`invalid input: ${problems.join('; ')}`, FAILURE_TYPES.invalidInput),
    );
  }

  let user: AsUser;
  try {
    user = await prepareUser(input, status);
  } catch (err) {
    return await finishWithoutInstance(status, err);
  }
  const { userId } = user;
  const target: InstanceOwnerKey = { ...user, solutionId: input.solutionId, instanceName, notBefore };
  let solutionInstanceId: string | undefined;
  // Only after a retried create: until then an earlier attempt's create may still land at Tray.
  let strayWindowEnd: string | undefined;
  try {
    // The codes need only the user: minted beside the create, the URLs come one Tray round trip sooner.
    const codes = codesBeside() ? issueAuthCodes(userId, input.authSlots) : undefined;
    // Both settle before anything is decided, so a failure of either still knows the instance.
    const [createdOutcome, codesOutcome] = await Promise.allSettled([createInstance(target, input), codes]);
    if (createdOutcome.status === 'rejected') throw createdOutcome.reason;
    const created = createdOutcome.value;
    solutionInstanceId = created.solutionInstanceId;
    status.show({ solutionInstanceId });
    // Decided by the recorded result alone (absent, so false, in older histories): no patch needed.
    if (created.retried) strayWindowEnd = lateCreateWindowEnd();
    if (codesOutcome.status === 'rejected') throw codesOutcome.reason;
    const instance: InstanceRef = { ...user, solutionInstanceId };

    if (codesOutcome.value) setUrls(slots, solutionInstanceId, codesOutcome.value);
    else {
      status.enter('issuing_auth_urls');
      const issued = await issueAuthUrls(
        `issue ${input.authSlots.length} auth URL(s)`,
        instance,
        input.authSlots,
      );
      for (const { externalAuthId, url } of issued) slots.setUrl(externalAuthId, url);
    }

    const deadlineMs = Date.now() + authTimeoutMs;
    status.show({ deadline: new Date(deadlineMs).toISOString() });
    awaiting = instance;
    status.enter('awaiting_auth');
    await awaitVerifiedAuths(slots, status, user, deadlineMs, strictAuths, [instance, target]);
    awaiting = undefined;

    slots.freeze();
    const authValues = slots.authValues();
    await attachAndEnable(status, instance, authValues, target);

    status.enter('completed');
    countSagaFinished('completed');
    if (strayWindowEnd !== undefined)
      await removeStrayInstances(status, target, solutionInstanceId, strayWindowEnd);
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return { userId, solutionInstanceId, authValues, enabled: true };
  } catch (err) {
    awaiting = undefined;
    slots.freeze();
    return await compensateAndFail(status, err, target, solutionInstanceId, strayWindowEnd);
  }
}

/**
 * The patches a run decides in its first workflow task: one for new runs (FIRST_TASK_PATCHES), each
 * of the four as before in runs without that marker, in the order they asked them.
 */
function firstTaskPatches(): { folded: boolean; strictAuths: boolean; codesBeside: () => boolean } {
  const folded = patched(FIRST_TASK_PATCHES);
  const strictAuths = folded || patched(FOREIGN_AUTH_PATCH);
  return { folded, strictAuths, codesBeside: folded ? () => true : codesBesideCreate() };
}

/**
 * Whether the codes are minted beside the create. New runs ask in their first workflow task (see
 * CODES_ASKED_FIRST_PATCH); runs from before ask at the create, where their marker is.
 */
function codesBesideCreate(): () => boolean {
  const askedFirst = patched(CODES_ASKED_FIRST_PATCH) ? patched(CODES_BESIDE_CREATE) : undefined;
  return () => askedFirst ?? patched(CODES_BESIDE_CREATE);
}

function setUrls(
  slots: AuthSlots,
  solutionInstanceId: string,
  { dialog, codes }: IssueAuthCodesResult,
): void {
  for (const { externalAuthId, code } of codes) {
    slots.setUrl(externalAuthId, authDialogUrl(dialog, solutionInstanceId, externalAuthId, code));
  }
}

/**
 * The steps before any instance can exist, so a failure here has nothing to compensate. The user
 * token comes back sealed (older runs recorded none: their workers mint or cache it).
 */
async function prepareUser(input: ConnectInput, status: SagaStatus): Promise<AsUser> {
  status.enter('ensuring_user');
  const userId = await ensureUser(input);
  status.show({ userId });
  status.enter('creating_instance');
  // Its own activity so each activity sends one Tray request: the rate limit meters activities.
  const prepared = await forward.prepareUserToken.executeWithOptions(
    forwardStep('mint the user token, sealed for the workers only', PRIORITY.token),
    [{ userId }],
  );
  // A cancel that came with the token's result stops the create before it is sent: nothing can exist
  // at Tray, so the saga ends here instead of looking for an instance through the late-create window.
  // Only then is the patch asked, so other histories carry no marker.
  if (CancellationScope.current().consideredCancelled && patched(CANCELLED_BEFORE_CREATE_PATCH)) {
    throw new CancelledFailure('the saga was cancelled');
  }
  return prepared?.sealedToken ? { userId, sealedToken: prepared.sealedToken } : { userId };
}

/**
 * Looked up, else created. Tray documents no answer for a duplicate create, so after any create that
 * did not return a user (another saga may have won the race) the user is looked up once more.
 */
async function ensureUser(input: ConnectInput): Promise<string> {
  const { externalUserId, userName } = input;
  const found = await forward.findUser.executeWithOptions(
    forwardStep('look up the Tray user', PRIORITY.findUser),
    [{ externalUserId }],
  );
  if (found) return found.userId;
  try {
    const created = await createStep('createUser', forwardStep('create the Tray user', PRIORITY.createUser), {
      externalUserId,
      userName,
    });
    return created.userId;
  } catch (err) {
    if (isCancellation(err) || !patched(USER_RELOOKUP_PATCH)) throw err;
    const winner = await forward.findUser.executeWithOptions(
      forwardStep('look the Tray user up again: the create did not return one', PRIORITY.findUser),
      [{ externalUserId }],
    );
    if (!winner) throw err;
    log.info('the user create failed but the user exists: taking it', { userId: winner.userId });
    return winner.userId;
  }
}

function createInstance(target: InstanceOwnerKey, input: ConnectInput) {
  return createStep(
    'createInstance',
    {
      ...forwardStep('create the solution instance', PRIORITY.urls),
      // A first attempt does not heartbeat, so a cancel cannot stop a create already sent to Tray;
      // waiting for the attempt to end keeps the removal from looking before the instance exists. A
      // retry heartbeats once and may be stopped mid-create: the removal looks again after the
      // late-create window for that.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    },
    { ...target, ...(input.configValues !== undefined ? { configValues: input.configValues } : {}) },
  );
}

async function attachAndEnable(
  status: SagaStatus,
  instance: InstanceRef,
  authValues: AuthValue[],
  target: InstanceOwnerKey,
): Promise<void> {
  status.show({ attached: authValues });
  status.enter('attaching_auths');
  const attached = await afterAuth.attachAuths.executeWithOptions(
    { summary: `attach ${authValues.length} auth(s)` },
    [{ ...instance, authValues }],
  );
  adoptSeal(attached, [instance, target]);
  status.enter('waiting_before_enable');
  await sleep(ENABLE_DELAY_MS, { summary: 'Tray wants 2 s between create and enable' });
  status.enter('enabling');
  const enabled = await afterAuth.enableInstance.executeWithOptions(
    { summary: 'enable the solution instance' },
    [instance],
  );
  adoptSeal(enabled, [target]);
}
