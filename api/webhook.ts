/**
 * POST /v1/webhooks/auth-completed: the partner's relay of a finished Tray auth dialog.
 * Order matters: the signature over the raw bytes first (401), then the body (400), then the saga's
 * state from describe only (404/409/422) so it works while no worker runs, then the signal (202).
 */
import { isUtf8 } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import type { Client } from '@temporalio/client';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { PAST_ATTACH_STEPS } from '../common/status-view.js';
import { ApiError } from './errors.js';
import { problemsOf, webhookBodySchema } from './schemas.js';
import { findBySolutionInstanceId, signalAuthCompleted } from './saga-commands.js';
import { describeConnection, isRunning, memoOf, stepFrom } from './saga-reads.js';

export const WEBHOOK_PATH = '/v1/webhooks/auth-completed';
const BODY_LIMIT = '64kb';

function header(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

const TOLERANCE_SECONDS = 5 * 60;

/**
 * The Standard Webhooks check for a body that is not UTF-8, which the library cannot verify: it
 * decodes the body to a string first, and invalid bytes do not survive that round trip. Same rules:
 * the three headers, a timestamp within 5 minutes, a `v1,` HMAC-SHA256 of "{id}.{timestamp}.{body}".
 */
function verifyRawBytes(
  secret: string,
  raw: Buffer,
  headers: { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string },
): void {
  const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures } = headers;
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('Missing required headers');
  const seconds = Number(timestamp);
  if (!/^[1-9][0-9]*$/.test(timestamp) || Math.abs(Date.now() / 1000 - seconds) > TOLERANCE_SECONDS) {
    throw new WebhookVerificationError('Message timestamp too old or too new');
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), raw]))
    .digest();
  for (const versioned of signatures.split(' ')) {
    const [version, signature] = versioned.split(',');
    if (version !== 'v1' || signature === undefined) continue;
    const given = Buffer.from(signature, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookVerificationError('No matching signature found');
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
    const headers = {
      'webhook-id': eventId,
      'webhook-timestamp': header(req.headers['webhook-timestamp']),
      'webhook-signature': header(req.headers['webhook-signature']),
    };
    const utf8 = isUtf8(raw);
    try {
      // The library signs the body as a string: lossless for UTF-8, so it then covers the raw bytes.
      if (utf8) verifier.verify(raw.toString('utf8'), headers, { jsonParse: false });
      else verifyRawBytes(deps.webhookSecret ?? '', raw, headers);
    } catch (err) {
      const reason = err instanceof WebhookVerificationError ? err.message : 'invalid signature';
      throw new ApiError(401, 'invalid_signature', `Webhook signature rejected: ${reason}`);
    }

    let json: unknown;
    try {
      if (!utf8) throw new Error('not UTF-8');
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
    const step = stepFrom(desc, memo);
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
