/**
 * The /v1/connections routes: start a saga and wait for its auth URLs, list sagas, read its status,
 * cancel it, reissue an auth URL. Behind the API's access control; the start's body is read as JSON.
 */
import { isUtf8 } from 'node:buffer';
import type { InstanceRoutes } from './instance-routes.js';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { checkConnectInput } from '../common/input.js';
import { connectionIdFor, type ConnectInput, type ConnectionStatus } from '../common/messages.js';
import { hasAuthUrls } from '../common/status-view.js';
import { requireClient } from './auth.js';
import { BODY_LIMIT_BYTES } from './body-limit.js';
import { ApiError } from './errors.js';
import { updateRefusalWarning } from './feature-refusal.js';
import { READY_FAILURE_REPEAT_MS } from './readiness.js';
import { listHandler } from './list.js';
import { pageTokenKey } from './list-query.js';
import { cancelConnection, reissueAuthUrl } from './saga-commands.js';
import { getConnectionStatus } from './saga-reads.js';
import { isDraining } from './temporal-rpc.js';
import { startAndWaitForUrls } from './saga-start.js';
import {
  connectionIdProblem,
  givenOnceProblem,
  nestingProblem,
  problemAt,
  problemsOf,
  type Problem,
} from './problems.js';
import {
  connectInputSchema,
  connectionIdParamSchema,
  DEFAULT_WAIT_SECONDS,
  externalAuthIdParamSchema,
  waitSchema,
} from './schemas.js';

export interface ConnectionsDeps {
  client: Client;
  taskQueue: string;
  /** Bearer token; unset: loopback clients only. */
  apiToken?: string;
  /** The webhook's secret: with the API token, it keys the list's page tokens. */
  webhookSecret?: string;
  logger: Logger;
  /** Notes which saga owns each instance it answers, for the webhook (api/instance-routes.ts). */
  instanceRoutes?: InstanceRoutes;
}

function param(req: Request, name: string, schema: typeof connectionIdParamSchema): string {
  const parsed = schema.safeParse(req.params[name]);
  if (!parsed.success)
    throw new ApiError(400, 'invalid_input', `Invalid ${name}`, problemsOf(parsed.error, name));
  return parsed.data;
}

interface StartRequest {
  input: ConnectInput;
  connectionId: string;
  waitSeconds: number;
}

/**
 * Query parameters the start does not take. The query parser keeps `wait[]=1` or `wait.x=1` as a
 * name of its own, so without this a client that meant `?wait` would silently wait the default.
 */
function unknownParameters(req: Request): Problem[] {
  return Object.keys(req.query)
    .filter((name) => name !== 'wait')
    .map((name) => ({
      path: `?${name}`,
      message: /^wait[[.]/.test(name) ? givenOnceProblem('wait') : 'unknown parameter; known: wait',
    }));
}

/** `?wait` in seconds, or the problems with it and with any other query parameter. */
function waitOf(req: Request): { waitSeconds: number; problems: Problem[] } {
  const unknown = unknownParameters(req);
  const rawWait = req.query.wait;
  if (rawWait === undefined) return { waitSeconds: DEFAULT_WAIT_SECONDS, problems: unknown };
  const wait = waitSchema.safeParse(rawWait);
  if (wait.success) return { waitSeconds: wait.data, problems: unknown };
  return {
    waitSeconds: DEFAULT_WAIT_SECONDS,
    problems: [...problemsOf(wait.error, '?wait').map((p) => ({ ...p, path: '?wait' })), ...unknown],
  };
}

/** The connection id's length problem, whenever the body has both its ids, whatever else is wrong. */
function connectionIdLengthProblem(body: unknown): Problem | undefined {
  const { externalUserId, solutionId } = (body ?? {}) as Record<string, unknown>;
  if (typeof externalUserId !== 'string' || typeof solutionId !== 'string') return undefined;
  return connectionIdProblem(connectionIdFor(externalUserId, solutionId));
}

/** Validates a POST: the body, `?wait` and the length of the connection id, every problem at once. */
function startRequest(req: Request): StartRequest {
  // No body at all reads as `{}`, so the answer names the missing fields; a `null` sent is no object.
  const sent: unknown = req.body === undefined ? {} : req.body;
  const { waitSeconds, problems: waitProblems } = waitOf(req);
  const invalid = (problems: Problem[]) =>
    new ApiError(400, 'invalid_input', 'The request is invalid', problems);
  const tooLong = connectionIdLengthProblem(sent);
  const others = [...waitProblems, ...(tooLong ? [tooLong] : [])];
  const tooDeep = nestingProblem(sent);
  // The shape's recursive JSON check would overflow the stack on such a body. The input rules walk
  // it without recursion (they are what the shape checks first), so the answer still lists them all.
  if (tooDeep) {
    const rules = checkConnectInput(sent).map(({ path, message }) => problemAt(path, message));
    throw invalid([tooDeep, ...rules, ...others]);
  }
  const body = connectInputSchema.safeParse(sent);
  const problems = [...(body.success ? [] : problemsOf(body.error)), ...others];
  if (!body.success || problems.length > 0) throw invalid(problems);
  const connectionId = connectionIdFor(body.data.externalUserId, body.data.solutionId);
  return { input: withValuesAsSent(body.data, sent), connectionId, waitSeconds };
}

/**
 * The input with each config value exactly as the body had it. zod's copy of a JSON object drops a
 * `"__proto__"` key (assigning it sets the copy's prototype), so `{ "__proto__": … }` would reach
 * Tray as `{}`; the input check has already accepted every value in the body.
 */
function withValuesAsSent(input: ConnectInput, body: unknown): ConnectInput {
  const sent = (body as { configValues?: ConnectInput['configValues'] }).configValues;
  if (!input.configValues || !sent) return input;
  return { ...input, configValues: input.configValues.map((v, i) => ({ ...v, value: sent[i]!.value })) };
}

/** A start body whose bytes are not UTF-8: a 400 like malformed JSON. */
class NotUtf8Error extends Error {
  readonly status = 400;
  readonly type = 'entity.parse.failed';
  constructor() {
    super('The request body is not valid UTF-8');
  }
}

/**
 * The start's body parser. Any content type is read as JSON: `curl -d` without a Content-Type header
 * still works. Bytes that are not UTF-8 are refused rather than decoded, which would replace them
 * with U+FFFD and make distinct ids one (docs/api.md).
 */
const startBody = express.json({
  limit: BODY_LIMIT_BYTES,
  type: () => true,
  strict: false,
  verify: (_req, _res, raw, encoding) => {
    if (encoding === 'utf-8' && !isUtf8(raw)) throw new NotUtf8Error();
  },
});

/** WHATWG's other labels for UTF-8 (`charset=utf8`), which the JSON parser knows only as `utf-8`. */
const UTF8_LABELS = new Set([
  'utf8',
  'unicode-1-1-utf-8',
  'unicode11utf8',
  'unicode20utf8',
  'x-unicode20utf8',
]);

/** A charset the start body does not take, answered 415 as body-parser answers one it does not know. */
class CharsetError extends Error {
  readonly status = 415;
  readonly type = 'charset.unsupported';
  constructor(readonly charset: string) {
    super(`unsupported charset "${charset}"`);
  }
}

/**
 * A charset that names UTF-8 by another label is read as `utf-8`, rather than refused with 415. Any
 * other is refused here: the JSON parser would decode UTF-7 or UTF-16, and bytes those cannot read
 * become U+FFFD, which would make distinct ids one, as undecodable UTF-8 would (docs/api.md).
 */
const utf8Only: RequestHandler = (req, _res, next) => {
  const type = req.headers['content-type'];
  const match = type === undefined ? null : /(;\s*charset\s*=\s*)("?)([^";\s]*)\2/i.exec(type);
  if (type === undefined || !match) return next();
  const label = (match[3] ?? '').toLowerCase();
  if (label !== 'utf-8' && !UTF8_LABELS.has(label)) return next(new CharsetError(label));
  req.headers['content-type'] = type.replace(match[0], `${match[1] ?? ''}utf-8`);
  next();
};

/**
 * A POST whose wait ended before the saga had its URLs. The wait ends early once the URLs exist or
 * the saga closed, so a saga still before its URLs was not taken up by a worker in time (none
 * runs?), or Tray answered slowly; or a shutdown ended the wait, and then neither is the reason.
 */
function logWaitWithoutUrls(logger: Logger, status: ConnectionStatus, waitSeconds: number): void {
  const fields = { connectionId: status.connectionId, step: status.step, waitSeconds };
  if (isDraining()) logger.info(fields, 'answered before the auth URLs: the API is shutting down');
  else
    logger.warn(fields, 'no auth URLs within the wait: no worker took the saga up in time, or Tray is slow');
}

/** The /v1/connections router. */
export function connectionsRouter(deps: ConnectionsDeps): Router {
  const { client, logger } = deps;
  const connections = express.Router();
  connections.use(requireClient(deps.apiToken));
  // Every POST meets the refusal while it lasts: said once, then again every few minutes.
  let refusalSaidAt = Number.NEGATIVE_INFINITY;
  const warnUpdateRefused = (what: string) => {
    if (Date.now() - refusalSaidAt < READY_FAILURE_REPEAT_MS) return;
    refusalSaidAt = Date.now();
    logger.warn({ refused: what }, updateRefusalWarning(what));
  };

  // Only the start reads its body: one sent to another route means nothing, so it cannot fail it.
  connections.post('/', utf8Only, startBody, async (req, res) => {
    const { input, connectionId, waitSeconds } = startRequest(req);
    const { status, created, updateRefused } = await startAndWaitForUrls(
      client,
      deps.taskQueue,
      input,
      connectionId,
      waitSeconds * 1000,
    );
    logger.info(
      { connectionId, runId: status.runId, created, step: status.step },
      created ? 'saga started' : 'saga already running',
    );
    if (updateRefused) warnUpdateRefused(updateRefused);
    if (waitSeconds > 0 && !hasAuthUrls(status)) logWaitWithoutUrls(logger, status, waitSeconds);
    deps.instanceRoutes?.remember(status.solutionInstanceId, status.connectionId);
    if (created) res.status(201).json(status);
    else res.status(200).json({ ...status, existing: true });
  });

  connections.get('/', listHandler(client, pageTokenKey([deps.webhookSecret, deps.apiToken]), logger));

  connections.get('/:id', async (req, res) => {
    const status = await getConnectionStatus(client, param(req, 'id', connectionIdParamSchema));
    deps.instanceRoutes?.remember(status.solutionInstanceId, status.connectionId);
    res.json(status);
  });

  connections.delete('/:id', async (req, res) => {
    const connectionId = param(req, 'id', connectionIdParamSchema);
    const { runId } = await cancelConnection(client, connectionId);
    logger.info({ connectionId, runId }, 'cancellation requested');
    res.status(202).json({ connectionId, runId, cancelRequested: true });
  });

  connections.post('/:id/auth-urls/:externalAuthId', async (req, res) => {
    const connectionId = param(req, 'id', connectionIdParamSchema);
    const externalAuthId = param(req, 'externalAuthId', externalAuthIdParamSchema);
    res.json(await reissueAuthUrl(client, connectionId, externalAuthId));
  });

  // A start whose body is not JSON (or not UTF-8): its `?wait` problems are listed too, so one answer
  // names them all.
  connections.use(((err, req, _res, next) => {
    const notUtf8 = err instanceof NotUtf8Error;
    const notJson = notUtf8 || (err as { type?: unknown } | undefined)?.type === 'entity.parse.failed';
    const wait = req.method === 'POST' && req.path === '/' ? waitOf(req).problems : [];
    if (!notJson || (wait.length === 0 && !notUtf8)) return next(err);
    next(
      new ApiError(400, 'invalid_json', 'The request body is not valid JSON', [
        { path: 'body', message: notUtf8 ? 'the body is not valid UTF-8' : 'the body is not valid JSON' },
        ...wait,
      ]),
    );
  }) as ErrorRequestHandler);
  return connections;
}
