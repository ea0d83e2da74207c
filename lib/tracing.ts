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
  /**
   * Sends what is still buffered; call before the process exits. Never rejects: resolves to a
   * warning to log when the collector refused the spans or did not answer within FLUSH_TIMEOUT_MS.
   */
  shutdown(): Promise<string | undefined>;
}

/**
 * How long a stop waits for the collector. The exporter's own timeout is 10 s, and a stop has less:
 * the API drains for up to 20 s of its 25 s grace, and a collector that is down must not cost a
 * SIGKILL.
 */
export const FLUSH_TIMEOUT_MS = 3_000;

const UNSENT = `traces not all sent: the OTLP collector refused them or did not answer within ${FLUSH_TIMEOUT_MS / 1000} s`;

/** `provider.shutdown()`, bounded by FLUSH_TIMEOUT_MS; undefined when every span was sent. */
async function flushWithin(provider: NodeTracerProvider): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(resolve, FLUSH_TIMEOUT_MS, UNSENT);
    timer.unref();
  });
  const sent = provider.shutdown().then(
    () => undefined,
    () => UNSENT,
  );
  try {
    return await Promise.race([sent, late]);
  } finally {
    clearTimeout(timer);
  }
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
    shutdown: () => flushWithin(provider),
  };
}
