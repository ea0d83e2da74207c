/**
 * `npm start` as a newcomer uses it, against the test run's Temporal server (TEMPORAL_ADDRESS mode,
 * so the test does not need ports 7233/8233): it prints what runs where, a saga started with the
 * printed request completes through the emulator's dialog, and SIGTERM stops every part.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConnectionStatus } from '../common/messages.js';
import { freePort } from '../dev/dev-server.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { pollUntil } from './helpers/poll.js';
import { devServer, uniqueId } from './helpers/temporal.js';

test('npm start runs the stack, a saga completes through the dialog, SIGTERM stops it all', async () => {
  const { address, namespace } = await devServer();
  const apiPort = await freePort();
  const emulatorPort = await freePort();
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: uniqueId('start-tq'),
    API_PORT: String(apiPort),
    TRAY_EMULATOR_PORT: String(emulatorPort),
    METRICS_PORT: String(metricsPort),
    NO_COLOR: '1',
  };
  for (const name of ['TRAY_MASTER_TOKEN', 'TRAY_EMBEDDED_ID', 'API_TOKEN', 'WEBHOOK_SECRET'])
    delete env[name];

  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  try {
    await pollUntil(
      async () => {
        if (exitCode !== undefined) throw new Error(`npm start exited early (${exitCode}):\n${output}`);
        return output.includes('connect-saga is running');
      },
      { timeoutMs: 150_000, intervalMs: 200, what: 'npm start to say it is running' },
    );
    const api = `http://localhost:${apiPort}`;
    assert.match(output, new RegExp(`API +${api}`));
    assert.match(output, new RegExp(`Tray emulator +http://127\\.0\\.0\\.1:${emulatorPort}`));
    assert.match(output, new RegExp(`curl -s -X POST ${api}/v1/connections`));
    assert.match(output, /^\[worker\] /m, 'worker lines are prefixed');
    assert.match(output, /^\[api\] /m, 'API lines are prefixed');
    const secrets = statSync(join(PROJECT_ROOT, '.data', 'dev-secrets.json'));
    assert.equal(secrets.mode & 0o777, 0o600, 'dev secrets are readable by their owner only');

    const externalUserId = uniqueId('start-user');
    const created = await fetch(`${api}/v1/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ externalUserId, userName: 'Ada', solutionId: 'sol-1', authSlots: ['slack'] }),
    });
    const status = (await created.json()) as ConnectionStatus;
    assert.equal(created.status, 201, JSON.stringify(status));
    const url = new URL(status.authSlots[0]?.url ?? '');
    assert.equal(url.origin, `http://127.0.0.1:${emulatorPort}`);

    // What the dialog's Authorize button posts.
    const code = url.searchParams.get('code') ?? '';
    const dialog = await fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code }).toString(),
    });
    assert.equal(dialog.status, 200);
    assert.match(await dialog.text(), /Connected/);

    const done = await pollUntil(
      async () => {
        const response = await fetch(`${api}/v1/connections/${encodeURIComponent(status.connectionId)}`);
        const body = (await response.json()) as ConnectionStatus;
        return body.step === 'completed' || body.step === 'failed' ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the saga to complete' },
    );
    assert.equal(done.step, 'completed', JSON.stringify(done));

    const workerMetrics = `http://localhost:${metricsPort}/metrics`;
    assert.match(output, new RegExp(`Metrics +${api}/metrics \\(API\\), ${workerMetrics} \\(worker\\)`));
    await pollUntil(
      async () =>
        /connect_saga_sagas_finished\{[^}]*outcome="completed"[^}]*\} 1/.test(
          await (await fetch(workerMetrics)).text(),
        ),
      {
        timeoutMs: 30_000,
        what: 'the worker metrics to count the completed saga',
      },
    );
    assert.match(
      await (await fetch(`${api}/metrics`)).text(),
      /connect_saga_http_requests_total\{method="POST",route="\/v1\/connections",status="201"\} 1/,
    );
  } finally {
    if (exitCode === undefined) child.kill('SIGTERM');
  }

  assert.equal(await exited, 0, output.slice(-3000));
  assert.match(output, /SIGTERM received, stopping/);
  assert.match(output, /\[start\] stopped/);
  await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/healthz`), 'the API is gone');
});
