/**
 * Drain on deploy: SIGTERM (however many times it arrives at once) while a Tray request is slow lets that request finish within
 * SHUTDOWN_GRACE (it is answered once and never sent again), the worker then exits, and a new worker
 * finishes the saga. Meanwhile the worker's `/readyz` (HEALTH_PORT) says ready only while it polls.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { authCompletedSignal, connectionIdFor, statusQuery, WORKFLOW_TYPE } from '../common/messages.js';
import { startEmulator } from './helpers/emulator.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';
import { startWorkerProcess, workerEnv } from './helpers/worker-process.js';

const GRACE_MS = 20_000;
const DELAY_MS = 5_000;

interface Recorded {
  operations: string[];
  ok: boolean;
}

test('SIGTERM (delivered thrice at once) during a slow createSolutionInstance: it completes once, the worker exits, a new one finishes', async () => {
  const temporal = await devServer();
  const emu = await startEmulator();
  after(() => emu.close());
  const taskQueue = uniqueId('drain');
  // The first worker's, once it has one.
  let healthPort = 0;
  const env = { ...workerEnv(temporal, taskQueue, emu), SHUTDOWN_GRACE: `${GRACE_MS / 1000}s` };
  const probe = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${healthPort}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.json()) as { state: string } };
  };
  const creates = async () => {
    const res = await fetch(`${emu.url}/_emulator/requests`);
    const { requests } = (await res.json()) as { requests: Recorded[] };
    return requests.filter((r) => r.operations.includes('createSolutionInstance'));
  };

  const first = await startWorkerProcess({ ...env, METRICS_HOST: '127.0.0.1' }, ['HEALTH_PORT']);
  healthPort = first.ports.HEALTH_PORT;
  await pollUntil(async () => (await probe('/readyz').catch(() => undefined))?.status === 200, {
    timeoutMs: 60_000,
    what: 'the worker to say it is ready',
  });
  const armed = await fetch(`${emu.url}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'delay', delayMs: DELAY_MS, operation: 'createSolutionInstance' }),
  });
  assert.equal(armed.status, 201);

  const connection = await Connection.connect({ address: temporal.address });
  after(() => connection.close());
  const client = new Client({ connection, namespace: temporal.namespace });
  const externalUserId = uniqueId('drain-user');
  const handle = await client.workflow.start(WORKFLOW_TYPE, {
    taskQueue,
    workflowId: connectionIdFor(externalUserId, 'sol-1'),
    args: [{ externalUserId, userName: 'Lin', solutionId: 'sol-1', authSlots: ['slack'] }],
  });

  // The emulator takes the fault when the request arrives: from then on it is in flight at "Tray".
  await pollUntil(async () => emu.emulator.faults.list().length === 0, {
    timeoutMs: 60_000,
    what: 'the createSolutionInstance request to reach the emulator',
  });
  const signalledAt = Date.now();
  // As a Ctrl-C or a supervisor's signal to the group arrives under `npm run worker`: to the worker,
  // and again relayed by npm and tsx. One stop request, not "a second signal: exit now".
  first.child.kill('SIGTERM');
  first.child.kill('SIGTERM');
  first.child.kill('SIGINT');
  // Draining the slow create: alive, but no longer ready for new tasks.
  const draining = await pollUntil(
    async () => {
      const ready = await probe('/readyz');
      return ready.status === 503 && ready;
    },
    { timeoutMs: 5_000, what: '/readyz to answer 503 once the worker stops polling' },
  );
  assert.notEqual(draining.body.state, 'RUNNING');
  assert.equal((await probe('/healthz')).status, 200);
  const code = await first.exited;
  const stoppedAfterMs = Date.now() - signalledAt;
  const answeredBeforeExit = await creates();
  assert.equal(code, 0, first.output());
  assert.ok(stoppedAfterMs < GRACE_MS, `the worker took ${stoppedAfterMs} ms to stop`);
  assert.equal(answeredBeforeExit.length, 1, 'the slow create was answered before the worker exited');
  assert.equal(answeredBeforeExit[0]?.ok, true);
  assert.match(first.output(), /SHUTDOWN_GRACE/);

  const second = await startWorkerProcess(env);
  const awaiting = await pollUntil(
    async () => {
      const status = await handle.query(statusQuery);
      return status.step === 'awaiting_auth' && status.authSlots.every((slot) => slot.url) && status;
    },
    { timeoutMs: 60_000, what: 'the new worker to take the saga to awaiting_auth' },
  );
  assert.ok(awaiting.userId);
  const authId = emu.emulator.store.createAuthentication(awaiting.userId, 'slack');
  await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId });
  const result = await handle.result();
  assert.equal(result.enabled, true);
  assert.equal((await creates()).length, 1, 'createSolutionInstance was sent exactly once');
  assert.equal(emu.emulator.store.instances.size, 1);

  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
