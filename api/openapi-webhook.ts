/**
 * The webhook's operation in the OpenAPI document: its Standard Webhooks headers, the signature
 * scheme, and every status code it can send (docs/api.md, "POST /v1/webhooks/auth-completed").
 */
import { idPattern } from '../common/input.js';
import { LIMITS } from '../common/messages.js';
import { BODY_LIMIT_TEXT } from './body-limit.js';
import { error, json, ref, temporalDown, UNEXPECTED } from './openapi-parts.js';

/** How the signature is made, for the security scheme and the operation. */
export const SIGNATURE_SCHEME =
  'Standard Webhooks (https://www.standardwebhooks.com/): `webhook-signature` is `v1,<base64 HMAC-SHA256>` of ' +
  '`{webhook-id}.{webhook-timestamp}.{raw body}`, keyed by the base64-decoded part of WEBHOOK_SECRET ' +
  '(`whsec_<base64>`). The raw body is the bytes as sent: with a Content-Encoding, either the ' +
  'decoded payload (as Standard Webhooks signs) or the encoded bytes. ' +
  'Several signatures may be given, separated by spaces (key rotation): one must match. ' +
  'A missing, wrong or stale (timestamp more than 5 minutes off) signature is a 401 `invalid_signature`. ' +
  'Svix’s names for the three headers (`svix-id`, `svix-timestamp`, `svix-signature`) are read where ' +
  'the `webhook-` ones are absent.';

const headerParameter = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema: { type: 'string', ...schema },
});

const HEADER_PARAMETERS = [
  headerParameter(
    'webhook-id',
    'The message id: unique per message, the same on each redelivery. It becomes the signal’s `eventId`, so a ' +
      `redelivery is a no-op (answered 202 again). 1..${LIMITS.maxIdLength} characters, no control characters or ` +
      'lone surrogates, else a 400 naming it.',
    { minLength: 1, maxLength: LIMITS.maxIdLength, pattern: idPattern() },
  ),
  headerParameter(
    'webhook-timestamp',
    'When the message was signed, in whole Unix seconds (digits only: `1700000000.0` is a 401); more than ' +
      '5 minutes off the API’s clock is a 401.',
    { pattern: '^[1-9][0-9]*$' },
  ),
  headerParameter('webhook-signature', `The signature. ${SIGNATURE_SCHEME}`, { minLength: 1 }),
];

/** POST /v1/webhooks/auth-completed. */
export function webhookPaths(): Record<string, unknown> {
  return {
    '/v1/webhooks/auth-completed': {
      post: {
        operationId: 'authCompleted',
        summary: 'Report a completed auth (Standard Webhooks signature required)',
        description:
          `${SIGNATURE_SCHEME} Checks in order: the signature (401), the body (400), the saga as the ` +
          'Temporal server holds it (404, 409, 422), then the signal (202); no worker needs to run.',
        security: [{ webhookSignature: [] }],
        parameters: HEADER_PARAMETERS,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('AuthCompletedWebhook') } },
        },
        responses: {
          '202': json(
            'WebhookAccepted',
            'Signalled to the saga (a redelivery, or the authId attached for the slot, is accepted again and ignored)',
          ),
          '400': error(
            '`invalid_json`: the signed body is not UTF-8 JSON; `invalid_input`: a field is missing or invalid, ' +
              'or connectionId and solutionInstanceId name different sagas (`details` lists every problem)',
          ),
          '401': error('`invalid_signature`: missing, wrong or stale (> 5 min) signature'),
          '404': error('No such saga'),
          '409': error(
            '`connection_closed`: the saga has ended, or is ending (compensating, or a cancel was requested); `past_attach`: past attaching the auths, with another ' +
              'authId than the one attached; `too_many_signals`: the run reached the server’s limit of signals',
          ),
          '413': error(`Body over ${BODY_LIMIT_TEXT}`),
          '415': error('Body in an unsupported Content-Encoding'),
          '422': error('Unknown auth slot'),
          ...UNEXPECTED,
          '503': temporalDown(
            ', or too many look-ups by solutionInstanceId queued; `webhook_not_configured`: WEBHOOK_SECRET unset',
          ),
        },
      },
    },
  };
}
