/**
 * The per-process pacer on Tray requests: at most `count` leave in any window, the rest in order
 * once the oldest leaves it; nothing waits while the pace holds. A fake clock, so nothing is timed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createSendPacer, trayBudgetPacer, type SendPacer } from '../activities/send-pacer.js';
import { createTrayClient } from '../activities/tray-client.js';

/** A pacer on a clock the test moves; `sent` are the times requests left. */
function pacedClock(count: number, windowMs: number) {
  let clock = 0;
  const sent: number[] = [];
  const pacer = createSendPacer({
    count,
    windowMs,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
  });
  return {
    pacer,
    sent,
    at: (t: number) => (clock = t),
    send: async () => {
      await pacer.wait();
      sent.push(clock);
    },
  };
}

/** The most requests in any window of `windowMs` among `times`. */
function busiest(times: number[], windowMs: number): number {
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + windowMs).length));
}

describe('send pacer', () => {
  test('a flood leaves at most count per window, in order, and only the overflow waits', async () => {
    const p = pacedClock(5, 1000);
    for (let i = 0; i < 12; i++) await p.send();
    assert.deepEqual(p.sent.slice(0, 5), [0, 0, 0, 0, 0], 'the first five wait for nothing');
    assert.deepEqual(p.sent.slice(5), [1000, 1000, 1000, 1000, 1000, 2000, 2000]);
    assert.ok(busiest(p.sent, 1000) <= 5);
  });

  test('requests at the pace never wait', async () => {
    const p = pacedClock(5, 1000);
    for (let i = 0; i < 50; i++) {
      p.at(i * 200);
      await p.send();
    }
    assert.deepEqual(
      p.sent,
      Array.from({ length: 50 }, (_, i) => i * 200),
    );
  });

  test('a stall then a flush: the window that holds it stays within the count', async () => {
    const p = pacedClock(124, 5000);
    // 20 a second for 10 s, then the 160 a stalled worker held, all at once.
    for (let i = 0; i < 200; i++) {
      p.at(i * 50);
      await p.send();
    }
    p.at(18_000);
    for (let i = 0; i < 160; i++) await p.send();
    assert.ok(busiest(p.sent, 5000) <= 124, `busiest ${busiest(p.sent, 5000)}`);
    assert.equal(p.sent.length, 360, 'every request left');
  });

  test('an aborted wait rejects with the reason; an aborted signal is refused at once', async () => {
    const pacer = createSendPacer({ count: 1, windowMs: 60_000 });
    await pacer.wait();
    const ctl = new AbortController();
    const waiting = pacer.wait(ctl.signal);
    ctl.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    await assert.rejects(pacer.wait(ctl.signal), /cancelled/);
  });

  test('refuses a count below 1 or a window that is not positive; the budget pacer keeps one back', async () => {
    assert.throws(() => createSendPacer({ count: 0, windowMs: 1000 }), RangeError);
    assert.throws(() => createSendPacer({ count: 1, windowMs: 0 }), RangeError);
    // 25/s over 5 s: 124 leave at once, the 125th waits.
    const pacer = trayBudgetPacer(25, 5);
    for (let i = 0; i < 124; i++) await pacer.wait();
    const ctl = new AbortController();
    const next = pacer.wait(ctl.signal);
    ctl.abort(new Error('held back'));
    await assert.rejects(next, /held back/);
  });

  test('the Tray client waits on its pacer before each request, and a cancel while held is abandoned', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { ok: true } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const held = new AbortController();
    const waits: (AbortSignal | undefined)[] = [];
    const pacer: SendPacer = {
      wait: (signal) => {
        waits.push(signal);
        return waits.length === 1
          ? Promise.resolve()
          : new Promise((_, reject) => {
              signal?.addEventListener('abort', () => reject(signal.reason as Error));
            });
      },
    };
    const tray = createTrayClient({
      graphqlUrl: `http://127.0.0.1:${port}/graphql`,
      masterToken: 'mt',
      pacer,
    });
    try {
      await tray.request('query Ok { ok }', undefined, 'master');
      assert.equal(requests, 1);
      const second = tray.request('query Ok { ok }', undefined, 'master', { signal: held.signal });
      held.abort();
      await assert.rejects(second, /request abandoned/);
      assert.equal(requests, 1, 'the held request never left');
      assert.equal(waits.length, 2);
      assert.equal(waits[1], held.signal);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
