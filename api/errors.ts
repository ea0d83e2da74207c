/**
 * The API's one error shape, `{ error: { code, message, details? } }`, and the mapping from whatever
 * went wrong (validation, body parsing, Temporal being unreachable, bugs) to it.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import type { Logger } from 'pino';
import { causeChain } from '../lib/cause-chain.js';
import { UndecodablePayloadError } from '../lib/payload-codec.js';
import { BODY_LIMIT_TEXT } from './body-limit.js';
import { GrpcStatus } from '../lib/grpc-status.js';
import { featureRefusal, featureRefusalAdvice } from './feature-refusal.js';
import { undecodablePathProblems } from './path-problems.js';

/** An error the API answers with a given status and code; anything else becomes a 500. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Where an error answer leaves its code for the request's log line (`res.locals`). */
export const ERROR_CODE_LOCAL = 'errorCode';

/** Writes the error shape. */
export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): void {
  res.locals[ERROR_CODE_LOCAL] = code;
  const body: ErrorBody = { error: { code, message } };
  if (details !== undefined) body.error.details = details;
  res.status(status).json(body);
}

/** Writes an ApiError; a `temporal_busy` one says when to come back. */
function sendApiError(res: Response, err: ApiError): void {
  if (err.code === 'temporal_busy') res.setHeader('Retry-After', '1');
  sendError(res, err.status, err.code, err.message, err.details);
}

/** True when `err` (or one of its causes) says the Temporal server is unreachable or did not answer. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (const e of causeChain(err)) {
    if (
      isGrpcServiceError(e) &&
      (e.code === GrpcStatus.UNAVAILABLE || e.code === GrpcStatus.DEADLINE_EXCEEDED)
    )
      return true;
    if (e instanceof ServiceError && /failed to connect/i.test(e.message)) return true;
  }
  return false;
}

/**
 * True when the server refused a call for load (its rate limits) or dropped it unanswered (CANCELLED,
 * seen from an overloaded server mid-burst): worth retrying shortly, not a bug.
 */
export function isTemporalBusy(err: unknown): boolean {
  // The SDK's calls wrap the gRPC error in a ServiceError whose cause it is.
  for (const e of causeChain(err)) {
    if (
      isGrpcServiceError(e) &&
      (e.code === GrpcStatus.RESOURCE_EXHAUSTED || e.code === GrpcStatus.CANCELLED)
    )
      return true;
  }
  return false;
}

/**
 * The server's refusal of the API's own credentials (an API key revoked or expired while it runs, a
 * client certificate no longer accepted, a role without access to the namespace), if `err` is one.
 */
export function temporalCredentialRefusal(err: unknown): 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | undefined {
  for (const e of causeChain(err)) {
    if (!isGrpcServiceError(e)) continue;
    if (e.code === GrpcStatus.UNAUTHENTICATED) return 'UNAUTHENTICATED';
    if (e.code === GrpcStatus.PERMISSION_DENIED) return 'PERMISSION_DENIED';
  }
  return undefined;
}

/**
 * The search attribute the namespace lacks, when `err` is the server saying so ("Namespace default
 * has no mapping defined for search attribute X" on a start, "invalid search attribute: X" on a list,
 * and other servers' wordings).
 */
export function missingSearchAttribute(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    if (!isGrpcServiceError(e) || e.code !== GrpcStatus.INVALID_ARGUMENT) continue;
    const text = e.details || e.message;
    // Not "invalid search attribute name" / "… type": the server's words for a malformed one.
    const named =
      /(?:no mapping defined for search attribute|(?:invalid|unknown) search attribute:?)\s+"?(?!(?:name|type)\b)(\w+)/i.exec(
        text,
      ) ?? /search attribute "?(\w+)"? is not defined/i.exec(text);
    if (named) return named[1];
  }
  return undefined;
}

/** The codec's refusal in `err` or its causes: a payload under a key this API does not hold. */
export function undecodablePayload(err: unknown): UndecodablePayloadError | undefined {
  for (const e of causeChain(err)) {
    if (e instanceof UndecodablePayloadError) return e;
  }
  return undefined;
}

/** Temporal (or the API's own queue in front of it) cannot take the call now; `Retry-After: 1`. */
export const temporalBusy = () =>
  new ApiError(503, 'temporal_busy', 'The Temporal server is busy; try again shortly');

/** 503: Temporal cannot be reached at all (not merely busy); the client may retry shortly. */
export const temporalUnavailable = () =>
  new ApiError(503, 'temporal_unavailable', 'The Temporal server is unreachable; try again shortly');

/**
 * 503s that no retry cures until the operator acts: "unreachable" would send a partner's engineer
 * looking for a network fault. They name the kind of fault only, never the server's words.
 */
export const temporalRefusesCredentials = () =>
  new ApiError(
    503,
    'temporal_unavailable',
    "Temporal refused this service's credentials; requests fail until the service's operator fixes them",
  );
export const temporalRefusesFeature = () =>
  new ApiError(
    503,
    'temporal_unavailable',
    "The Temporal server does not allow an operation this request needs; it fails until the service's operator enables it",
  );
export const namespaceNotSetUp = () =>
  new ApiError(
    503,
    'temporal_unavailable',
    'The Temporal namespace is not set up for connect-saga (search attributes missing); requests fail ' +
      "until the service's operator sets it up",
  );

/** Answers unknown routes with a 404 in the error shape. */
export const notFoundHandler: RequestHandler = (req, res) => {
  sendError(res, 404, 'not_found', `No route for ${req.method} ${req.path}`);
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  expose?: boolean;
}

/** A zlib, brotli or zstd failure: the body is not what its Content-Encoding says. */
export function isDecompressionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(Z_|ERR_BROTLI|ERR_ZSTD|ERR_ZLIB)/.test(code);
}

/**
 * The last middleware: turns any error into the error shape. Known body-parser failures keep their
 * status; Temporal outages are 503; everything else is a 500 without a stack (which is only logged).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      // Nothing more can be said on this connection, and express's own handler would print a stack.
      // Answered in full, a refusal of the request's own (node's parser found its body broken,
      // api/client-errors.ts) is only its echo; anything else is a bug to see in the log.
      const echo = err instanceof ApiError || (err as BodyParserError)?.type !== undefined;
      const where = { err, method: req.method, path: req.path };
      if (!res.writableEnded) logger.error(where, 'error mid-answer');
      else if (!echo) logger.error(where, 'error after the answer was sent');
      req.socket.destroy();
      return;
    }
    if (err instanceof ApiError) {
      sendApiError(res, err);
      return;
    }
    const parserError = err as BodyParserError;
    switch (parserError?.type) {
      case 'entity.too.large':
        sendError(res, 413, 'payload_too_large', `The request body exceeds ${BODY_LIMIT_TEXT}`);
        return;
      case 'entity.parse.failed':
        sendError(res, 400, 'invalid_json', 'The request body is not valid JSON');
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        sendError(res, 415, 'unsupported_encoding', 'The request body encoding is not supported');
        return;
      case 'request.aborted':
        sendError(res, 400, 'request_aborted', 'The request was aborted');
        return;
      default:
        break;
    }
    // The router could not percent-decode a path parameter (`/v1/connections/%FF`).
    if (err instanceof URIError) {
      const problems = undecodablePathProblems(req);
      sendError(res, 400, 'invalid_input', 'The request path is not valid percent-encoding', problems);
      return;
    }
    // body-parser passes zlib's own words ("incorrect header check"), which name no culprit.
    if (isDecompressionError(err)) {
      sendError(
        res,
        400,
        'bad_request',
        `The request body does not decode as its Content-Encoding (${String(req.headers['content-encoding'])}) says: ${(err as Error).message}`,
      );
      return;
    }
    // Any other client error express or body-parser flags as safe to show.
    const status = parserError?.status;
    if (parserError?.expose === true && typeof status === 'number' && status >= 400 && status < 500) {
      sendError(res, status, 'bad_request', (err as Error).message);
      return;
    }
    if (answerServerSide(err, req.path, res, logger)) return;
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    sendError(res, 500, 'internal_error', 'Something went wrong; the error was logged');
  };
}

/**
 * Answers what went wrong on Temporal's side or in the operator's settings (not the caller's fault,
 * not a bug); false when `err` is none of those.
 */
function answerServerSide(err: unknown, path: string, res: Response, logger: Logger): boolean {
  if (isTemporalUnavailable(err)) {
    logger.warn({ err: { message: (err as Error).message }, path }, 'Temporal unavailable');
    sendApiError(res, temporalUnavailable());
    return true;
  }
  if (isTemporalBusy(err)) {
    logger.warn({ err: { message: (err as Error).message }, path }, 'Temporal busy');
    sendApiError(res, temporalBusy());
    return true;
  }
  // Before the credentials: a feature switched off for the namespace is refused with the same code.
  const feature = featureRefusal(err);
  if (feature) {
    logger.error({ err: { message: (err as Error).message }, path }, featureRefusalAdvice(feature));
    sendApiError(res, temporalRefusesFeature());
    return true;
  }
  // The operator's fault, not the caller's and not a bug: to the caller Temporal is unavailable (and
  // told why), and the log names the settings to look at (the start-up check names the one at fault
  // on restart).
  const refusal = temporalCredentialRefusal(err);
  if (refusal) {
    logger.error(
      { err: { message: (err as Error).message }, path },
      `Temporal refuses the API's credentials (${refusal}): check TEMPORAL_API_KEY, ` +
        'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or the profile that sets them) ' +
        'and their access to the namespace, then restart the API',
    );
    sendApiError(res, temporalRefusesCredentials());
    return true;
  }
  // A namespace set up without the saga's search attributes: no start or lookup can work until an
  // operator creates them, so to the caller Temporal is unavailable (and told why).
  const attribute = missingSearchAttribute(err);
  if (attribute) {
    logger.error(
      { err: { message: (err as Error).message }, path },
      `Temporal namespace has no search attribute ${attribute}: create the saga's four with ` +
        'deploy/setup-search-attributes.sh (README, Troubleshooting)',
    );
    sendApiError(res, namespaceNotSetUp());
    return true;
  }
  // A configuration fault, not a bug: the operator must give the API the key the saga was written
  // under. The message names key ids only, never a key.
  const undecodable = undecodablePayload(err);
  if (undecodable) {
    logger.error({ err: { message: undecodable.message }, path }, 'payload not decodable');
    sendError(res, 500, 'payload_undecodable', undecodable.message);
    return true;
  }
  return false;
}
