/**
 * Drives one saga through the API as a partner backend and its end user would: POST
 * /v1/connections (again with `?wait` while the URLs are not out yet), then, after the user's think
 * time, each slot's dialog: GET the page, POST its form. The emulator relays the signed webhook to the
 * API (through the wire tap, which times it); the bench awaits the result from Temporal and checks in
 * the emulator that the work was done.
 */
import type { Client } from '@temporalio/client';
import { connectionIdFor } from '../common/messages.js';
import type { ConnectionStatus } from '../common/messages.js';
import { memoOf } from '../api/saga-reads.js';
import {
  httpRequest,
  isStaleConnectionReset,
  type HttpAnswer,
  type HttpRequestOptions,
} from '../lib/http-request.js';
import type { Emulator } from '../emulator/server.js';
import { type SagaTiming, type TimedPlan } from './timing.js';
import type { WireTap } from './wire-meter.js';
import { abortable } from '../dev/async.js';

export interface ApiContext {
  /** The API's base URL. */
  api: string;
  apiToken: string;
  client: Client;
  emulator: Emulator;
  tap: WireTap;
  solutionId: string;
  slotIds: string[];
  signal: AbortSignal;
}

/** The API's longest `?wait`; a saga still without URLs is asked again. */
const WAIT_SECONDS = 30;
/**
 * How often describe is asked whether an enabled saga reports `completed` yet, besides once when its
 * run closes. The close answers nearly every saga; only a run that stays open to tidy up needs the
 * poll. Seldom, because each describe is load on the server the product is measured on (the floor
 * asks nothing), and the timing ends at the enable on the wire, not at this answer.
 */
const DESCRIBE_POLL_MS = 2000;
const MAX_503_RETRIES = 5;
const RETRY_503_MS = 1000;
const CLOSED = new Set(['completed', 'failed', 'timed_out', 'cancelled', 'compensating']);

/**
 * One request of the bench's own, sent again once if the server had just closed the kept-alive
 * connection it went out on: a race of the bench's client with the API's or the emulator's idle
 * timeout (more likely while the bench's event loop is busy), not something the product did.
 */
async function send(url: string | URL, init: HttpRequestOptions): Promise<HttpAnswer> {
  try {
    try {
      return await httpRequest(url, init);
    } catch (error) {
      if (!isStaleConnectionReset(error)) throw error;
      return await httpRequest(url, init);
    }
  } catch (error) {
    throw naming(error, `${init.method ?? 'GET'} ${new URL(url).pathname}`);
  }
}

/** `error` with the call that failed in front, so a failed saga's report says which one it was. */
function naming(error: unknown, what: string): unknown {
  if (!(error instanceof Error) || error.name === 'AbortError') return error;
  const named = new Error(`${what}: ${error.message}`, { cause: error });
  named.name = error.name;
  return named;
}

function call(ctx: ApiContext, path: string, init: HttpRequestOptions = {}): Promise<HttpAnswer> {
  return send(`${ctx.api}${path}`, { ...init, signal: ctx.signal });
}

/** POSTs until every slot has a URL; throws when the saga closes first or the API refuses. */
export async function postUntilUrls(
  ctx: ApiContext,
  plan: TimedPlan,
  timing: SagaTiming,
): Promise<ConnectionStatus> {
  const body = JSON.stringify({
    externalUserId: plan.externalUserId,
    userName: `Bench user ${plan.externalUserId}`,
    solutionId: ctx.solutionId,
    authSlots: ctx.slotIds,
    authTimeout: '30m',
  });
  const headers = { authorization: `Bearer ${ctx.apiToken}`, 'content-type': 'application/json' };
  let unavailable = 0;
  for (let attempt = 0; ; attempt++) {
    const res = await call(ctx, `/v1/connections?wait=${WAIT_SECONDS}`, { method: 'POST', headers, body });
    const status = JSON.parse(res.body) as ConnectionStatus & { error?: { message?: string } };
    // A partner retries a 503 (Temporal busy or unreachable) shortly; the saga may have started anyway.
    if (res.status === 503 && unavailable < MAX_503_RETRIES) {
      unavailable++;
      timing.unavailable = unavailable;
      await abortable(ctx.signal, RETRY_503_MS);
      continue;
    }
    const expected = attempt === 0 ? [201] : unavailable > 0 ? [200, 201] : [200];
    if (!expected.includes(res.status)) {
      throw new Error(
        `POST answered ${res.status} (expected ${expected.join('/')}): ${JSON.stringify(status.error)}`,
      );
    }
    if (status.authSlots.every((s) => s.url) && status.solutionInstanceId) return status;
    if (CLOSED.has(status.step)) throw new Error(`saga reached ${status.step} before its URLs`);
  }
}

/** The end user authorises every slot in the emulator's dialog (which relays the webhook). */
export async function authorise(ctx: ApiContext, status: ConnectionStatus): Promise<void> {
  for (const slot of status.authSlots) {
    const url = new URL(slot.url ?? '');
    const page = await send(url, { signal: ctx.signal });
    if (page.status !== 200) throw new Error(`dialog GET answered ${page.status}`);
    const code = /name="code" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
    const posted = await send(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code: code.replace(/&amp;/g, '&') }).toString(),
      signal: ctx.signal,
    });
    if (posted.status !== 200 || !posted.body.includes('Connected')) {
      // The dialog's page says why (its relay of the webhook failed, and how).
      const why = /could not be told: ([^<]*?)\. Close/.exec(posted.body)?.[1];
      throw new Error(
        `dialog POST answered ${posted.status} for slot ${slot.externalAuthId}${why ? `: ${why}` : ''}`,
      );
    }
  }
}

/**
 * Waits until the saga enabled the instance (seen on the wire) and reports
 * `completed` (its memo, read with describe, which needs no worker). Not the workflow's result: after
 * a retried create the saga stays open a while to remove a late duplicate, though it is completed.
 * Returns when the instance was enabled.
 */
export async function awaitCompleted(ctx: ApiContext, status: ConnectionStatus): Promise<number> {
  const at = await ctx.tap.whenEnabled(status.userId ?? '', ctx.signal);
  // Looking when the run closes, not on the next poll, keeps the poll's interval out of the phase's
  // length (the floor awaits its results the same way).
  const closed = ctx.client
    .withAbortSignal(ctx.signal, () =>
      ctx.client.workflow.getHandle(status.connectionId, status.runId, { followRuns: false }).result(),
    )
    .then(
      () => undefined,
      () => undefined,
    );
  // Wait before each look: the run usually closes in the workflow task after the enable. Woken by the
  // close once; a run still open after that (tidying up) is polled at the usual pace.
  let woken = false;
  const pause = () => {
    const poll = abortable(ctx.signal, DESCRIBE_POLL_MS);
    return woken ? poll : Promise.race([poll, closed.then(() => (woken = true))]);
  };
  for (;;) {
    await pause();
    const desc = await ctx.client
      .withAbortSignal(ctx.signal, () => ctx.client.workflow.getHandle(status.connectionId).describe())
      .catch((error: unknown) => {
        throw naming(error, 'describe');
      });
    const step = memoOf(desc)?.step;
    if (step === 'completed') break;
    if (desc.status.name !== 'RUNNING' || (step !== undefined && CLOSED.has(step))) {
      throw new Error(`saga ended ${desc.status.name} at step ${step ?? '?'}`);
    }
  }
  const instance = ctx.emulator.store.instances.get(status.solutionInstanceId ?? '');
  if (!instance?.enabled || instance.authValues.length !== ctx.slotIds.length) {
    throw new Error(`instance ${status.solutionInstanceId} is not enabled with every auth in the emulator`);
  }
  return at;
}

/** When the API received the last webhook for this instance, as the tap saw it. */
function lastWebhookAt(ctx: ApiContext, solutionInstanceId: string): number | undefined {
  let at: number | undefined;
  for (const w of ctx.tap.webhooks) {
    if (w.solutionInstanceId === solutionInstanceId && (at === undefined || w.at > at)) at = w.at;
  }
  return at;
}

/** Starts the saga and waits for its URLs; fills `urlsAt` (or `error`). */
export async function startThroughApi(ctx: ApiContext, timing: SagaTiming, plan: TimedPlan) {
  try {
    const status = await postUntilUrls(ctx, plan, timing);
    timing.urlsAt = Date.now();
    return status;
  } catch (error) {
    timing.error = (error as Error).message;
    return undefined;
  }
}

/** The end user authorises after `thinkMs`, then the result is awaited; fills the rest of `timing`. */
export async function finishThroughApi(
  ctx: ApiContext,
  timing: SagaTiming,
  status: ConnectionStatus,
  thinkMs: number,
): Promise<void> {
  try {
    await abortable(ctx.signal, thinkMs);
    await authorise(ctx, status);
    timing.webhookAt = lastWebhookAt(ctx, status.solutionInstanceId ?? '');
    timing.completedAt = await awaitCompleted(ctx, status);
  } catch (error) {
    timing.error = (error as Error).message;
  }
}

/** A timing for `plan`'s saga, started now. */
export function newTiming(ctx: { solutionId: string }, plan: TimedPlan): SagaTiming {
  const id = connectionIdFor(plan.externalUserId, ctx.solutionId);
  return { id, externalUserId: plan.externalUserId, kind: plan.kind, startedAt: Date.now() };
}

/** One saga end to end through the API, recorded in `timing`; never throws. */
export async function driveApiSaga(
  ctx: ApiContext,
  plan: TimedPlan,
  timing: SagaTiming,
): Promise<SagaTiming> {
  timing.startedAt = Date.now();
  const status = await startThroughApi(ctx, timing, plan);
  if (status) await finishThroughApi(ctx, timing, status, plan.thinkMs);
  return timing;
}
