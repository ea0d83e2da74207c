/** Building blocks of the OpenAPI document shared by its parts. */
import type { COMPONENTS, SERVICE_SCHEMAS } from './openapi.js';

export type ComponentName = keyof typeof COMPONENTS | keyof typeof SERVICE_SCHEMAS;

/** A `$ref` to the named component schema. */
export const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
/** A JSON response described by `description` whose body is the named component. */
export const json = (name: ComponentName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});

/** Response headers the API sends, documented once under components.headers. */
export const HEADERS = {
  RequestId: {
    description:
      'On every answer: the caller’s own `x-request-id` when it is 1..100 of `A-Z a-z 0-9 _ . -`, else a fresh UUID. ' +
      'Every log line the API writes for the request carries it, and so does every Temporal call it makes.',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$' },
  },
  RetryAfter: {
    description: 'Sent with `temporal_busy`: seconds to wait before trying again',
    schema: { type: 'integer', minimum: 1 },
  },
  WwwAuthenticate: {
    description: 'The scheme the API asks for: `Bearer realm="connect-saga"`',
    required: true,
    schema: { type: 'string' },
  },
  Allow: {
    description: 'The methods the path serves, e.g. `GET, DELETE, HEAD`',
    required: true,
    schema: { type: 'string' },
  },
} as const;

const header = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** An error answer, with the headers it carries besides `x-request-id`. */
export const error = (description: string, headers?: Record<string, unknown>) => ({
  ...json('Error', description),
  ...(headers ? { headers } : {}),
});

/** A 401 of the bearer check, which names the scheme it wants. */
export const unauthorized = (description: string) =>
  error(description, { 'WWW-Authenticate': header('WwwAuthenticate') });

/** A 503 that may be `temporal_busy`, which says when to come back. */
export const unavailable = (description: string) =>
  error(description, { 'Retry-After': header('RetryAfter') });

/** A 405, with the methods the path does serve. */
export const methodNotAllowed = (description: string) => error(description, { Allow: header('Allow') });

/** The 503 of every route that calls Temporal; `more` adds the route's own causes. */
export const temporalDown = (more = '') =>
  unavailable(
    '`temporal_unavailable`: Temporal unreachable, refusing the API’s credentials or lacking the saga’s search attributes (the message says which; logged); `temporal_busy`: Temporal refused the call for load ' +
      `(its rate limits), with \`Retry-After\`${more}`,
  );

/** Any route can fail unexpectedly; the error is logged and answered without internals. */
export const UNEXPECTED = {
  '500': error(
    '`internal_error`: unexpected (logged; the answer carries no internals); `payload_undecodable`: ' +
      'a saga’s payloads are encrypted under a key id PAYLOAD_ENCRYPTION_KEYS does not hold',
  ),
};

type Json = Record<string, unknown>;

/** `responses` with `x-request-id` added to each answer's headers. */
function withRequestId(responses: Json): Json {
  const out: Json = {};
  for (const [code, response] of Object.entries(responses)) {
    const { headers, ...rest } = response as { headers?: Json };
    out[code] = { ...rest, headers: { 'x-request-id': header('RequestId'), ...headers } };
  }
  return out;
}

/** `paths` with each entry of each path item (its operations, and `parameters`) passed through `map`. */
function mapOperations(paths: Json, map: (template: string, operation: Json) => Json): Json {
  const out: Json = {};
  for (const [template, item] of Object.entries(paths)) {
    const methods: Json = {};
    for (const [key, operation] of Object.entries(item as Json))
      methods[key] = map(template, operation as Json);
    out[template] = methods;
  }
  return out;
}

/** `paths` with `x-request-id` on every answer of every operation: every answer carries one. */
export function withRequestIds(paths: Json): Json {
  return mapOperations(paths, (_template, operation) => {
    const { responses } = operation as { responses?: Json };
    return responses ? { ...operation, responses: withRequestId(responses) } : operation;
  });
}

/** `responses` (components.responses) with `x-request-id`, like every operation's. */
export const componentResponses = (responses: Json): Json => withRequestId(responses);

/**
 * `paths` with the bearer token optional (`security: [{ bearer: [] }, {}]`) on the routes under the
 * given prefixes: a route whose token is not set takes none from loopback clients, and a client
 * generated from the served document must not insist on one.
 */
export function withOptionalBearer(paths: Json, prefixes: readonly string[]): Json {
  return mapOperations(paths, (template, operation) => {
    const { security } = operation as { security?: Json[] };
    const bearer = security?.length === 1 && 'bearer' in (security[0] as Json);
    const open = bearer && prefixes.some((prefix) => template.startsWith(prefix));
    return open ? { ...operation, security: [...(security as Json[]), {}] } : operation;
  });
}
