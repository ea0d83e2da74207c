/**
 * The emulator's state file: what the GraphQL API and the dialog created survives close() and a new
 * emulator on the same file; an unreadable file is moved aside, not lost; no file means empty.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadApiConfig } from '../api/config.js';
import { loadEmulatorConfig } from '../emulator/config.js';
import { loadStateFile, writeFileAtomically } from '../emulator/state-file.js';
import { ConfigError } from '../lib/config.js';
import { startEmulator, type StartedEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';

interface GqlResponse {
  status: number;
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function gql(
  e: StartedEmulator,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GqlResponse> {
  const res = await fetch(e.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<GqlResponse, 'status'>) };
}

/** `data` of a request that must succeed. */
async function ok<T>(
  e: StartedEmulator,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const r = await gql(e, token, query, variables);
  assert.equal(r.status, 200, JSON.stringify(r));
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data as T;
}

const CREATE_USER = `mutation ($x: String!) { createExternalUser(input: { externalUserId: $x, name: "Ada" }) { userId } }`;
const FIND_USER = `query ($x: String!) { users(criteria: { externalUserId: $x }) { edges { node { id name externalUserId } } } }`;
const AUTHORIZE = `mutation ($u: ID!) { authorize(input: { userId: $u }) { accessToken } }`;
const NEW_CODE = `mutation ($u: ID!) { generateAuthorizationCode(input: { userId: $u }) { authorizationCode } }`;
const CREATE_INSTANCE = `mutation ($s: ID!, $n: String!) {
  createSolutionInstance(input: { solutionId: $s, instanceName: $n }) { solutionInstance { id } }
}`;
const UPDATE_INSTANCE = `mutation ($input: UpdateSolutionInstanceInput!) {
  updateSolutionInstance(input: $input) { solutionInstance { id } }
}`;
const INSTANCES = `{ viewer { solutionInstances { edges { node {
  id name owner created enabled solution { id } authValues { externalId authId } } } } } }`;
const AUTHENTICATIONS = `{ viewer { authentications { edges { node { id name service { name } } } } } }`;

interface InstanceNode {
  id: string;
  name: string;
  owner: string;
  created: string;
  enabled: boolean;
  solution: { id: string };
  authValues: { externalId: string; authId: string }[];
}

type Edges<T> = { edges: { node: T }[] };

const createUser = async (e: StartedEmulator, externalUserId: string) =>
  (await ok<{ createExternalUser: { userId: string } }>(e, e.masterToken, CREATE_USER, { x: externalUserId }))
    .createExternalUser.userId;
const userToken = async (e: StartedEmulator, userId: string) =>
  (await ok<{ authorize: { accessToken: string } }>(e, e.masterToken, AUTHORIZE, { u: userId })).authorize
    .accessToken;
const newCode = async (e: StartedEmulator, userId: string) =>
  (
    await ok<{ generateAuthorizationCode: { authorizationCode: string } }>(e, e.masterToken, NEW_CODE, {
      u: userId,
    })
  ).generateAuthorizationCode.authorizationCode;
const createInstance = async (e: StartedEmulator, token: string, solutionId: string, name: string) =>
  (
    await ok<{ createSolutionInstance: { solutionInstance: { id: string } } }>(e, token, CREATE_INSTANCE, {
      s: solutionId,
      n: name,
    })
  ).createSolutionInstance.solutionInstance.id;
const instancesOf = async (e: StartedEmulator, token: string) =>
  (
    await ok<{ viewer: { solutionInstances: Edges<InstanceNode> } }>(e, token, INSTANCES)
  ).viewer.solutionInstances.edges.map((edge) => edge.node);

const dialogUrl = (e: StartedEmulator, instanceId: string, code: string) =>
  `${e.url}/external/auth/create/${e.embeddedId}/${instanceId}/slack?code=${code}`;
/** What the dialog's Authorize button posts. */
const authorizeInDialog = (url: string, code: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code }).toString(),
  });

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emulator-state-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Same credentials every time, as `npm start` keeps them in dev-secrets.json. */
function restartable(stateFile: string) {
  const masterToken = `mt_${randomBytes(12).toString('hex')}`;
  const embeddedId = `emb-${randomBytes(4).toString('hex')}`;
  const lines: string[] = [];
  return {
    lines,
    start: () => startEmulator({ masterToken, embeddedId, stateFile, log: (line) => lines.push(line) }),
  };
}

describe('state file', () => {
  test('users, instances, authentications and codes survive close() and a new emulator', async () => {
    const file = join(dir, 'survive.json');
    const { start, lines } = restartable(file);

    // --- first run: everything through the GraphQL API and the dialog ---------------------------------
    let e = await start();
    let userId: string;
    let oldToken: string;
    let waitingInstance: string;
    let doneInstance: string;
    let unusedCode: string;
    let usedCode: string;
    let authId: string;
    let instancesBefore: InstanceNode[];
    try {
      userId = await createUser(e, 'ext-ada');
      oldToken = await userToken(e, userId);
      waitingInstance = await createInstance(e, oldToken, 'sol-1', 'waiting');
      doneInstance = await createInstance(e, oldToken, 'sol-2', 'done');
      unusedCode = await newCode(e, userId);
      usedCode = await newCode(e, userId);
      const used = await authorizeInDialog(dialogUrl(e, doneInstance, usedCode), usedCode);
      assert.equal(used.status, 200);
      const auths = (
        await ok<{ viewer: { authentications: Edges<{ id: string }> } }>(e, oldToken, AUTHENTICATIONS)
      ).viewer.authentications.edges;
      assert.equal(auths.length, 1);
      authId = auths[0]!.node.id;
      await ok(e, oldToken, UPDATE_INSTANCE, {
        input: {
          solutionInstanceId: doneInstance,
          authValues: [{ externalId: 'slack', authId }],
          enabled: true,
        },
      });
      instancesBefore = await instancesOf(e, oldToken);
      assert.equal(instancesBefore.length, 2);

      // Saved after the requests, without waiting for close().
      await pollUntil(
        async () => {
          const text = await readFile(file, 'utf8').catch(() => '');
          return text.includes(doneInstance) && text.includes(authId) && text.includes('"enabled": true');
        },
        { timeoutMs: 10_000, intervalMs: 25, what: 'the state file to hold the enabled instance' },
      );
    } finally {
      await e.close();
    }

    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the state file is private');
    const text = await readFile(file, 'utf8');
    assert.equal((JSON.parse(text) as { version: unknown }).version, 1);
    assert.ok(!text.includes(oldToken), 'user tokens are not persisted');
    assert.ok(!text.includes(e.masterToken), 'the master token is not persisted');
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith('survive.json')),
      ['survive.json'],
      'no temporary file is left behind',
    );

    // --- second run on the same file ---------------------------------------------------------------
    e = await start();
    try {
      assert.match(lines.join('\n'), /restored 1 users, 2 instances, 1 authentications and 2 codes/);
      const found = (
        await ok<{ users: Edges<{ id: string; name: string; externalUserId: string }> }>(
          e,
          e.masterToken,
          FIND_USER,
          { x: 'ext-ada' },
        )
      ).users.edges.map((edge) => edge.node);
      assert.deepEqual(found, [{ id: userId, name: 'Ada', externalUserId: 'ext-ada' }]);

      const stale = await gql(e, oldToken, INSTANCES);
      assert.equal(stale.status, 401, 'a token from before the restart is refused, so the worker re-mints');

      const token = await userToken(e, userId);
      assert.deepEqual(
        await instancesOf(e, token),
        instancesBefore,
        'instances come back exactly, created date included',
      );
      const auths = (
        await ok<{
          viewer: { authentications: Edges<{ id: string; name: string; service: { name: string } }> };
        }>(e, token, AUTHENTICATIONS)
      ).viewer.authentications.edges.map((edge) => edge.node);
      assert.deepEqual(auths, [{ id: authId, name: 'Slack account', service: { name: 'slack' } }]);

      const spent = await fetch(dialogUrl(e, doneInstance, usedCode));
      assert.equal(spent.status, 410, 'a code used before the restart stays used');

      const url = dialogUrl(e, waitingInstance, unusedCode);
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Connect Slack/);
      const done = await authorizeInDialog(url, unusedCode);
      assert.equal(done.status, 200);
      assert.match(await done.text(), /Connected/);
      // The saga's attach step, against the instance created before the restart.
      const newAuth = (
        await ok<{ viewer: { authentications: Edges<{ id: string }> } }>(e, token, AUTHENTICATIONS)
      ).viewer.authentications.edges
        .map((edge) => edge.node.id)
        .find((id) => id !== authId);
      assert.ok(newAuth);
      await ok(e, token, UPDATE_INSTANCE, {
        input: {
          solutionInstanceId: waitingInstance,
          authValues: [{ externalId: 'slack', authId: newAuth }],
          enabled: true,
        },
      });

      // New ids after the restart do not collide with the old ones.
      const otherUser = await createUser(e, 'ext-bob');
      assert.notEqual(otherUser, userId);
      const otherInstance = await createInstance(e, token, 'sol-1', 'later');
      assert.ok(![waitingInstance, doneInstance].includes(otherInstance));
      assert.notEqual(newAuth, authId);
      const otherCode = await newCode(e, userId);
      assert.ok(![usedCode, unusedCode].includes(otherCode));
      const duplicate = await gql(e, e.masterToken, CREATE_USER, { x: 'ext-ada' });
      assert.equal(duplicate.errors?.[0]?.extensions?.code, 'conflict', 'the old user still blocks its id');
    } finally {
      await e.close();
    }

    // --- third run: what the second run changed was saved on close() too ------------------------------
    e = await start();
    try {
      assert.equal((await fetch(dialogUrl(e, waitingInstance, unusedCode))).status, 410);
      assert.equal(e.emulator.store.instances.get(waitingInstance)?.enabled, true);
      assert.equal(e.emulator.store.users.size, 2);
    } finally {
      await e.close();
    }
  });

  test('an unreadable file is moved aside, logged once, and the emulator starts empty', async () => {
    const cases: [string, string][] = [
      ['not JSON', '{"version": 1, "users": ['],
      [
        'wrong shape',
        JSON.stringify({ version: 1, users: 'nope', instances: [], authentications: [], codes: [] }),
      ],
      [
        'other version',
        JSON.stringify({ version: 99, users: [], instances: [], authentications: [], codes: [] }),
      ],
      ['empty', ''],
    ];
    for (const [name, content] of cases) {
      const sub = join(dir, `unreadable-${cases.findIndex((c) => c[0] === name)}`);
      await mkdir(sub);
      const file = join(sub, 'state.json');
      await writeFile(file, content, { mode: 0o600 });
      const { start, lines } = restartable(file);
      const e = await start();
      try {
        assert.equal(e.emulator.store.users.size, 0, name);
        const aside = (await readdir(sub)).filter((f) => f.startsWith('state.json.unreadable-'));
        assert.equal(aside.length, 1, `${name}: moved aside`);
        assert.equal(await readFile(join(sub, aside[0]!), 'utf8'), content, `${name}: kept as it was`);
        await assert.rejects(stat(file), `${name}: no longer in place`);
        const logged = lines.filter((l) => l.includes('unreadable'));
        assert.equal(logged.length, 1, `${name}: ${lines.join(' | ')}`);
        assert.ok(logged[0]!.includes(join(sub, aside[0]!)), `${name}: the log names where it went`);

        // It goes on to save a fresh file.
        await createUser(e, 'ext-new');
        await pollUntil(async () => (await readFile(file, 'utf8').catch(() => '')).includes('ext-new'), {
          timeoutMs: 10_000,
          intervalMs: 25,
          what: `${name}: a new state file`,
        });
      } finally {
        await e.close();
      }
    }
  });

  test('two unreadable files in the same millisecond are both kept', async () => {
    const sub = join(dir, 'same-instant');
    await mkdir(sub);
    const file = join(sub, 'state.json');
    const now = new Date();
    for (const content of ['first', 'second']) {
      await writeFile(file, content);
      assert.deepEqual(
        loadStateFile(file, () => {}, now),
        { writable: true },
      );
    }
    const kept = await Promise.all((await readdir(sub)).map((f) => readFile(join(sub, f), 'utf8')));
    assert.deepEqual(kept.sort(), ['first', 'second']);
  });

  test('no file: the emulator starts empty and creates the file (and its folder) on the first change', async () => {
    const file = join(dir, 'missing', 'deeper', 'state.json');
    const { start } = restartable(file);
    const e = await start();
    try {
      assert.equal(e.emulator.store.users.size, 0);
      assert.equal(e.emulator.store.instances.size, 0);
      const none = await ok<{ users: Edges<unknown> }>(e, e.masterToken, FIND_USER, { x: 'anyone' });
      assert.deepEqual(none.users.edges, []);
      await createUser(e, 'ext-first');
      await pollUntil(async () => (await readFile(file, 'utf8').catch(() => '')).includes('ext-first'), {
        timeoutMs: 10_000,
        intervalMs: 25,
        what: 'the state file to be created',
      });
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    } finally {
      await e.close();
    }
  });
});

test('TRAY_EMULATOR_STATE_FILE: unset is memory only, a path is made absolute, a folder is refused', async () => {
  assert.equal(loadEmulatorConfig({}).stateFile, undefined);
  assert.equal(loadEmulatorConfig({ TRAY_EMULATOR_STATE_FILE: '  ' }).stateFile, undefined);
  assert.equal(
    loadEmulatorConfig({ TRAY_EMULATOR_STATE_FILE: 'some/state.json' }).stateFile,
    join(process.cwd(), 'some/state.json'),
  );
  for (const bad of [tmpdir(), 'some/folder/']) {
    assert.throws(
      () => loadEmulatorConfig({ TRAY_EMULATOR_STATE_FILE: bad }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems.some((p) => p.variable === 'TRAY_EMULATOR_STATE_FILE'),
    );
  }
});

test('WEBHOOK_SECRET: the emulator takes exactly the secrets the API starts with', () => {
  const secrets = [
    `whsec_${randomBytes(32).toString('base64')}`,
    `whsec_${randomBytes(16).toString('base64')}`,
    `whsec_${randomBytes(8).toString('base64')}`,
    'whsec_AAAA',
    `whsec_${randomBytes(24).toString('base64url')}-_`,
    'supersecret-not-whsec',
  ];
  const accepts = (load: () => unknown) => {
    try {
      load();
      return true;
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.problems.map((p) => p.variable),
        ['WEBHOOK_SECRET'],
      );
      return false;
    }
  };
  for (const secret of secrets) {
    const api = accepts(() => loadApiConfig({ WEBHOOK_SECRET: secret }));
    assert.equal(
      accepts(() => loadEmulatorConfig({ WEBHOOK_SECRET: secret })),
      api,
      secret,
    );
  }
  assert.equal(
    accepts(() => loadEmulatorConfig({ WEBHOOK_SECRET: 'whsec_AAAA' })),
    false,
    'too short',
  );
});

test('a state file whose folder cannot be made fails the write instead of hanging it', async () => {
  // Node's recursive mkdir never settles for a folder under /proc; the save would stall for good.
  const outcome = await Promise.race([
    writeFileAtomically('/proc/connect-saga-no/such/state.json', '{}').then(
      () => 'written',
      (error: NodeJS.ErrnoException) => error.code,
    ),
    new Promise((resolve) => setTimeout(resolve, 10_000, 'still pending after 10 s').unref()),
  ]);
  assert.equal(outcome, 'ENOENT');
});
