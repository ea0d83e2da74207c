/**
 * Each worker's share of the Tray budget on the wire: how many worker processes the server sees
 * polling the task queue for activities, and the pacer's count for that many.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { msToTs } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { trayBudgetPacer } from '../activities/send-pacer.js';
import { GrpcStatus } from '../lib/grpc-status.js';
import {
  countActivityWorkers,
  isTemporalUnreachable,
  notingReachability,
  recentPollers,
  RECENT_POLL_MS,
  watchPeerWorkers,
} from '../worker/peer-workers.js';
import { startEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, installQuietRuntime, uniqueId } from './helpers/temporal.js';
import { startWorkerProcess, workerEnv } from './helpers/worker-process.js';

describe('the budget split among workers', () => {
  test('the pacer sends one below the budget alone, one below each share with several', () => {
    const pacer = trayBudgetPacer(25, 5);
    assert.equal(pacer.count, 124);
    pacer.setWorkers(3);
    assert.equal(pacer.count, 40, 'three shares of 125 stay within it');
    pacer.setWorkers(0);
    assert.equal(pacer.count, 124, 'no count is read as this one alone');
    pacer.setWorkers(500);
    assert.equal(pacer.count, 1, 'never below one request');
  });

  test('counts distinct identities that polled recently, and at least this one', () => {
    const now = 1_000_000_000;
    const at = (ago: number) => msToTs(now - ago);
    assert.equal(recentPollers([], now), 1);
    assert.equal(
      recentPollers(
        [
          { identity: 'a', lastAccessTime: at(1_000) },
          { identity: 'a', lastAccessTime: at(2_000) },
          { identity: 'b', lastAccessTime: at(RECENT_POLL_MS - 1) },
          { identity: 'gone', lastAccessTime: at(RECENT_POLL_MS + 1) },
        ],
        now,
      ),
      2,
    );
  });

  test('the watch reports the first count and changes only, and keeps the last count on failure', async () => {
    const answers: (number | Error)[] = [2, 2, new Error('unreachable'), new Error('again'), 3];
    const seen: number[] = [];
    const errors: unknown[] = [];
    let recovered = 0;
    const watch = watchPeerWorkers({
      count: async () => {
        const next = answers.shift() ?? 3;
        if (next instanceof Error) throw next;
        return next;
      },
      onCount: (n) => seen.push(n),
      onError: (e) => errors.push(e),
      onRecover: () => recovered++,
      intervalMs: 5,
      firstLooksMs: [],
    });
    try {
      await pollUntil(async () => answers.length === 0, {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: 'every answer read',
      });
      await pollUntil(async () => seen.length === 2, {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: 'the change to 3',
      });
      assert.deepEqual(seen, [2, 3]);
      assert.equal(errors.length, 1, 'one warning per failure streak');
      assert.equal(recovered, 1, 'one recovery when the streak ends');
    } finally {
      watch.stop();
    }
  });

  test("a proxy's error in place of Temporal's answer is no answer; a refusal is one", () => {
    // Through a TLS terminator or an ingress, a server that is gone shows as the proxy's HTTP 502,
    // which the worker's connection reads as INTERNAL (or UNKNOWN).
    for (const code of [
      GrpcStatus.UNAVAILABLE,
      GrpcStatus.DEADLINE_EXCEEDED,
      GrpcStatus.INTERNAL,
      GrpcStatus.UNKNOWN,
    ])
      assert.equal(isTemporalUnreachable(Object.assign(new Error('x'), { code })), true, `code ${code}`);
    for (const code of [GrpcStatus.PERMISSION_DENIED, GrpcStatus.UNAUTHENTICATED, GrpcStatus.NOT_FOUND])
      assert.equal(isTemporalUnreachable(Object.assign(new Error('x'), { code })), false, `code ${code}`);
  });

  test('whether Temporal answers is noted on every look, not only on the first failure of a streak', async () => {
    // Credentials that may not describe the task queue: every look is refused, and an outage in the
    // middle of that streak must still take /readyz down, and Temporal answering again bring it up.
    const failures = [GrpcStatus.PERMISSION_DENIED, GrpcStatus.UNAVAILABLE, GrpcStatus.PERMISSION_DENIED];
    const noted: boolean[] = [];
    let warnings = 0;
    const watch = watchPeerWorkers({
      count: () =>
        notingReachability(
          async () => {
            const code = failures.shift();
            if (code !== undefined) throw Object.assign(new Error(`look failed (${code})`), { code });
            return 1;
          },
          (reachable) => noted.push(reachable),
        ),
      onCount: () => undefined,
      onError: () => warnings++,
      intervalMs: 5,
      firstLooksMs: [],
    });
    try {
      await pollUntil(async () => noted.length >= 4, { timeoutMs: 5_000, intervalMs: 5, what: 'four looks' });
    } finally {
      watch.stop();
    }
    assert.deepEqual(noted.slice(0, 4), [true, false, true, true]);
    assert.equal(warnings, 1, 'still one warning for the streak');
  });
});

// Started at the top level: devServer() ties the server's lifetime to the context it starts in.
installQuietRuntime();
const server = await devServer();
const connection = await NativeConnection.connect({ address: server.address });
after(() => connection.close());

describe('counting the workers on a real server', () => {
  test('two activity workers on a task queue are counted as two', async () => {
    const taskQueue = uniqueId('peers-tq');
    // Two processes' worth: one process may not run two workers on one task queue and connection.
    const second = await NativeConnection.connect({ address: server.address });
    const workers = await Promise.all(
      [connection, second].map((conn, i) =>
        Worker.create({
          connection: conn,
          namespace: server.namespace,
          taskQueue,
          identity: `worker-${i}@${taskQueue}`,
          activities: { noop: async () => undefined },
        }),
      ),
    );
    const running = workers.map((w) => w.run());
    try {
      const count = await pollUntil(
        async () => {
          const n = await countActivityWorkers(connection, server.namespace, taskQueue);
          return n === 2 ? n : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: 'both workers counted' },
      );
      assert.equal(count, 2);
    } finally {
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await second.close();
    }
  });

  test('two worker processes on one task queue each keep to half the budget', async () => {
    const emu = await startEmulator();
    after(() => emu.close());
    const env = { ...workerEnv(server, uniqueId('peers-proc'), emu), TRAY_RATE_LIMIT_PER_SECOND: '25' };
    const runs = await Promise.all([startWorkerProcess(env), startWorkerProcess(env)]);
    try {
      // 125 requests in 5 s for 25/s, split in two, one kept back for the trip: 61 each.
      for (const run of runs) {
        await pollUntil(async () => run.output().includes('this one sends at most 61 Tray requests'), {
          timeoutMs: 30_000,
          intervalMs: 250,
          what: `worker ${run.child.pid} to count both workers`,
        });
      }
    } finally {
      for (const run of runs) run.child.kill('SIGTERM');
      await Promise.all(runs.map((run) => run.exited));
    }
  });
});
