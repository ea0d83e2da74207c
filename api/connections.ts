/**
 * The /v1/connections routes: start a saga and wait for its auth URLs, list sagas, read its status,
 * cancel it, reissue an auth URL. Behind the API's access control; bodies are read as JSON.
 */
import type { InstanceRoutes } from './instance-routes.js';
import express, { type ErrorRequestHandler, type Request, type Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { connectionIdFor, type ConnectInput } from '../common/messages.js';
import { requireClient } from './auth.js';
import { BODY_LIMIT_BYTES } from './body-limit.js';
import { ApiError } from './errors.js';
import { listHandler } from './list.js';
import { pageTokenKey } from './list-query.js';
import { cancelConnection, reissueAuthUrl } from './saga-commands.js';
import { getConnectionStatus } from './saga-reads.js';
import { startAndWaitForUrls } from './saga-start.js';
import {
  connectInputSchema,
  connectionIdParamSchema,
  connectionIdProblem,
  DEFAULT_WAIT_SECONDS,
  externalAuthIdParamSchema,
  nestingProblem,
  problemsOf,
  waitSchema,
  type Problem,
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

/** `?wait` in seconds, or the problems with it. */
function waitOf(req: Request): { waitSeconds: number; problems: Problem[] } {
  const rawWait = req.query.wait;
  if (rawWait === undefined) return { waitSeconds: DEFAULT_WAIT_SECONDS, problems: [] };
  const wait = waitSchema.safeParse(rawWait);
  if (wait.success) return { waitSeconds: wait.data, problems: [] };
  return {
    waitSeconds: DEFAULT_WAIT_SECONDS,
    problems: problemsOf(wait.error, '?wait').map((p) => ({ ...p, path: '?wait' })),
  };
}

/** Validates a POST: the body, `?wait` and the length of the connection id, every problem at once. */
function startRequest(req: Request): StartRequest {
  const { waitSeconds, problems } = waitOf(req);
  const tooDeep = nestingProblem(req.body);
  if (tooDeep) throw new ApiError(400, 'invalid_input', 'The request is invalid', [tooDeep, ...problems]);
  const body = connectInputSchema.safeParse(req.body ?? {});
  if (!body.success) problems.unshift(...problemsOf(body.error));
  const invalid = () => new ApiError(400, 'invalid_input', 'The request is invalid', problems);
  if (!body.success) throw invalid();
  const connectionId = connectionIdFor(body.data.externalUserId, body.data.solutionId);
  const tooLong = connectionIdProblem(connectionId);
  if (tooLong) problems.push(tooLong);
  if (problems.length > 0) throw invalid();
  return { input: body.data, connectionId, waitSeconds };
}

/** The /v1/connections router. */
export function connectionsRouter(deps: ConnectionsDeps): Router {
  const { client, logger } = deps;
  const connections = express.Router();
  connections.use(requireClient(deps.apiToken));
  // Any content type is read as JSON: `curl -d` without a Content-Type header still works. Only a
  // POST's body is read: a body sent with GET or DELETE means nothing, so it cannot fail them.
  const json = express.json({ limit: BODY_LIMIT_BYTES, type: () => true, strict: false });
  connections.use((req, res, next) => (req.method === 'POST' ? json(req, res, next) : next()));

  connections.post('/', async (req, res) => {
    const { input, connectionId, waitSeconds } = startRequest(req);
    const { status, created } = await startAndWaitForUrls(
      client,
      deps.taskQueue,
      input,
      connectionId,
      waitSeconds * 1000,
    );
    logger.info(
      { connectionId, runId: status.runId, created },
      created ? 'saga started' : 'saga already running',
    );
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

  // A start whose body is not JSON: its `?wait` problems are listed too, so one answer names them all.
  connections.use(((err, req, _res, next) => {
    const notJson = (err as { type?: unknown } | undefined)?.type === 'entity.parse.failed';
    const wait = req.method === 'POST' && req.path === '/' ? waitOf(req).problems : [];
    if (!notJson || wait.length === 0) return next(err);
    next(
      new ApiError(400, 'invalid_json', 'The request body is not valid JSON', [
        { path: 'body', message: 'the body is not valid JSON' },
        ...wait,
      ]),
    );
  }) as ErrorRequestHandler);
  return connections;
}
