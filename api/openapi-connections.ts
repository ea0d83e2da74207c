/**
 * The /v1/connections operations of the OpenAPI document: every status code each can send.
 * Only the start reads its body (as JSON), so only it can answer the body parser's 400, 413 and
 * 415; the other routes leave a body unread.
 */
import { BODY_LIMIT_TEXT } from './body-limit.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './list-query.js';
import { error, json, ref, UNEXPECTED } from './openapi-parts.js';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from './schemas.js';
import { STEPS } from '../common/messages.js';

/** Answers every /v1/connections* route can give, whatever it does. */
const COMMON = {
  '400': error(
    'Invalid input (`details` lists every problem as `{ path, message }`) or a path that is not valid percent-encoding',
  ),
  '401': error('Missing or wrong bearer token (API_TOKEN set)'),
  '403': error('Non-loopback client while API_TOKEN is unset'),
  ...UNEXPECTED,
  '503': error('Temporal unreachable'),
};

/** What the start, which reads its body, adds to COMMON. */
const WITH_BODY = {
  ...COMMON,
  '400': error(
    'Invalid input (`details` lists every problem as `{ path, message }`), a body that is not JSON, or a path that is not valid percent-encoding',
  ),
  '413': error(`Body over ${BODY_LIMIT_TEXT}`),
  '415': error('Body in an unsupported Content-Encoding or charset'),
};

const connectionIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The connectionId, `connect:{externalUserId}:{solutionId}` (URL-encode it)',
  schema: { type: 'string', minLength: 1, maxLength: 409 },
};

const filter = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const LIST_PARAMETERS = [
  filter('externalUserId', 'Only sagas of this end user', { type: 'string', minLength: 1, maxLength: 200 }),
  filter('solutionId', 'Only sagas of this solution', { type: 'string', minLength: 1, maxLength: 200 }),
  filter('step', 'Only sagas at this step (the ConnectStep search attribute)', { enum: [...STEPS] }),
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
      `Seconds to wait for the auth URLs (0..${MAX_WAIT_SECONDS}); asking again before they exist joins the same wait`,
      {
        type: 'number',
        minimum: 0,
        maximum: MAX_WAIT_SECONDS,
        default: DEFAULT_WAIT_SECONDS,
      },
    ),
  ],
  requestBody: { required: true, content: { 'application/json': { schema: ref('ConnectInput') } } },
  responses: {
    '201': json('ConnectionStatus', 'A new saga was started'),
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
      parameters: [
        connectionIdParam,
        {
          name: 'externalAuthId',
          in: 'path',
          required: true,
          schema: { type: 'string', minLength: 1, maxLength: 200 },
        },
      ],
      post: {
        operationId: 'reissueAuthUrl',
        summary: 'Issue a fresh dialog URL (new one-time code) for a pending auth slot',
        security: [{ bearer: [] }],
        description: 'Takes no body: one sent is left unread.',
        responses: {
          '200': json('ReissueAuthUrlResult', 'The new URL'),
          ...COMMON,
          '404': error('No such connection'),
          '409': error('Saga closed, not awaiting auths, or the slot is already completed'),
          '422': error('Unknown auth slot'),
          '502': error('The saga could not issue a URL (Tray refused or failed)'),
          '503': error('Temporal unreachable, or no worker answered in time'),
        },
      },
    },
  };
}
