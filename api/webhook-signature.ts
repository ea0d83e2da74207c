/**
 * The webhook's Standard Webhooks signature check, over the exact bytes received: a wrong, missing
 * or stale signature is a 401.
 */
import { isUtf8 } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { ApiError } from './errors.js';

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Throws a 401 `ApiError` unless `headers` sign `raw`. */
export type SignatureCheck = (raw: Buffer, headers: WebhookHeaders) => void;

const TOLERANCE_SECONDS = 5 * 60;

/** The check for the `whsec_…` secret. */
export function signatureCheck(secret: string): SignatureCheck {
  const verifier = new Webhook(secret);
  return (raw, headers) => {
    try {
      // Unix seconds in digits only: the library would also take "1700000000.0", which the bytes
      // signed then do not say.
      if (headers['webhook-timestamp'] && !/^[1-9][0-9]*$/.test(headers['webhook-timestamp']))
        throw new WebhookVerificationError('Invalid Signature Headers');
      // The library verifies the body as a string: lossless for UTF-8 only, so other bytes are
      // checked here by the same rules.
      if (isUtf8(raw)) verifier.verify(raw.toString('utf8'), headers, { jsonParse: false });
      else verifyRawBytes(secret, raw, headers);
    } catch (err) {
      const reason = err instanceof WebhookVerificationError ? err.message : 'invalid signature';
      throw new ApiError(401, 'invalid_signature', `Webhook signature rejected: ${reason}`);
    }
  };
}

/**
 * Standard Webhooks for a body that is not UTF-8: the three headers, a timestamp within 5 minutes,
 * and a `v1,` HMAC-SHA256 of "{id}.{timestamp}.{body}".
 */
function verifyRawBytes(secret: string, raw: Buffer, headers: WebhookHeaders): void {
  const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures } = headers;
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('Missing required headers');
  // Whole seconds in digits: signatureCheck refused any other timestamp before calling this.
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
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
