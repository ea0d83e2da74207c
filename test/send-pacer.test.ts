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

const flush = () => new Promise((r) => setImmediate(r));

/** A pacer on a clock and timers the test moves; `sent` are the labels and times requests left. */
function pacedClock(count: number, windowMs: number) {
  let clock = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const sent: { label: string; at: number }[] = [];
  const pacer = createSendPacer({
    count,
    windowMs,
    now: () => clock,
    setTimer: (fn, ms) => {
      const timer = { at: clock + ms, fn, live: true };
      timers.push(timer);
      return { cancel: () => (timer.live = false) };
    },
  });
  return {
    pacer,
    sent,
    times: () => sent.map((s) => s.at),
    send(label = '', priority?: number, signal?: AbortSignal): Promise<void> {
      return pacer.wait(signal, priority).then(() => void sent.push({ label, at: clock }));
    },
    /** Moves the clock to `to`, firing the timers due on the way in time order. */
    async advance(to: number) {
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= to).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        due.live = false;
        clock = due.at;
        due.fn();
        await flush();
      }
      clock = to;
      await flush();
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
    const all = Array.from({ length: 12 }, (_, i) => p.send(String(i)));
    await flush();
    assert.deepEqual(p.times(), [0, 0, 0, 0, 0], 'the first five wait for nothing');
    await p.advance(5000);
    await Promise.all(all);
    assert.deepEqual(p.times(), [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000]);
    assert.deepEqual(
      p.sent.map((s) => s.label),
      Array.from({ length: 12 }, (_, i) => String(i)),
    );
  });

  test('held requests go by priority key, then by arrival', async () => {
    const p = pacedClock(1, 1000);
    await p.send('first');
    const held = [p.send('look-up', 4), p.send('create', 3), p.send('enable', 1), p.send('attach', 1)];
    await p.advance(10_000);
    await Promise.all(held);
    assert.deepEqual(
      p.sent.map((s) => `${s.label}@${s.at}`),
      ['first@0', 'enable@1000', 'attach@2000', 'create@3000', 'look-up@4000'],
    );
  });

  test('requests at the pace never wait', async () => {
    const p = pacedClock(5, 1000);
    for (let i = 0; i < 50; i++) {
      await p.advance(i * 200);
      await p.send();
    }
    assert.deepEqual(
      p.times(),
      Array.from({ length: 50 }, (_, i) => i * 200),
    );
  });

  test('a stall then a flush: the window that holds it stays within the count', async () => {
    const p = pacedClock(124, 5000);
    // 20 a second for 10 s, then the 160 a stalled worker held, all at once.
    for (let i = 0; i < 200; i++) {
      await p.advance(i * 50);
      await p.send();
    }
    await p.advance(18_000);
    const flushed = Array.from({ length: 160 }, () => p.send());
    await flush();
    await p.advance(60_000);
    await Promise.all(flushed);
    assert.ok(busiest(p.times(), 5000) <= 124, `busiest ${busiest(p.times(), 5000)}`);
    assert.equal(p.sent.length, 360, 'every request left');
  });

  test('a smaller count holds the next requests; a larger one lets held requests go', async () => {
    const p = pacedClock(4, 1000);
    p.pacer.setCount(2);
    const first = [p.send('a'), p.send('b'), p.send('c')];
    await flush();
    assert.deepEqual(p.times(), [0, 0]);
    p.pacer.setCount(3);
    await p.advance(0);
    await Promise.all(first);
    assert.deepEqual(p.times(), [0, 0, 0]);
    p.pacer.setCount(0);
    assert.equal(p.pacer.count, 3, 'a count below 1 is ignored');
  });

  test('an aborted wait rejects with the reason and frees its turn; an aborted signal is refused at once', async () => {
    const p = pacedClock(1, 1000);
    await p.send('first');
    const ctl = new AbortController();
    const cancelled = p.send('cancelled', 1, ctl.signal);
    const next = p.send('next', 3);
    ctl.abort(new Error('cancelled'));
    await assert.rejects(cancelled, /cancelled/);
    await assert.rejects(p.send('late', 1, ctl.signal), /cancelled/);
    await p.advance(1000);
    await next;
    assert.deepEqual(
      p.sent.map((s) => `${s.label}@${s.at}`),
      ['first@0', 'next@1000'],
    );
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
