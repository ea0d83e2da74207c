/**
 * GET /openapi.json: the API as OpenAPI 3.1, its schemas generated from the same zod schemas that
 * validate requests (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import {
  authSlotStatusSchema,
  cancelAcceptedSchema,
  configValueSchema,
  jsonValueSchema,
  connectInputSchema,
  connectionStatusSchema,
  errorBodySchema,
  reissueResultSchema,
  statusErrorSchema,
  webhookAcceptedSchema,
  webhookBodySchema,
  DEFAULT_WAIT_SECONDS,
  MAX_WAIT_SECONDS,
} from './schemas.js';
import { BODY_LIMIT_TEXT } from './body-limit.js';

const COMPONENTS = {
  ConnectInput: connectInputSchema,
  ConfigValue: configValueSchema,
  JsonValue: jsonValueSchema,
  ConnectionStatus: connectionStatusSchema,
  AuthSlotStatus: authSlotStatusSchema,
  StatusError: statusErrorSchema,
  ReissueAuthUrlResult: reissueResultSchema,
  AuthCompletedWebhook: webhookBodySchema,
  WebhookAccepted: webhookAcceptedSchema,
  CancelAccepted: cancelAcceptedSchema,
  Error: errorBodySchema,
} as const;
type ComponentName = keyof typeof COMPONENTS;

function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  // Each generated schema carries its own $schema/$id; inside an OpenAPI document they are noise.
  const out: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
    out[id] = rest;
  }
  return out;
}

const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: ComponentName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const error = (description: string) => json('Error', description);

const connectionIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The connectionId, `connect:{externalUserId}:{solutionId}` (URL-encode it)',
  schema: { type: 'string' },
};
const common401 = {
  '401': error('Missing or wrong bearer token'),
  '403': error('Non-loopback client while API_TOKEN is unset'),
};

/** POST, GET and DELETE on /v1/connections, and reissuing an auth URL. */
function connectionPaths(): Record<string, unknown> {
  return {
    '/v1/connections': {
      post: {
        summary: 'Start (or return the running) connect saga and wait for its auth URLs',
        security: [{ bearer: [] }],
        parameters: [
          {
            name: 'wait',
            in: 'query',
            description: `Seconds to wait for the auth URLs (0..${MAX_WAIT_SECONDS}, default ${DEFAULT_WAIT_SECONDS})`,
            schema: {
              type: 'number',
              minimum: 0,
              maximum: MAX_WAIT_SECONDS,
              default: DEFAULT_WAIT_SECONDS,
            },
          },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: ref('ConnectInput') } } },
        responses: {
          '201': json('ConnectionStatus', 'A new saga was started'),
          '200': json('ConnectionStatus', 'A running saga with this id exists (`existing: true`)'),
          '400': error('Invalid input; `details` lists every problem as `{ path, message }`'),
          ...common401,
          '409': error(
            'A running saga of another externalUserId and solutionId spells the same id (ids containing `:`)',
          ),
          '413': error(`Body over ${BODY_LIMIT_TEXT}`),
          '503': error('Temporal unreachable'),
        },
      },
    },
    '/v1/connections/{id}': {
      parameters: [connectionIdParam],
      get: {
        summary: "The saga's status",
        security: [{ bearer: [] }],
        responses: {
          '200': json('ConnectionStatus', 'The status object'),
          ...common401,
          '404': error('No such connection'),
          '503': error('Temporal unreachable'),
        },
      },
      delete: {
        summary: 'Cancel the saga; compensation removes the instance it created',
        security: [{ bearer: [] }],
        responses: {
          '202': json('CancelAccepted', 'Cancellation requested'),
          ...common401,
          '404': error('No such connection'),
          '409': error('Already closed, or completed and only tidying up'),
          '503': error('Temporal unreachable'),
        },
      },
    },
    '/v1/connections/{id}/auth-urls/{externalAuthId}': {
      parameters: [
        connectionIdParam,
        { name: 'externalAuthId', in: 'path', required: true, schema: { type: 'string' } },
      ],
      post: {
        summary: 'Issue a fresh dialog URL (new one-time code) for a pending auth slot',
        security: [{ bearer: [] }],
        responses: {
          '200': json('ReissueAuthUrlResult', 'The new URL'),
          ...common401,
          '404': error('No such connection'),
          '409': error('Saga closed, not awaiting auths, or the slot is already completed'),
          '422': error('Unknown auth slot'),
          '503': error('Temporal unreachable or no worker answered'),
        },
      },
    },
  };
}

function webhookPaths(): Record<string, unknown> {
  return {
    '/v1/webhooks/auth-completed': {
      post: {
        summary: 'Report a completed auth (Standard Webhooks signature required)',
        parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
          name,
          in: 'header',
          required: true,
          schema: { type: 'string' },
        })),
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('AuthCompletedWebhook') } },
        },
        responses: {
          '202': json(
            'WebhookAccepted',
            'Signalled to the saga (a redelivery, or the authId attached for the slot, is accepted again and ignored)',
          ),
          '400': error('Signed body is not JSON or lacks a field'),
          '401': error('Missing, wrong or stale (> 5 min) signature'),
          '404': error('No such saga'),
          '409': error('Saga closed or past attaching the auths, with another authId than the one attached'),
          '413': error(`Body over ${BODY_LIMIT_TEXT}`),
          '422': error('Unknown auth slot'),
          '503': error('WEBHOOK_SECRET unset, or Temporal unreachable'),
        },
      },
    },
  };
}

/** Health, readiness and this document. */
function servicePaths(): Record<string, unknown> {
  return {
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'Up' } } } },
    '/readyz': {
      get: {
        summary: 'Readiness, including the Temporal connection',
        responses: { '200': { description: 'Ready' }, '503': error('Temporal unreachable') },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
  };
}

/** Builds the OpenAPI document (once; it does not change at runtime). */
export function buildOpenApi(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'connect-saga API',
      version: '1.0.0',
      description:
        'Starts and follows one durable Temporal saga per "connect an integration" request against Tray Embedded. ' +
        'Errors always have the shape `{ error: { code, message, details? } }`.',
    },
    components: {
      schemas: componentSchemas(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' } },
    },
    paths: {
      ...connectionPaths(),
      ...webhookPaths(),
      ...servicePaths(),
    },
  };
}
