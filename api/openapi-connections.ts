/**
 * The /v1/connections operations of the OpenAPI document: every status code each can send.
 * Only the start reads its body (as JSON), so only it can answer the body parser's 400, 413 and
 * 415; the other routes leave a body unread.
 */
import { z } from 'zod';
import { idPattern } from '../common/input.js';
import { LIMITS } from '../common/messages.js';
import { BODY_LIMIT_TEXT } from './body-limit.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './list-query.js';
import { error, json, ref, temporalDown, unauthorized, UNEXPECTED } from './openapi-parts.js';
import {
  connectionIdParamSchema,
  DEFAULT_WAIT_SECONDS,
  externalAuthIdParamSchema,
  MAX_WAIT_SECONDS,
  WAIT_PATTERN,
} from './schemas.js';

/** Answers every /v1/connections* route can give, whatever it does. */
const COMMON = {
  '400': error(
    '`invalid_input`: a path parameter or query value is invalid, or not valid percent-encoded UTF-8 (`details` lists every problem as `{ path, message }`)',
  ),
  '401': unauthorized('Missing or wrong bearer token (API_TOKEN set)'),
  '403': error('API_TOKEN is unset and the client is not on loopback, or is a page from another site'),
  ...UNEXPECTED,
  '503': temporalDown(),
};

/** What the start, which reads its body, adds to COMMON. */
const WITH_BODY = {
  ...COMMON,
  '400': error(
    '`invalid_input`: invalid input (`details` lists every problem as `{ path, message }`); `invalid_json`: a body that is not JSON or not UTF-8',
  ),
  '413': error(`Body over ${BODY_LIMIT_TEXT}`),
  '415': error('Body in an unsupported Content-Encoding or charset'),
};

/** A path parameter, its schema generated from the zod schema that checks it. */
const pathParameter = (name: string, schema: z.ZodType) => {
  const { description, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
  const { $schema: _s, ...json } = rest;
  return { name, in: 'path', required: true, description, schema: json };
};

const connectionIdParam = pathParameter('id', connectionIdParamSchema);

const filter = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const filterId = (forbidden = '') => ({
  type: 'string',
  minLength: 1,
  maxLength: LIMITS.maxIdLength,
  pattern: idPattern(forbidden),
});

const LIST_PARAMETERS = [
  filter(
    'externalUserId',
    'Only sagas of this end user (the input rules: no control characters or lone surrogates)',
    filterId(),
  ),
  filter('solutionId', 'Only sagas of this solution (the input rules; no `:`)', filterId(':')),
  filter('step', 'Only sagas at this step (the ConnectStep search attribute)', ref('ConnectStep')),
  filter('pageSize', `Items per page, 1..${MAX_PAGE_SIZE}`, {
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
  }),
  filter('pageToken', 'The `nextPageToken` of the previous page (opaque)', { type: 'string' }),
];

const startOperation = {
  operationId: 'startConnection',
  summary: 'Start (or return the running) connect saga and wait for its auth URLs',
  security: [{ bearer: [] }],
  parameters: [
    filter(
      'wait',
      `Seconds to wait for the auth URLs, 0 to ${MAX_WAIT_SECONDS} (default ${DEFAULT_WAIT_SECONDS}), in digits ` +
        'with an optional fraction (`2.5`; no sign, no exponent: `1e1` is a 400); asking again before they exist joins the same wait',
      { type: 'string', pattern: WAIT_PATTERN, default: String(DEFAULT_WAIT_SECONDS) },
    ),
  ],
  requestBody: { required: true, content: { 'application/json': { schema: ref('ConnectInput') } } },
  responses: {
    '201': json(
      'ConnectionStatus',
      'A new saga was started; one that failed before its URLs is answered once it ended (`failed` and its `error`)',
    ),
    '200': json('ConnectionStatus', 'A running saga with this id exists (`existing: true`)'),
    ...WITH_BODY,
  },
};

const listOperation = {
  operationId: 'listConnections',
  summary: 'List sagas, newest first, from Temporal visibility',
  description:
    'Filters combine with AND. Items are status objects without URLs (GET one connection for them). ' +
    'Visibility is eventually consistent: a saga started or moved a moment ago can take about a second to show up or show its new step. ' +
    'Newest first is visibility order: running sagas by start time, then closed ones by close time.',
  security: [{ bearer: [] }],
  parameters: LIST_PARAMETERS,
  responses: { '200': json('ConnectionList', 'One page; `nextPageToken` when there is more'), ...COMMON },
};

/** POST, GET and DELETE on /v1/connections, listing them, and reissuing an auth URL. */
export function connectionPaths(): Record<string, unknown> {
  return {
    '/v1/connections': { post: startOperation, get: listOperation },
    '/v1/connections/{id}': {
      parameters: [connectionIdParam],
      get: {
        operationId: 'getConnection',
        summary: "The saga's status",
        security: [{ bearer: [] }],
        responses: {
          '200': json('ConnectionStatus', 'The status object'),
          ...COMMON,
          '404': error('No such connection'),
        },
      },
      delete: {
        operationId: 'cancelConnection',
        summary: 'Cancel the saga; compensation removes the instance it created',
        security: [{ bearer: [] }],
        responses: {
          '202': json('CancelAccepted', 'Cancellation requested'),
          ...COMMON,
          '404': error('No such connection'),
          '409': error('Already closed, or completed and only tidying up'),
        },
      },
    },
    '/v1/connections/{id}/auth-urls/{externalAuthId}': {
      parameters: [connectionIdParam, pathParameter('externalAuthId', externalAuthIdParamSchema)],
      post: {
        operationId: 'reissueAuthUrl',
        summary: 'Issue a fresh dialog URL (new one-time code) for a pending auth slot',
        security: [{ bearer: [] }],
        description: 'Takes no body: one sent is left unread.',
        responses: {
          '200': json('ReissueAuthUrlResult', 'The new URL'),
          ...COMMON,
          '404': error('No such connection'),
          '409': error(
            '`connection_closed`: the saga has ended; `not_awaiting_auth`: not awaiting auths; `slot_completed`: the slot is already completed; `reissue_limit`: the saga has taken the 300 reissues it may',
          ),
          '422': error('Unknown auth slot'),
          '502': error('`reissue_failed`: the saga could not issue a URL (Tray refused or failed)'),
          '503': temporalDown(
            '; `saga_unresponsive`: the update got no answer in time (no worker, or a slow Tray); ' +
              '`temporal_busy` also when 10 reissues of the connection stayed in flight for about 13 s (Temporal’s ' +
              'limit per saga)',
          ),
        },
      },
    },
  };
}
