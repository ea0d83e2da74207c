/**
 * The API's Prometheus metrics on `GET /metrics` (no authentication, like /healthz): HTTP requests by
 * route template and status (count and duration), webhook outcomes, and the process's own metrics.
 * Each app has its own registry, so several apps in one process (tests) do not share series.
 */
import type { Request, RequestHandler, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { routeTemplate } from './route-template.js';

/** What became of a webhook delivery, by the answer it got. */
export type WebhookOutcome =
  | 'accepted'
  | 'duplicate'
  | 'bad_signature'
  | 'invalid'
  | 'unknown_saga'
  | 'closed'
  | 'past_attach'
  | 'unknown_slot'
  | 'not_configured'
  | 'unavailable'
  | 'error';

/**
 * A handler that knows better than the status (a redelivery answered 202 like the first delivery)
 * sets `res.locals[WEBHOOK_OUTCOME]`; otherwise the status and error code decide.
 */
export const WEBHOOK_OUTCOME = 'webhookOutcome';

export interface ApiMetrics {
  registry: Registry;
  /** Mount first: times and counts every request once it is answered. */
  observeRequests: RequestHandler;
  /** Mount on the webhook's path before its handler: counts each delivery's outcome. */
  observeWebhook: RequestHandler;
  /** `GET /metrics`. */
  serve: RequestHandler;
}

const BY_STATUS: Record<number, WebhookOutcome> = {
  202: 'accepted',
  400: 'invalid',
  401: 'bad_signature',
  404: 'unknown_saga',
  413: 'invalid',
  415: 'invalid',
  422: 'unknown_slot',
};

/** The outcome of a webhook delivery answered with `status` and error `code`. */
export function webhookOutcome(status: number, code: string | undefined): WebhookOutcome {
  if (status === 409) return code === 'past_attach' ? 'past_attach' : 'closed';
  if (status === 503) return code === 'webhook_not_configured' ? 'not_configured' : 'unavailable';
  return BY_STATUS[status] ?? 'error';
}

function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Creates the registry and the middleware that feed it. */
export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'connect_saga_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'connect_saga_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route template and status',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'connect_saga_webhook_outcomes_total',
    help: 'auth-completed webhook deliveries, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  const observeRequests: RequestHandler = (req, res, next) => {
    const stop = duration.startTimer();
    res.on('finish', () => {
      const labels = { method: req.method, route: routeTemplate(req), status: String(res.statusCode) };
      requests.inc(labels);
      stop(labels);
    });
    next();
  };

  const observeWebhook: RequestHandler = (_req: Request, res: Response, next) => {
    let code: string | undefined;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      code = errorCode(body);
      return json(body);
    };
    res.on('finish', () => {
      const marked = res.locals[WEBHOOK_OUTCOME] as WebhookOutcome | undefined;
      webhooks.inc({ outcome: marked ?? webhookOutcome(res.statusCode, code) });
    });
    next();
  };

  const serve: RequestHandler = async (_req, res) => {
    res.setHeader('content-type', registry.contentType);
    res.send(await registry.metrics());
  };

  return { registry, observeRequests, observeWebhook, serve };
}
