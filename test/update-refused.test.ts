/**
 * A Temporal server whose namespace allows no workflow updates (how servers before 1.25 come by default):
 * POST still answers with every URL, by asking the saga's status query, and says once in the log
 * which setting to switch on; a reissue, which only an update can do, answers 503 and the log names
 * that setting, not the credentials that share the refusal's gRPC code.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { featureRefusal, updateRefusal, updateRefusalWarning } from '../api/feature-refusal.js';
import { createLogger } from '../api/logging.js';
import { warnIfUpdatesRefused } from '../api/update-probe.js';
import { startDevServer, type DevServer } from '../dev/dev-server.js';
import { locateTemporalBinary, TEMPORAL_CLI } from '../dev/temporal-bin.js';
import { startStack, whileRemovalsTake, type Stack } from './helpers/stack.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';

/** The API's logger, its lines collected in `lines`. */
function loggingInto(lines: string[]) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return createLogger({ level: 'info' }, sink);
}

interface Status {
  connectionId: string;
  runId?: string;
  userId?: string;
  step: string;
  error?: { type: string; message: string };
  existing?: boolean;
  authSlots: { externalAuthId: string; state: string; url?: string }[];
}

describe('a Temporal server that refuses workflow updates', () => {
  const lines: string[] = [];
  let server: DevServer | undefined;
  let stack: Stack;

  before(async () => {
    const { path } = await locateTemporalBinary(TEMPORAL_CLI);
    assert.ok(path, 'the temporal CLI (README, "Temporal binaries")');
    server = await startDevServer({
      cliPath: path,
      dynamicConfig: { 'frontend.enableUpdateWorkflowExecution': 'false' },
    });
    stack = await startStack({
      temporal: { address: server.address, namespace: server.namespace },
      logger: loggingInto(lines),
    });
  });

  after(async () => {
    await stack?.close();
    await server?.stop();
  });

  /** POST /v1/connections on `on`, waiting up to `wait` seconds. */
  const startSaga = async (on: Stack, wait: number, input: Record<string, unknown>) => {
    const res = await fetch(`${on.apiUrl}/v1/connections?wait=${wait}`, {
      method: 'POST',
      headers: on.headers(),
      body: JSON.stringify({ userName: 'Ada', ...input }),
    });
    return { status: res.status, body: (await res.json()) as Status };
  };
  const post = () =>
    startSaga(stack, 20, {
      externalUserId: externalUser,
      solutionId: 'sol-2',
      authSlots: ['salesforce', 'slack'],
    });
  const externalUser = uniqueId('no-updates');
  const advice = () => lines.filter((l) => l.includes('frontend.enableUpdateWorkflowExecution'));

  test('POST answers 201, then 200, with a URL for every slot', async () => {
    const first = await post();
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.step, 'awaiting_auth');
    assert.deepEqual(
      first.body.authSlots.map((s) => [s.externalAuthId, s.state, typeof s.url]),
      [
        ['salesforce', 'pending', 'string'],
        ['slack', 'pending', 'string'],
      ],
    );
    const again = await post();
    assert.equal(again.status, 200);
    assert.equal(again.body.existing, true);
    assert.deepEqual(
      again.body.authSlots.map((s) => s.url),
      first.body.authSlots.map((s) => s.url),
    );
    // Said once for both POSTs, as a warning naming what the server refused.
    assert.equal(advice().length, 1, lines.join(''));
    const said = JSON.parse(advice()[0] ?? '{}') as { level: number; msg: string; refused: string };
    assert.equal(said.level, 40);
    assert.match(said.refused, /UpdateWorkflowExecution/);
    assert.match(said.msg, /POST waits by querying the saga/);
  });

  test('a saga that fails before its URLs is answered once it ended, with its error', async () => {
    const res = await startSaga(stack, 20, {
      externalUserId: uniqueId('no-updates-failed'),
      solutionId: uniqueId('no-such-solution'),
      authSlots: ['slack'],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.step, 'failed', JSON.stringify(res.body));
    assert.equal(res.body.error?.type, 'TrayNotFound', JSON.stringify(res.body));
  });

  test('with no worker to answer, POST waits out its ?wait before it answers without URLs', async () => {
    const idle = await startStack({
      temporal: { address: server!.address, namespace: server!.namespace },
      worker: false,
      logger: loggingInto([]),
    });
    try {
      const started = Date.now();
      const { status, body } = await startSaga(idle, 2, {
        externalUserId: uniqueId('no-updates-idle'),
        solutionId: 'sol-1',
        authSlots: ['slack'],
      });
      assert.equal(status, 201, JSON.stringify(body));
      assert.deepEqual(body.authSlots, [{ externalAuthId: 'slack', state: 'pending' }]);
      // It asked until the wait was over (the refusal once ended it at once).
      assert.ok(Date.now() - started >= 1_900, `answered after ${Date.now() - started} ms`);
    } finally {
      await idle.close();
    }
  });

  test('a reissue answers 503 and the log names the setting, not the credentials', async () => {
    const connectionId = `connect:${externalUser}:sol-2`;
    const res = await fetch(
      `${stack.apiUrl}/v1/connections/${encodeURIComponent(connectionId)}/auth-urls/slack`,
      {
        method: 'POST',
        headers: stack.headers(),
      },
    );
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 503);
    assert.equal(body.error.code, 'temporal_unavailable');
    assert.match(body.error.message, /does not allow an operation this request needs/);
    const logged = advice().map((l) => JSON.parse(l) as { level: number; msg: string; err?: object });
    const refused = logged.find((l) => l.level === 50 && /needs workflow updates/.test(l.msg));
    assert.ok(refused, lines.join(''));
    // The server's words only: no `type: "Object"` or empty `stack` from serializing a plain object.
    assert.deepEqual(Object.keys(refused.err ?? {}), ['message'], JSON.stringify(refused));
    assert.ok(!lines.some((l) => /credentials/.test(l)), lines.join(''));
  });

  test('at start the API asks, and logs the advice before any partner meets the refusal', async () => {
    const said: string[] = [];
    await warnIfUpdatesRefused(stack.client, loggingInto(said));
    assert.equal(said.length, 1, said.join(''));
    const line = JSON.parse(said[0] ?? '{}') as { level: number; msg: string; refused: string };
    assert.equal(line.level, 40);
    assert.match(line.refused, /UpdateWorkflowExecution/);
    assert.match(
      line.msg,
      /frontend\.enableUpdateWorkflowExecution and frontend\.enableExecuteMultiOperation/,
    );

    // A server that allows both: not a word.
    said.length = 0;
    const allowing = await devServer();
    const connection = await Connection.connect({ address: allowing.address });
    try {
      await warnIfUpdatesRefused(
        new Client({ connection, namespace: allowing.namespace }),
        loggingInto(said),
      );
    } finally {
      await connection.close();
    }
    assert.deepEqual(said, []);
  });

  const deleteSaga = (connectionId: string) =>
    fetch(`${stack.apiUrl}/v1/connections/${encodeURIComponent(connectionId)}`, {
      method: 'DELETE',
      headers: stack.headers(),
    });

  test('DELETE, then POST at once: the POST waits out the compensation and answers 201 with a new saga', async () => {
    const input = { externalUserId: uniqueId('no-updates-again'), solutionId: 'sol-1', authSlots: ['slack'] };
    const first = await startSaga(stack, 20, input);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    await whileRemovalsTake(stack, 1500, async () => {
      assert.equal((await deleteSaga(first.body.connectionId)).status, 202);
      const again = await startSaga(stack, 20, input);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.body.existing, undefined);
      assert.notEqual(again.body.runId, first.body.runId);
      assert.equal(again.body.step, 'awaiting_auth');
      assert.match(again.body.authSlots[0]?.url ?? '', /\?code=/);
      assert.notEqual(again.body.authSlots[0]?.url, first.body.authSlots[0]?.url);
    });
  });

  test('a POST whose wait ends while the old saga still compensates answers 200 without its URLs', async () => {
    const input = {
      externalUserId: uniqueId('no-updates-ending'),
      solutionId: 'sol-1',
      authSlots: ['slack'],
    };
    const first = await startSaga(stack, 20, input);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    await whileRemovalsTake(stack, 4000, async () => {
      assert.equal((await deleteSaga(first.body.connectionId)).status, 202);
      const again = await startSaga(stack, 1, input);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.existing, true);
      assert.equal(again.body.runId, first.body.runId);
      assert.deepEqual(again.body.authSlots, [{ externalAuthId: 'slack', state: 'pending' }]);
    });
    // Not left compensating for the next test, or the worker's shutdown, to cut short.
    await pollUntil(
      async () => {
        const res = await fetch(
          `${stack.apiUrl}/v1/connections/${encodeURIComponent(first.body.connectionId)}`,
          {
            headers: stack.headers(),
          },
        );
        return ((await res.json()) as Status).step === 'cancelled';
      },
      { timeoutMs: 30_000, what: 'the old saga cancelled' },
    );
  });

  test('the saga itself needs no update: the webhooks complete it', async () => {
    const connectionId = `connect:${externalUser}:sol-2`;
    const store = stack.emulator.emulator.store;
    const { body: saga } = await post();
    assert.ok(saga.userId);
    for (const externalAuthId of ['salesforce', 'slack']) {
      const authId = store.createAuthentication(saga.userId, externalAuthId);
      const signed = stack.signWebhook({ connectionId, externalAuthId, authId });
      const res = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
      });
      assert.equal(res.status, 202, await res.text());
    }
    await pollUntil(
      async () => {
        const res = await fetch(`${stack.apiUrl}/v1/connections/${encodeURIComponent(connectionId)}`, {
          headers: stack.headers(),
        });
        return ((await res.json()) as Status).step === 'completed';
      },
      { timeoutMs: 30_000, what: 'the saga completed' },
    );
  });
});

describe('featureRefusal tells a switched-off feature from refused credentials', () => {
  const grpcError = (code: number, message: string, details = message) =>
    Object.assign(new Error(message), { code, details, metadata: {} });
  const wrapped = (cause: Error) => Object.assign(new Error('Workflow Update failed'), { cause });

  test('each server wording, as it comes and wrapped by the SDK', () => {
    const cases: [Error, string | undefined, boolean][] = [
      // The dev server 1.32 with updates off, to update-with-start (the SDK's plain Error with code).
      [
        grpcError(
          7,
          'UpdateWorkflowExecution operation is disabled on this namespace.',
          'Update-with-Start could not be executed.',
        ),
        'UpdateWorkflowExecution operation',
        true,
      ],
      [
        wrapped(
          grpcError(7, '7 PERMISSION_DENIED: ExecuteMultiOperation API is disabled on this namespace.'),
        ),
        'ExecuteMultiOperation API',
        true,
      ],
      // A server from before the call.
      [
        grpcError(
          12,
          '12 UNIMPLEMENTED: unknown method ExecuteMultiOperation for service temporal.api.workflowservice.v1.WorkflowService',
        ),
        'ExecuteMultiOperation',
        true,
      ],
      [grpcError(12, '12 UNIMPLEMENTED: '), 'a call it does not implement', true],
      // Another feature: refused as such, but no reason to wait by queries.
      [grpcError(7, 'List is disabled on this namespace.'), 'List', false],
      // Credentials: neither.
      [grpcError(7, 'Request unauthorized.'), undefined, false],
      [grpcError(16, 'UpdateWorkflowExecution operation is disabled on this namespace.'), undefined, false],
      [new Error('UpdateWorkflowExecution operation is disabled on this namespace.'), undefined, false],
    ];
    for (const [err, what, update] of cases) {
      assert.equal(featureRefusal(err), what, err.message);
      assert.equal(updateRefusal(err), update ? what : undefined, err.message);
    }
  });
});

test('the warning says reissues fail only when plain updates are refused', () => {
  // A reissue is a plain update: a server refusing only update-with-start (1.29 with
  // frontend.enableExecuteMultiOperation=false, by hand; the pinned dev server ignores that setting)
  // answers it.
  for (const what of ['ExecuteMultiOperation API', 'ExecuteMultiOperation']) {
    const warning = updateRefusalWarning(what);
    assert.match(warning, /POST waits by querying the saga$/);
    assert.doesNotMatch(warning, /reissue/);
  }
  for (const what of ['UpdateWorkflowExecution operation', 'a call it does not implement'])
    assert.match(updateRefusalWarning(what), /POST waits by querying the saga, and reissues answer 503$/);
});
