import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildSchema } from 'graphql';
import { Webhook } from 'standardwebhooks';
import { createRootValue } from '../emulator/resolvers.js';
import { DEMO_SOLUTIONS, EmulatorStore } from '../emulator/server.js';
import {
  CONFIG_SOLUTION,
  randomWebhookSecret,
  startEmulator,
  type StartedEmulator,
} from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';

interface GqlError {
  message: string;
  extensions?: { code?: string; name?: string };
}
interface GqlResponse {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: GqlError[];
}

async function gql(
  e: StartedEmulator,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GqlResponse> {
  const res = await fetch(e.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GqlResponse, 'status'>;
  return { status: res.status, ...body };
}

const codesOf = (r: GqlResponse) => (r.errors ?? []).map((err) => err.extensions?.code);

const CREATE_USER = `mutation ($x: String!) { createExternalUser(input: { externalUserId: $x, name: "Test" }) { userId } }`;
const AUTHORIZE = `mutation ($u: ID!) { authorize(input: { userId: $u }) { accessToken } }`;
const CREATE_INSTANCE = `mutation ($s: ID!, $n: String!) {
  createSolutionInstance(input: { solutionId: $s, instanceName: $n }) { solutionInstance { id owner created enabled } }
}`;
const UPDATE_INSTANCE = `mutation ($input: UpdateSolutionInstanceInput!) {
  updateSolutionInstance(input: $input) { solutionInstance { id enabled authValues { externalId authId } } }
}`;

let userCounter = 0;

/** A new Tray user and a user token for it. */
async function newUser(
  e: StartedEmulator,
): Promise<{ userId: string; token: string; externalUserId: string }> {
  const externalUserId = `ext-${++userCounter}`;
  const created = await gql(e, e.masterToken, CREATE_USER, { x: externalUserId });
  const userId = (created.data?.createExternalUser as { userId: string }).userId;
  const authorized = await gql(e, e.masterToken, AUTHORIZE, { u: userId });
  return {
    userId,
    token: (authorized.data?.authorize as { accessToken: string }).accessToken,
    externalUserId,
  };
}

async function newInstance(
  e: StartedEmulator,
  token: string,
  solutionId = 'sol-2',
  name = 'n',
): Promise<string> {
  const r = await gql(e, token, CREATE_INSTANCE, { s: solutionId, n: name });
  assert.deepEqual(r.errors, undefined);
  return (r.data?.createSolutionInstance as { solutionInstance: { id: string } }).solutionInstance.id;
}

/** A one-time authorization code for `userId`, as generateAuthorizationCode gives it. */
async function newCode(e: StartedEmulator, userId: string): Promise<string> {
  const r = await gql(
    e,
    e.masterToken,
    'mutation ($u: ID!) { generateAuthorizationCode(input: { userId: $u }) { authorizationCode } }',
    { u: userId },
  );
  assert.deepEqual(r.errors, undefined);
  return (r.data?.generateAuthorizationCode as { authorizationCode: string }).authorizationCode;
}

describe('the schema', () => {
  const schemaPath = new URL('../emulator/schema.graphql', import.meta.url);

  test("every root field the emulator resolves is declared in the project's schema.graphql", () => {
    const sdl = buildSchema(readFileSync(schemaPath, 'utf8'));
    const declared = new Set([
      ...Object.keys(sdl.getQueryType()?.getFields() ?? {}),
      ...Object.keys(sdl.getMutationType()?.getFields() ?? {}),
    ]);
    const resolved = Object.keys(createRootValue(new EmulatorStore(DEMO_SOLUTIONS, 60_000)));
    assert.ok(resolved.length > 0);
    assert.deepEqual(
      resolved.filter((field) => !declared.has(field)),
      [],
    );
  });

  // Optional: the copy against Tray's own SDL, where a checkout of it is at hand.
  const traySdl = process.env.TRAY_SCHEMA_SDL;
  test(
    "emulator/schema.graphql is a byte-identical copy of Tray's SDL (TRAY_SCHEMA_SDL)",
    { skip: traySdl ? false : "set TRAY_SCHEMA_SDL to the path of Tray's schema.graphql" },
    () => {
      assert.ok(readFileSync(schemaPath).equals(readFileSync(traySdl ?? '')));
    },
  );
});

describe('GraphQL API', () => {
  let e: StartedEmulator;
  before(async () => {
    e = await startEmulator();
  });
  after(() => e.close());

  test('an invalid document is rejected with GRAPHQL_VALIDATION_FAILED', async () => {
    const unknownField = await gql(e, e.masterToken, '{ viewer { solutions { edges { node { nope } } } } }');
    assert.equal(unknownField.status, 200);
    assert.deepEqual(codesOf(unknownField), ['GRAPHQL_VALIDATION_FAILED']);
    assert.equal(unknownField.data, undefined);

    const syntax = await gql(e, e.masterToken, '{ viewer { ');
    assert.deepEqual(codesOf(syntax), ['GRAPHQL_VALIDATION_FAILED']);

    const badVariable = await gql(e, e.masterToken, CREATE_USER, { x: 42 });
    assert.deepEqual(codesOf(badVariable), ['GRAPHQL_VALIDATION_FAILED']);
    assert.equal(e.emulator.store.findUserByExternalId('42'), undefined);
  });

  test('AuthValue with `value` instead of `authId` is rejected, inline and in variables', async () => {
    const { userId, token } = await newUser(e);
    const instanceId = await newInstance(e, token, 'sol-1');
    const authId = e.emulator.store.createAuthentication(userId, 'slack');

    const inline = await gql(
      e,
      token,
      `mutation { updateSolutionInstance(input: { solutionInstanceId: "${instanceId}", authValues: [{ externalId: "slack", value: "${authId}" }] }) { clientMutationId } }`,
    );
    assert.ok(codesOf(inline).includes('GRAPHQL_VALIDATION_FAILED'));

    const viaVariables = await gql(e, token, UPDATE_INSTANCE, {
      input: { solutionInstanceId: instanceId, authValues: [{ externalId: 'slack', value: authId }] },
    });
    assert.ok(codesOf(viaVariables).length > 0);
    assert.ok(codesOf(viaVariables).every((c) => c === 'GRAPHQL_VALIDATION_FAILED'));
    assert.deepEqual(e.emulator.store.instances.get(instanceId)?.authValues, []);
  });

  test('tokens: missing or unknown -> 401; the wrong kind -> forbidden', async () => {
    const missing = await gql(e, undefined, '{ viewer { solutions { edges { cursor } } } }');
    assert.equal(missing.status, 401);
    assert.deepEqual(codesOf(missing), ['unauthorized']);
    const unknown = await gql(e, 'not-a-token', '{ viewer { solutions { edges { cursor } } } }');
    assert.equal(unknown.status, 401);

    const { token } = await newUser(e);
    const userOnMaster = await gql(e, token, '{ users { edges { node { id } } } }');
    assert.equal(userOnMaster.status, 200);
    assert.deepEqual(codesOf(userOnMaster), ['forbidden']);
    assert.equal(userOnMaster.errors?.[0]?.extensions?.name, 'ForbiddenError');

    const masterOnUser = await gql(e, e.masterToken, CREATE_INSTANCE, { s: 'sol-1', n: 'x' });
    assert.deepEqual(codesOf(masterOnUser), ['forbidden']);
    const masterAuths = await gql(
      e,
      e.masterToken,
      '{ viewer { authentications { edges { node { id } } } } }',
    );
    assert.deepEqual(codesOf(masterAuths), ['forbidden']);

    const either = await gql(e, token, '{ viewer { solutions { edges { node { id } } } } }');
    assert.equal(either.errors, undefined);

    // newUser's createExternalUser and authorize come between the 401s and the user-token call.
    const kinds = e.emulator.requests.slice(-8).map((r) => r.tokenKind);
    assert.deepEqual(kinds, ['none', 'invalid', 'master', 'master', 'user', 'master', 'master', 'user']);
  });

  test('user tokens expire', async () => {
    const short = await startEmulator({ userTokenTtlMs: 50 });
    try {
      const { token } = await newUser(short);
      const query = '{ viewer { authentications { edges { node { id } } } } }';
      const first = await gql(short, token, query);
      // The token may already be stale on a slow machine; either way it must end up refused.
      if (first.status === 200) assert.equal(first.errors, undefined);
      await pollUntil(async () => (await gql(short, token, query)).status === 401, {
        timeoutMs: 30_000,
        what: 'the user token to expire',
      });
    } finally {
      await short.close();
    }
  });

  test('a second user with the same externalUserId is a conflict; users() finds the first', async () => {
    const first = await gql(e, e.masterToken, CREATE_USER, { x: 'dup-user' });
    const userId = (first.data?.createExternalUser as { userId: string }).userId;
    const second = await gql(e, e.masterToken, CREATE_USER, { x: 'dup-user' });
    assert.deepEqual(codesOf(second), ['conflict']);
    assert.equal(second.errors?.[0]?.extensions?.name, 'ConflictError');

    const found = await gql(
      e,
      e.masterToken,
      '{ users(criteria: { externalUserId: "dup-user" }) { edges { node { id externalUserId } } } }',
    );
    assert.deepEqual(found.data, {
      users: { edges: [{ node: { id: userId, externalUserId: 'dup-user' } }] },
    });
  });

  test('aliased generateAuthorizationCode mutations in one request give distinct codes bound to the user', async () => {
    const { userId } = await newUser(e);
    const r = await gql(
      e,
      e.masterToken,
      `mutation ($u: ID!) {
        a: generateAuthorizationCode(input: { userId: $u }) { authorizationCode }
        b: generateAuthorizationCode(input: { userId: $u }) { authorizationCode }
      }`,
      { u: userId },
    );
    assert.equal(r.errors, undefined);
    const data = r.data as Record<'a' | 'b', { authorizationCode: string }>;
    assert.notEqual(data.a.authorizationCode, data.b.authorizationCode);
    for (const code of [data.a.authorizationCode, data.b.authorizationCode]) {
      assert.equal(e.emulator.store.codes.get(code)?.userId, userId);
    }
    assert.deepEqual(e.emulator.requests.at(-1)?.operations, [
      'generateAuthorizationCode',
      'generateAuthorizationCode',
    ]);
  });

  test('viewer.solutionInstances filters by criteria; a user sees only its own', async () => {
    const alice = await newUser(e);
    const bob = await newUser(e);
    const a1 = await newInstance(e, alice.token, 'sol-1', 'first');
    const a2 = await newInstance(e, alice.token, 'sol-2', 'second');
    const b1 = await newInstance(e, bob.token, 'sol-1', 'first');
    const ids = async (token: string, criteria: string) => {
      const r = await gql(
        e,
        token,
        `{ viewer { solutionInstances(criteria: ${criteria}) { edges { node { id } } } } }`,
      );
      assert.equal(r.errors, undefined);
      const conn = (r.data?.viewer as { solutionInstances: { edges: { node: { id: string } }[] } })
        .solutionInstances;
      return conn.edges.map((edge) => edge.node.id).sort();
    };
    assert.deepEqual(await ids(alice.token, '{}'), [a1, a2].sort());
    assert.deepEqual(await ids(alice.token, `{ owner: "${bob.userId}" }`), []);
    assert.deepEqual(
      await ids(e.masterToken, `{ owner: "${alice.userId}", solutionId: "sol-1", name: "first" }`),
      [a1],
    );
    assert.deepEqual(await ids(e.masterToken, `{ id: "${b1}" }`), [b1]);
    assert.deepEqual(await ids(e.masterToken, `{ solutionId: "sol-1", name: "first" }`), [a1, b1].sort());
  });

  test('viewer.authentications lists only the viewer’s own', async () => {
    const alice = await newUser(e);
    const bob = await newUser(e);
    const mine = e.emulator.store.createAuthentication(alice.userId, 'slack');
    e.emulator.store.createAuthentication(bob.userId, 'slack');
    const r = await gql(
      e,
      alice.token,
      '{ viewer { authentications { edges { node { id service { name title } } } } } }',
    );
    assert.deepEqual(r.data, {
      viewer: {
        authentications: { edges: [{ node: { id: mine, service: { name: 'slack', title: 'Slack' } } }] },
      },
    });
  });

  test('updateSolutionInstance enforces slots, ownership and enabling rules', async () => {
    const alice = await newUser(e);
    const bob = await newUser(e);
    const id = await newInstance(e, alice.token, 'sol-2');
    const slack = e.emulator.store.createAuthentication(alice.userId, 'slack');
    const salesforce = e.emulator.store.createAuthentication(alice.userId, 'salesforce');
    const bobs = e.emulator.store.createAuthentication(bob.userId, 'slack');
    const update = (token: string, input: Record<string, unknown>) =>
      gql(e, token, UPDATE_INSTANCE, { input: { solutionInstanceId: id, ...input } });

    assert.deepEqual(
      codesOf(await update(alice.token, { authValues: [{ externalId: 'github', authId: slack }] })),
      ['bad_request'],
    );
    assert.deepEqual(
      codesOf(await update(alice.token, { authValues: [{ externalId: 'slack', authId: bobs }] })),
      ['forbidden'],
    );
    assert.deepEqual(codesOf(await update(bob.token, { instanceName: 'mine now' })), ['forbidden']);
    assert.deepEqual(
      codesOf(await update(alice.token, { authValues: [{ externalId: 'slack', authId: slack }] })),
      [],
    );
    assert.deepEqual(
      codesOf(await update(alice.token, { enabled: true, errorOnEnablingWithMissingValues: true })),
      ['bad_request'],
    );
    assert.equal(e.emulator.store.instances.get(id)?.enabled, false);

    const attached = await update(alice.token, {
      authValues: [{ externalId: 'salesforce', authId: salesforce }],
    });
    assert.equal(attached.errors, undefined);
    const enabled = await update(alice.token, { enabled: true, errorOnEnablingWithMissingValues: true });
    assert.equal(enabled.errors, undefined);
    assert.equal(e.emulator.store.instances.get(id)?.enabled, true);
    assert.deepEqual(
      [...(e.emulator.store.instances.get(id)?.authValues ?? [])].sort((x, y) =>
        x.externalId.localeCompare(y.externalId),
      ),
      [
        { externalId: 'salesforce', authId: salesforce },
        { externalId: 'slack', authId: slack },
      ],
    );
  });

  test('unknown solution and removing a missing or foreign instance', async () => {
    const alice = await newUser(e);
    const bob = await newUser(e);
    const unknownSolution = await gql(e, alice.token, CREATE_INSTANCE, { s: 'sol-404', n: 'x' });
    assert.deepEqual(codesOf(unknownSolution), ['not_found']);
    assert.equal(unknownSolution.errors?.[0]?.extensions?.name, 'NotFoundError');

    const id = await newInstance(e, alice.token);
    const remove = (token: string, instanceId: string) =>
      gql(
        e,
        token,
        'mutation ($i: ID!) { removeSolutionInstance(input: { solutionInstanceId: $i }) { clientMutationId } }',
        {
          i: instanceId,
        },
      );
    assert.deepEqual(codesOf(await remove(bob.token, id)), ['forbidden']);
    assert.deepEqual(codesOf(await remove(alice.token, id)), []);
    assert.equal(e.emulator.store.instances.has(id), false);
    assert.deepEqual(codesOf(await remove(alice.token, id)), ['not_found']);
  });
});

test('config values: refused on auth-only solutions, JSON-encoded strings elsewhere, defaults filled in', async () => {
  const e = await startEmulator({
    solutions: [
      CONFIG_SOLUTION,
      {
        id: 'auth-only',
        title: 'Auth only',
        authSlots: [{ externalId: 'slack', serviceName: 'slack', serviceTitle: 'Slack' }],
      },
    ],
  });
  try {
    const { token } = await newUser(e);
    const create = (solutionId: string, configValues?: unknown) =>
      gql(
        e,
        token,
        `mutation ($s: ID!, $c: [ConfigValue!]) {
          createSolutionInstance(input: { solutionId: $s, instanceName: "n", configValues: $c }) {
            solutionInstance { configValues { externalId value } }
          }
        }`,
        { s: solutionId, c: configValues },
      );
    assert.deepEqual(codesOf(await create('auth-only', [{ externalId: 'channel', value: '"#x"' }])), [
      'bad_request',
    ]);
    assert.deepEqual(codesOf(await create(CONFIG_SOLUTION.id, [{ externalId: 'channel', value: '#x' }])), [
      'bad_request',
    ]);
    assert.deepEqual(codesOf(await create(CONFIG_SOLUTION.id, [{ externalId: 'nope', value: '1' }])), [
      'bad_request',
    ]);
    const defaults = await create(CONFIG_SOLUTION.id);
    assert.deepEqual(defaults.data, {
      createSolutionInstance: {
        solutionInstance: { configValues: [{ externalId: 'channel', value: '"#general"' }] },
      },
    });
    const set = await create(CONFIG_SOLUTION.id, [{ externalId: 'channel', value: '"#ops"' }]);
    assert.deepEqual(set.data, {
      createSolutionInstance: {
        solutionInstance: { configValues: [{ externalId: 'channel', value: '"#ops"' }] },
      },
    });
  } finally {
    await e.close();
  }
});

test('no token or code reaches the log lines, the request log or /_emulator/state', async () => {
  const lines: string[] = [];
  const e = await startEmulator({ log: (line) => lines.push(line) });
  try {
    const { userId, token } = await newUser(e);
    const instanceId = await newInstance(e, token, 'sol-1');
    const code = await newCode(e, userId);
    const url = `${e.url}/external/auth/create/${e.embeddedId}/${instanceId}/slack?code=${code}`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 200);
    await gql(e, 'some-unknown-token', '{ viewer { solutions { edges { cursor } } } }');

    const state = await (await fetch(`${e.url}/_emulator/state`)).text();
    const requests = await (await fetch(`${e.url}/_emulator/requests`)).text();
    assert.ok(lines.length >= 5, 'something was logged');
    assert.match(state, new RegExp(instanceId));
    for (const secret of [e.masterToken, token, code, 'some-unknown-token']) {
      for (const [where, text] of [
        ['log', lines.join('\n')],
        ['state', state],
        ['requests', requests],
      ] as const) {
        assert.ok(!text.includes(secret), `${where} leaks a secret`);
      }
    }
  } finally {
    await e.close();
  }
});

describe('fault injection', () => {
  let e: StartedEmulator;
  const USERS = '{ users { edges { node { id } } } }';
  before(async () => {
    e = await startEmulator();
  });
  after(() => e.close());

  test('http500, http429, rateLimitError and permanentError, once each', async () => {
    e.emulator.faults.add({ kind: 'http500' });
    const r500 = await gql(e, e.masterToken, USERS);
    assert.equal(r500.status, 500);
    assert.deepEqual(r500.errors, [{ message: 'Internal Server Error' }]);

    e.emulator.faults.add({ kind: 'http429' });
    assert.equal((await gql(e, e.masterToken, USERS)).status, 429);

    e.emulator.faults.add({ kind: 'rateLimitError' });
    const limited = await gql(e, e.masterToken, USERS);
    assert.equal(limited.status, 200);
    assert.equal(limited.data, null);
    assert.deepEqual(limited.errors, [
      {
        message: 'Rate limit exceeded',
        extensions: { code: 'access_not_allowed', name: 'PreconditionError' },
      },
    ]);

    e.emulator.faults.add({ kind: 'permanentError' });
    const permanent = await gql(e, e.masterToken, USERS);
    assert.equal(permanent.status, 200);
    assert.deepEqual(codesOf(permanent), ['bad_request']);
    assert.equal(permanent.errors?.[0]?.extensions?.name, 'ValidationError');

    const normal = await gql(e, e.masterToken, USERS);
    assert.equal(normal.errors, undefined);
    assert.deepEqual(
      e.emulator.requests.slice(-5).map((r) => r.fault ?? null),
      ['http500', 'http429', 'rateLimitError', 'permanentError', null],
    );
  });

  test('a fault for one operation spares the others, and `times` counts uses', async () => {
    const { token } = await newUser(e);
    e.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'http500', times: 2 });
    assert.equal((await gql(e, e.masterToken, USERS)).status, 200);
    assert.equal((await gql(e, token, CREATE_INSTANCE, { s: 'sol-1', n: 'a' })).status, 500);
    assert.equal((await gql(e, token, CREATE_INSTANCE, { s: 'sol-1', n: 'a' })).status, 500);
    assert.equal((await gql(e, token, CREATE_INSTANCE, { s: 'sol-1', n: 'a' })).status, 200);
  });

  test('delay holds the response for delayMs, then answers normally', async () => {
    e.emulator.faults.add({ kind: 'delay', delayMs: 300 });
    const started = Date.now();
    const r = await gql(e, e.masterToken, USERS);
    assert.ok(Date.now() - started >= 290, 'response was delayed');
    assert.equal(r.errors, undefined);
  });

  test('dropResponseAfterCommit: the client sees a socket error, but the instance exists', async () => {
    const { token, userId } = await newUser(e);
    e.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit' });
    await assert.rejects(gql(e, token, CREATE_INSTANCE, { s: 'sol-1', n: 'dropped' }));
    const found = await gql(
      e,
      token,
      `{ viewer { solutionInstances(criteria: { owner: "${userId}", solutionId: "sol-1", name: "dropped" }) { totalCount } } }`,
    );
    assert.deepEqual(found.data, { viewer: { solutionInstances: { totalCount: 1 } } });
  });

  test('faults over HTTP: POST and DELETE /_emulator/faults, GET /_emulator/requests', async () => {
    const bad = await fetch(`${e.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'meteorStrike' }),
    });
    assert.equal(bad.status, 400);

    const post = (body: unknown) =>
      fetch(`${e.url}/_emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post({ operation: 'users', kind: 'http429' })).status, 201);
    assert.equal((await gql(e, e.masterToken, USERS)).status, 429);

    assert.equal((await post({ kind: 'http500', times: 5 })).status, 201);
    assert.equal((await fetch(`${e.url}/_emulator/faults`, { method: 'DELETE' })).status, 204);
    assert.equal((await gql(e, e.masterToken, USERS)).status, 200);

    const log = (await (await fetch(`${e.url}/_emulator/requests`)).json()) as {
      requests: { operations: string[]; status: number }[];
    };
    assert.deepEqual(
      log.requests.slice(-2).map((r) => [r.operations, r.status]),
      [
        [['users'], 429],
        [['users'], 200],
      ],
    );
  });
});

describe('auth dialog', () => {
  const secret = randomWebhookSecret();
  let e: StartedEmulator;
  let receiver: Server;
  let receiverStatus = 202;
  /** Answers for the next requests, before receiverStatus; 0 drops the connection. */
  const receiverPlan: number[] = [];
  const received: { body: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        const planned = receiverPlan.shift();
        // 0: the connection drops without an answer.
        if (planned === 0) return void req.socket.destroy();
        res.statusCode = planned ?? receiverStatus;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    e = await startEmulator({ webhookUrl: `http://127.0.0.1:${port}/hook`, webhookSecret: secret });
  });
  after(async () => {
    await e.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  /** A user, an instance of sol-2, and a fresh dialog URL for its slack slot. */
  async function dialogUrl(): Promise<{ url: string; userId: string; instanceId: string; code: string }> {
    const { userId, token } = await newUser(e);
    const instanceId = await newInstance(e, token, 'sol-2');
    const code = await newCode(e, userId);
    return {
      url: `${e.url}/external/auth/create/${e.embeddedId}/${instanceId}/slack?code=${code}`,
      userId,
      instanceId,
      code,
    };
  }

  const submit = (url: string, code: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code }).toString(),
    });

  test('unknown code, wrong embedded id and unknown slot are refused with a 4xx page', async () => {
    const { instanceId } = await dialogUrl();
    const unknown = await fetch(
      `${e.url}/external/auth/create/${e.embeddedId}/${instanceId}/slack?code=nope`,
    );
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /not valid/);

    const { url, code } = await dialogUrl();
    const wrongPartner = await fetch(url.replace(`/${e.embeddedId}/`, '/someone-else/'));
    assert.equal(wrongPartner.status, 404);
    const wrongSlot = await submit(url.replace('/slack?', '/github?'), code);
    assert.equal(wrongSlot.status, 404);
    const other = await dialogUrl();
    const foreignInstance = await submit(
      url.replace(/\/[^/]+\/slack\?/, `/${other.instanceId}/slack?`),
      code,
    );
    assert.equal(foreignInstance.status, 403, "a code is only good for its own user's instances");
    assert.equal(
      e.emulator.store.codes.get(code)?.usedAt,
      undefined,
      'a refused request leaves the code usable',
    );
  });

  test('happy path: the page names the service, Authorize relays a signed webhook, the code is spent', async () => {
    const { url, userId, instanceId, code } = await dialogUrl();
    received.length = 0;
    receiverStatus = 202;

    const pageRes = await fetch(url);
    assert.equal(pageRes.status, 200);
    const html = await pageRes.text();
    assert.match(html, /Salesforce to Slack/);
    assert.match(html, /Slack/);
    assert.match(html, /<button[^>]*>Authorize<\/button>/);

    const done = await submit(url, code);
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Connected — you can close this window/);

    assert.equal(received.length, 1);
    const hook = received[0]!;
    const verified = new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>) as {
      solutionInstanceId: string;
      externalAuthId: string;
      authId: string;
    };
    assert.equal(verified.solutionInstanceId, instanceId);
    assert.equal(verified.externalAuthId, 'slack');
    assert.deepEqual(Object.keys(verified).sort(), ['authId', 'externalAuthId', 'solutionInstanceId']);
    const auth = e.emulator.store.authentications.get(verified.authId);
    assert.equal(auth?.owner, userId);
    assert.equal(auth?.serviceName, 'slack');

    const again = await submit(url, code);
    assert.equal(again.status, 410);
    assert.equal((await fetch(url)).status, 410);
    assert.equal(received.length, 1, 'a used code relays nothing');
  });

  test('the relay sends the same webhook again after a dropped connection or a 503, but not after a 500', async () => {
    for (const [plan, status, sent] of [
      [[0], 200, 2],
      [[503, 502], 200, 3],
      [[503, 503, 503], 502, 3],
      [[500], 502, 1],
    ] as const) {
      const { url, code } = await dialogUrl();
      received.length = 0;
      receiverPlan.splice(0, receiverPlan.length, ...plan);
      const res = await submit(url, code);
      assert.equal(res.status, status, `${plan.join(', ')}: ${await res.text()}`);
      assert.equal(received.length, sent, plan.join(', '));
      assert.equal(new Set(received.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id');
      assert.equal(new Set(received.map((r) => r.body)).size, 1, 'the same message');
    }
    receiverPlan.length = 0;
  });

  test('a failed relay shows a readable error page', async () => {
    const { url, code } = await dialogUrl();
    receiverStatus = 401;
    try {
      const res = await submit(url, code);
      assert.equal(res.status, 502);
      const page = await res.text();
      assert.match(page, /HTTP 401/);
      // A refusal is final: the page does not send the user round again.
      assert.doesNotMatch(page, /try again/);
    } finally {
      receiverStatus = 202;
    }
  });

  test('a relay that never got an answer tells the user to try again from the app, the link being spent', async () => {
    const { url, code } = await dialogUrl();
    receiverPlan.splice(0, receiverPlan.length, 503, 503, 503);
    try {
      const res = await submit(url, code);
      assert.equal(res.status, 502);
      assert.match(
        await res.text(),
        /HTTP 503\. This link is used up: close this window and try again from the app/,
      );
      // The same link again: it was spent, as the page said.
      assert.equal((await submit(url, code)).status, 410);
    } finally {
      receiverPlan.length = 0;
    }
  });
});

test('the auth-only dialog refuses an instance whose solution has config slots, leaving the code usable', async () => {
  const e = await startEmulator({
    solutions: [CONFIG_SOLUTION],
  });
  try {
    const { userId, token } = await newUser(e);
    const instanceId = await newInstance(e, token, CONFIG_SOLUTION.id);
    const code = await newCode(e, userId);
    const url = `${e.url}/external/auth/create/${e.embeddedId}/${instanceId}/slack?code=${code}`;
    const page = await fetch(url);
    assert.equal(page.status, 400);
    assert.match(await page.text(), /config/i);
    const submitted = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code }).toString(),
    });
    assert.equal(submitted.status, 400);
    assert.equal(e.emulator.store.authentications.size, 0, 'no authentication was created');
    assert.equal(e.emulator.store.codes.get(code)?.usedAt, undefined);
  } finally {
    await e.close();
  }
});
