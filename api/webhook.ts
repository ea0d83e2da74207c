/**
 * POST /v1/webhooks/auth-completed: the partner's relay of a finished Tray auth dialog.
 * Order matters: the signature over the raw bytes first (401), then the body (400), then the saga's
 * state from describe only (404/409/422) so it works while no worker runs, then the signal (202).
 */
import { isUtf8 } from 'node:buffer';
import express, { type Request, type Router } from 'express';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { Logger } from 'pino';
import { idProblem } from '../common/input.js';
import type { ConnectStep } from '../common/messages.js';
import { isAttached, PAST_ATTACH_STEPS, type ConnectMemo } from '../common/status-view.js';
import { describeOrClosed } from './closed-undecodable.js';
import { ApiError } from './errors.js';
import type { InstanceRoutes } from './instance-routes.js';
import { findBySolutionInstanceId } from './instance-lookup.js';
import { earlierRunThatTook } from './earlier-delivery.js';
import { WEBHOOK_OUTCOME, type WebhookOutcome } from './metrics.js';
import { signalAuthCompleted } from './saga-commands.js';
import {
  closedAs,
  describeConnection,
  describeIfAny,
  endingBecause,
  isRunning,
  memoOf,
  solutionInstanceIdOf,
  stepFrom,
} from './saga-reads.js';
import { problemsOf } from './problems.js';
import { webhookBodySchema, type WebhookBody } from './schemas.js';
import { connectionClosed, unknownSlot } from './temporal-rpc.js';
import { checkSignedBody, signatureHeaders, webhookBody } from './webhook-body.js';
import { signatureCheck } from './webhook-signature.js';

export const WEBHOOK_PATH = '/v1/webhooks/auth-completed';

/** The signed body as a valid webhook body, else a 400. */
function parseBody(raw: Buffer, eventId: string): WebhookBody {
  // The webhook-id becomes the signal's eventId, kept in history: an id like any other.
  const badId = idProblem('webhook-id', eventId);
  const idProblems = badId ? [{ path: 'webhook-id', message: badId }] : [];
  let json: unknown;
  try {
    if (!isUtf8(raw)) throw new Error('not UTF-8');
    // A leading byte order mark is no part of the JSON (parsers may skip it, and the start's does);
    // the signature still covers it, as received.
    json = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new ApiError(400, 'invalid_json', 'The webhook body is not valid JSON', [
      { path: 'body', message: 'the body is not valid JSON (in UTF-8)' },
      ...idProblems,
    ]);
  }
  const parsed = webhookBodySchema.safeParse(json);
  const problems = [...(parsed.success ? [] : problemsOf(parsed.error)), ...idProblems];
  if (!parsed.success || badId) {
    const what = parsed.success
      ? 'The webhook-id header is invalid'
      : badId
        ? 'The webhook body and its webhook-id header are invalid'
        : 'The webhook body is invalid';
    throw new ApiError(400, 'invalid_input', what, problems);
  }
  return parsed.data;
}

/** The run this process last saw own the instance, when it still says so; else undefined. */
async function describeRouted(
  client: Client,
  solutionInstanceId: string,
  routes: InstanceRoutes | undefined,
): Promise<WorkflowExecutionDescription | undefined> {
  const connectionId = routes?.connectionFor(solutionInstanceId);
  if (connectionId === undefined) return undefined;
  const desc = await describeIfAny(client, connectionId);
  return desc && solutionInstanceIdOf(desc) === solutionInstanceId ? desc : undefined;
}

/** The saga run the body names, by connection id or else by the Tray instance it owns; else a 404. */
async function describeTarget(
  client: Client,
  body: WebhookBody,
  eventId: string,
  routes: InstanceRoutes | undefined,
): Promise<WorkflowExecutionDescription> {
  if (body.connectionId !== undefined) {
    const newest = await describeOrClosed(client, body.connectionId, { butCompleted: true });
    const wanted = body.solutionInstanceId;
    if (wanted === undefined) {
      const delivery = { externalAuthId: body.externalAuthId, authId: body.authId, eventId };
      return (await earlierRunThatTook(client, newest, delivery)) ?? newest;
    }
    if (solutionInstanceIdOf(newest) === wanted) return newest;
    // The newest run has another instance (or none yet): the delivery may be for an earlier run of
    // this connection, which the instance id names exactly. Its instance id was written long ago,
    // so one look, without the pauses that wait out visibility's lag for a new saga.
    const earlier = await findBySolutionInstanceId(client, wanted, { once: true });
    if (earlier?.connectionId !== body.connectionId) return newest;
    return describeConnection(client, earlier.connectionId, earlier.runId);
  }
  const solutionInstanceId = body.solutionInstanceId ?? '';
  const routed = await describeRouted(client, solutionInstanceId, routes);
  if (routed) return routed;
  const found = await findBySolutionInstanceId(client, solutionInstanceId);
  if (!found) {
    throw new ApiError(
      404,
      'not_found',
      `No connection for solution instance ${JSON.stringify(body.solutionInstanceId)}`,
    );
  }
  return describeConnection(client, found.connectionId, found.runId);
}

const ATTACHED_STEPS: readonly ConnectStep[] = [
  'attaching_auths',
  'waiting_before_enable',
  'enabling',
  'completed',
];

/**
 * A redelivery of the authId attached for its slot, from the attach until the saga completed: a
 * partner retrying after a lost 202 gets 202 again, and nothing is signalled.
 */
function isAttachedRedelivery(desc: WorkflowExecutionDescription, body: WebhookBody): boolean {
  const memo = memoOf(desc);
  if (!isAttached(memo, body.externalAuthId, body.authId)) return false;
  // A body that names another instance is checkAccepts' to refuse.
  if (body.solutionInstanceId !== undefined && body.solutionInstanceId !== memo?.solutionInstanceId) {
    return false;
  }
  if (!isRunning(desc)) return desc.status.name === 'COMPLETED';
  const step = stepFrom(desc, memo);
  return step !== undefined && ATTACHED_STEPS.includes(step);
}

/**
 * Why a delivery differs from what the saga attached for its slot, when it attached one; undefined
 * otherwise. Names the slot, not the authIds: which one was attached is not the sender's to learn.
 */
function otherAuthIdAttached(memo: ConnectMemo | undefined, body: WebhookBody): string | undefined {
  const attached = memo?.attached?.find((a) => a.externalId === body.externalAuthId);
  if (!attached || attached.authId === body.authId) return undefined;
  return `the authId differs from the one attached for slot ${JSON.stringify(body.externalAuthId)}`;
}

/** One wording for both 409s a different authId past attach gets: while the saga runs, and once completed. */
function noLongerAccepts(connectionId: string, step: ConnectStep, differs: string | undefined): string {
  return `Connection ${JSON.stringify(connectionId)} no longer accepts auths (${step})${differs ? `: ${differs}` : ''}`;
}

/** Refuses a completed auth the described saga cannot take (400, 409 or 422). */
function checkAccepts(desc: WorkflowExecutionDescription, body: WebhookBody): void {
  const connectionId = desc.workflowId;
  const memo = memoOf(desc);
  if (
    body.connectionId !== undefined &&
    body.solutionInstanceId !== undefined &&
    memo?.solutionInstanceId !== undefined &&
    memo.solutionInstanceId !== body.solutionInstanceId
  ) {
    throw new ApiError(400, 'invalid_input', 'connectionId and solutionInstanceId name different sagas', [
      { path: 'solutionInstanceId', message: 'does not belong to this connection' },
    ]);
  }
  // A slot the saga never had is the sender's mistake whatever the saga's state: 422 says so for
  // good, where a 409 would read as "too late".
  if (memo && !memo.authSlots.includes(body.externalAuthId)) throw unknownSlot(body.externalAuthId);
  const differs = otherAuthIdAttached(memo, body);
  if (!isRunning(desc)) {
    // A completed saga attached every slot: tell a partner relaying another authId why, not only "closed".
    if (desc.status.name === 'COMPLETED' && differs) {
      throw new ApiError(409, 'connection_closed', noLongerAccepts(connectionId, 'completed', differs));
    }
    throw connectionClosed(connectionId, closedAs(desc));
  }
  const step = stepFrom(desc, memo);
  // Compensating: the saga is ending (cancelled or failed), whether or not it ever attached. A cancel
  // requested a moment ago (a DELETE just answered) ends it too, before the saga shows it.
  const why = endingBecause(desc, step);
  if (why) {
    throw new ApiError(
      409,
      'connection_closed',
      `Connection ${JSON.stringify(connectionId)} is ending (${why}) and no longer accepts auths`,
    );
  }
  if (step && PAST_ATTACH_STEPS.includes(step)) {
    throw new ApiError(409, 'past_attach', noLongerAccepts(connectionId, step, differs));
  }
}

/** The webhook route, with its own raw-body parser so the signature is checked over the exact bytes. */
export function webhookRouter(deps: {
  client: Client;
  webhookSecret?: string;
  /** Instance → saga routes the connections router noted; a miss is looked up in visibility. */
  instanceRoutes?: InstanceRoutes;
  logger?: Logger;
}): Router {
  const router = express.Router();
  const verify = deps.webhookSecret ? signatureCheck(deps.webhookSecret) : undefined;
  // The partner reads why in the 401's body; the operator, who sees only the access line's status,
  // needs it too: a wrong secret and a skewed clock are fixed in different places.
  const checkSignature = async (req: Request, decoded?: Buffer): Promise<void> => {
    if (!verify) return;
    try {
      await checkSignedBody(verify, req, decoded);
    } catch (err) {
      if (err instanceof ApiError) deps.logger?.warn({ reason: err.message }, 'webhook signature rejected');
      throw err;
    }
  };

  router.post(WEBHOOK_PATH, webhookBody(checkSignature), async (req, res) => {
    if (!verify) {
      throw new ApiError(503, 'webhook_not_configured', 'WEBHOOK_SECRET is not set; the webhook is disabled');
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await checkSignature(req, raw);
    const eventId = signatureHeaders(req)['webhook-id'];
    const body = parseBody(raw, eventId);
    const desc = await describeTarget(deps.client, body, eventId, deps.instanceRoutes);
    const { externalAuthId, authId } = body;
    if (isAttachedRedelivery(desc, body)) {
      res.locals[WEBHOOK_OUTCOME] = 'duplicate' satisfies WebhookOutcome;
    } else {
      checkAccepts(desc, body);
      await signalAuthCompleted(deps.client, desc, { externalAuthId, authId, eventId });
    }
    res.status(202).json({ accepted: true, connectionId: desc.workflowId, externalAuthId, eventId });
  });
  return router;
}
