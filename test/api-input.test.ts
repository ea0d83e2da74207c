/**
 * Input the API must refuse with a 400 naming the problem, over real HTTP: bytes that are not UTF-8
 * (in a path or a query), control characters and lone surrogates in every id. No worker: nothing
 * here gets that far.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, test } from 'node:test';
import { startStack, type Stack } from './helpers/stack.js';

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

describe('bytes that are not UTF-8', () => {
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
