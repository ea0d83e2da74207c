/**
 * Requests node refuses before express sees them (headers over the size limit, a header with a
 * control character, a request that is not HTTP, an `Expect` other than `100-continue`) answered in
 * the API's error shape, where node's own answer is a status line with an empty body.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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
      return [400, 'bad_request', 'The request is not valid HTTP (a malformed request line or header)'];
  }
}

/** Makes `server` answer its parser's refusals with `{ error: { code, message } }` and close. */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: ParserError, socket: Socket) => {
    // Nothing to say on a reset connection. Nor while an earlier request on it is being answered
    // (pipelining): a status line written now would become that request's answer.
    const inProgress = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress) {
      socket.destroy();
      return;
    }
    const [status, code, message] = answerFor(err);
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}

/**
 * Makes `server` answer an `Expect` header it cannot meet with 417 in the error shape. Node answers
 * `100-continue` itself (curl sends it with larger bodies); any other expectation reaches here.
 */
export function answerExpectationsAsJson(server: Server): void {
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({
      error: {
        code: 'expectation_failed',
        message: 'The Expect header cannot be met: only "Expect: 100-continue" is supported',
      },
    });
    // The body the client meant to send may follow; closing spares reading it.
    res.writeHead(417, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      Connection: 'close',
    });
    res.end(body);
  });
}

/**
 * Everything the API's server needs beyond express: idle connections kept `keepAliveTimeoutMs`,
 * and node's own refusals answered in the error shape.
 */
export function prepareApiServer(server: Server, keepAliveTimeoutMs: number): void {
  server.keepAliveTimeout = keepAliveTimeoutMs;
  answerClientErrorsAsJson(server);
  answerExpectationsAsJson(server);
}
