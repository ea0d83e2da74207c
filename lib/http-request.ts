/**
 * One HTTP request over node's http(s) with kept-alive connections: the Tray client's transport and
 * the bench's own calls. fetch spent about three times the CPU per request (streams, abort signals),
 * which a worker pays for every Tray request of every saga and the bench pays on the cores it
 * measures. The answer is decoded (gzip, deflate, br) and bounded.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Unset: no deadline of its own. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Beyond this an answer is cut off as a network fault: nothing sent here comes near it. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * How long an idle kept-alive connection is kept, at most. Node's agent follows a server's
 * `Keep-Alive: timeout=N` hint (closing a second early) only when the agent has a timeout of its own;
 * without one it keeps the connection until the server closes it, and a request sent as the server
 * does so fails with "socket hang up". 15 s stays below the idle timeouts of common load balancers
 * (60 s and more), which send no hint.
 */
const IDLE_CONNECTION_MS = 15_000;
const httpAgent = new http.Agent({ keepAlive: true, timeout: IDLE_CONNECTION_MS });
const httpsAgent = new https.Agent({ keepAlive: true, timeout: IDLE_CONNECTION_MS });
/** Resets of kept-alive connections the server closed as they were reused (isStaleConnectionReset). */
const staleResets = new WeakSet<object>();

/**
 * True when `error` is the reset of a kept-alive connection that the server closed just as this
 * request reused it (Node's `request.reusedSocket`). The server had finished with the connection, so
 * the request almost surely never reached it: Node's docs advise one retry. Callers whose request
 * must not be sent twice (a Tray create) leave it to their own retry rules.
 */
export function isStaleConnectionReset(error: unknown): boolean {
  return typeof error === 'object' && error !== null && staleResets.has(error);
}

/**
 * Resolves with the answer, whatever its status; rejects on a network fault, a timeout (a
 * TimeoutError) or an abort (an AbortError).
 */
export function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const { method = 'GET', headers = {}, body, timeoutMs, signal } = options;
  const target = typeof url === 'string' ? new URL(url) : url;
  const secure = target.protocol === 'https:';
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const req = (secure ? https : http).request(target, {
      method,
      agent: secure ? httpsAgent : httpAgent,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const fail = (error: Error) => {
      if (settled) return;
      settle(() => reject(error));
      req.destroy();
    };
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => fail(timeoutError(timeoutMs)), timeoutMs);
    const onAbort = () => fail(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET') staleResets.add(error);
      fail(error);
    });
    req.once('response', (res) => {
      res.on('error', fail);
      const stream = decoded(res);
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('error', fail);
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) fail(new Error('the answer is too large'));
        else chunks.push(chunk);
      });
      stream.once('end', () =>
        settle(() =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        ),
      );
    });
    req.end(body);
  });
}

function decoded(res: http.IncomingMessage): Readable {
  switch (res.headers['content-encoding']?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return res.pipe(createGunzip());
    case 'deflate':
      return res.pipe(createInflate());
    case 'br':
      return res.pipe(createBrotliDecompress());
    default:
      return res;
  }
}

function timeoutError(ms: number): Error {
  const error = new Error(`no answer within ${ms} ms`);
  error.name = 'TimeoutError';
  return error;
}

function abortError(): Error {
  const error = new Error('aborted');
  error.name = 'AbortError';
  return error;
}
