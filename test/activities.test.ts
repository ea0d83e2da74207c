/**
 * The activities and the Tray client against the Tray emulator over HTTP: documents valid against
 * the schema, the request budget (docs/design.md#one-tray-request-per-activity), error classification, the lost-response adoption,
 * the user race, token hygiene and idempotent removal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { buildSchema, parse, validate } from 'graphql';
import { createActivities, createTrayClient } from '../activities/index.js';
import { DOCUMENTS, issueCodesDocument } from '../activities/documents.js';
import { UserTokenCache } from '../activities/token-cache.js';
import { TokenSealer } from '../activities/token-seal.js';
import { REGION_ENDPOINTS, trayErrorDetails } from '../activities/tray-client.js';
import type { ConnectActivities } from '../common/activity-types.js';
import { createdNothing, TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import type { FaultSpec, RecordedRequest } from '../emulator/server.js';
import { DEMO_SOLUTIONS } from '../emulator/server.js';
import { runActivity } from './helpers/run-activity.js';
import { CONFIG_SOLUTION, emulatorForFile } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';

const file = emulatorForFile({ solutions: [...DEMO_SOLUTIONS, CONFIG_SOLUTION] });

function makeActivities(
  options: { timeoutMs?: number; tokenCache?: UserTokenCache; tokenSealer?: TokenSealer } = {},
) {
  const tokenCache = options.tokenCache ?? new UserTokenCache();
  const tray = createTrayClient({
    graphqlUrl: file.emu.graphqlUrl,
    masterToken: file.emu.masterToken,
    timeoutMs: options.timeoutMs ?? 5000,
  });
  const activities = createActivities({
    tray,
    embeddedId: file.emu.embeddedId,
    dialogBaseUrl: file.emu.url,
    tokenCache,
    // As the worker does: every worker derives the seal key from the master token.
    ...(options.tokenSealer ? { tokenSealer: options.tokenSealer } : { sealSecret: file.emu.masterToken }),
  });
  return { activities, tokenCache, tray };
}

const run = runActivity;

/** The requests the emulator records from now on. */
function requestsFrom(): () => RecordedRequest[] {
  const start = file.emu.emulator.requests.length;
  return () => file.emu.emulator.requests.slice(start);
}

function addFault(spec: FaultSpec): void {
  file.emu.emulator.faults.add(spec);
}

async function expectFailure(
  promise: Promise<unknown>,
  expected: { type: string; nonRetryable: boolean; code?: string },
): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, expected.type, error.message);
    assert.equal(Boolean(error.nonRetryable), expected.nonRetryable, error.message);
    if (expected.code !== undefined) assert.equal(trayErrorDetails(error)?.code, expected.code);
    assert.ok(!error.message.includes(file.emu.masterToken), 'the master token leaked into an error message');
    return error;
  }
  assert.fail(`expected a ${expected.type} failure`);
}

function uniqueUser(): { externalUserId: string; userName: string } {
  return { externalUserId: `ext-${randomUUID()}`, userName: 'Ada Lovelace' };
}

/** A fresh Tray user created through createUser (as a saga does after a look-up found none). */
async function newUserId(activities: ConnectActivities): Promise<string> {
  return (await run(activities, 'createUser', uniqueUser())).userId;
}

/** Runs one activity and returns its result with the Tray requests it sent, as the emulator saw them. */
async function counted<K extends keyof ConnectActivities>(
  activities: ConnectActivities,
  name: K,
  input: Parameters<ConnectActivities[K]>[0],
): Promise<{ result: Awaited<ReturnType<ConnectActivities[K]>>; requests: RecordedRequest[] }> {
  const seen = requestsFrom();
  const result = (await run(activities, name, input)) as Awaited<ReturnType<ConnectActivities[K]>>;
  return { result, requests: seen() };
}

const schema = buildSchema(readFileSync(new URL('../emulator/schema.graphql', import.meta.url), 'utf8'));

describe('GraphQL documents', () => {
  const documents: [string, string][] = [
    ...Object.entries(DOCUMENTS),
    ['IssueAuthorizationCodes(1)', issueCodesDocument(1)],
    ['IssueAuthorizationCodes(2)', issueCodesDocument(2)],
    ['IssueAuthorizationCodes(20)', issueCodesDocument(20)],
  ];
  for (const [name, document] of documents) {
    test(`${name} is a valid named operation against schema.graphql`, () => {
      const ast = parse(document);
      assert.deepEqual(validate(schema, ast), []);
      const operation = ast.definitions[0];
      assert.ok(operation?.kind === 'OperationDefinition' && operation.name, 'operation must be named');
    });
  }

  test('region endpoints follow docs/tray.md', () => {
    assert.equal(REGION_ENDPOINTS.eu.graphqlUrl, 'https://eu1.tray.io/graphql');
    assert.equal(REGION_ENDPOINTS.apac.dialogBaseUrl, 'https://embedded.ap1.tray.io');
  });
});

describe('the saga path and its request budget', () => {
  test('a 2-slot saga for a new user spends exactly 8 requests, one per activity; a known user 7', async () => {
    const user = uniqueUser();
    const notBefore = new Date().toISOString();
    const { activities, tokenCache } = makeActivities();
    const seen = requestsFrom();
    /** Each activity of the saga, in order, with the number of Tray requests it sent. */
    const perActivity: [string, number][] = [];
    async function step<K extends keyof ConnectActivities>(
      on: ConnectActivities,
      name: K,
      input: Parameters<ConnectActivities[K]>[0],
    ): Promise<Awaited<ReturnType<ConnectActivities[K]>>> {
      const { result, requests } = await counted(on, name, input);
      perActivity.push([name, requests.length]);
      return result;
    }

    assert.equal(await step(activities, 'findUser', { externalUserId: user.externalUserId }), null);
    const ensured = await step(activities, 'createUser', user);
    assert.equal(ensured.created, true);
    const { userId } = ensured;
    const { sealedToken } = await step(activities, 'prepareUserToken', { userId });
    assert.match(sealedToken, /^v1\./, 'the token leaves the worker only sealed');
    const created = await step(activities, 'createInstance', {
      userId,
      solutionId: 'sol-2',
      instanceName: 'My Salesforce',
      notBefore,
    });
    assert.equal(created.adopted, false);
    const { solutionInstanceId } = created;
    const urls = await step(activities, 'issueAuthUrls', {
      userId,
      solutionInstanceId,
      externalAuthIds: ['salesforce', 'slack'],
    });
    assert.deepEqual(
      urls.map((u) => u.externalAuthId),
      ['salesforce', 'slack'],
    );
    const codes = new Set<string>();
    for (const { externalAuthId, url } of urls) {
      const parsed = new URL(url);
      assert.equal(parsed.origin, file.emu.url);
      assert.equal(
        parsed.pathname,
        `/external/auth/create/${file.emu.embeddedId}/${solutionInstanceId}/${externalAuthId}`,
      );
      const code = parsed.searchParams.get('code');
      assert.ok(
        code && file.emu.emulator.store.codes.get(code)?.userId === userId,
        'code belongs to the user',
      );
      codes.add(code);
    }
    assert.equal(codes.size, 2, 'every slot gets its own one-time code');

    const authValues = [
      {
        externalId: 'salesforce',
        authId: file.emu.emulator.store.createAuthentication(userId, 'salesforce'),
      },
      { externalId: 'slack', authId: file.emu.emulator.store.createAuthentication(userId, 'slack') },
    ];
    const verified = await step(activities, 'verifyAuths', {
      userId,
      authIds: authValues.map((a) => a.authId),
    });
    assert.deepEqual(verified.foreign, []);
    await step(activities, 'attachAuths', { userId, solutionInstanceId, authValues });
    await step(activities, 'enableInstance', { userId, solutionInstanceId });

    const instance = file.emu.emulator.store.instances.get(solutionInstanceId);
    assert.equal(instance?.enabled, true);
    assert.deepEqual(
      instance?.authValues.map((v) => ({ externalId: v.externalId, authId: v.authId })),
      authValues,
    );

    // The rate limit meters activities, so each one must send exactly one request.
    assert.deepEqual(perActivity, [
      ['findUser', 1],
      ['createUser', 1],
      ['prepareUserToken', 1],
      ['createInstance', 1],
      ['issueAuthUrls', 1],
      ['verifyAuths', 1],
      ['attachAuths', 1],
      ['enableInstance', 1],
    ]);
    const newUserRequests = seen();
    assert.deepEqual(
      newUserRequests.map((r) => r.operations),
      [
        ['users'],
        ['createExternalUser'],
        ['authorize'],
        ['createSolutionInstance'],
        ['generateAuthorizationCode', 'generateAuthorizationCode'],
        ['viewer'],
        ['updateSolutionInstance'],
        ['updateSolutionInstance'],
      ],
    );
    assert.ok(newUserRequests.every((r) => r.ok));

    // No token in any result the workflow would record.
    const token = tokenCache.get(userId);
    assert.ok(token, 'the user token is cached');
    const results = JSON.stringify([ensured, sealedToken, created, urls, verified]);
    assert.ok(!results.includes(token));
    assert.ok(!results.includes(file.emu.masterToken));
    assert.ok(!JSON.stringify(tokenCache).includes(token), 'the cache does not serialise its tokens');

    // The same user again, on a worker that has not seen it (no cached token): 7 requests, one each.
    perActivity.length = 0;
    const other = makeActivities();
    const seenKnown = requestsFrom();
    assert.deepEqual(await step(other.activities, 'findUser', { externalUserId: user.externalUserId }), {
      userId,
    });
    await step(other.activities, 'prepareUserToken', { userId });
    const second = await step(other.activities, 'createInstance', {
      userId,
      solutionId: 'sol-1',
      instanceName: 'My Slack',
      notBefore: new Date().toISOString(),
    });
    await step(other.activities, 'issueAuthUrls', {
      userId,
      solutionInstanceId: second.solutionInstanceId,
      externalAuthIds: ['slack'],
    });
    const slackAuth = file.emu.emulator.store.createAuthentication(userId, 'slack');
    await step(other.activities, 'verifyAuths', { userId, authIds: [slackAuth] });
    await step(other.activities, 'attachAuths', {
      userId,
      solutionInstanceId: second.solutionInstanceId,
      authValues: [{ externalId: 'slack', authId: slackAuth }],
    });
    await step(other.activities, 'enableInstance', { userId, solutionInstanceId: second.solutionInstanceId });
    assert.deepEqual(perActivity, [
      ['findUser', 1],
      ['prepareUserToken', 1],
      ['createInstance', 1],
      ['issueAuthUrls', 1],
      ['verifyAuths', 1],
      ['attachAuths', 1],
      ['enableInstance', 1],
    ]);
    assert.equal(seenKnown().length, 7);
    assert.equal(file.emu.emulator.store.instances.get(second.solutionInstanceId)?.enabled, true);
  });

  test('prepareUserToken sends nothing when the cache holds a fresh token', async () => {
    const { activities, tokenCache } = makeActivities();
    const userId = await newUserId(activities);
    const first = await counted(activities, 'prepareUserToken', { userId });
    assert.deepEqual(
      first.requests.map((r) => [r.operations, r.tokenKind]),
      [[['authorize'], 'master']],
    );
    const token = tokenCache.get(userId);
    assert.ok(token);
    const again = await counted(activities, 'prepareUserToken', { userId });
    assert.equal(again.requests.length, 0);
    assert.equal(tokenCache.get(userId), token, 'the cached token is kept, not replaced');
  });

  test('a user-token activity on a worker whose cache lacks the token mints it itself', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    await run(activities, 'prepareUserToken', { userId });
    // Another worker took the next activity: its cache is empty.
    const other = makeActivities();
    const { result, requests } = await counted(other.activities, 'createInstance', {
      userId,
      solutionId: 'sol-1',
      instanceName: 'elsewhere',
      notBefore: new Date().toISOString(),
    });
    assert.deepEqual(
      requests.map((r) => [r.operations[0], r.tokenKind]),
      [
        ['authorize', 'master'],
        ['createSolutionInstance', 'user'],
      ],
    );
    assert.ok(other.tokenCache.get(userId), 'and keeps it for the next activity');
    assert.ok(file.emu.emulator.store.instances.has(result.solutionInstanceId));
    const next = await counted(other.activities, 'verifyAuths', { userId, authIds: ['auth-x'] });
    assert.deepEqual(
      next.requests.map((r) => [r.operations[0], r.tokenKind]),
      [['viewer', 'user']],
    );
  });

  test('config values travel JSON-encoded', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const { solutionInstanceId } = await run(activities, 'createInstance', {
      userId,
      solutionId: CONFIG_SOLUTION.id,
      instanceName: 'configured',
      configValues: [{ externalId: 'channel', value: { name: '#sales', private: true } }],
      notBefore: new Date().toISOString(),
    });
    const stored = file.emu.emulator.store.instances.get(solutionInstanceId)?.configValues;
    assert.deepEqual(stored, [{ externalId: 'channel', value: '{"name":"#sales","private":true}' }]);
  });

  test('verifyAuths reports authIds that are not the user’s', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const strangerId = await newUserId(activities);
    const mine = file.emu.emulator.store.createAuthentication(userId, 'slack');
    const theirs = file.emu.emulator.store.createAuthentication(strangerId, 'slack');
    const result = await run(activities, 'verifyAuths', { userId, authIds: [mine, theirs, 'made-up'] });
    assert.deepEqual(result.foreign, [theirs, 'made-up']);
  });
});

describe('error classification', () => {
  const retryable: [FaultSpec['kind'], string][] = [
    ['http500', TRAY_FAILURE_TYPES.transient],
    ['http429', TRAY_FAILURE_TYPES.rateLimited],
    ['rateLimitError', TRAY_FAILURE_TYPES.rateLimited],
  ];
  for (const [kind, type] of retryable) {
    test(`${kind} is a retryable ${type}`, async () => {
      const { activities } = makeActivities();
      addFault({ operation: 'users', kind });
      await expectFailure(run(activities, 'findUser', uniqueUser()), { type, nonRetryable: false });
    });
  }

  test('a permanent (bad_request) error is non-retryable', async () => {
    const { activities } = makeActivities();
    addFault({ operation: 'users', kind: 'permanentError' });
    await expectFailure(run(activities, 'findUser', uniqueUser()), {
      type: TRAY_FAILURE_TYPES.validation,
      nonRetryable: true,
      code: 'bad_request',
    });
  });

  test('an unknown solution is a non-retryable TrayNotFound', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    await expectFailure(
      run(activities, 'createInstance', {
        userId,
        solutionId: 'sol-does-not-exist',
        instanceName: 'x',
        notBefore: new Date().toISOString(),
      }),
      { type: TRAY_FAILURE_TYPES.notFound, nonRetryable: true, code: 'not_found' },
    );
  });

  test('a create Tray refused on the first attempt says nothing was created; on a retry it cannot', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const input = {
      userId,
      solutionId: 'sol-does-not-exist',
      instanceName: 'x',
      notBefore: new Date().toISOString(),
    };
    const expected = { type: TRAY_FAILURE_TYPES.notFound, nonRetryable: true, code: 'not_found' };
    const first = await expectFailure(run(activities, 'createInstance', input, 1), expected);
    assert.ok(createdNothing(first.details));
    const retry = await expectFailure(run(activities, 'createInstance', input, 2), expected);
    assert.ok(!createdNothing(retry.details));
  });

  test('attaching another user’s authId is a non-retryable TrayForbidden, without the token in it', async () => {
    const { activities, tokenCache } = makeActivities();
    const userId = await newUserId(activities);
    const strangerId = await newUserId(activities);
    const { solutionInstanceId } = await run(activities, 'createInstance', {
      userId,
      solutionId: 'sol-1',
      instanceName: 'x',
      notBefore: new Date().toISOString(),
    });
    const foreign = file.emu.emulator.store.createAuthentication(strangerId, 'slack');
    const failure = await expectFailure(
      run(activities, 'attachAuths', {
        userId,
        solutionInstanceId,
        authValues: [{ externalId: 'slack', authId: foreign }],
      }),
      { type: TRAY_FAILURE_TYPES.forbidden, nonRetryable: true, code: 'forbidden' },
    );
    const token = tokenCache.get(userId);
    assert.ok(token);
    assert.ok(!failure.message.includes(token) && !JSON.stringify(failure.details).includes(token));
  });

  test('a document invalid against the schema is a non-retryable TrayValidationError', async () => {
    const { tray } = makeActivities();
    const invalid = `mutation Bad($id: ID!) { updateSolutionInstance(input: { solutionInstanceId: $id, authValues: [{ externalId: "a", value: "b" }] }) { clientMutationId } }`;
    await expectFailure(tray.request(invalid, { id: 'x' }, 'master'), {
      type: TRAY_FAILURE_TYPES.validation,
      nonRetryable: true,
      code: 'GRAPHQL_VALIDATION_FAILED',
    });
  });

  test('a refused master token is a non-retryable TrayForbidden (unauthorized)', async () => {
    const tray = createTrayClient({ graphqlUrl: file.emu.graphqlUrl, masterToken: 'mt_wrong_secret_value' });
    const failure = await expectFailure(tray.request(DOCUMENTS.FindUser, { externalUserId: 'x' }, 'master'), {
      type: TRAY_FAILURE_TYPES.forbidden,
      nonRetryable: true,
      code: 'unauthorized',
    });
    assert.ok(!failure.message.includes('mt_wrong_secret_value'));
  });

  test('a timeout is a retryable TrayTransientError', async () => {
    const { activities } = makeActivities({ timeoutMs: 150 });
    addFault({ operation: 'users', kind: 'delay', delayMs: 1500 });
    await expectFailure(run(activities, 'findUser', uniqueUser()), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
      code: 'timeout',
    });
  });

  test('an aborted signal (a cancelled activity) abandons the in-flight request at once', async () => {
    const { tray } = makeActivities({ timeoutMs: 20_000 });
    addFault({ operation: 'users', kind: 'delay', delayMs: 10_000 });
    const controller = new AbortController();
    const started = Date.now();
    const pending = tray.request(DOCUMENTS.FindUser, { externalUserId: 'x' }, 'master', {
      signal: controller.signal,
    });
    controller.abort();
    await expectFailure(pending, {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
      code: 'cancelled',
    });
    // The emulator answers after 10 s; anything well before that means the request was abandoned.
    assert.ok(Date.now() - started < 9_000, 'the request waited for its answer');
  });

  test('a refused connection is a retryable TrayTransientError', async () => {
    const tray = createTrayClient({
      graphqlUrl: 'http://127.0.0.1:1/graphql',
      masterToken: file.emu.masterToken,
    });
    await expectFailure(tray.request(DOCUMENTS.FindUser, { externalUserId: 'x' }, 'master'), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
  });
});

describe('the HTTP answers a proxy or Tray may give', () => {
  let server: Server;
  let url: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const tray = () => createTrayClient({ graphqlUrl: url, masterToken: 'mt-answers', timeoutMs: 2000 });
  /** Answers every request with this status, headers and body. */
  const answerWith =
    (status: number, headers: Record<string, string>, body: string | Buffer) =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, headers);
      res.end(body);
    };
  const findUser = () => tray().request(DOCUMENTS.FindUser, { externalUserId: 'x' }, 'master');

  test('a gzip-encoded answer is read', async () => {
    answer = answerWith(
      200,
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      gzipSync(JSON.stringify({ data: { users: { edges: [] } } })),
    );
    assert.deepEqual(await findUser(), { users: { edges: [] } });
  });

  test('a proxy’s 502 page is a retryable TrayTransientError naming the status', async () => {
    answer = answerWith(502, { 'content-type': 'text/html' }, '<html>Bad Gateway</html>');
    const error = await expectFailure(findUser(), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
    assert.equal(trayErrorDetails(error)?.httpStatus, 502);
  });

  test('a 200 that is not JSON is a retryable fault that says what came back, not a network error', async () => {
    answer = answerWith(200, { 'content-type': 'text/html; charset=utf-8' }, '<html>maintenance</html>');
    const error = await expectFailure(findUser(), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
    assert.match(error.message, /: HTTP 200 answer is not JSON \(text\/html\)$/);
    assert.equal(trayErrorDetails(error)?.code, 'unreadable_answer');
    // Not an answer Tray meant: no status a refusal could be read from.
    assert.equal(trayErrorDetails(error)?.httpStatus, undefined);
  });

  test('a connection dropped before the answer is a retryable fault with its code', async () => {
    answer = (req) => req.socket.destroy();
    const error = await expectFailure(findUser(), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
    assert.equal(trayErrorDetails(error)?.code, 'ECONNRESET');
  });

  test('a connection dropped halfway through the answer is a retryable fault', async () => {
    answer = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"data":');
      setTimeout(() => req.socket.destroy(), 20);
    };
    await expectFailure(findUser(), { type: TRAY_FAILURE_TYPES.transient, nonRetryable: false });
  });

  test('an answer that never ends runs into the timeout', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
    };
    const error = await expectFailure(findUser(), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
    assert.equal(trayErrorDetails(error)?.code, 'timeout');
  });

  test('HTTP 429 with a Retry-After date: rate limited, the wait taken from the date', async () => {
    answer = answerWith(
      429,
      { 'content-type': 'application/json', 'retry-after': new Date(Date.now() + 30_000).toUTCString() },
      JSON.stringify({ errors: [{ message: 'slow down' }] }),
    );
    const error = await expectFailure(findUser(), {
      type: TRAY_FAILURE_TYPES.rateLimited,
      nonRetryable: false,
    });
    const waitMs = trayErrorDetails(error)?.retryAfterMs ?? 0;
    assert.ok(waitMs > 25_000 && waitMs <= 31_000, String(waitMs));
  });

  test('kept-alive connections: many requests, few sockets', async () => {
    const sockets = new Set<unknown>();
    answer = (req, res) => {
      sockets.add(req.socket);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { users: { edges: [] } } }));
    };
    const client = tray();
    for (let i = 0; i < 20; i++) await client.request(DOCUMENTS.FindUser, { externalUserId: 'x' }, 'master');
    assert.equal(sockets.size, 1);
  });
});

/**
 * Sets the scene of a lost create: an instance with the same owner, solution and name from a minute
 * before the saga started, then a create whose response is dropped after Tray committed it.
 */
async function olderInstanceThenLostCreate(
  activities: ConnectActivities,
  base: { userId: string; solutionId: string; instanceName: string },
): Promise<{ older: { solutionInstanceId: string }; notBefore: string }> {
  const older = await run(activities, 'createInstance', { ...base, notBefore: new Date().toISOString() });
  const olderRecord = file.emu.emulator.store.instances.get(older.solutionInstanceId);
  assert.ok(olderRecord);
  olderRecord.created = new Date(Date.now() - 60_000);
  const notBefore = new Date(Date.now() - 1000).toISOString();
  addFault({ operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit' });
  await expectFailure(run(activities, 'createInstance', { ...base, notBefore }, 1), {
    type: TRAY_FAILURE_TYPES.transient,
    nonRetryable: false,
  });
  return { older, notBefore };
}

describe('idempotency and races', () => {
  test('a retry after a lost create response adopts the one instance, never an older one', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const input = { userId, solutionId: 'sol-2', instanceName: 'lost-answer' };
    const { older, notBefore } = await olderInstanceThenLostCreate(activities, input);
    const seen = requestsFrom();
    const retried = await run(activities, 'createInstance', { ...input, notBefore }, 2);
    assert.equal(retried.adopted, true);
    assert.notEqual(retried.solutionInstanceId, older.solutionInstanceId);
    assert.deepEqual(
      seen().map((r) => r.operations),
      [['viewer']],
      'the retry only looked up',
    );
    const mine = [...file.emu.emulator.store.instances.values()].filter(
      (i) => i.owner === userId && i.name === input.instanceName && i.id !== older.solutionInstanceId,
    );
    assert.deepEqual(
      mine.map((i) => i.id),
      [retried.solutionInstanceId],
      'exactly one instance was created by the saga',
    );
  });

  test('a retry adopts its instance even when Tray stamps it a little before notBefore', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const notBefore = new Date().toISOString();
    const input = { userId, solutionId: 'sol-1', instanceName: 'coarse-clock', notBefore };
    addFault({ operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit' });
    await expectFailure(run(activities, 'createInstance', input, 1), {
      type: TRAY_FAILURE_TYPES.transient,
      nonRetryable: false,
    });
    const [created] = [...file.emu.emulator.store.instances.values()].filter((i) => i.owner === userId);
    assert.ok(created);
    // Tray's timestamps may be whole seconds, and its clock is not Temporal's: a create sent within the
    // saga's first second can carry a time before the saga's start.
    created.created = new Date(Date.parse(notBefore) - 600);
    const retried = await run(activities, 'createInstance', input, 2);
    assert.equal(retried.solutionInstanceId, created.id);
    assert.equal(retried.adopted, true);
    const removed = await run(activities, 'removeInstance', {
      userId,
      solutionId: input.solutionId,
      instanceName: input.instanceName,
      notBefore,
    });
    assert.deepEqual(removed.removed, [created.id]);
  });

  test('a retry that finds nothing creates the instance', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const result = await run(
      activities,
      'createInstance',
      { userId, solutionId: 'sol-1', instanceName: 'never-created', notBefore: new Date().toISOString() },
      3,
    );
    assert.equal(result.adopted, false);
    assert.ok(file.emu.emulator.store.instances.has(result.solutionInstanceId));
  });

  test('two sagas racing to create one user: the loser’s create fails, its second look-up finds the winner’s', async () => {
    const user = uniqueUser();
    const a = makeActivities().activities;
    const b = makeActivities().activities;
    // Both look-ups miss the user, so both sagas go on to create it.
    assert.equal(await run(a, 'findUser', { externalUserId: user.externalUserId }), null);
    assert.equal(await run(b, 'findUser', { externalUserId: user.externalUserId }), null);
    const seen = requestsFrom();
    const outcomes = await Promise.allSettled([run(a, 'createUser', user), run(b, 'createUser', user)]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    assert.equal(won.length, 1);
    // One request per activity: the loser's look-up is the workflow's next findUser, not part of the create.
    const again = await run(b, 'findUser', { externalUserId: user.externalUserId });
    assert.deepEqual(again, { userId: won[0]?.value.userId });
    const users = [...file.emu.emulator.store.users.values()].filter(
      (u) => u.externalUserId === user.externalUserId,
    );
    assert.equal(users.length, 1);
    assert.deepEqual(
      seen()
        .map((r) => `${r.operations[0]}:${r.ok ? 'ok' : 'refused'}`)
        .sort(),
      ['createExternalUser:ok', 'createExternalUser:refused', 'users:ok'],
    );
  });

  test('createUser retried after a lost answer fails with one request; findUser then finds the user it created', async () => {
    const { activities } = makeActivities();
    const user = uniqueUser();
    const first = await run(activities, 'createUser', user);
    const seen = requestsFrom();
    await expectFailure(run(activities, 'createUser', user), {
      type: TRAY_FAILURE_TYPES.permanent,
      nonRetryable: true,
      code: 'conflict',
    });
    assert.deepEqual(await run(activities, 'findUser', { externalUserId: user.externalUserId }), {
      userId: first.userId,
    });
    assert.deepEqual(
      seen().map((r) => [r.operations[0], r.ok]),
      [
        ['createExternalUser', false],
        ['users', true],
      ],
    );
  });

  test('a cached token Tray refuses is dropped, re-minted once and the call retried', async () => {
    const { activities, tokenCache } = makeActivities();
    const userId = await newUserId(activities);
    const { solutionInstanceId } = await run(activities, 'createInstance', {
      userId,
      solutionId: 'sol-1',
      instanceName: 'stale-token',
      notBefore: new Date().toISOString(),
    });
    tokenCache.set(userId, 'ut_revoked');
    const slack = file.emu.emulator.store.createAuthentication(userId, 'slack');
    const seen = requestsFrom();
    await run(activities, 'attachAuths', {
      userId,
      solutionInstanceId,
      authValues: [{ externalId: 'slack', authId: slack }],
    });
    assert.deepEqual(
      seen().map((r) => [r.operations[0], r.tokenKind, r.ok]),
      [
        ['updateSolutionInstance', 'invalid', false],
        ['authorize', 'master', true],
        ['updateSolutionInstance', 'user', true],
      ],
    );
    assert.notEqual(tokenCache.get(userId), 'ut_revoked');
  });

  test('removeInstance removes once, then treats "already gone" as done', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const base = {
      userId,
      solutionId: 'sol-1',
      instanceName: 'to-remove',
      notBefore: new Date().toISOString(),
    };
    const { solutionInstanceId } = await run(activities, 'createInstance', base);
    assert.deepEqual(await run(activities, 'removeInstance', { ...base, solutionInstanceId }), {
      removed: [solutionInstanceId],
    });
    assert.equal(file.emu.emulator.store.instances.has(solutionInstanceId), false);
    assert.deepEqual(await run(activities, 'removeInstance', { ...base, solutionInstanceId }), {
      removed: [],
    });
  });

  test('removeInstance without an id finds the saga’s instance by owner, solution, name and time', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const base = { userId, solutionId: 'sol-2', instanceName: 'unknown-id' };
    const { older, notBefore } = await olderInstanceThenLostCreate(activities, base);
    const result = await run(activities, 'removeInstance', { ...base, notBefore });
    assert.equal(result.removed.length, 1);
    assert.notEqual(result.removed[0], older.solutionInstanceId);
    assert.equal(
      file.emu.emulator.store.instances.has(older.solutionInstanceId),
      true,
      'the older one stays',
    );
    assert.deepEqual(await run(activities, 'removeInstance', { ...base, notBefore }), { removed: [] });
  });
});

/**
 * An older instance of the same user, solution and name; then a create whose first attempt times out
 * while Tray is still working on it, a retry that finds nothing and creates, and the first create
 * landing late: two instances of this saga, one known to it. Last, one made by someone else after the
 * saga's window (`notAfter`) under the same owner, solution and name.
 */
async function lateCreate(solutionId: string, instanceName: string) {
  const { activities, tokenCache } = makeActivities();
  // Same token cache, token minted first: the short timeout must hit the create, not the authorize.
  const impatient = makeActivities({ timeoutMs: 200, tokenCache }).activities;
  const userId = await newUserId(activities);
  await run(activities, 'prepareUserToken', { userId });
  const base = { userId, solutionId, instanceName };
  const backdate = async (ageMs: number) => {
    const { solutionInstanceId } = await run(activities, 'createInstance', {
      ...base,
      notBefore: new Date().toISOString(),
    });
    const record = file.emu.emulator.store.instances.get(solutionInstanceId);
    assert.ok(record);
    record.created = new Date(Date.now() - ageMs);
    return solutionInstanceId;
  };
  const older = await backdate(60_000);
  const notBefore = new Date(Date.now() - 1000).toISOString();
  const notAfter = new Date(Date.now() + 60_000).toISOString();
  // Long enough that the retry below has long finished (and found nothing) when this one lands.
  addFault({ operation: 'createSolutionInstance', kind: 'delay', delayMs: 5000 });
  await expectFailure(run(impatient, 'createInstance', { ...base, notBefore }, 1), {
    type: TRAY_FAILURE_TYPES.transient,
    nonRetryable: false,
    code: 'timeout',
  });
  const retried = await run(activities, 'createInstance', { ...base, notBefore }, 2);
  const known = new Set([older, retried.solutionInstanceId]);
  const late = await pollUntil(
    async () =>
      [...file.emu.emulator.store.instances.values()].find((i) => i.owner === userId && !known.has(i.id))?.id,
    { timeoutMs: 30_000, what: 'the first create to reach the emulator' },
  );
  const later = await backdate(-5 * 60_000);
  const remaining = () =>
    new Set(
      [...file.emu.emulator.store.instances.values()].filter((i) => i.owner === userId).map((i) => i.id),
    );
  return { activities, input: { ...base, notBefore, notAfter }, older, later, retried, late, remaining };
}

describe('a create that reaches Tray after its retry made another', () => {
  test('the retry reports itself; removeStrayInstances removes the late one, never an older or later one', async () => {
    const { activities, input, older, later, retried, late, remaining } = await lateCreate(
      'sol-1',
      'late-create',
    );
    assert.deepEqual(
      { adopted: retried.adopted, retried: retried.retried },
      { adopted: false, retried: true },
    );
    const keep = retried.solutionInstanceId;
    const result = await run(activities, 'removeStrayInstances', { ...input, keep });
    assert.deepEqual(result, { removed: [late] });
    assert.deepEqual(remaining(), new Set([older, keep, later]), 'own, older and later instances stay');
    assert.deepEqual(await run(activities, 'removeStrayInstances', { ...input, keep }), { removed: [] });
  });

  test('removeInstance with includeStrays removes the known instance and the late one, never an older or later one', async () => {
    const { activities, input, older, later, retried, late, remaining } = await lateCreate(
      'sol-2',
      'late-create-2',
    );
    const result = await run(activities, 'removeInstance', {
      ...input,
      solutionInstanceId: retried.solutionInstanceId,
      includeStrays: true,
    });
    assert.deepEqual(new Set(result.removed), new Set([retried.solutionInstanceId, late]));
    assert.deepEqual(remaining(), new Set([older, later]));
  });

  test('a first attempt reports no retry', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const created = await run(activities, 'createInstance', {
      userId,
      solutionId: 'sol-1',
      instanceName: 'first-try',
      notBefore: new Date().toISOString(),
    });
    assert.equal(created.retried, false);
  });
});

describe('sealed user tokens: one Tray request per activity on any worker', () => {
  const ops = (requests: RecordedRequest[]) => requests.map((r) => [r.operations[0], r.tokenKind]);

  /** A user, its sealed token from one worker, and a second worker with an empty cache. */
  async function sealedOnOneWorker() {
    const { activities, tokenCache } = makeActivities();
    const userId = await newUserId(activities);
    const { sealedToken } = await run(activities, 'prepareUserToken', { userId });
    const token = tokenCache.get(userId);
    assert.ok(token);
    assert.ok(!sealedToken.includes(token), 'the seal does not contain the token in the clear');
    return { userId, sealedToken, token };
  }

  function createOn(activities: ConnectActivities, userId: string, sealedToken: string) {
    return counted(activities, 'createInstance', {
      userId,
      sealedToken,
      solutionId: 'sol-1',
      instanceName: `sealed ${randomUUID()}`,
      notBefore: new Date().toISOString(),
    });
  }

  test('a token sealed on one worker opens on another: no authorize there', async () => {
    const { userId, sealedToken, token } = await sealedOnOneWorker();
    const other = makeActivities();
    const { result, requests } = await createOn(other.activities, userId, sealedToken);
    assert.deepEqual(ops(requests), [['createSolutionInstance', 'user']]);
    assert.ok(file.emu.emulator.store.instances.has(result.solutionInstanceId));
    assert.equal(other.tokenCache.get(userId), token, 'and keeps it for the next activity');
  });

  const broken: [
    string,
    (seal: { userId: string; sealedToken: string }) => ReturnType<typeof makeActivities>,
    (s: string) => string,
  ][] = [
    ['tampered with', () => makeActivities(), (s) => s.slice(0, -4) + (s.endsWith('AAAA') ? 'BBBB' : 'AAAA')],
    [
      'sealed under a rotated master token',
      () => makeActivities({ tokenSealer: new TokenSealer('mt_rotated') }),
      (s) => s,
    ],
    [
      'expired',
      () =>
        makeActivities({
          tokenSealer: new TokenSealer(file.emu.masterToken, { now: () => Date.now() + 25 * 3600_000 }),
        }),
      (s) => s,
    ],
    ['not a seal at all', () => makeActivities(), () => 'ut_plaintext_is_never_accepted'],
  ];
  for (const [what, worker, alter] of broken) {
    test(`a seal ${what} costs exactly one authorize and the activity still succeeds`, async () => {
      const sealed = await sealedOnOneWorker();
      const { activities } = worker(sealed);
      const { result, requests } = await createOn(activities, sealed.userId, alter(sealed.sealedToken));
      assert.deepEqual(ops(requests), [
        ['authorize', 'master'],
        ['createSolutionInstance', 'user'],
      ]);
      assert.ok(file.emu.emulator.store.instances.has(result.solutionInstanceId));
    });
  }

  test('a seal that no longer opens comes back sealed afresh: the next worker needs no authorize', async () => {
    // Sealed before the master token was rotated: no worker opens it any more.
    const before = makeActivities({ tokenSealer: new TokenSealer('mt_before_rotation') });
    const userId = await newUserId(before.activities);
    const { sealedToken: stale } = await run(before.activities, 'prepareUserToken', { userId });
    const first = makeActivities();
    const checked = await counted(first.activities, 'verifyAuths', {
      userId,
      sealedToken: stale,
      authIds: ['x'],
    });
    assert.deepEqual(ops(checked.requests), [
      ['authorize', 'master'],
      ['viewer', 'user'],
    ]);
    const fresh = checked.result.sealedToken;
    assert.ok(fresh !== undefined && fresh !== stale, 'the check hands back a fresh seal');
    const { requests } = await createOn(makeActivities().activities, userId, fresh);
    assert.deepEqual(ops(requests), [['createSolutionInstance', 'user']]);
    const again = await run(first.activities, 'verifyAuths', { userId, sealedToken: fresh, authIds: ['x'] });
    assert.equal(again.sealedToken, undefined, 'a seal that opens is not replaced');
  });

  test("another user's seal does not open for this user (the user id is bound in)", async () => {
    const first = await sealedOnOneWorker();
    const second = await sealedOnOneWorker();
    const { requests } = await createOn(makeActivities().activities, second.userId, first.sealedToken);
    assert.deepEqual(ops(requests), [
      ['authorize', 'master'],
      ['createSolutionInstance', 'user'],
    ]);
  });

  test('issueAuthCodes: one request for every slot, codes of the user, the dialog to build URLs with', async () => {
    const { activities } = makeActivities();
    const userId = await newUserId(activities);
    const { result, requests } = await counted(activities, 'issueAuthCodes', {
      userId,
      externalAuthIds: ['slack', 'gmail'],
    });
    assert.equal(requests.length, 1);
    assert.deepEqual(result.dialog, { baseUrl: file.emu.url, embeddedId: file.emu.embeddedId });
    assert.deepEqual(
      result.codes.map((c) => c.externalAuthId),
      ['slack', 'gmail'],
    );
    for (const { code } of result.codes)
      assert.equal(file.emu.emulator.store.codes.get(code)?.userId, userId);
  });
});
