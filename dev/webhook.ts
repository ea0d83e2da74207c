/**
 * Builds a Standard Webhooks request as a partner backend (or Tray's dialog relaying for one) sends
 * it to `POST /v1/webhooks/auth-completed`. One place for the emulator, the bench and the tests.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface WebhookRequestOptions {
  /** `whsec_…` secret; without one the request goes unsigned (no `webhook-signature`). */
  secret?: string;
  /** `webhook-id`, which the API passes on as the signal's eventId; default a random `msg_` id. */
  id?: string;
  /** Signing time; default now. */
  timestamp?: Date;
}

/** Headers and raw body for `body` (an object is JSON-encoded; a string is sent as is). */
export function webhookRequest(
  body: unknown,
  options: WebhookRequestOptions = {},
): { headers: Record<string, string>; body: string } {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const id = options.id ?? `msg_${randomBytes(12).toString('hex')}`;
  const timestamp = options.timestamp ?? new Date();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
  };
  if (options.secret) headers['webhook-signature'] = new Webhook(options.secret).sign(id, timestamp, raw);
  return { headers, body: raw };
}
