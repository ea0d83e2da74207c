/**
 * The HTTP API as an express app (no listen): routes, access control, error shape.
 * `api/main.ts` runs it; tests mount it on an ephemeral port.
 */
import express, { type Express, type RequestHandler } from 'express';
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { CODEC_PATH, codecRouter, codecTokenOf, type CodecServerOptions } from './codec.js';
import { connectionsRouter } from './connections.js';
import { errorHandler, notFoundHandler, sendError } from './errors.js';
import { requestLogger } from './logging.js';
import { createApiMetrics } from './metrics.js';
import { requireClient } from './auth.js';
import { answerOptions, knownPaths, methodNotAllowed } from './method-not-allowed.js';
import { buildOpenApi } from './openapi.js';
import { trackRouteTemplate } from './route-template.js';
import { readinessCheck } from './readiness.js';
import type { TemporalConnectionConfig } from '../lib/temporal-connection.js';
import { InstanceRoutes } from './instance-routes.js';
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
  /** Serves the codec server protocol at /codec (while PAYLOAD_ENCRYPTION_KEYS is set). */
  codecServer?: CodecServerOptions;
  /** One span per request (api/tracing.ts), only when tracing is on. */
  traceRequests?: RequestHandler;
  /** The connection's settings, so that /readyz's warning can say why Temporal does not answer. */
  temporal?: TemporalConnectionConfig;
  /** API_PORT, which the OpenAPI document names for a client on this machine. */
  port?: number;
}

/**
 * The query as express's default parser reads it, but without its limit of 1,000 parameters, which
 * counts empty `&&` segments too: a query padded with them lost the filters or `?wait` after them,
 * unseen. Node's 16 KB bound on a request's head keeps the count small.
 */
function everyParameter(query: string): ParsedUrlQuery {
  return parseQuery(query, '&', '=', { maxKeys: 0 });
}

/** Builds the API. */
export function createApp(deps: AppDeps): Express {
  const { client, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', everyParameter);
  const metrics = createApiMetrics();
  const codecToken = codecTokenOf(deps.codecServer ?? {}, deps.apiToken);
  const openApi = buildOpenApi({
    codec: deps.codecServer !== undefined,
    ...(deps.port !== undefined && { localPort: deps.port }),
    tokenless: [
      ...(deps.apiToken === undefined ? ['/v1/connections'] : []),
      ...(codecToken === undefined ? [CODEC_PATH] : []),
    ],
  });
  const documented = knownPaths(openApi.paths as Record<string, unknown>);
  app.use(trackRouteTemplate(documented));
  if (deps.traceRequests) app.use(deps.traceRequests);
  app.use(metrics.observeRequests);
  app.use(requestLogger(logger));
  app.use((_req, res, next) => {
    // Answers carry one-time auth codes and personal data: no cache or proxy may keep them, and no
    // browser may read a JSON answer as anything else.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  // Unauthenticated, like /healthz: it carries counts, no ids or secrets.
  app.get('/metrics', metrics.serve);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const ready = readinessCheck(client, deps.namespace, logger, deps.temporal);
  app.get('/readyz', async (_req, res) => {
    if (await ready()) {
      res.json({ status: 'ready', temporal: 'ok' });
      return;
    }
    sendError(res, 503, 'temporal_unavailable', `Temporal namespace ${deps.namespace} is not reachable`);
  });

  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  // /v1/connections* is behind the access rule for every method, OPTIONS included.
  const access = requireClient(deps.apiToken);
  app.use('/v1/connections', (req, res, next) =>
    req.method === 'OPTIONS' ? access(req, res, next) : next(),
  );
  app.use(answerOptions(documented, CODEC_PATH));
  // The webhook parses its own raw body, so it is mounted before any JSON parser.
  app.post(WEBHOOK_PATH, metrics.observeWebhook);
  const instanceRoutes = new InstanceRoutes();
  app.use(webhookRouter({ client, webhookSecret: deps.webhookSecret, instanceRoutes, logger }));
  app.use('/v1/connections', connectionsRouter({ ...deps, instanceRoutes }));
  if (deps.codecServer) app.use(CODEC_PATH, codecRouter(deps.codecServer, deps.apiToken, logger));
  app.use(methodNotAllowed(documented));
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
