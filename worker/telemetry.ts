/**
 * The worker's telemetry: the Runtime's Prometheus endpoint (METRICS_PORT) carrying the SDK's metrics
 * and the project's own, and opt-in tracing (OTEL_EXPORTER_OTLP_ENDPOINT) whose code is only loaded
 * when it is on.
 */
import { createRequire } from 'node:module';
import type { Tracer } from '@opentelemetry/api';
import type { Logger, RuntimeOptions, WorkerOptions } from '@temporalio/worker';
import type { WorkerConfig } from './config.js';

/** Where the Prometheus endpoint listens, for the start-up log; undefined when it is off. */
export function metricsAddress(config: WorkerConfig): string | undefined {
  if (config.metricsPort === undefined) return undefined;
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  return `${host}:${config.metricsPort}`;
}

/**
 * Runtime options: the logger, the SDK core's own lines as JSON, no signal handling of the Runtime's
 * own (worker/main.ts drains on SIGTERM), and with METRICS_PORT set a Prometheus endpoint at
 * `/metrics` on that port.
 */
export function runtimeOptions(config: WorkerConfig, logger: Logger): RuntimeOptions {
  const bindAddress = metricsAddress(config);
  return {
    logger,
    shutdownSignals: [],
    telemetryOptions: {
      // The core writes its own warnings (a failed poll, a shutdown RPC) to stderr itself, by default
      // as ANSI-coloured text even into a pipe or a log collector; as JSON they are one line each like
      // the logger's. Not forwarded to the logger: the SDK hands those over asynchronously, and the
      // last ones before an exit (the very shutdown warnings) were lost in tests.
      logging: { console: { format: 'json' } },
      ...(bindAddress ? { metrics: { prometheus: { bindAddress } } } : {}),
    },
  };
}

export interface WorkerTracing {
  tracer: Tracer;
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
  /** Bundled into the workflow code: they carry the trace from the start through every activity. */
  workflowInterceptorModules: string[];
  shutdown(): Promise<void>;
}

/**
 * Tracing for the worker when `config.otlpEndpoint` is set: activity spans as children of the
 * workflow's, workflow spans exported through a sink; undefined (nothing loaded) otherwise.
 */
export async function workerTracing(config: WorkerConfig): Promise<WorkerTracing | undefined> {
  if (!config.otlpEndpoint) return undefined;
  const { startTracing } = await import('../lib/tracing.js');
  const otel = await import('@temporalio/interceptors-opentelemetry');
  const tracing = startTracing('connect-saga-worker');
  const require = createRequire(import.meta.url);
  return {
    tracer: tracing.tracer,
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: otel.makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
    workflowInterceptorModules: [
      require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
    ],
    shutdown: () => tracing.shutdown(),
  };
}
