/**
 * Sagas driven as a partner and its end users would: POST /v1/connections (retried while the API is
 * down), the dialog URL opened and its form posted at the emulator, cancels through DELETE, and the
 * end awaited at Temporal. Every wait has a deadline.
 */
import type { ConnectionStatus } from '../common/messages.js';
import type { Stack } from './stack.js';
import { pooled } from '../dev/async.js';

export type Expectation = 'completed' | 'cancelled';

export interface Saga {
  id: string;
  externalUserId: string;
  solutionId: string;
  slots: string[];
  expect: Expectation;
  /** HTTP status of every POST /v1/connections answer (0: no answer). */
  posts: number[];
  /** authId the dialog made for each slot. */
  authIds: Map<string, string>;
  final?: ConnectionStatus;
  endedAt?: number;
  error?: string;
}

export const CLOSED = new Set(['completed', 'failed', 'timed_out', 'cancelled']);
const SOLUTION_SLOTS: Record<string, string[]> = { 'sol-1': ['slack'], 'sol-2': ['salesforce', 'slack'] };

/** `count` sagas for new users `${prefix}-u<n>`, alternating sol-1 and sol-2. */
export function planSagas(prefix: string, count: number, expect: Expectation = 'completed'): Saga[] {
  return Array.from({ length: count }, (_, i) => {
    const solutionId = i % 2 === 0 ? 'sol-2' : 'sol-1';
    const externalUserId = `${prefix}-u${i + 1}`;
    return {
      id: `connect:${externalUserId}:${solutionId}`,
      externalUserId,
      solutionId,
      slots: SOLUTION_SLOTS[solutionId] ?? [],
      expect,
      posts: [],
      authIds: new Map(),
    };
  });
}

/** Resolves after `ms` milliseconds: the pace between faults, sends and polls. */
export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(35_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** POSTs the saga until the API answers 200 or 201 (retrying while it is down, 5xx or 503). */
export async function postSaga(stack: Stack, saga: Saga, deadline: number): Promise<ConnectionStatus> {
  const body = JSON.stringify({
    externalUserId: saga.externalUserId,
    userName: `Chaos ${saga.externalUserId}`,
    solutionId: saga.solutionId,
    authSlots: saga.slots,
    authTimeout: '15m',
  });
  for (let wait = 300; ; wait = Math.min(wait * 2, 3000)) {
    const res = await call(`${stack.apiUrl}/v1/connections?wait=10`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    saga.posts.push(res.status);
    if (res.status === 200 || res.status === 201) return JSON.parse(res.body) as ConnectionStatus;
    if (res.status !== 0 && res.status < 500) throw new Error(`POST answered ${res.status}: ${res.body}`);
    if (Date.now() > deadline) throw new Error(`POST got no 200/201 in time (last ${res.status})`);
    await pause(wait);
  }
}

/** GET /v1/connections/{id}, or undefined while the API cannot answer. */
export async function getStatus(stack: Stack, id: string): Promise<ConnectionStatus | undefined> {
  const res = await call(`${stack.apiUrl}/v1/connections/${encodeURIComponent(id)}`);
  return res.status === 200 ? (JSON.parse(res.body) as ConnectionStatus) : undefined;
}

/** Polls the status until `ready(status)`; throws when the saga closed first or at the deadline. */
export async function awaitStatus(
  stack: Stack,
  saga: Saga,
  what: string,
  ready: (s: ConnectionStatus) => boolean,
  deadline: number,
): Promise<ConnectionStatus> {
  for (;;) {
    const status = await getStatus(stack, saga.id);
    if (status && ready(status)) return status;
    if (status && CLOSED.has(status.step)) throw new Error(`closed as ${status.step} before ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} in time (step ${status?.step ?? '?'})`);
    await pause(1000 + Math.random() * 500);
  }
}

const hasUrls = (s: ConnectionStatus) => s.authSlots.every((slot) => slot.url !== undefined);

/** The dialog: GET the page, POST its form; returns the authId the page reports, or the HTTP status. */
export async function authorize(url: string): Promise<string | number> {
  const page = await call(url);
  if (page.status !== 200) return page.status;
  const code = /name="code" value="([^"]+)"/.exec(page.body)?.[1];
  if (!code) return 0;
  const res = await call(url.split('?')[0] ?? url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code }).toString(),
  });
  if (res.status !== 200) return res.status;
  return /"authId":"([^"]+)"/.exec(res.body)?.[1] ?? 0;
}

/** Completes every slot through the dialog; asks the API for a fresh URL when one is spent. */
export async function completeAuths(stack: Stack, saga: Saga, deadline: number): Promise<void> {
  let status = await awaitStatus(stack, saga, 'auth URLs', hasUrls, deadline);
  for (const slot of saga.slots) {
    let url = status.authSlots.find((s) => s.externalAuthId === slot)?.url;
    for (;;) {
      const outcome = url ? await authorize(url) : 0;
      if (typeof outcome === 'string') {
        saga.authIds.set(slot, outcome);
        break;
      }
      if (Date.now() > deadline) throw new Error(`dialog for ${slot} kept failing (${outcome})`);
      await pause(1000);
      if (outcome === 404 || outcome === 410) {
        const res = await call(`${stack.apiUrl}/v1/connections/${saga.id}/auth-urls/${slot}`, {
          method: 'POST',
        });
        if (res.status === 200) url = (JSON.parse(res.body) as { url: string }).url;
        else status = await awaitStatus(stack, saga, 'auth URLs', hasUrls, deadline);
      }
    }
  }
}

/** DELETE /v1/connections/{id} until the API answers (202, or 409 when it closed first). */
export async function cancelSaga(stack: Stack, saga: Saga, deadline: number): Promise<number> {
  for (;;) {
    const res = await call(`${stack.apiUrl}/v1/connections/${encodeURIComponent(saga.id)}`, {
      method: 'DELETE',
    });
    if ((res.status !== 0 && res.status < 500) || Date.now() > deadline) return res.status;
    await pause(1000);
  }
}

/** Waits (at Temporal) until the saga's run closed, then records its final status from the API. */
export async function awaitEnd(stack: Stack, saga: Saga, deadline: number): Promise<void> {
  if (saga.final && CLOSED.has(saga.final.step)) return;
  const handle = stack.client.workflow.getHandle(saga.id);
  for (;;) {
    try {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') break;
    } catch {
      // Temporal restarting, or the saga not started yet: ask again.
    }
    if (Date.now() > deadline) {
      saga.error ??= 'still running at the deadline';
      return;
    }
    await pause(1500 + Math.random() * 500);
  }
  saga.endedAt = Date.now();
  for (let i = 0; i < 20 && !saga.final; i += 1) {
    saga.final = await getStatus(stack, saga.id);
    if (!saga.final) await pause(1000);
  }
}

/** POST, complete the auths (or cancel), and await the end; never throws (errors land in `saga.error`). */
export async function driveSaga(stack: Stack, saga: Saga, deadline: number): Promise<void> {
  try {
    await postSaga(stack, saga, deadline);
    if (saga.expect === 'cancelled') await cancelSaga(stack, saga, deadline);
    else await completeAuths(stack, saga, deadline);
  } catch (error) {
    saga.error = error instanceof Error ? error.message : String(error);
  }
  await awaitEnd(stack, saga, deadline);
}

/** Drives every saga, starting one each `spreadMs`; resolves when all have ended (or hit the deadline). */
export function burst(stack: Stack, sagas: Saga[], spreadMs: number, deadline: number): Promise<void[]> {
  return Promise.all(
    sagas.map((saga, i) => pause(i * spreadMs).then(() => driveSaga(stack, saga, deadline))),
  );
}

/**
 * Posts `sagas`, 8 at a time, and completes the dialogs of those `complete` picks (the relay decides
 * when their webhooks go); a saga that fails keeps its error for the report.
 */
export async function postSagas(
  stack: Stack,
  sagas: Saga[],
  deadline: number,
  complete: (saga: Saga) => boolean,
): Promise<void> {
  await pooled(sagas, 8, async (saga) => {
    try {
      await postSaga(stack, saga, deadline);
      if (complete(saga)) await completeAuths(stack, saga, deadline);
    } catch (error) {
      saga.error = String(error);
    }
  });
}
