/**
 * A namespace without the saga's search attributes: the start-up warning names them, and the API
 * answers the server's refusal as a 503 that the log explains, not as a 500 bug.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import pino from 'pino';
import proto from '@temporalio/proto';
import { ServiceError } from '@temporalio/client';
import { errorHandler } from '../api/errors.js';
import {
  RECHECK_MS,
  searchAttributeProblems,
  warnOfSearchAttributes,
  watchSearchAttributes,
} from '../lib/search-attribute-check.js';

const { INDEXED_VALUE_TYPE_KEYWORD: KEYWORD, INDEXED_VALUE_TYPE_TEXT: TEXT } =
  proto.temporal.api.enums.v1.IndexedValueType;

const operator = (customAttributes: Record<string, number>) => ({
  listSearchAttributes: () => Promise.resolve({ customAttributes }),
});

test('the start-up check names each missing attribute and each of another type', async () => {
  const problems = await searchAttributeProblems(
    operator({ TrayExternalUserId: KEYWORD, TraySolutionId: TEXT, ConnectStep: KEYWORD }),
    'default',
  );
  assert.deepEqual(problems, ['TraySolutionId is not Keyword', 'TraySolutionInstanceId is missing']);
  const all = { TrayExternalUserId: KEYWORD, TraySolutionId: KEYWORD, TraySolutionInstanceId: KEYWORD };
  assert.deepEqual(await searchAttributeProblems(operator({ ...all, ConnectStep: KEYWORD }), 'default'), []);
});

test('the start-up warning is one error line, and a server that will not list them is no reason to stop', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const withDeadline = <R>(_deadline: number, fn: () => Promise<R>) => fn();
  await warnOfSearchAttributes({ operatorService: operator({}), withDeadline }, 'ns-1', logger);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /"level":50.*ns-1 is not set up.*TrayExternalUserId is missing.*setup-search-attributes/,
  );
  const refusing = { listSearchAttributes: () => Promise.reject(new Error('7 PERMISSION_DENIED')) };
  await warnOfSearchAttributes({ operatorService: refusing, withDeadline }, 'ns-1', logger);
  assert.equal(lines.length, 1);
});

/** A namespace whose attributes the test sets, counting the listings; and a logger that keeps its lines. */
function watched() {
  const state = { attributes: {} as Record<string, number>, listings: 0, lines: [] as string[] };
  const connection = {
    operatorService: {
      listSearchAttributes: () => {
        state.listings += 1;
        return Promise.resolve({ customAttributes: state.attributes });
      },
    },
    withDeadline: <R>(_deadline: number, fn: () => Promise<R>) => fn(),
  };
  const logger = pino({ level: 'info' }, { write: (line: string) => void state.lines.push(line) });
  return { state, connection, logger };
}

/** Lets the checks' promises settle (setImmediate is not among the mocked timers). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const ALL_KEYWORD = {
  TrayExternalUserId: KEYWORD,
  TraySolutionId: KEYWORD,
  TraySolutionInstanceId: KEYWORD,
  ConnectStep: KEYWORD,
};

test('a process that found the namespace not set up looks again until it is, and says so once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { state, connection, logger } = watched();
  const stop = watchSearchAttributes(connection, 'ns-1', logger);
  t.after(stop);
  await settle();
  assert.equal(state.lines.length, 1);
  assert.match(state.lines[0]!, /"level":50.*ns-1 is not set up/);
  // Still missing: looked again, quietly.
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(state.listings, 2);
  assert.equal(state.lines.length, 1);
  // The set-up Job has run.
  state.attributes = ALL_KEYWORD;
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(state.listings, 3);
  assert.equal(state.lines.length, 2);
  assert.match(state.lines[1]!, /"level":30.*ns-1 now has the saga's search attributes/);
  // Done: no more listings.
  t.mock.timers.tick(RECHECK_MS * 3);
  await settle();
  assert.equal(state.listings, 3);
});

test('a namespace set up at start is not looked at again, and stopping ends the looks', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const ready = watched();
  ready.state.attributes = ALL_KEYWORD;
  watchSearchAttributes(ready.connection, 'ns-1', ready.logger);
  await settle();
  t.mock.timers.tick(RECHECK_MS * 3);
  await settle();
  assert.equal(ready.state.listings, 1);
  assert.deepEqual(ready.state.lines, []);

  const broken = watched();
  const stop = watchSearchAttributes(broken.connection, 'ns-1', broken.logger);
  await settle();
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(broken.state.listings, 2);
  stop();
  t.mock.timers.tick(RECHECK_MS * 3);
  await settle();
  assert.equal(broken.state.listings, 2);
});

test('a first listing that fails is tried again, and what it then finds is logged as at start', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { state, connection, logger } = watched();
  const listing = connection.operatorService.listSearchAttributes;
  let failing = true;
  connection.operatorService.listSearchAttributes = () =>
    failing ? Promise.reject(new Error('14 UNAVAILABLE: Temporal restarting')) : listing();
  const stop = watchSearchAttributes(connection, 'ns-1', logger);
  t.after(stop);
  await settle();
  assert.deepEqual(state.lines, []);
  failing = false;
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(state.lines.length, 1);
  assert.match(state.lines[0]!, /"level":50.*ns-1 is not set up/);
  state.attributes = ALL_KEYWORD;
  t.mock.timers.tick(RECHECK_MS);
  await settle();
  assert.equal(state.lines.length, 2);
  assert.match(state.lines[1]!, /"level":30.*ns-1 now has the saga's search attributes/);
});

const grpcError = (details: string) =>
  Object.assign(new Error(`3 INVALID_ARGUMENT: ${details}`), { code: 3, details, metadata: {} });

for (const [call, details, attribute] of [
  ['start', 'Namespace default has no mapping defined for search attribute TraySolutionId', 'TraySolutionId'],
  ['list', 'invalid query: invalid search attribute: ConnectStep', 'ConnectStep'],
  ['describe', 'search attribute TraySolutionInstanceId is not defined', 'TraySolutionInstanceId'],
] as const)
  test(`the server refusing a ${call} for a missing search attribute is a 503 naming it in the log`, async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const app = express();
    app.get('/call', () => {
      throw new ServiceError(`Failed to ${call}`, { cause: grpcError(details) });
    });
    app.use(errorHandler(logger));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/call`);
      assert.equal(res.status, 503);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'temporal_unavailable');
      assert.equal(
        error.message,
        'The Temporal namespace is not set up for connect-saga (search attributes missing); requests ' +
          "fail until the service's operator sets it up",
      );
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, new RegExp(`no search attribute ${attribute}: .*setup-search-attributes`));
    } finally {
      server.close();
    }
  });

// The server's own words for a malformed attribute name or type: a bug or a bad value, not a namespace
// without the saga's attributes, so not answered as one.
for (const details of ['invalid search attribute name', 'invalid search attribute type: Unspecified'])
  test(`"${details}" is not taken for a missing search attribute`, async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const app = express();
    app.get('/call', () => {
      throw new ServiceError('Failed to start', { cause: grpcError(details) });
    });
    app.use(errorHandler(logger));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/call`);
      assert.equal(res.status, 500);
      assert.doesNotMatch(lines.join(''), /no search attribute/);
    } finally {
      server.close();
    }
  });
