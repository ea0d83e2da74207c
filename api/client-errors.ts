/**
 * Requests node refuses before express sees them (headers over the size limit, a header with a
 * control character, a request that is not HTTP, an `Expect` other than `100-continue`), or whose
 * body breaks off or never finishes once a route reads it, answered in the API's error shape, where
 * node's own answer is a status line with an empty body.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { requestIdFrom } from './request-context.js';

interface ParserError extends Error {
  code?: string;
}

function answerFor(err: ParserError): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'The request headers are larger than the server accepts'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time'];
    default:
      return [
        400,
        'bad_request',
        'The request is not valid HTTP (a malformed request line, header or chunked body)',
      ];
  }
}

/** Makes `server` answer its parser's refusals with `{ error: { code, message } }` and close. */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: ParserError, socket: Socket) => {
    const inProgress = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] = answerFor(err);
    if (inProgress) {
      // The request being answered is still arriving, so the failure is in its own body (a chunk
      // that does not parse, a body that never finished): it is that request's answer. Otherwise an
      // earlier request is being answered (pipelining), and a status line would become its answer.
      if (!inProgress.headersSent && inProgress.req?.complete === false) {
        answerAndClose(inProgress, status, code, message);
      } else socket.destroy();
      return;
    }
    socket.end(rawAnswer(status, code, message));
  });
}

/** The headers every answer of the API carries (docs/api.md, "Caching"). */
const ALWAYS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/**
 * An answer in the error shape written straight to a socket, for a request express never sees. A
 * fresh id: the request's own headers never parsed, and every answer carries one.
 */
function rawAnswer(status: number, code: string, message: string, extra = ''): string {
  const body = JSON.stringify({ error: { code, message } });
  const always = Object.entries(ALWAYS).map(([name, value]) => `${name}: ${value}\r\n`);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    always.join('') +
    extra +
    `x-request-id: ${randomUUID()}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * A CONNECT (a proxy's tunnel) reaches no route: node hands it to `connect` listeners only, and
 * without one closes the socket unanswered. It is a 405 like any method a path does not take.
 */
function answerConnectAsJson(server: Server): void {
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    // Node takes its own error listener off a socket it hands over: without one, a client that
    // resets the connection would crash the API with an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    socket.setTimeout(5_000, () => socket.destroy());
    socket.end(
      rawAnswer(
        405,
        'method_not_allowed',
        'CONNECT is not allowed: this is an API, not a proxy',
        'Allow: GET, HEAD, POST, DELETE, OPTIONS\r\n',
      ),
    );
  });
}

/**
 * Makes `server` answer an `Expect` header it cannot meet with 417 in the error shape. Node answers
 * `100-continue` itself (curl sends it with larger bodies); any other expectation reaches here.
 */
export function answerExpectationsAsJson(server: Server): void {
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    answerAndClose(
      res,
      417,
      'expectation_failed',
      'The Expect header cannot be met: only "Expect: 100-continue" is supported',
    );
  });
}

/**
 * Answers in the error shape outside express, and closes the connection: the body the client meant
 * to send may follow, and closing spares reading it.
 */
function answerAndClose(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  // The id the request logger already gave it, else the client's own (if usable) or a fresh one.
  const requestId = res.getHeader('x-request-id') ?? requestIdFrom(res.req.headers);
  res.writeHead(status, {
    ...ALWAYS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'x-request-id': requestId,
    Connection: 'close',
  });
  res.end(body);
}

/**
 * How long a request may take to arrive, headers and body. A partner's request is a few KiB; node's
 * default of 300 s would let a client that never finishes hold its connection for five minutes.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Everything the API's server needs beyond express: idle connections kept `keepAliveTimeoutMs`,
 * requests that do not arrive within REQUEST_TIMEOUT_MS refused, and node's own refusals answered
 * in the error shape.
 */
export function prepareApiServer(server: Server, keepAliveTimeoutMs: number): void {
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.requestTimeout = Math.min(server.requestTimeout || Infinity, REQUEST_TIMEOUT_MS);
  server.headersTimeout = Math.min(server.headersTimeout || Infinity, server.requestTimeout);
  answerClientErrorsAsJson(server);
  answerExpectationsAsJson(server);
  answerMissingHostAsJson(server);
  answerConnectAsJson(server);
}

/**
 * An HTTP/1.1 request without `Host` is refused with 400, as HTTP requires, in the error shape.
 * Node's own check answers an empty body, so it is turned off and done here, before the app.
 */
function answerMissingHostAsJson(server: Server): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  // Read per request (node 20), though not in its types.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      answerAndClose(res, 400, 'bad_request', 'An HTTP/1.1 request needs a Host header');
      return;
    }
    for (const handler of handlers) handler(req, res);
  });
}
