/**
 * GET /openapi.json: the API as OpenAPI 3.1, its schemas generated from the same zod schemas that
 * validate requests (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import { connectionPaths } from './openapi-connections.js';
import {
  componentResponses,
  error,
  HEADERS,
  json,
  methodNotAllowed,
  ref,
  UNEXPECTED,
  unauthorized,
  withOptionalBearer,
  withRequestIds,
} from './openapi-parts.js';
import { SIGNATURE_SCHEME, webhookPaths } from './openapi-webhook.js';
import {
  allowedMethodsSchema,
  apiErrorSchema,
  authSlotStateSchema,
  authSlotStatusSchema,
  cancelAcceptedSchema,
  connectionListItemSchema,
  connectionListSchema,
  connectionStatusSchema,
  connectStepSchema,
  inputProblemSchema,
  listedAuthSlotSchema,
  errorBodySchema,
  reissueResultSchema,
  statusErrorSchema,
  webhookAcceptedSchema,
} from './response-schemas.js';
import { configValueSchema, connectInputSchema, jsonValueSchema, webhookBodySchema } from './schemas.js';

export const COMPONENTS = {
  ConnectInput: connectInputSchema,
  ConfigValue: configValueSchema,
  JsonValue: jsonValueSchema,
  ConnectStep: connectStepSchema,
  ConnectionStatus: connectionStatusSchema,
  ConnectionList: connectionListSchema,
  ConnectionListItem: connectionListItemSchema,
  AuthSlotState: authSlotStateSchema,
  AuthSlotStatus: authSlotStatusSchema,
  ListedAuthSlot: listedAuthSlotSchema,
  StatusError: statusErrorSchema,
  ReissueAuthUrlResult: reissueResultSchema,
  AuthCompletedWebhook: webhookBodySchema,
  WebhookAccepted: webhookAcceptedSchema,
  CancelAccepted: cancelAcceptedSchema,
  Error: errorBodySchema,
  ApiError: apiErrorSchema,
  InputProblem: inputProblemSchema,
  AllowedMethods: allowedMethodsSchema,
} as const;

/** A JSON object whose fields are always exactly `body`. */
const constant = (description: string, body: Record<string, string>) => ({
  type: 'object',
  description,
  required: Object.keys(body),
  properties: Object.fromEntries(Object.entries(body).map(([key, value]) => [key, { const: value }])),
});

/**
 * The shapes of the routes zod does not check, named like the rest: a client generator names an
 * inline object after where it sits (`HealthzResponse200`, `CodecDecodeBodyPayloadsItem`).
 */
export const SERVICE_SCHEMAS = {
  Health: constant('The API is up', { status: 'ok' }),
  Readiness: constant('The API and its Temporal connection are ready', { status: 'ready', temporal: 'ok' }),
  OpenApiDocument: { type: 'object', description: 'An OpenAPI 3.1 document' },
  CodecPayloads: {
    type: 'object',
    properties: { payloads: { type: 'array', items: { $ref: '#/components/schemas/CodecPayload' } } },
  },
  CodecPayload: { type: 'object', description: 'A Temporal payload in its protobuf JSON form' },
} as const;

function componentSchemas(codec: boolean): Record<string, unknown> {
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
  // The recursive union zod checks is, over JSON, the empty schema; written out, it makes
  // openapi-typescript emit a type alias that refers to itself, and the generated client fails to compile.
  out.JsonValue = { description: 'Any JSON value: string, number, boolean, null, array or object' };
  const { CodecPayloads: _p, CodecPayload: _c, ...service } = SERVICE_SCHEMAS;
  return { ...out, ...(codec ? SERVICE_SCHEMAS : service) };
}

const text = (description: string, type: string) => ({
  description,
  content: { [type]: { schema: { type: 'string' } } },
});

/** Health, readiness, metrics and this document. */
function servicePaths(): Record<string, unknown> {
  const get = (operationId: string, summary: string, responses: Record<string, unknown>) => ({
    // Open to anyone (probes carry no token): said outright, as linters take no `security` for an oversight.
    get: { operationId, summary, security: [], responses: { ...responses, ...UNEXPECTED } },
  });
  return {
    '/healthz': get('healthz', 'Liveness', { '200': json('Health', 'Up') }),
    '/readyz': get('readyz', 'Readiness, including the Temporal connection', {
      '200': json('Readiness', 'Ready'),
      '503': error('`temporal_unavailable`: the Temporal namespace did not answer within 2 s'),
    }),
    '/metrics': get('metrics', 'Prometheus metrics', {
      '200': text('Prometheus text exposition format', 'text/plain'),
    }),
    '/openapi.json': get('openapi', 'This document', {
      '200': json('OpenApiDocument', 'OpenAPI 3.1'),
    }),
  };
}

/** Temporal's codec server protocol, present while PAYLOAD_ENCRYPTION_KEYS is set. */
function codecPaths(): Record<string, unknown> {
  const route = (direction: 'encode' | 'decode') => ({
    post: {
      operationId: `codec${direction[0]!.toUpperCase()}${direction.slice(1)}`,
      summary: `${direction === 'decode' ? 'Decrypt' : 'Encrypt'} payloads (Temporal codec server protocol)`,
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('CodecPayloads') } } },
      responses: {
        '200': json('CodecPayloads', 'The payloads'),
        '400': error('Body is not `{ payloads: [...] }` with base64 fields'),
        '401': unauthorized(
          'Missing or wrong bearer token: CODEC_API_TOKEN when that is set, else API_TOKEN (when set)',
        ),
        '403': error(
          'Neither CODEC_API_TOKEN nor API_TOKEN is set and the client is not on loopback, or is a page from another site',
        ),
        '413': error('Body over 4 MB'),
        '415': error('Body in an unsupported Content-Encoding or charset'),
        '422': error(`A payload could not be ${direction}d (unknown key id, tampered data)`),
        ...UNEXPECTED,
      },
    },
    options: {
      operationId: `codec${direction[0]!.toUpperCase()}${direction.slice(1)}Preflight`,
      summary: "CORS preflight for the Web UI's origins (CODEC_CORS_ORIGIN)",
      security: [],
      responses: { '204': { description: 'Allowed' }, '403': error('Origin not allowed'), ...UNEXPECTED },
    },
  });
  return { '/codec/decode': route('decode'), '/codec/encode': route('encode') };
}

export interface OpenApiOptions {
  /** Document the /codec routes (mounted while PAYLOAD_ENCRYPTION_KEYS is set). */
  codec?: boolean;
  /** Route prefixes whose bearer token is not set (`/v1/connections`, `/codec`): the token is optional there. */
  tokenless?: readonly string[];
  /** API_PORT, for the document's local server entry (default 3000, npm start's and npm run api's). */
  localPort?: number;
}

/** Builds the OpenAPI document (once; it does not change at runtime). */
export function buildOpenApi(options: OpenApiOptions = {}): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'connect-saga API',
      version: '1.0.0',
      description:
        'Starts and follows one durable Temporal saga per "connect an integration" request against Tray Embedded. ' +
        'Errors always have the shape `{ error: { code, message, details? } }`. ' +
        'A method a documented path does not list is answered 405 with an `Allow` header; an unknown path 404. ' +
        'Any route may also answer, in the same error shape, what the HTTP server refuses before routing: ' +
        '400 `bad_request` (not valid HTTP, or no `Host`), 408 `request_timeout` (the request took over 30 s to arrive), ' +
        '417 `expectation_failed` and 431 `headers_too_large`. ' +
        'Every answer carries `x-request-id` (the caller’s, if sane, else a fresh one).',
    },
    servers: [
      { url: '/', description: 'The API serving this document' },
      {
        url: `http://localhost:${options.localPort ?? 3000}`,
        description: '`npm start` / `npm run api` on this machine, on the API_PORT this API listens on',
      },
    ],
    components: {
      schemas: componentSchemas(Boolean(options.codec)),
      responses: componentResponses({
        MethodNotAllowed: methodNotAllowed(
          'Method not allowed on this path; `Allow` lists the ones that are',
        ),
        NotFound: error('No such route'),
      }),
      headers: HEADERS,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            '`Authorization: Bearer $API_TOKEN` for /v1/connections* and /codec, compared in constant time. ' +
            'With CODEC_API_TOKEN set, /codec takes `Authorization: Bearer $CODEC_API_TOKEN` instead, and only that: ' +
            "neither token opens the other's routes. " +
            'While a route has no token set it answers loopback clients only, and no browser page from another site (else 403); ' +
            'this document then lists the token as optional on that route (`security: [{ bearer: [] }, {}]`).',
        },
        webhookSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'webhook-signature',
          description: `Not a key but an HMAC over each message, with \`webhook-id\` and \`webhook-timestamp\`. ${SIGNATURE_SCHEME}`,
        },
      },
    },
    paths: withOptionalBearer(
      withRequestIds({
        ...connectionPaths(),
        ...webhookPaths(),
        ...servicePaths(),
        ...(options.codec ? codecPaths() : {}),
      }),
      options.tokenless ?? [],
    ),
  };
}
