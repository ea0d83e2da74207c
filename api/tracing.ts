/**
 * The API's tracing, loaded with `await import()` only when OTEL_EXPORTER_OTLP_ENDPOINT is set: one
 * server span per request, active while the request is handled, so the Temporal client's spans
 * (starting the workflow, signalling it) and through their headers the workflow's and the activities'
 * spans join the request's trace.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { RequestHandler } from 'express';
import { startTracing } from '../lib/tracing.js';
import { routeTemplate } from './route-template.js';

export interface ApiTracing {
  /** For `new Client({ interceptors: { workflow } })`. */
  workflowInterceptors: WorkflowClientInterceptor[];
  /** For `createApp({ traceRequests })`. */
  traceRequests: RequestHandler;
  /** A warning when spans were left unsent (lib/tracing.ts). */
  shutdown(): Promise<string | undefined>;
}

/** Registers the tracer provider and builds the client interceptors and the request middleware. */
export function startApiTracing(): ApiTracing {
  const tracing = startTracing('connect-saga-api');
  const traceRequests: RequestHandler = (req, res, next) => {
    const span = tracing.tracer.startSpan(`${req.method}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method },
    });
    // 'close' also comes when the client goes away before the answer.
    res.once('close', () => {
      const route = routeTemplate(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
  return {
    workflowInterceptors: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })],
    traceRequests,
    shutdown: () => tracing.shutdown(),
  };
}
