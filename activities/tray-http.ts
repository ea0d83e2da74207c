/**
 * The Tray client's transport and how it reads an answer: JSON POSTs over node's http(s) with
 * kept-alive connections, the answer decoded (gzip, deflate, br) and bounded, a timeout and the
 * activity's abort signal. fetch spent about three times the CPU per request (streams, abort
 * signals), which a worker pays for every Tray request of every saga.
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

/** Beyond this an answer is cut off as a network fault: nothing Tray sends here comes near it. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * A poster for `url`: each call sends one JSON body with the given authorization and resolves with
 * the answer, whatever its status; it rejects on a network fault, a timeout (a TimeoutError) or an
 * abort (an AbortError).
 */
export function jsonPoster(url: string) {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true });
  return (body: string, authorization: string, timeoutMs: number, signal?: AbortSignal) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const req = transport.request(target, {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          'accept-encoding': 'gzip, deflate, br',
          'content-length': Buffer.byteLength(body),
          authorization,
        },
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
      const timer = setTimeout(() => fail(timeoutError(timeoutMs)), timeoutMs);
      const onAbort = () => fail(abortError());
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
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

/** One entry of a GraphQL answer's `errors`. */
export interface GraphQLErrorLike {
  message?: unknown;
  extensions?: { code?: unknown; name?: unknown };
}

/** Tray answered with an HTTP error or GraphQL errors. */
export class TrayAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorLike[],
    readonly headers: IncomingHttpHeaders,
  ) {
    super(`HTTP ${status}`);
    this.name = 'TrayAnswerError';
  }
}

/** The answer's `data`; throws TrayAnswerError for an HTTP error or GraphQL errors (as `errors`). */
export function graphqlData<T>(answer: HttpAnswer): T | undefined {
  let json: { data?: T; errors?: unknown } | undefined;
  try {
    json = JSON.parse(answer.body) as typeof json;
  } catch (error) {
    // A proxy's error page: judged by its status; a 2xx that is not JSON is a network fault.
    if (answer.status >= 200 && answer.status < 300) throw error;
  }
  const errors = Array.isArray(json?.errors) ? (json.errors as GraphQLErrorLike[]) : [];
  if (answer.status < 200 || answer.status >= 300 || errors.length > 0) {
    throw new TrayAnswerError(answer.status, errors, answer.headers);
  }
  return json?.data;
}
