/**
 * POST /v1/webhooks/auth-completed: the partner's relay of a finished Tray auth dialog.
 * Order matters: the signature over the raw bytes first (401), then the body (400), then the saga's
 * state from describe only (404/409/422) so it works while no worker runs, then the signal (202).
 */
import express, { type Router } from 'express';
import type { Client } from '@temporalio/client';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { PAST_ATTACH_STEPS } from '../common/messages.js';
import { ApiError } from './errors.js';
import { problemsOf, webhookBodySchema } from './schemas.js';
import {
  describeConnection,
  findBySolutionInstanceId,
  isRunning,
  memoOf,
  signalAuthCompleted,
  stepOf,
} from './temporal.js';

export const WEBHOOK_PATH = '/v1/webhooks/auth-completed';
const BODY_LIMIT = '64kb';

function header(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/** The webhook route, with its own raw-body parser so the signature is checked over the exact bytes. */
export function webhookRouter(deps: { client: Client; webhookSecret?: string }): Router {
  const router = express.Router();
  const verifier = deps.webhookSecret ? new Webhook(deps.webhookSecret) : undefined;

  router.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res) => {
    if (!verifier) {
      throw new ApiError(503, 'webhook_not_configured', 'WEBHOOK_SECRET is not set; the webhook is disabled');
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const eventId = header(req.headers['webhook-id']);
    try {
      verifier.verify(
        raw,
        {
          'webhook-id': eventId,
          'webhook-timestamp': header(req.headers['webhook-timestamp']),
          'webhook-signature': header(req.headers['webhook-signature']),
        },
        { jsonParse: false },
      );
    } catch (err) {
      const reason = err instanceof WebhookVerificationError ? err.message : 'invalid signature';
      throw new ApiError(401, 'invalid_signature', `Webhook signature rejected: ${reason}`);
    }

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError(400, 'invalid_json', 'The webhook body is not valid JSON');
    }
    const parsed = webhookBodySchema.safeParse(json);
    if (!parsed.success) {
      throw new ApiError(400, 'invalid_input', 'The webhook body is invalid', problemsOf(parsed.error));
    }
    const body = parsed.data;

    let connectionId = body.connectionId;
    let runId: string | undefined;
    if (connectionId === undefined) {
      const found = await findBySolutionInstanceId(deps.client, body.solutionInstanceId ?? '');
      if (!found) {
        throw new ApiError(
          404,
          'not_found',
          `No connection for solution instance ${JSON.stringify(body.solutionInstanceId)}`,
        );
      }
      connectionId = found.connectionId;
      runId = found.runId;
    }
    const desc = await describeConnection(deps.client, connectionId, runId);
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
    if (!isRunning(desc)) {
      throw new ApiError(409, 'connection_closed', `Connection ${JSON.stringify(connectionId)} is closed`);
    }
    const step = stepOf(desc);
    if (step && PAST_ATTACH_STEPS.includes(step)) {
      throw new ApiError(
        409,
        'past_attach',
        `Connection ${JSON.stringify(connectionId)} no longer accepts auths (${step})`,
      );
    }
    if (memo && !memo.authSlots.includes(body.externalAuthId)) {
      throw new ApiError(
        422,
        'unknown_slot',
        `Connection has no auth slot ${JSON.stringify(body.externalAuthId)}`,
      );
    }
    await signalAuthCompleted(deps.client, desc, {
      externalAuthId: body.externalAuthId,
      authId: body.authId,
      eventId,
    });
    res.status(202).json({ accepted: true, connectionId, externalAuthId: body.externalAuthId, eventId });
  });
  return router;
}
