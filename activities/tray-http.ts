/**
 * How the Tray client sends a GraphQL document (a JSON POST over lib/http-request.ts) and reads the
 * answer: its `data`, or a TrayAnswerError for an HTTP error or GraphQL errors.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { httpRequest, type HttpAnswer } from '../lib/http-request.js';

/** Each call POSTs one JSON body to `url` with the given authorization; see httpRequest. */
export function jsonPoster(url: string) {
  const target = new URL(url);
  return (body: string, authorization: string, timeoutMs: number, signal?: AbortSignal) =>
    httpRequest(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        'accept-encoding': 'gzip, deflate, br',
        authorization,
      },
      body,
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
}

/** One entry of a GraphQL answer's `errors`. */
export interface GraphQLErrorLike {
  message?: unknown;
  extensions?: { code?: unknown; name?: unknown; status?: unknown; http?: { status?: unknown } };
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

/**
 * Tray answered 2xx with a body that is not JSON (a proxy's page, a cut-off answer): Tray was
 * reached, so the failure says what came back rather than blaming the network.
 */
export class TrayUnreadableAnswerError extends Error {
  constructor(
    readonly status: number,
    contentType: string | undefined,
  ) {
    // Only the media type: a header is the server's text, and the message reaches history.
    const media = /^[\w.+-]+\/[\w.+-]+/.exec(contentType ?? '')?.[0];
    super(`HTTP ${status} answer is not JSON${media ? ` (${media})` : ''}`);
    this.name = 'TrayUnreadableAnswerError';
  }
}

/** The answer's `data`; throws TrayAnswerError for an HTTP error or GraphQL errors (as `errors`). */
export function graphqlData<T>(answer: HttpAnswer): T | undefined {
  let json: { data?: T; errors?: unknown } | undefined;
  try {
    // A byte-order mark before the JSON (some servers write one with a charset) is not an error.
    json = JSON.parse(answer.body.replace(/^\uFEFF/, '')) as typeof json;
  } catch {
    // A proxy's error page: judged by its status; a 2xx that is not JSON may pass on a retry.
    if (answer.status >= 200 && answer.status < 300) {
      throw new TrayUnreadableAnswerError(answer.status, answer.headers['content-type']);
    }
  }
  const errors = Array.isArray(json?.errors) ? json.errors.map(errorEntry) : [];
  if (answer.status < 200 || answer.status >= 300 || errors.length > 0) {
    throw new TrayAnswerError(answer.status, errors, answer.headers);
  }
  return json?.data;
}

/**
 * One `errors` entry as an object: a bare string is its message, a `code` beside the message counts
 * as `extensions.code`, anything else carries nothing.
 */
function errorEntry(entry: unknown): GraphQLErrorLike {
  if (typeof entry === 'string') return { message: entry };
  if (typeof entry !== 'object' || entry === null) return {};
  const { message, extensions, code } = entry as { message?: unknown; extensions?: unknown; code?: unknown };
  if (typeof extensions === 'object' && extensions !== null)
    return { message, extensions: extensions as GraphQLErrorLike['extensions'] };
  // Servers from before `extensions` put the code beside the message.
  return typeof code === 'string' || typeof code === 'number'
    ? { message, extensions: { code } }
    : { message };
}
