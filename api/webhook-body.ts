/**
 * The webhook's body parser. Standard Webhooks signs the payload, so a delivery with a
 * Content-Encoding is checked over its decoded bytes; a sender that signed the bytes it put on the
 * wire (the compressed ones) is as authentic, so those are kept to be tried too. They also let a
 * body that does not decode be checked for its signature first, as every other body is: an unsigned
 * one is a 401, and only a signed one hears that its encoding is wrong.
 */
import { isUtf8 } from 'node:buffer';
import express, { type Request, type RequestHandler } from 'express';
import { BODY_LIMIT_BYTES } from './body-limit.js';
import { isDecompressionError } from './errors.js';
import type { SignatureCheck, WebhookHeaders } from './webhook-signature.js';

const WIRE = Symbol('wireBytes');
type WithWire = Request & { [WIRE]?: { chunks: Buffer[]; size: number } };

/** Whether the request says its body is encoded (anything but identity). */
function isEncoded(req: Request): boolean {
  const encoding = String(req.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  return encoding !== '' && encoding !== 'identity';
}

/**
 * An encoded body's bytes as they came over the wire, once the request has been read; undefined
 * for a body without an encoding (its bytes are the decoded ones) or one over the body limit.
 */
export async function wireBytes(req: Request): Promise<Buffer | undefined> {
  const copy = (req as WithWire)[WIRE];
  if (!copy) return undefined;
  // A request cut off before its end closes instead; its bytes are then not all there.
  if (!req.readableEnded && !req.destroyed)
    await new Promise((resolve) => {
      req.once('end', resolve);
      req.once('close', resolve);
    });
  return req.readableEnded && copy.size <= BODY_LIMIT_BYTES ? Buffer.concat(copy.chunks) : undefined;
}

/**
 * `express.raw` for the webhook, keeping an encoded body's wire bytes beside what it decodes. A
 * body that does not decode (or whose encoding the API does not read) goes through `checkFirst`
 * before its 400 or 415: what that throws is the answer instead.
 */
export function webhookBody(checkFirst: (req: Request) => Promise<void>): RequestHandler {
  const parse = express.raw({ type: () => true, limit: BODY_LIMIT_BYTES });
  return (req, res, next) => {
    if (isEncoded(req)) {
      const copy = { chunks: [] as Buffer[], size: 0 };
      (req as WithWire)[WIRE] = copy;
      // Attached in the same tick as the parser's own reader, so both see every chunk.
      req.on('data', (chunk: Buffer) => {
        copy.size += chunk.length;
        if (copy.size <= BODY_LIMIT_BYTES) copy.chunks.push(chunk);
      });
    }
    parse(req, res, (err?: unknown) => {
      const undecodable =
        isDecompressionError(err) || (err as { type?: unknown } | undefined)?.type === 'encoding.unsupported';
      if (!undecodable) return next(err);
      checkFirst(req).then(
        () => next(err),
        (refused: unknown) => next(refused),
      );
    });
  };
}

/**
 * A header value as its sender most likely wrote it. Node reads header bytes as Latin-1, while a
 * sender signs `{id}.{timestamp}.{body}` as UTF-8, so an id such as `msg_é` sent as UTF-8 bytes could
 * never verify. Bytes that are not UTF-8 stay as Node read them.
 */
function asUtf8(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}

function rawHeaders(req: Request): WebhookHeaders {
  const one = (name: 'id' | 'timestamp' | 'signature') => {
    const value = req.headers[`webhook-${name}`] ?? req.headers[`svix-${name}`];
    return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  };
  return {
    'webhook-id': one('id'),
    'webhook-timestamp': one('timestamp'),
    'webhook-signature': one('signature'),
  };
}

/**
 * The three signature headers, as the check reads them. A sender on Svix sends them under its own
 * names (`svix-id`, …), the same scheme, which Svix's libraries read too: each is taken when its
 * `webhook-` name is absent.
 */
export function signatureHeaders(req: Request): WebhookHeaders {
  return readAsUtf8(rawHeaders(req));
}

function readAsUtf8(raw: WebhookHeaders): WebhookHeaders {
  return {
    'webhook-id': asUtf8(raw['webhook-id']),
    'webhook-timestamp': raw['webhook-timestamp'],
    'webhook-signature': raw['webhook-signature'],
  };
}

/**
 * The readings of the headers a sender may have signed: as UTF-8 first, then as Node read them
 * (a sender that writes its id as Latin-1 bytes, as Python's http.client does, signed that text).
 */
function headerReadings(req: Request): WebhookHeaders[] {
  const asSent = rawHeaders(req);
  const utf8 = readAsUtf8(asSent);
  return utf8['webhook-id'] === asSent['webhook-id'] ? [utf8] : [utf8, asSent];
}

/**
 * Passes when the headers sign the decoded body (`decoded`, absent for one that did not decode) or
 * an encoded body's wire bytes; else throws what the check said of the first of them. Nothing to
 * check (no body read within the limit) passes, and the parser's own error stands.
 */
export async function checkSignedBody(check: SignatureCheck, req: Request, decoded?: Buffer): Promise<void> {
  const readings = headerReadings(req);
  const wire = await wireBytes(req);
  const forms = [decoded, wire && (!decoded || !wire.equals(decoded)) ? wire : undefined].filter(
    (bytes): bytes is Buffer => bytes !== undefined,
  );
  let refusal: unknown;
  for (const bytes of forms) {
    for (const headers of readings) {
      try {
        check(bytes, headers);
        return;
      } catch (err) {
        refusal ??= err;
      }
    }
  }
  if (refusal !== undefined) throw refusal;
}
