/**
 * The request being served, carried through every await by AsyncLocalStorage: the API's logger adds
 * its id to each line (pino `mixin`), and every Temporal call sends it as gRPC metadata
 * (`x-request-id`), so one id joins the access line, the API's other lines and the server's log.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestContext {
  requestId: string;
}

/** The gRPC metadata key the request id travels under. */
export const REQUEST_ID_METADATA = 'x-request-id';

const storage = new AsyncLocalStorage<RequestContext>();

/** The caller's `x-request-id` when it is a sane token, else a fresh UUID. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const incoming = headers['x-request-id'];
  return typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
}

/** Runs `fn` (and everything it awaits or schedules) as part of serving `requestId`. */
export function runInRequest<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** pino's `mixin`: `{ requestId }` on every line written while a request is served. */
export function requestIdMixin(): { requestId?: string } {
  const requestId = currentRequestId();
  return requestId === undefined ? {} : { requestId };
}
