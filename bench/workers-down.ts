/**
 * The "workers down" probe: the API in-process on a task queue that no worker polls, so every saga it
 * starts sits at `ensuring_user` and every `status` query goes unanswered. It times
 * `GET /v1/connections/{id}` (which must answer within 3 s even then, from what the server holds;
 * docs/design.md) and one signed webhook (which must still be accepted), and always terminates what it
 * started and closes its HTTP server.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { pino } from 'pino';
import { createApp } from '../api/app.js';
import { WEBHOOK_PATH } from '../api/webhook.js';
import { connectionIdFor } from '../common/messages.js';
import { closeServer, listen } from '../dev/in-process.js';
import { webhookRequest } from '../dev/webhook.js';

/** The ceiling for GET while no worker runs (docs/design.md). */
export const WORKERS_DOWN_TARGET_MS = 3000;

/** A call that has not answered by then is recorded as failed (status 0), so the probe stays short. */
const CALL_TIMEOUT_MS = 15_000;

export type ProbeCallKind = 'start' | 'get' | 'get-concurrent' | 'webhook';

export interface ProbeCall {
  kind: ProbeCallKind;
  connectionId: string;
  /** Wall time from sending the request to the whole body read. */
  ms: number;
  /** HTTP status; 0 when no response came. */
  status: number;
  /** The `step` a start or GET answered with. */
  step?: string;
  /** Why the call did not answer as expected; unset when it did. */
  error?: string;
}

export interface WorkersDownObservation {
  /** Sagas the probe tried to start. */
  sagas: number;
  /** The task queue the API started them on, which no worker polls. */
  taskQueue: string;
  /** Every call in the order sent (the concurrent GETs in the order they were sent). */
  calls: ProbeCall[];
}

export interface ProbeContext {
  client: Client;
  namespace: string;
  solutionId: string;
  slotIds: string[];
  signal: AbortSignal;
  progress: (message: string) => void;
}

const EXPECTED_STATUS: Record<ProbeCallKind, number> = {
  start: 201,
  get: 200,
  'get-concurrent': 200,
  webhook: 202,
};

/** The step a saga that no worker ever picked up must be at. */
const EXPECTED_STEP = 'ensuring_user';

type Call = (
  kind: ProbeCallKind,
  connectionId: string,
  path: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<ProbeCall>;

/** Why an answer is not the one a saga no worker picked up must give; undefined when it is. */
function wrongAnswer(
  kind: ProbeCallKind,
  connectionId: string,
  status: number,
  body: { step?: unknown; connectionId?: unknown; error?: { message?: unknown } },
): string | undefined {
  if (status !== EXPECTED_STATUS[kind]) {
    const message = typeof body.error?.message === 'string' ? `: ${body.error.message}` : '';
    return `answered ${status}, expected ${EXPECTED_STATUS[kind]}${message}`;
  }
  if ((kind === 'start' || kind.startsWith('get')) && body.step !== EXPECTED_STEP) {
    return `answered step ${JSON.stringify(body.step)}, expected ${EXPECTED_STEP}`;
  }
  if (kind !== 'webhook' && body.connectionId !== connectionId) {
    return `answered connectionId ${JSON.stringify(body.connectionId)}`;
  }
  return undefined;
}

/** A timed HTTP call against `base` that records itself in `calls`. */
function caller(base: string, signal: AbortSignal, calls: ProbeCall[]): Call {
  return async (kind, connectionId, path, init = {}) => {
    const started = performance.now();
    const record: ProbeCall = { kind, connectionId, ms: 0, status: 0 };
    try {
      const res = await fetch(`${base}${path}`, {
        ...init,
        signal: AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
      });
      const text = await res.text();
      record.ms = performance.now() - started;
      record.status = res.status;
      let body: { step?: unknown; connectionId?: unknown; error?: { message?: unknown } } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        // Judged by its status alone.
      }
      if (typeof body.step === 'string') record.step = body.step;
      const wrong = wrongAnswer(kind, connectionId, res.status, body);
      if (wrong !== undefined) record.error = wrong;
    } catch (error) {
      // The run's own abort ends the probe; anything else (a timeout, a reset) is this call's failure.
      if (signal.aborted) throw error;
      record.ms = performance.now() - started;
      record.error = `no answer: ${(error as Error).message}`;
    }
    calls.push(record);
    return record;
  };
}

/** Starts one saga per user through the API; returns the connection ids it started. */
async function startSagas(
  call: Call,
  auth: Record<string, string>,
  ctx: ProbeContext,
  users: string[],
  ids: string[],
): Promise<string[]> {
  const started: string[] = [];
  for (const [i, externalUserId] of users.entries()) {
    const connectionId = ids[i] as string;
    const body = JSON.stringify({
      externalUserId,
      userName: `Bench user ${externalUserId}`,
      solutionId: ctx.solutionId,
      authSlots: ctx.slotIds,
    });
    const result = await call('start', connectionId, '/v1/connections?wait=0', {
      method: 'POST',
      headers: auth,
      body,
    });
    if (result.status === EXPECTED_STATUS.start) started.push(connectionId);
  }
  return started;
}

/** Starts `count` sagas through the API with no worker, times GET and a webhook, cleans up. */
export async function runWorkersDownProbe(ctx: ProbeContext, count: number): Promise<WorkersDownObservation> {
  const { client, signal, progress } = ctx;
  const run = randomBytes(3).toString('hex');
  const taskQueue = `bench-no-worker-${run}`;
  const apiToken = randomBytes(18).toString('base64url');
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const users = Array.from({ length: count }, (_, i) => `bench-${run}-down-${i + 1}`);
  const ids = users.map((u) => connectionIdFor(u, ctx.solutionId));
  const calls: ProbeCall[] = [];

  const app = createApp({
    client,
    taskQueue,
    namespace: ctx.namespace,
    apiToken,
    webhookSecret,
    logger: pino({ level: 'silent' }),
  });
  const server = app.listen(0, '127.0.0.1');
  try {
    const { port } = await listen(server);
    const base = `http://127.0.0.1:${port}`;
    progress(
      `workers down: API on ${base}, task queue ${taskQueue} (no worker); starting ${count} saga(s) …`,
    );
    const call = caller(base, signal, calls);
    const auth = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' };
    const started = await startSagas(call, auth, ctx, users, ids);

    const get = (kind: ProbeCallKind, id: string) =>
      call(kind, id, `/v1/connections/${encodeURIComponent(id)}`, { headers: auth });
    for (const id of started) await get('get', id);
    await Promise.all(started.map((id) => get('get-concurrent', id)));

    const first = started[0];
    const slot = ctx.slotIds[0];
    if (first !== undefined && slot !== undefined) {
      const signed = webhookRequest(
        { connectionId: first, externalAuthId: slot, authId: `bench-auth-${run}` },
        { secret: webhookSecret },
      );
      await call('webhook', first, WEBHOOK_PATH, { method: 'POST', ...signed });
    }
    return { sagas: count, taskQueue, calls };
  } finally {
    // No worker will ever run these, so they would sit on the server until their auth timeout.
    const ended = await Promise.allSettled(
      ids.map((id) =>
        client.withDeadline(Date.now() + 5000, () =>
          client.workflow.getHandle(id).terminate('bench cleanup'),
        ),
      ),
    );
    const terminated = ended.filter((e) => e.status === 'fulfilled').length;
    await closeServer(server);
    progress(`workers down: terminated ${terminated} saga(s), closed the API`);
  }
}
