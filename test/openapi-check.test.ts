/**
 * The strict check of recorded answers (test/helpers/openapi-check.ts): a field the document does
 * not name fails it, in a branch of a combinator as anywhere else, and no documented answer does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOpenApi } from '../api/openapi.js';
import { mismatches, type Answer } from './helpers/openapi-check.js';

const named = (key: string) => ({
  type: 'object',
  required: [key],
  properties: { [key]: { type: 'string' } },
});

/** A document whose GET /{path} answers 200 with `schema`. */
const docWith = (schemas: Record<string, unknown>) => ({
  openapi: '3.1.0',
  components: { schemas: { Named: named('n') } },
  paths: Object.fromEntries(
    Object.entries(schemas).map(([path, schema]) => [
      `/${path}`,
      { get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema } } } } } },
    ]),
  ),
});

const answer = (path: string, body: unknown, status = 200): Answer => ({
  method: 'GET',
  path,
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'r-1' },
  body: JSON.stringify(body),
});

test('a field no branch of an anyOf, allOf or oneOf names fails the check', () => {
  const doc = docWith({
    either: { anyOf: [named('a'), named('b')] },
    one: { oneOf: [named('a'), { $ref: '#/components/schemas/Named' }] },
    narrowed: {
      type: 'object',
      properties: { id: { type: 'string' } },
      allOf: [{ anyOf: [named('a'), named('b')] }],
    },
    union: { anyOf: [{ type: 'array', items: named('a') }, named('b')] },
  });
  const check = (path: string, body: unknown) => mismatches(doc, answer(path, body));
  for (const [path, body] of [
    ['/either', { a: 'x' }],
    ['/either', { a: 'x', b: 'y' }],
    ['/one', { n: 'x' }],
    ['/narrowed', { id: 'i', b: 'y' }],
    ['/union', [{ a: 'x' }]],
    ['/union', { b: 'y' }],
  ] as const) {
    assert.deepEqual(check(path, body), [], `${path} ${JSON.stringify(body)}`);
  }
  for (const [path, body] of [
    ['/either', { a: 'x', extra: 1 }],
    ['/one', { n: 'x', extra: 1 }],
    ['/narrowed', { id: 'i', a: 'x', extra: 1 }],
    ['/union', [{ a: 'x', extra: 1 }]],
    ['/union', { b: 'y', extra: 1 }],
  ] as const) {
    const problems = check(path, body);
    assert.equal(problems.length, 1, `${path} ${JSON.stringify(body)}`);
    assert.match(problems[0]!, /must NOT have unevaluated properties/);
  }
});

test('a branch that takes any object keeps the schema holding it open', () => {
  const doc = docWith({
    loose: { anyOf: [{ type: 'string' }, { type: 'object' }] },
    value: { anyOf: [named('a'), { description: 'Any JSON value' }] },
  });
  assert.deepEqual(mismatches(doc, answer('/loose', { anything: 1 })), []);
  assert.deepEqual(mismatches(doc, answer('/value', { a: 'x', anything: 1 })), []);
});

test("the API's error details: an undocumented field fails, the real shapes pass", () => {
  const doc = buildOpenApi();
  const error = (details: unknown) => ({ error: { code: 'c', message: 'm', details } });
  const check = (body: unknown) => mismatches(doc, answer('/v1/connections/x', body, 404));
  assert.deepEqual(check(error([{ path: 'authSlots.1', message: 'bad' }])), []);
  assert.deepEqual(check(error({ allow: ['GET', 'HEAD'] })), []);
  assert.equal(check(error([{ path: 'p', message: 'm', hint: 'h' }])).length, 1);
  assert.equal(check(error({ allow: ['GET'], extra: true })).length, 1);
  assert.equal(check({ error: { code: 'c', message: 'm', extra: 1 } }).length, 1);
});
