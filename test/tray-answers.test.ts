/**
 * Answers another Tray may give where Tray documents none: other spellings of its codes and rate
 * limit, bare or null error entries, a 403 or a 503 with Retry-After, an empty token, "already gone"
 * said any way, paged or epoch-stamped instance lists, a create retried after its answer was lost.
 * A small stand-in server answers by operation name, so every variant is exact.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, createTrayClient } from '../activities/index.js';
import { createdMs } from '../activities/instances.js';
import { LOOKED_FOUND_NOTHING } from '../activities/retried-create.js';
import { UserTokenCache } from '../activities/token-cache.js';
import { trayErrorDetails } from '../activities/tray-client.js';
import type { ConnectActivities } from '../common/activity-types.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { runActivity } from './helpers/run-activity.js';

const MASTER = 'mt-stand-in-secret';

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}
type Responder = (variables: Record<string, unknown>, authorization: string) => Answer;

let server: Server;
let url: string;
/** Operation name → how the stand-in answers it; anything else is a test bug, answered 500. */
let responders: Record<string, Responder> = {};
/** Every request: its operation name and variables. */
let seen: { operation: string; variables: Record<string, unknown>; authorization: string }[] = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { query, variables = {} } = JSON.parse(Buffer.concat(chunks).toString()) as {
        query: string;
        variables?: Record<string, unknown>;
      };
      const operation = /\b(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? 'anonymous';
      const authorization = req.headers.authorization ?? '';
      seen.push({ operation, variables, authorization });
      const answer = responders[operation]?.(variables, authorization) ?? {
        status: 500,
        body: { error: `no responder for ${operation}` },
      };
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  responders = {};
  seen = [];
});

function activitiesWith(tokenCache = new UserTokenCache()) {
  const tray = createTrayClient({ graphqlUrl: url, masterToken: MASTER, timeoutMs: 2000 });
  const activities = createActivities({
    tray,
    embeddedId: 'emb',
    dialogBaseUrl: 'https://dialog.example',
    tokenCache,
    sealSecret: MASTER,
  });
  return { activities, tokenCache };
}

const run = runActivity;

/** Activities whose token cache already holds user u1's token, so no authorize is sent. */
function cached(): ConnectActivities {
  const cache = new UserTokenCache();
  cache.set('u1', 'ut-1');
  return activitiesWith(cache).activities;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.ok(!error.message.includes(MASTER), `the master token leaked: ${error.message}`);
    assert.ok(!JSON.stringify(error.details).includes(MASTER), 'the master token leaked into details');
    return error;
  }
  assert.fail('expected a failure');
}

const errorsAnswer = (errors: unknown[], status = 200): Answer => ({ status, body: { data: null, errors } });
const findUser = (activities: ConnectActivities) => run(activities, 'findUser', { externalUserId: 'x' });

describe('rate limits said other ways are rate limits (they never fail a saga)', () => {
  const variants: [string, unknown[]][] = [
    ['code RATE_LIMITED', [{ message: 'Slow down', extensions: { code: 'RATE_LIMITED' } }]],
    ['code TOO_MANY_REQUESTS', [{ message: 'Slow down', extensions: { code: 'TOO_MANY_REQUESTS' } }]],
    ['a numeric code 429', [{ message: 'Slow down', extensions: { code: 429 } }]],
    ['extensions.http.status 429', [{ message: 'Slow down', extensions: { http: { status: 429 } } }]],
    ['"Rate-limit exceeded" with no code', [{ message: 'Rate-limit exceeded' }]],
    ['"Too Many Requests" with no code', [{ message: 'Too Many Requests' }]],
    ['"Request throttled" with no code', [{ message: 'Request throttled' }]],
    ['a bare string entry', ['rate limit exceeded']],
    [
      "Tray's own, worded otherwise",
      [{ message: 'Slow down', extensions: { code: 'access_not_allowed', name: 'PreconditionError' } }],
    ],
    ...[
      'Access denied: rate exceeded',
      'Forbidden: API usage exceeded',
      'Throughput exceeded; access denied',
      'Unauthorized: exceeded allowance',
    ].map((message): [string, unknown[]] => [
      `Tray's own, worded "${message}"`,
      [{ message, extensions: { code: 'access_not_allowed', name: 'PreconditionError' } }],
    ]),
    [
      "Tray's own, worded as not allowed but naming the limit",
      [
        {
          message: 'You are not allowed to send more requests: API limit reached',
          extensions: { code: 'access_not_allowed', name: 'PreconditionError' },
        },
      ],
    ],
  ];
  for (const [what, errors] of variants) {
    test(what, async () => {
      responders.FindUser = () => errorsAnswer(errors);
      const failure = await failureOf(findUser(activitiesWith().activities));
      assert.equal(failure.type, TRAY_FAILURE_TYPES.rateLimited, failure.message);
      assert.equal(failure.nonRetryable, false);
    });
  }
});

describe("Tray's rate-limit code on a refused permission", () => {
  test('fails the step, rather than retrying it for ever as a rate limit', async () => {
    for (const message of ['You are not allowed to access this solution', 'Permission denied']) {
      responders.FindUser = () =>
        errorsAnswer([{ message, extensions: { code: 'access_not_allowed', name: 'PreconditionError' } }]);
      const failure = await failureOf(findUser(activitiesWith().activities));
      assert.notEqual(failure.type, TRAY_FAILURE_TYPES.rateLimited, message);
      assert.equal(failure.nonRetryable, true, message);
    }
  });
});

describe('other answers get the failure type their meaning has', () => {
  const cases: [string, Answer, string][] = [
    ['code NOT_FOUND', errorsAnswer([{ message: 'x', extensions: { code: 'NOT_FOUND' } }]), 'notFound'],
    ['code NotFound', errorsAnswer([{ message: 'x', extensions: { code: 'NotFound' } }]), 'notFound'],
    ['"Solution not found" with no code', errorsAnswer([{ message: 'Solution not found' }]), 'notFound'],
    [
      'code UNAUTHENTICATED',
      errorsAnswer([{ message: 'x', extensions: { code: 'UNAUTHENTICATED' } }]),
      'forbidden',
    ],
    [
      '"Invalid or expired token" with no code',
      errorsAnswer([{ message: 'Invalid or expired token' }]),
      'forbidden',
    ],
    ['HTTP 403 with an empty body', { status: 403, body: '' }, 'forbidden'],
    ['an unnamed error', errorsAnswer([{ message: 'Something is wrong with the input' }]), 'permanent'],
    [
      'a code named like an Object method (constructor)',
      errorsAnswer([{ message: 'x', extensions: { code: 'constructor' } }]),
      'permanent',
    ],
    ['errors: [null]', errorsAnswer([null]), 'permanent'],
    [
      'a code beside the message, not in extensions',
      errorsAnswer([{ message: 'Request refused', code: 'UNAUTHENTICATED' }]),
      'forbidden',
    ],
    [
      'Apollo INTERNAL_SERVER_ERROR',
      errorsAnswer([{ message: 'x', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]),
      'transient',
    ],
    [
      'a numeric code 503',
      errorsAnswer([{ message: 'Service Unavailable', extensions: { code: 503 } }]),
      'transient',
    ],
    [
      "a proxy's UPSTREAM_ERROR (Envoy's words for a backend it could not reach)",
      errorsAnswer([
        {
          message: 'upstream connect error or disconnect/reset before headers',
          extensions: { code: 'UPSTREAM_ERROR' },
        },
      ]),
      'transient',
    ],
    [
      "Envoy's words with an unknown code",
      errorsAnswer([
        { message: 'upstream connect error or disconnect/reset before headers', extensions: { code: 'E42' } },
      ]),
      'transient',
    ],
    ['a code "404"', errorsAnswer([{ message: 'x', extensions: { code: '404' } }]), 'notFound'],
    [
      'HTTP 500 carrying NOT_FOUND (as express-graphql sends errors)',
      errorsAnswer([{ message: 'x', extensions: { code: 'NOT_FOUND' } }], 500),
      'notFound',
    ],
    [
      'HTTP 500 carrying an uncoded "User not found" (a crash may word itself so)',
      errorsAnswer([{ message: 'User not found' }], 500),
      'transient',
    ],
    [
      'HTTP 500 carrying an uncoded error of no known meaning',
      errorsAnswer([{ message: 'connect ECONNREFUSED 10.0.0.7:5432' }], 500),
      'transient',
    ],
    [
      'HTTP 500 carrying a conflict',
      errorsAnswer([{ message: 'x', extensions: { code: 'CONFLICT' } }], 500),
      'transient',
    ],
    [
      '"Internal server error" with no code',
      errorsAnswer([{ message: 'Internal server error' }]),
      'transient',
    ],
    [
      '"Request timed out, please retry" with no code',
      errorsAnswer([{ message: 'Request timed out, please retry' }]),
      'transient',
    ],
    [
      'a code of no known meaning beside "Internal server error" (no extensions)',
      {
        status: 200,
        body: { data: null, errors: [{ message: 'Internal server error', code: 'E_INTERNAL' }] },
      },
      'transient',
    ],
    [
      'a crash that reads "ENOENT: no such file or directory", at HTTP 200',
      errorsAnswer([{ message: "ENOENT: no such file or directory, open '/srv/users.json'" }]),
      'transient',
    ],
    [
      'a crash that reads \'relation "users" does not exist\', at HTTP 200',
      errorsAnswer([{ message: 'relation "users" does not exist' }]),
      'transient',
    ],
  ];
  // Through authorize: a users lookup reads "not found" as no user.
  for (const [what, answer, kind] of cases) {
    test(`${what} → ${kind}`, async () => {
      responders.AuthorizeUser = () => answer;
      const failure = await failureOf(run(activitiesWith().activities, 'prepareUserToken', { userId: 'u1' }));
      const type = TRAY_FAILURE_TYPES[kind as keyof typeof TRAY_FAILURE_TYPES];
      assert.equal(failure.type, type, failure.message);
      assert.equal(failure.nonRetryable, kind !== 'transient');
    });
  }

  test('a code carrying a token is redacted and cut short', async () => {
    responders.FindUser = () =>
      errorsAnswer([{ message: 'no', extensions: { code: `bad-${MASTER}-${'x'.repeat(200)}` } }]);
    const failure = await failureOf(findUser(activitiesWith().activities));
    const code = trayErrorDetails(failure)?.code ?? '';
    assert.match(code, /^bad-\[redacted\]-x+…$/);
    assert.ok(code.length <= 65, `code of ${code.length} characters`);
  });

  test('a Retry-After date counts from the answer’s Date, whether Tray’s clock is behind or ahead', async () => {
    for (const skewMs of [-5 * 60_000, 5 * 60_000]) {
      const trayNow = Math.floor((Date.now() + skewMs) / 1000) * 1000;
      responders.AuthorizeUser = () => ({
        status: 429,
        headers: {
          date: new Date(trayNow).toUTCString(),
          'retry-after': new Date(trayNow + 3000).toUTCString(),
        },
        body: '',
      });
      const failure = await failureOf(run(activitiesWith().activities, 'prepareUserToken', { userId: 'u1' }));
      assert.equal(failure.type, TRAY_FAILURE_TYPES.rateLimited);
      assert.equal(trayErrorDetails(failure)?.retryAfterMs, 3000, `Tray's clock off by ${skewMs} ms`);
    }
  });

  test('a 503 with Retry-After is retried after that wait, capped at a minute', async () => {
    responders.FindUser = () => ({ status: 503, headers: { 'retry-after': '120' }, body: '' });
    const failure = await failureOf(findUser(activitiesWith().activities));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 60_000);
    responders.FindUser = () => ({ status: 503, headers: { 'retry-after': '7' }, body: '' });
    assert.equal((await failureOf(findUser(activitiesWith().activities))).nextRetryDelay, 7_000);
  });
});

describe('user tokens', () => {
  const instance = { userId: 'u1', solutionInstanceId: 'si-1' };

  for (const [what, refused] of [
    ['UNAUTHENTICATED', errorsAnswer([{ message: 'x', extensions: { code: 'UNAUTHENTICATED' } }])],
    ['a 403 with no body', { status: 403, body: '' }],
    ['"Token has expired" with no code', errorsAnswer([{ message: 'Token has expired' }])],
    ['"Access token not found" with no code', errorsAnswer([{ message: 'Access token not found' }])],
    [
      'graphql-js on a viewer resolved to null',
      errorsAnswer([{ message: 'Cannot return null for non-nullable field Query.viewer.' }]),
    ],
    [
      'UNAUTHENTICATED sent with HTTP 500',
      errorsAnswer([{ message: 'x', extensions: { code: 'UNAUTHENTICATED' } }], 500),
    ],
    [
      "Tray's own code access_not_allowed",
      errorsAnswer([{ message: 'Access not allowed', extensions: { code: 'access_not_allowed' } }]),
    ],
    [
      'an unknown code with the name AuthenticationError',
      errorsAnswer([{ message: 'x', extensions: { code: 'E401X', name: 'AuthenticationError' } }]),
    ],
    ['"jwt expired" with no code', errorsAnswer([{ message: 'jwt expired' }])],
    [
      'an uncoded "Access token <the token> is not valid for solution"',
      errorsAnswer([{ message: 'Access token ut-stale is not valid for solution' }]),
    ],
    [
      'an uncoded "The access token provided has expired"',
      errorsAnswer([{ message: 'The access token provided has expired' }]),
    ],
    ['an uncoded "Token has been revoked"', errorsAnswer([{ message: 'Token has been revoked' }])],
    ['"Authentication failed" with no code', errorsAnswer([{ message: 'Authentication failed' }])],
    [
      '"You are not authorized to perform this action" with no code',
      errorsAnswer([{ message: 'You are not authorized to perform this action' }]),
    ],
  ] as const) {
    test(`a cached token refused as ${what} is re-minted once and the call made again`, async () => {
      const { activities, tokenCache } = activitiesWith();
      tokenCache.set('u1', 'ut-stale');
      responders.AuthorizeUser = () => ({ body: { data: { authorize: { accessToken: 'ut-fresh' } } } });
      responders.EnableInstance = (_v, authorization) =>
        authorization === 'Bearer ut-fresh'
          ? {
              body: { data: { updateSolutionInstance: { solutionInstance: { id: 'si-1', enabled: true } } } },
            }
          : refused;
      await run(activities, 'enableInstance', instance);
      assert.deepEqual(
        seen.map((r) => r.operation),
        ['EnableInstance', 'AuthorizeUser', 'EnableInstance'],
      );
    });
  }

  test('a stale token answered viewer: null (no errors) is re-minted once, not retried as it is', async () => {
    const listing = (authorization: string, field: string, edges: unknown[]) => ({
      body: { data: { viewer: authorization === 'Bearer ut-fresh' ? { [field]: { edges } } : null } },
    });
    const stale = () => {
      const { activities, tokenCache } = activitiesWith();
      tokenCache.set('u1', 'ut-stale');
      return activities;
    };
    responders.AuthorizeUser = () => ({ body: { data: { authorize: { accessToken: 'ut-fresh' } } } });
    responders.ListAuthentications = (_v, authorization) =>
      listing(authorization, 'authentications', [{ node: { id: 'a-1' } }]);
    assert.deepEqual(await run(stale(), 'verifyAuths', { userId: 'u1', authIds: ['a-1'] }), { foreign: [] });
    responders.FindInstances = (_v, authorization) => listing(authorization, 'solutionInstances', []);
    const key = { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore: new Date().toISOString() };
    assert.deepEqual(await run(stale(), 'removeInstance', key), { removed: [] });
    assert.deepEqual(
      seen.map((r) => r.operation),
      [
        'ListAuthentications',
        'AuthorizeUser',
        'ListAuthentications',
        'FindInstances',
        'AuthorizeUser',
        'FindInstances',
      ],
    );
  });

  for (const token of [null, '', '  ']) {
    test(`authorize answering ${JSON.stringify(token)} as the token is a retryable failure, not a cached token`, async () => {
      const { activities, tokenCache } = activitiesWith();
      responders.AuthorizeUser = () => ({ body: { data: { authorize: { accessToken: token } } } });
      const failure = await failureOf(run(activities, 'prepareUserToken', { userId: 'u1' }));
      assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
      assert.match(failure.message, /no access token/);
      assert.equal(tokenCache.get('u1'), undefined);
    });
  }
});

describe('"already gone" said any way ends the removal; an instance still there does not', () => {
  const key = { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore: new Date().toISOString() };
  const listing = (ids: string[]) => () => ({
    body: { data: { viewer: { solutionInstances: { edges: ids.map((id) => ({ node: { id } })) } } } },
  });
  const refusals: [string, Answer][] = [
    ['code NOT_FOUND', errorsAnswer([{ message: 'x', extensions: { code: 'NOT_FOUND' } }])],
    ['an uncoded "Solution instance not found"', errorsAnswer([{ message: 'Solution instance not found' }])],
    [
      'code BAD_USER_INPUT',
      errorsAnswer([{ message: 'Invalid id', extensions: { code: 'BAD_USER_INPUT' } }]),
    ],
    ['code forbidden', errorsAnswer([{ message: 'x', extensions: { code: 'forbidden' } }])],
    [
      'Apollo INTERNAL_SERVER_ERROR',
      errorsAnswer([{ message: 'x', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]),
    ],
    ['HTTP 404 with an empty body', { status: 404, body: '' }],
    ['an answer without data and without errors', { body: { data: null, errors: [] } }],
    [
      'code not_found sent with HTTP 500',
      errorsAnswer([{ message: 'x', extensions: { code: 'not_found' } }], 500),
    ],
  ];
  for (const [what, refusal] of refusals) {
    test(`${what}, and the instance is not listed: removed`, async () => {
      responders.RemoveInstance = () => refusal;
      responders.FindInstance = listing([]);
      responders.AuthorizeUser = () => ({ body: { data: { authorize: { accessToken: 'ut-2' } } } });
      const result = await run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-gone' });
      assert.deepEqual(result, { removed: [] });
      assert.ok(seen.length <= 5, `${seen.length} requests`);
    });
  }

  test('a crash at HTTP 500 worded "does not exist" never counts the instance as gone', async () => {
    const crash = () => errorsAnswer([{ message: 'relation "solution_instances" does not exist' }], 500);
    responders.RemoveInstance = crash;
    responders.FindInstance = crash;
    const failure = await failureOf(run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-1' }));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
    responders.FindInstances = crash;
    const byKey = await failureOf(run(cached(), 'removeInstance', key));
    assert.equal(byKey.type, TRAY_FAILURE_TYPES.transient);
  });

  test('a later page answered "not found" fails the search rather than cutting it short', async () => {
    responders.FindInstances = (v) =>
      v.after === undefined
        ? {
            body: {
              data: {
                viewer: {
                  solutionInstances: { edges: [], pageInfo: { hasNextPage: true, endCursor: 'c1' } },
                },
              },
            },
          }
        : errorsAnswer([{ message: 'Cursor not found', extensions: { code: 'NOT_FOUND' } }]);
    const failure = await failureOf(run(cached(), 'removeInstance', key));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.notFound);
  });

  test('"not found" from the removal and from the look by id: removed', async () => {
    const notFound = errorsAnswer([
      { message: 'Solution instance not found', extensions: { code: 'not_found' } },
    ]);
    responders.RemoveInstance = () => notFound;
    responders.FindInstance = () => notFound;
    const result = await run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-gone' });
    assert.deepEqual(result, { removed: [] });
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['RemoveInstance', 'FindInstance'],
    );
  });

  test('a refusal while the instance is still listed fails the removal, to be retried', async () => {
    responders.RemoveInstance = () => errorsAnswer([{ message: 'Instance is locked' }]);
    responders.FindInstance = listing(['si-here']);
    const failure = await failureOf(
      run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-here' }),
    );
    assert.equal(failure.type, TRAY_FAILURE_TYPES.permanent);
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['RemoveInstance', 'FindInstance'],
    );
  });

  test('"not found" while the instance is still listed fails the removal: Tray had not looked', async () => {
    responders.RemoveInstance = () =>
      errorsAnswer([{ message: 'Solution instance not found', extensions: { code: 'NOT_FOUND' } }]);
    responders.FindInstance = listing(['si-here']);
    const failure = await failureOf(
      run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-here' }),
    );
    assert.equal(failure.type, TRAY_FAILURE_TYPES.notFound);
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['RemoveInstance', 'FindInstance'],
    );
  });

  test('a failing server is not taken for "gone": no look-up, the removal retries', async () => {
    responders.RemoveInstance = () => ({ status: 502, body: '<html>bad gateway</html>' });
    const failure = await failureOf(run(cached(), 'removeInstance', { ...key, solutionInstanceId: 'si-1' }));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['RemoveInstance'],
    );
  });

  test('authorize refused for a user a look by id no longer lists: nothing left to remove', async () => {
    const refused = () => errorsAnswer([{ message: 'x', extensions: { code: 'FORBIDDEN' } }]);
    responders.AuthorizeUser = refused;
    responders.FindUserById = () => ({ body: { data: { users: { edges: [] } } } });
    const removal = () =>
      run(activitiesWith().activities, 'removeInstance', { ...key, solutionInstanceId: 'si-1' });
    assert.deepEqual(await removal(), { removed: [] });
    // Still listed, or the look refused too (a master token Tray no longer takes): the refusal stands.
    for (const look of [
      () => ({ body: { data: { users: { edges: [{ node: { id: 'u1' } }] } } } }),
      refused,
    ]) {
      responders.FindUserById = look;
      assert.equal((await failureOf(removal())).type, TRAY_FAILURE_TYPES.forbidden);
    }
    assert.ok(!seen.some((r) => r.operation === 'RemoveInstance'));
  });

  test('a user Tray no longer knows (NOT_FOUND from authorize) has nothing left to remove', async () => {
    responders.AuthorizeUser = () =>
      errorsAnswer([{ message: 'User not found', extensions: { code: 'NOT_FOUND' } }]);
    const { activities } = activitiesWith();
    assert.deepEqual(await run(activities, 'removeInstance', { ...key, solutionInstanceId: 'si-1' }), {
      removed: [],
    });
  });
});

describe('finding the saga’s own instance', () => {
  test('created as epoch seconds or milliseconds, as a number or digits, reads as that time', () => {
    const at = Date.parse('2026-11-26T10:00:00.000Z');
    assert.equal(createdMs(at), at);
    assert.equal(createdMs(at / 1000), at);
    assert.equal(createdMs(String(at / 1000)), at);
    assert.equal(createdMs('2026-11-26T10:00:00Z'), at);
    assert.ok(Number.isNaN(createdMs(null)));
    assert.ok(Number.isNaN(createdMs('yesterday')));
  });

  test('created without a zone reads as UTC, whatever the worker’s own zone', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const at = Date.parse('2026-11-26T10:00:00.250Z');
      assert.equal(createdMs('2026-11-26T10:00:00.250'), at);
      assert.equal(createdMs('2026-11-26 10:00:00.250'), at);
      assert.equal(createdMs('2026-11-26T10:00:00.250+00:00'), at);
      assert.equal(createdMs('2026-11-26T05:00:00.250-05:00'), at);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  test('a retried create follows the pages and adopts its instance stamped in epoch seconds', async () => {
    const cache = new UserTokenCache();
    cache.set('u1', 'ut-1');
    const { activities } = activitiesWith(cache);
    const notBefore = new Date(Date.now() - 1000).toISOString();
    const node = (id: string, created: unknown) => ({ node: { id, name: 'n', owner: 'u1', created } });
    responders.FindInstances = (variables) =>
      variables.after === undefined
        ? {
            body: {
              data: {
                viewer: {
                  solutionInstances: {
                    edges: [node('si-old', '2020-01-01T00:00:00Z')],
                    pageInfo: { hasNextPage: true, endCursor: 'si-old' },
                  },
                },
              },
            },
          }
        : {
            body: {
              data: {
                viewer: {
                  solutionInstances: {
                    edges: [node('si-mine', Math.floor(Date.now() / 1000))],
                    pageInfo: { hasNextPage: false, endCursor: 'si-mine' },
                  },
                },
              },
            },
          };
    const result = await run(
      activities,
      'createInstance',
      { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore },
      2,
    );
    assert.deepEqual(result, { solutionInstanceId: 'si-mine', adopted: true, retried: true });
    assert.deepEqual(
      seen.map((r) => [r.operation, r.variables.after ?? null]),
      [
        ['FindInstances', null],
        ['FindInstances', 'si-old'],
      ],
    );
  });
});

describe('a user create retried after its answer was lost', () => {
  test('looks the user up first and takes it, so a Tray that allows duplicates gets no second user', async () => {
    responders.FindUser = () => ({
      body: { data: { users: { edges: [{ node: { id: 'u-first', externalUserId: 'ext-1' } }] } } },
    });
    responders.CreateUser = () => ({ body: { data: { createExternalUser: { userId: 'u-second' } } } });
    const { activities } = activitiesWith();
    const result = await run(activities, 'createUser', { externalUserId: 'ext-1', userName: 'Ada' }, 2);
    assert.equal(result.userId, 'u-first');
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['FindUser'],
    );
  });

  test('creates when the look-up finds none', async () => {
    responders.FindUser = () => ({ body: { data: { users: { edges: [] } } } });
    responders.CreateUser = () => ({ body: { data: { createExternalUser: { userId: 'u-new' } } } });
    const result = await run(
      activitiesWith().activities,
      'createUser',
      { externalUserId: 'e', userName: 'A' },
      3,
    );
    assert.equal(result.userId, 'u-new');
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['FindUser', 'CreateUser'],
    );
  });

  test('a first attempt sends the create alone', async () => {
    responders.CreateUser = () => ({ body: { data: { createExternalUser: { userId: 'u-new' } } } });
    await run(activitiesWith().activities, 'createUser', { externalUserId: 'e', userName: 'A' });
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['CreateUser'],
    );
  });
});

describe('a search Tray answers "not found" has found nothing', () => {
  const key = { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore: new Date().toISOString() };
  const notFound = () => errorsAnswer([{ message: 'No results found', extensions: { code: 'NOT_FOUND' } }]);

  test('a users lookup answered "not found" finds no user (the saga creates one)', async () => {
    responders.FindUser = notFound;
    assert.equal(await findUser(activitiesWith().activities), null);
  });

  test('a removal that looks for the saga’s instances answered "not found" has nothing to remove', async () => {
    responders.FindInstances = notFound;
    assert.deepEqual(await run(cached(), 'removeInstance', key), { removed: [] });
  });

  test('a retried create whose look is answered "not found" leaves the create to the next attempt', async () => {
    responders.FindInstances = notFound;
    const info = { attempt: 2, retryPolicy: { maximumAttempts: 19 } } as const;
    await assert.rejects(run(cached(), 'createInstance', key, info), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, LOOKED_FOUND_NOTHING);
      assert.equal(error.nonRetryable, false);
      return true;
    });
  });
});

describe('a create answered without an id', () => {
  const key = { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore: new Date().toISOString() };
  for (const payload of [null, { userId: null }, { userId: '' }]) {
    test(`createExternalUser answering ${JSON.stringify(payload)} is retried, never a user without an id`, async () => {
      responders.CreateUser = () => ({ body: { data: { createExternalUser: payload } } });
      const input = { externalUserId: 'ext-1', userName: 'Ada' };
      const failure = await failureOf(run(activitiesWith().activities, 'createUser', input));
      assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
      assert.equal(failure.nonRetryable, false);
    });
  }

  for (const payload of [null, { solutionInstance: null }, { solutionInstance: { id: null } }]) {
    test(`createSolutionInstance answering ${JSON.stringify(payload)} is retried, never an instance without an id`, async () => {
      responders.CreateInstance = () => ({ body: { data: { createSolutionInstance: payload } } });
      const failure = await failureOf(run(cached(), 'createInstance', key));
      assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
      assert.equal(failure.nonRetryable, false);
    });
  }
});

describe('a refused attach or enable whose aim the instance already shows is done', () => {
  const user = { userId: 'u1' };
  const state = (enabled: boolean, authValues: { externalId: string; authId: string }[]) => () => ({
    body: {
      data: { viewer: { solutionInstances: { edges: [{ node: { id: 'si-1', enabled, authValues } }] } } },
    },
  });
  const conflict = (message: string) => () => errorsAnswer([{ message, extensions: { code: 'CONFLICT' } }]);
  const wanted = [
    { externalId: 'slack', authId: 'a-1' },
    { externalId: 'gmail', authId: 'a-2' },
  ];

  test('"already enabled" and the instance is enabled: the enable is done', async () => {
    responders.EnableInstance = conflict('Solution instance is already enabled');
    responders.FindInstanceState = state(true, []);
    await run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' });
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['EnableInstance', 'FindInstanceState'],
    );
  });

  test('"already enabled" under Tray\'s precondition code access_not_allowed: looked at, not a refused token', async () => {
    responders.EnableInstance = () =>
      errorsAnswer([
        { message: 'Solution instance is already enabled', extensions: { code: 'access_not_allowed' } },
      ]);
    responders.FindInstanceState = state(true, []);
    await run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' });
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['EnableInstance', 'FindInstanceState'],
    );
  });

  test('refused and the instance is not enabled: the refusal stands', async () => {
    responders.EnableInstance = conflict('Cannot enable');
    responders.FindInstanceState = state(false, []);
    const failure = await failureOf(run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' }));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.permanent);
  });

  test('a refused attach whose auths the instance holds is done; one missing an auth is not', async () => {
    responders.AttachAuths = conflict('Auths already set');
    responders.FindInstanceState = state(false, [...wanted, { externalId: 'other', authId: 'a-9' }]);
    await run(cached(), 'attachAuths', { ...user, solutionInstanceId: 'si-1', authValues: wanted });
    responders.FindInstanceState = state(false, [wanted[0]!]);
    const failure = await failureOf(
      run(cached(), 'attachAuths', { ...user, solutionInstanceId: 'si-1', authValues: wanted }),
    );
    assert.equal(failure.type, TRAY_FAILURE_TYPES.permanent);
  });

  test('a look that is rate-limited is retried with the step, not failed for the refusal', async () => {
    responders.EnableInstance = conflict('Solution instance is already enabled');
    responders.FindInstanceState = () => ({ status: 429, body: '' });
    const failure = await failureOf(run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' }));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.rateLimited);
    assert.equal(failure.nonRetryable, false);
  });

  test('a failing server is no refusal: no look-up, the step retries', async () => {
    responders.EnableInstance = () => ({ status: 502, body: '<html>bad gateway</html>' });
    const failure = await failureOf(run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' }));
    assert.equal(failure.type, TRAY_FAILURE_TYPES.transient);
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['EnableInstance'],
    );
  });
});

describe('lists another Tray may cut short or leave unnamed', () => {
  const authentications = (ids: string[], hasNextPage: boolean) => () => ({
    body: {
      data: {
        viewer: {
          authentications: { edges: ids.map((id) => ({ node: { id } })), pageInfo: { hasNextPage } },
        },
      },
    },
  });

  test('an authId past the end of a cut-off authentications list is refused as unverified', async () => {
    for (const hasNextPage of [true, false]) {
      responders.ListAuthentications = authentications(['a-1'], hasNextPage);
      assert.deepEqual(await run(cached(), 'verifyAuths', { userId: 'u1', authIds: ['a-1', 'a-2'] }), {
        foreign: ['a-2'],
      });
    }
  });

  test('users listed over pages: the smallest id of every page, whichever page Tray puts first', async () => {
    const page = (ids: string[], endCursor: string | null) => ({
      body: {
        data: {
          users: {
            edges: ids.map((id) => ({ node: { id, externalUserId: 'x' } })),
            pageInfo: { hasNextPage: endCursor !== null, endCursor },
          },
        },
      },
    });
    // Newest first: the user every earlier saga took is on the last page.
    responders.FindUser = (variables) =>
      variables.after === undefined
        ? page(['u3'], 'c1')
        : variables.after === 'c1'
          ? page(['u2'], 'c2')
          : page(['u1'], null);
    assert.deepEqual(await findUser(activitiesWith().activities), { userId: 'u1' });
    assert.deepEqual(
      seen.map((r) => r.variables.after ?? null),
      [null, 'c1', 'c2'],
    );
  });

  test('a Tray that ignores the cursor: one user, not several, and no page asked twice for nothing', async () => {
    let cursor = 0;
    responders.FindUser = () => ({
      body: {
        data: {
          users: {
            edges: [{ node: { id: 'u1', externalUserId: null } }],
            pageInfo: { hasNextPage: true, endCursor: `c${(cursor += 1)}` },
          },
        },
      },
    });
    assert.deepEqual(await findUser(activitiesWith().activities), { userId: 'u1' });
    assert.equal(seen.length, 2);
  });

  test('an answer that starts with a byte-order mark, with a charset or no content type, is read', async () => {
    const users = { data: { users: { edges: [{ node: { id: 'u5', externalUserId: 'x' } }] } } };
    for (const contentType of ['application/json; charset=utf-8', 'text/plain']) {
      responders.FindUser = () => ({
        headers: { 'content-type': contentType },
        body: `\uFEFF${JSON.stringify(users)}`,
      });
      assert.deepEqual(await findUser(activitiesWith().activities), { userId: 'u5' });
    }
  });

  test('a user listed without its externalUserId (the field is nullable) is found', async () => {
    responders.FindUser = () => ({
      body: { data: { users: { edges: [{ node: { id: 'u7', externalUserId: null } }] } } },
    });
    assert.deepEqual(await findUser(activitiesWith().activities), { userId: 'u7' });
    responders.FindUser = () => ({
      body: { data: { users: { edges: [{ node: { id: 'u8', externalUserId: 'someone-else' } }] } } },
    });
    assert.equal(await findUser(activitiesWith().activities), null);
    // Beside an explicit match, an unnamed node is not taken, though its id sorts first.
    responders.FindUser = () => ({
      body: {
        data: {
          users: {
            edges: [
              { node: { id: 'u1', externalUserId: null } },
              { node: { id: 'u9', externalUserId: 'x' } },
            ],
          },
        },
      },
    });
    assert.deepEqual(await findUser(activitiesWith().activities), { userId: 'u9' });
  });
});

describe('an update or removal Tray answers with nothing (no errors) is looked at, not taken as done', () => {
  const user = { userId: 'u1' };
  const listed =
    (node?: { enabled: boolean; authValues: { externalId: string; authId: string }[] }) => () => ({
      body: {
        data: { viewer: { solutionInstances: { edges: node ? [{ node: { id: 'si-1', ...node } }] : [] } } },
      },
    });
  const authValues = [{ externalId: 'slack', authId: 'a-1' }];
  const attach = () => run(cached(), 'attachAuths', { ...user, solutionInstanceId: 'si-1', authValues });
  const enable = () => run(cached(), 'enableInstance', { ...user, solutionInstanceId: 'si-1' });
  const answered = (payload: unknown) => () => ({ body: { data: { updateSolutionInstance: payload } } });

  test('an attach answered null to an instance Tray no longer lists fails as not found', async () => {
    for (const payload of [null, { solutionInstance: null }]) {
      seen = [];
      responders.AttachAuths = answered(payload);
      responders.FindInstanceState = listed();
      const failure = await failureOf(attach());
      assert.equal(failure.type, TRAY_FAILURE_TYPES.notFound, JSON.stringify(payload));
      assert.equal(failure.nonRetryable, true);
      assert.deepEqual(
        seen.map((r) => r.operation),
        ['AttachAuths', 'FindInstanceState'],
      );
    }
  });

  test('an attach answered null whose auths the instance holds is done', async () => {
    responders.AttachAuths = answered(null);
    responders.FindInstanceState = listed({ enabled: false, authValues });
    await attach();
  });

  test('an enable answered null or enabled: false is done only when the instance is enabled', async () => {
    responders.EnableInstance = answered(null);
    responders.FindInstanceState = listed({ enabled: false, authValues });
    assert.equal((await failureOf(enable())).type, TRAY_FAILURE_TYPES.notFound);
    responders.EnableInstance = answered({ solutionInstance: { id: 'si-1', enabled: false } });
    const notYet = await failureOf(enable());
    assert.equal(notYet.type, TRAY_FAILURE_TYPES.transient);
    assert.equal(notYet.nonRetryable, false, 'tried again, within the step’s retries');
    assert.match(notYet.message, /enabled: false/);
    responders.FindInstanceState = listed({ enabled: true, authValues });
    await enable();
  });

  test('an enable answered with the instance enabled needs no look', async () => {
    responders.EnableInstance = answered({ solutionInstance: { id: 'si-1', enabled: true } });
    await enable();
    assert.deepEqual(
      seen.map((r) => r.operation),
      ['EnableInstance'],
    );
  });

  test('a removal answered null is looked at: still listed, it fails; not listed, it is gone', async () => {
    const key = { userId: 'u1', solutionId: 'sol-1', instanceName: 'n', notBefore: new Date().toISOString() };
    responders.RemoveInstance = () => ({ body: { data: { removeSolutionInstance: null } } });
    responders.FindInstance = () => ({
      body: { data: { viewer: { solutionInstances: { edges: [{ node: { id: 'si-1' } }] } } } },
    });
    const input = { ...key, solutionInstanceId: 'si-1' };
    assert.equal((await failureOf(run(cached(), 'removeInstance', input))).type, TRAY_FAILURE_TYPES.notFound);
    responders.FindInstance = () => ({ body: { data: { viewer: { solutionInstances: { edges: [] } } } } });
    assert.deepEqual(await run(cached(), 'removeInstance', input), { removed: [] });
    responders.RemoveInstance = () => ({
      body: { data: { removeSolutionInstance: { clientMutationId: null } } },
    });
    assert.deepEqual(await run(cached(), 'removeInstance', input), { removed: ['si-1'] });
  });
});
