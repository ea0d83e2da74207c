/**
 * Input the API must refuse with a 400 naming the problem, over real HTTP: bytes that are not UTF-8
 * (in a body, a path or a query), control characters and lone surrogates in every id, whitespace
 * around a duration; and one answer that lists every problem. No worker: nothing here gets that far.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, test } from 'node:test';
import { connectionIdFor } from '../common/messages.js';
import { startStack, type Stack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

const stack: Stack = await startStack({ worker: false });
after(() => stack.close());

interface Answer {
  status: number;
  body: { error?: { code: string; details?: { path: string; message: string }[] } } & Record<string, unknown>;
}

/** One request with its path sent byte for byte (fetch would re-encode some of it). */
function send(
  method: string,
  path: string,
  body?: Buffer | string,
  headers = stack.headers(),
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = request(stack.apiUrl, { method, path, headers: { ...headers, ...length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function assert400(answer: Answer, code: string, paths: string[], what: string): void {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error?.code, code, what);
  const listed = (answer.body.error?.details ?? []).map((d) => d.path);
  for (const path of paths)
    assert.ok(listed.includes(path), `${what}: ${path} not in ${JSON.stringify(listed)}`);
}

const input = (overrides: Record<string, unknown> = {}) => ({
  externalUserId: uniqueId('in'),
  userName: 'Ada',
  solutionId: 'sol-1',
  authSlots: ['slack'],
  ...overrides,
});

describe('bytes that are not UTF-8', () => {
  test('a start body: 400 invalid_json, so "Jos\\xe9" and "Jos\\xe8" do not both become "Jos\\ufffd"', async () => {
    const user = uniqueId('jos');
    for (const byte of [0xe9, 0xe8]) {
      const json = JSON.stringify(input({ externalUserId: `${user}-Jos@` }));
      const raw = Buffer.from(json, 'utf8');
      raw[raw.indexOf('@')] = byte;
      const answer = await send('POST', '/v1/connections?wait=0', raw);
      assert400(answer, 'invalid_json', ['body'], `byte ${byte.toString(16)}`);
      assert.match(JSON.stringify(answer.body), /not valid UTF-8/);
      const withWait = await send('POST', '/v1/connections?wait=99', raw);
      assert400(withWait, 'invalid_json', ['body', '?wait'], 'with a bad ?wait');
    }
    const merged = connectionIdFor(`${user}-Jos\ufffd`, 'sol-1');
    await assert.rejects(stack.client.workflow.getHandle(merged).describe(), /not found/i);
  });

  test('a start body that is UTF-8 is read as before, other characters and all', async () => {
    const body = Buffer.from(JSON.stringify(input({ userName: 'José 😀 \ufffd' })), 'utf8');
    const answer = await send('POST', '/v1/connections?wait=0', body);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    await stack.client.workflow.getHandle(String(answer.body.connectionId)).terminate('test cleanup');
  });

  test('the reissue reads no body, so bytes that are not UTF-8 there cannot fail it', async () => {
    const answer = await send(
      'POST',
      '/v1/connections/connect%3Anobody%3Asol-1/auth-urls/slack',
      Buffer.from([0xff]),
    );
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
  });

  test('a path: 400, also a truncated escape', async () => {
    for (const id of ['%FF', '%E0%A4%A', '%ED%A0%80', 'connect%3A%C3']) {
      for (const [method, path] of [
        ['GET', `/v1/connections/${id}`],
        ['DELETE', `/v1/connections/${id}`],
        ['POST', `/v1/connections/${id}/auth-urls/slack`],
        ['POST', `/v1/connections/connect%3Aa%3Ab/auth-urls/${id}`],
      ] as const) {
        const answer = await send(method, path);
        assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error?.code, 'invalid_input');
        // The parameter it was for, named as the other 400s name theirs.
        const named = path.endsWith('/slack') ? 'id' : path.includes('auth-urls') ? 'externalAuthId' : 'id';
        assert.deepEqual(
          answer.body.error?.details?.map((p: { path: string }) => p.path),
          [named],
          `${method} ${path}: ${JSON.stringify(answer.body)}`,
        );
      }
    }
  });

  test('a list filter: 400 naming it, as the same bytes in a path are', async () => {
    for (const [query, param] of [
      ['externalUserId=%ED%A0%80', '?externalUserId'],
      ['externalUserId=%FF', '?externalUserId'],
      ['solutionId=sol%FF', '?solutionId'],
      ['step=%FF', '?step'],
      ['externalUserId=100%', '?externalUserId'],
      ['pageSize=5&solutionId=%E0%A4%A', '?solutionId'],
    ] as const) {
      assert400(await send('GET', `/v1/connections?${query}`), 'invalid_input', [param], query);
    }
    const fine = await send('GET', `/v1/connections?externalUserId=${encodeURIComponent('José 😀+x')}`);
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
  });
});

describe('control characters and lone surrogates in ids', () => {
  test('in a path: 400 with the problem listed, not 404', async () => {
    for (const [method, path, param] of [
      ['GET', '/v1/connections/a%00b', 'id'],
      ['GET', '/v1/connections/connect%3Aa%0A%3Asol-1', 'id'],
      ['DELETE', '/v1/connections/a%C2%85b', 'id'],
      ['POST', '/v1/connections/a%1Fb/auth-urls/slack', 'id'],
      ['POST', '/v1/connections/connect%3Aa%3Ab/auth-urls/sl%7Fack', 'externalAuthId'],
    ] as const) {
      const answer = await send(method, path);
      assert400(answer, 'invalid_input', [param], `${method} ${path}`);
      assert.match(JSON.stringify(answer.body), /control characters or lone surrogates/);
    }
  });

  test('in a list filter: 400', async () => {
    assert400(
      await send('GET', '/v1/connections?externalUserId=a%00b'),
      'invalid_input',
      ['?externalUserId'],
      'NUL',
    );
  });

  test("in the webhook's connectionId: 400 naming it, not a 500 from Temporal", async () => {
    for (const connectionId of ['c\ud800', 'connect:u\udc00:sol-1', 'c\u0000', 'connect:a\n:sol-1']) {
      const signed = stack.signWebhook({ connectionId, externalAuthId: 'slack', authId: 'a1' });
      const answer = await send('POST', '/v1/webhooks/auth-completed', signed.body, signed.headers);
      assert400(answer, 'invalid_input', ['connectionId'], JSON.stringify(connectionId));
    }
  });
});

describe('one answer lists every problem', () => {
  test('a connection id over 1000 bytes is listed beside a missing authSlots', async () => {
    const answer = await send(
      'POST',
      '/v1/connections?wait=0',
      JSON.stringify({ externalUserId: '😀'.repeat(200), userName: 'A', solutionId: '😀'.repeat(200) }),
    );
    assert400(answer, 'invalid_input', ['authSlots', 'externalUserId'], '200 emoji each, no slots');
    assert.match(JSON.stringify(answer.body), /1609 bytes/);
  });

  test('a config value nested too deep is listed beside the other problems', async () => {
    const deep = `${'['.repeat(70)}${']'.repeat(70)}`;
    const body = `{"externalUserId":"","authSlots":[],"configValues":[{"externalId":"x","value":${deep}}]}`;
    const answer = await send('POST', '/v1/connections?wait=99', body);
    const paths = ['(body)', 'externalUserId', 'userName', 'solutionId', 'authSlots', '?wait'];
    assert400(answer, 'invalid_input', paths, 'too deep, and five more');
  });

  test('and beside a bad ?wait and a bad authTimeout', async () => {
    const answer = await send(
      'POST',
      '/v1/connections?wait=1e1',
      JSON.stringify(
        input({ externalUserId: 'é'.repeat(200), solutionId: '中'.repeat(200), authTimeout: '1w' }),
      ),
    );
    assert400(answer, 'invalid_input', ['authTimeout', '?wait', 'externalUserId'], 'three problems');
  });
});

describe('a start body that is JSON but no object', () => {
  for (const json of ['null', '[]', '1', '"x"']) {
    test(`${json} is "not an object", not a list of missing fields`, async () => {
      const answer = await send('POST', '/v1/connections?wait=0', json);
      assert400(answer, 'invalid_input', ['(body)'], json);
      assert.deepEqual(answer.body.error?.details, [
        { path: '(body)', message: 'the input must be an object' },
      ]);
    });
  }
});

describe('a start names every query parameter it does not take', () => {
  const cases: [string, string][] = [
    ['wait[]=1', '?wait[]'],
    ['wait[a]=1', '?wait[a]'],
    ['wait=1&wait[]=2', '?wait[]'],
    ['wiat=5', '?wiat'],
  ];
  for (const [query, param] of cases) {
    test(`400 naming ${param} for ?${query}`, async () => {
      const answer = await send('POST', `/v1/connections?${query}`, JSON.stringify(input()));
      assert400(answer, 'invalid_input', [param], query);
    });
  }
});

describe('authTimeout as documented, nothing around it', () => {
  for (const authTimeout of [' 90s', '90s\n', '\u00a090s', '90s ', '9 0s']) {
    test(`400 for ${JSON.stringify(authTimeout)}`, async () => {
      const answer = await send('POST', '/v1/connections?wait=0', JSON.stringify(input({ authTimeout })));
      assert400(answer, 'invalid_input', ['authTimeout'], JSON.stringify(authTimeout));
    });
  }

  test('201 for "90s"', async () => {
    const answer = await send(
      'POST',
      '/v1/connections?wait=0',
      JSON.stringify(input({ authTimeout: '90s' })),
    );
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    await stack.client.workflow.getHandle(String(answer.body.connectionId)).terminate('test cleanup');
  });
});

describe('a config value is passed on as sent', () => {
  test('a "__proto__" key in it reaches the saga, at any depth, and pollutes nothing', async () => {
    const value =
      '{"__proto__":{"polluted":true},"list":[{"__proto__":1,"a":2}],"constructor":{"prototype":3}}';
    const body = JSON.stringify(input()).replace(
      /\}$/,
      `,"configValues":[{"externalId":"cfg","value":${value}}]}`,
    );
    const answer = await send('POST', '/v1/connections?wait=0', body);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const handle = stack.client.workflow.getHandle(String(answer.body.connectionId));
    try {
      const [started] = (await handle.fetchHistory()).events ?? [];
      const payload = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const stored = JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8'));
      assert.equal(JSON.stringify(stored.configValues[0].value), value);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    } finally {
      await handle.terminate('test cleanup');
    }
  });
});

describe('a query of many parameters', () => {
  // The default parser stopped at 1,000 parameters, empty `&&` segments counted: what came after
  // them was dropped unseen.
  const padding = '&'.repeat(1200);

  test('a ?wait after 1,200 empty segments is still read: 400 for a bad one', async () => {
    const answer = await send('POST', `/v1/connections?${padding}wait=abc`, JSON.stringify(input()));
    assert400(answer, 'invalid_input', ['?wait'], 'padded ?wait');
  });

  test('a list parameter after them is still read, and 1,500 unknown ones are all named', async () => {
    assert400(await send('GET', `/v1/connections?${padding}bogus=1`), 'invalid_input', ['?bogus'], 'padded');
    const many = Array.from({ length: 1500 }, (_, i) => `p${i}=1`).join('&');
    const answer = await send('GET', `/v1/connections?${many}`);
    assert400(answer, 'invalid_input', ['?p0', '?p1499'], '1,500 parameters');
    assert.equal(answer.body.error?.details?.length, 1500);
  });
});
