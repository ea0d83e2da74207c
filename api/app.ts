/**
 * The HTTP API as an express app (no listen): routes, body limits, access control, error shape.
 * `api/main.ts` runs it; tests mount it on an ephemeral port.
 */
import express, { type Express, type Request, type RequestHandler } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { connectionIdFor, type ConnectInput } from '../common/messages.js';
import { requireClient } from './auth.js';
import { ApiError, errorHandler, notFoundHandler, sendError } from './errors.js';
import { requestLogger } from './logging.js';
import { createApiMetrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
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
import {
  cancelConnection,
  getConnectionStatus,
  reissueAuthUrl,
  startConnection,
  waitForAuthUrls,
} from './temporal.js';
import { trackRouteTemplate } from './route-template.js';
import { WEBHOOK_PATH, webhookRouter } from './webhook.js';

export interface AppDeps {
  client: Client;
  taskQueue: string;
  namespace: string;
  /** Bearer token for /v1/connections*; unset: loopback clients only. */
  apiToken?: string;
  /** `whsec_…`; unset: the webhook answers 503. */
  webhookSecret?: string;
  logger: Logger;
  /** One span per request (api/tracing.ts), only when tracing is on. */
  traceRequests?: RequestHandler;
}

const BODY_LIMIT = '64kb';
const READY_TIMEOUT_MS = 2_000;

function param(req: Request, name: string, schema: typeof connectionIdParamSchema): string {
  const parsed = schema.safeParse(req.params[name]);
  if (!parsed.success)
    throw new ApiError(400, 'invalid_input', `Invalid ${name}`, problemsOf(parsed.error, name));
  return parsed.data;
}

/** Builds the API. */
export function createApp(deps: AppDeps): Express {
  const { client, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const metrics = createApiMetrics();
  app.use(trackRouteTemplate());
  if (deps.traceRequests) app.use(deps.traceRequests);
  app.use(metrics.observeRequests);
  app.use(requestLogger(logger));
  // Unauthenticated, like /healthz: it carries counts, no ids or secrets.
  app.get('/metrics', metrics.serve);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await client.withDeadline(Date.now() + READY_TIMEOUT_MS, () =>
        client.workflowService.describeNamespace({ namespace: deps.namespace }),
      );
      res.json({ status: 'ready', temporal: 'ok' });
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'readiness check failed');
      sendError(res, 503, 'temporal_unavailable', `Temporal namespace ${deps.namespace} is not reachable`);
    }
  });

  const openApi = buildOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  // The webhook parses its own raw body, so it is mounted before the JSON parser.
  app.post(WEBHOOK_PATH, metrics.observeWebhook);
  app.use(webhookRouter({ client, webhookSecret: deps.webhookSecret }));

  const connections = express.Router();
  connections.use(requireClient(deps.apiToken));
  // Any content type is read as JSON: `curl -d` without a Content-Type header still works.
  connections.use(express.json({ limit: BODY_LIMIT, type: () => true, strict: false }));

  connections.post('/', async (req, res) => {
    const tooDeep = nestingProblem(req.body);
    if (tooDeep) throw new ApiError(400, 'invalid_input', 'The request is invalid', [tooDeep]);
    const problems: Problem[] = [];
    const body = connectInputSchema.safeParse(req.body ?? {});
    if (!body.success) problems.push(...problemsOf(body.error));
    let waitSeconds = DEFAULT_WAIT_SECONDS;
    const rawWait = req.query.wait;
    if (rawWait !== undefined) {
      const wait = waitSchema.safeParse(rawWait);
      if (wait.success) waitSeconds = wait.data;
      else problems.push(...problemsOf(wait.error, '?wait').map((p) => ({ ...p, path: '?wait' })));
    }
    if (body.success) {
      const tooLong = connectionIdProblem(connectionIdFor(body.data.externalUserId, body.data.solutionId));
      if (tooLong) problems.push(tooLong);
    }
    if (!body.success || problems.length > 0) {
      throw new ApiError(400, 'invalid_input', 'The request is invalid', problems);
    }
    const input: ConnectInput = body.data;
    const started = await startConnection(client, deps.taskQueue, input);
    logger.info(
      { connectionId: started.connectionId, runId: started.runId, created: started.created },
      started.created ? 'saga started' : 'saga already running',
    );
    const status = await waitForAuthUrls(client, started.connectionId, started.runId, waitSeconds * 1000);
    if (started.created) res.status(201).json(status);
    else res.status(200).json({ ...status, existing: true });
  });

  connections.get('/:id', async (req, res) => {
    res.json(await getConnectionStatus(client, param(req, 'id', connectionIdParamSchema)));
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

  app.use('/v1/connections', connections);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
