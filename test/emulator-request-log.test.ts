/**
 * The emulator's request log is bounded (a long dev session must not grow it forever) while readers
 * that took an absolute offset or a start time keep getting exactly their entries, or a clear error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RecordedRequest } from '../emulator/server.js';
import { DEFAULT_REQUEST_LOG_LIMIT, RequestLog } from '../emulator/request-log.js';
import { startEmulator, type StartedEmulator } from './helpers/emulator.js';

const entry = (at: number): RecordedRequest => ({
  at,
  operations: [`op${at}`],
  tokenKind: 'master',
  ok: true,
  status: 200,
});

function filled(limit: number, count: number): RequestLog {
  const log = new RequestLog(limit);
  for (let i = 0; i < count; i++) log.push(entry(i));
  return log;
}

describe('emulator request log', () => {
  test('holds at most twice its limit, however many requests arrive', () => {
    const log = filled(10, 1000);
    assert.equal(log.length, 1000, 'length counts every request ever recorded');
    assert.ok(log.retained().length >= 10 && log.retained().length < 20, `${log.retained().length}`);
    assert.equal(log.dropped + log.retained().length, 1000);
    assert.equal(log.at(-1)?.at, 999);
  });

  test('absolute offsets stay valid after the oldest entries are dropped', () => {
    const log = filled(10, 25);
    const before = log.length;
    for (let i = 25; i < 30; i++) log.push(entry(i));
    assert.deepEqual(
      log.slice(before).map((r) => r.at),
      [25, 26, 27, 28, 29],
    );
    assert.deepEqual(
      log.slice(-3).map((r) => r.at),
      [27, 28, 29],
    );
    assert.equal(log.at(log.dropped)?.at, log.dropped);
    assert.equal(log.at(0), undefined);
  });

  test('asking for dropped entries throws instead of answering short', () => {
    const log = filled(10, 100);
    assert.ok(log.dropped > 0);
    assert.throws(() => log.slice(0), /no longer holds entries 0\.\.\d+.*requestLogLimit/);
    assert.throws(() => log.since(0), /dropped requests made after.*requestLogLimit/);
    assert.deepEqual(log.slice(log.dropped).length, 100 - log.dropped);
    assert.deepEqual(
      log.since(98).map((r) => r.at),
      [98, 99],
    );
  });

  test('the default limit is far above a 1,000-saga bench run', () => {
    assert.ok(DEFAULT_REQUEST_LOG_LIMIT >= 5 * 7500);
    const log = filled(DEFAULT_REQUEST_LOG_LIMIT, 7500);
    assert.equal(log.dropped, 0);
    assert.equal(log.slice(0).length, 7500);
  });

  describe('in a running emulator with requestLogLimit', () => {
    let e: StartedEmulator;
    before(async () => {
      e = await startEmulator({ requestLogLimit: 2 });
    });
    after(() => e.close());

    test('GET /_emulator/requests lists what is held and says how much was dropped', async () => {
      const start = e.emulator.requests.length;
      for (let i = 0; i < 6; i++) {
        const res = await fetch(e.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${e.masterToken}` },
          body: JSON.stringify({ query: '{ viewer { __typename } }' }),
        });
        await res.arrayBuffer();
      }
      assert.equal(e.emulator.requests.length, start + 6);
      const body = (await (await fetch(`${e.url}/_emulator/requests`)).json()) as {
        requests: RecordedRequest[];
        dropped: number;
        lastDroppedAt: number | null;
      };
      assert.ok(body.requests.length >= 2 && body.requests.length < 4, `${body.requests.length}`);
      assert.equal(body.dropped + body.requests.length, start + 6);
      assert.equal(typeof body.lastDroppedAt, 'number');
      assert.throws(() => e.emulator.requests.slice(start), RangeError);
    });
  });
});
