/**
 * OpenTelemetry tracing for a process, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Callers load
 * this module with `await import()` then, so without it no OpenTelemetry code runs. Spans go to the
 * collector as OTLP/HTTP (JSON), batched; the exporter reads the standard OTEL_EXPORTER_OTLP_* and
 * OTEL_BSP_* variables itself.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface Tracing {
  tracer: Tracer;
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends what is still buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Registers a global tracer provider (with an AsyncLocalStorage context manager, so a span started
 * in a request or an activity is the parent of what that code does) exporting to the collector.
 */
export function startTracing(serviceName: string): Tracing {
  const resource = new Resource({ 'service.name': process.env.OTEL_SERVICE_NAME || serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  return {
    tracer: trace.getTracer('connect-saga'),
    resource,
    spanProcessor,
    shutdown: () => provider.shutdown(),
  };
}
