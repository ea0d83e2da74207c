/**
 * How the API calls Temporal: every call bounded by a deadline so a missing worker or server never
 * hangs a request, "server unreachable" turned into a 503, and the errors both reads and commands raise.
 */
import { setMaxListeners } from 'node:events';
import { ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApiError, isTemporalUnavailable, temporalUnavailable } from './errors.js';
import { currentRequestId, REQUEST_ID_METADATA } from './request-context.js';
import { causeChain } from '../lib/cause-chain.js';

/** Deadline for plain RPCs (start, describe, signal, cancel, list). */
export const RPC_TIMEOUT_MS = 5_000;
/** Deadline for one `status` query: short, so GET still answers within 3 s when no worker runs. */
export const QUERY_TIMEOUT_MS = 2_000;
/** Deadline for the reissue update, which needs a worker and one Tray request. */
export const UPDATE_TIMEOUT_MS = 15_000;
/**
 * How long a stopping API lets requests finish before it closes their connections: longer than its
 * longest request, the reissue, so none is cut off. POSTs waiting for URLs answer at once instead.
 */
export const DRAIN_MS = UPDATE_TIMEOUT_MS + 5_000;

/** Runs Temporal calls under a deadline, sending the request id (if serving one) as gRPC metadata. */
export function within<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  const requestId = currentRequestId();
  const bounded = () => client.withDeadline(Date.now() + ms, fn);
  return requestId === undefined
    ? bounded()
    : client.withMetadata({ [REQUEST_ID_METADATA]: requestId }, bounded);
}

/**
 * Clients whose last plain call found the server unreachable. Their next call asks the server once,
 * briefly, before anything that waits: while Temporal is down each request answers 503 in about
 * PROBE_TIMEOUT_MS instead of waiting out every deadline along its way (20 s for a POST).
 */
const unreachable = new WeakSet<Client>();
/** Deadline for that question (`DescribeNamespace`, which needs no worker). */
export const PROBE_TIMEOUT_MS = 1_500;

/** True while the last plain call (or readiness check) found the server unreachable. */
export function isKnownUnreachable(client: Client): boolean {
  return unreachable.has(client);
}

/** Records what a call outside `rpc` (readiness, the start-up check) learnt of the server. */
export function noteReachable(client: Client, reachable: boolean): void {
  if (reachable) unreachable.delete(client);
  else unreachable.add(client);
}

/**
 * Asks the server whether it answers; throws the 503 when it does not. Any answer, even a refusal
 * (a key not allowed to describe the namespace), shows it is there.
 */
export async function checkReachable(client: Client): Promise<void> {
  try {
    await within(client, PROBE_TIMEOUT_MS, () =>
      client.workflowService.describeNamespace({ namespace: client.options.namespace }),
    );
  } catch (err) {
    if (isTemporalUnavailable(err)) {
      unreachable.add(client);
      throw temporalUnavailable();
    }
  }
  unreachable.delete(client);
}

/** checkReachable, but only when the last plain call found the server unreachable. */
export async function ensureReachable(client: Client): Promise<void> {
  if (unreachable.has(client)) await checkReachable(client);
}

/**
 * Aborted when the API starts draining (SIGTERM): a POST waiting up to 30 s for its URLs then
 * answers at once with the status as it stands, within the drain's grace period, instead of being
 * cut off. Only the waits listen to it; plain calls finish.
 */
const draining = new AbortController();
// One listener per POST waiting at that moment: many at once is normal, not a leak.
setMaxListeners(0, draining.signal);

/** Ends every wait in `waitWithin` now and from now on. */
export function stopWaiting(): void {
  draining.abort();
}

/** True once the API drains: a wait that polls ends at its next look. */
export const isDraining = (): boolean => draining.signal.aborted;

/** `within` for a call that waits on the saga (an update): given up when the API drains. */
export async function waitWithin<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  if (draining.signal.aborted) throw new Error('the API is shutting down');
  // A signal per call: the SDK adds a listener to the signal it is given and never removes it, so
  // handing it the long-lived one would keep every call ever made.
  const call = new AbortController();
  setMaxListeners(0, call.signal);
  const abort = () => call.abort();
  draining.signal.addEventListener('abort', abort, { once: true });
  try {
    return await client.withAbortSignal(call.signal, () => within(client, ms, fn));
  } finally {
    draining.signal.removeEventListener('abort', abort);
  }
}

/** Runs a Temporal call, turning "server unreachable" into a 503 `ApiError`. */
export async function rpc<T>(client: Client, fn: () => Promise<T>, ms = RPC_TIMEOUT_MS): Promise<T> {
  await ensureReachable(client);
  try {
    const answer = await within(client, ms, fn);
    unreachable.delete(client);
    return answer;
  } catch (err) {
    if (isTemporalUnavailable(err)) {
      unreachable.add(client);
      throw temporalUnavailable();
    }
    throw err;
  }
}

/** 404 for a connection id Temporal has no run for. */
export const connectionNotFound = (connectionId: string) =>
  new ApiError(404, 'not_found', `No connection ${JSON.stringify(connectionId)}`);
/** 422: the saga has no such auth slot (a webhook's or a reissue's). */
export const unknownSlot = (externalAuthId: string) =>
  new ApiError(422, 'unknown_slot', `Connection has no auth slot ${JSON.stringify(externalAuthId)}`);
/** 409: the run has closed; `how` (its last step, or Temporal's status) when known. */
export const connectionClosed = (connectionId: string, how?: string) =>
  new ApiError(
    409,
    'connection_closed',
    `Connection ${JSON.stringify(connectionId)} is closed${how === undefined ? '' : ` (${how})`}`,
  );

/** The first ApplicationFailure (or other Temporal failure) along a cause chain, as `{ type, message }`. */
export function failureOf(err: unknown): { type: string; message: string } {
  let fallback: { type: string; message: string } | undefined;
  for (const e of causeChain(err, 10)) {
    if (!(e instanceof Error)) break;
    if (e instanceof ApplicationFailure && e.type) return { type: e.type, message: e.message };
    if (!fallback && !(e instanceof WorkflowFailedError)) fallback = { type: e.name, message: e.message };
  }
  return fallback ?? { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}
