/**
 * The worker's telemetry: the Runtime's Prometheus endpoint (METRICS_PORT) carrying the SDK's metrics
 * and the project's own, and opt-in tracing (OTEL_EXPORTER_OTLP_ENDPOINT) whose code is only loaded
 * when it is on.
 */
import { createRequire } from 'node:module';
import type { Tracer } from '@opentelemetry/api';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { makeTelemetryFilterString } from '@temporalio/worker';
import type { InjectedSink, Logger, RuntimeOptions, WorkerOptions } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import { joinHostPort } from '../lib/host-port.js';
import type { WorkerConfig } from './config.js';

/** Where the Prometheus endpoint listens, for the start-up log; undefined when it is off. */
export function metricsAddress(config: WorkerConfig): string | undefined {
  if (config.metricsPort === undefined) return undefined;
  return joinHostPort(config.metricsHost, config.metricsPort);
}

/**
 * Which of the SDK core's lines are written: its warnings and errors as by default, but not its
 * lines that a poll or other call to Temporal is being retried unless `level` is debug or trace.
 * Those come from every poller about every two seconds while Temporal is unreachable (hundreds in a
 * few minutes of an outage; after about a minute the core writes them as errors, so they are turned
 * off, not only cut to errors) and say nothing the worker's own `could not count the workers`
 * warning and its `Temporal answers again` line do not; the core's other warnings, the shutdown ones
 * included, come from other targets and stay.
 */
export function coreLogFilter(level: string): string {
  const filter = makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' });
  return level === 'debug' || level === 'trace' ? filter : `${filter},temporalio_client::retry=OFF`;
}

/**
 * Runtime options: the logger, the SDK core's own lines as JSON, no signal handling of the Runtime's
 * own (worker/main.ts drains on SIGTERM), and with METRICS_PORT set a Prometheus endpoint at
 * `/metrics` on that port.
 */
export function runtimeOptions(config: WorkerConfig, logger: Logger, logLevel = 'info'): RuntimeOptions {
  const bindAddress = metricsAddress(config);
  return {
    logger,
    shutdownSignals: [],
    telemetryOptions: {
      // The core writes its own warnings (a lost heartbeat, a shutdown RPC) to stdout itself, by default
      // as ANSI-coloured text even into a pipe or a log collector; as JSON they are one line each like
      // the logger's. Not forwarded to the logger: the SDK hands those over asynchronously, and the
      // last ones before an exit (the very shutdown warnings) were lost in tests.
      logging: { console: { format: 'json' }, filter: coreLogFilter(logLevel) },
      ...(bindAddress ? { metrics: { prometheus: { bindAddress } } } : {}),
    },
  };
}

/**
 * The workflow info a workflow span carries: enough to find the run. The SDK's exporter copies the
 * whole info into every span's attributes, memo (Tray user and instance ids, authIds), search
 * attributes and last result or failure included, which PAYLOAD_ENCRYPTION_KEYS keeps encrypted in
 * history; a collector is not to get them in plain text.
 */
export const WORKFLOW_SPAN_INFO = [
  'namespace',
  'taskQueue',
  'workflowType',
  'workflowId',
  'runId',
  'attempt',
] as const;

/** `sink` with the workflow info it writes into each span cut down to WORKFLOW_SPAN_INFO. */
export function withRunIdsOnly(
  sink: InjectedSink<OpenTelemetryWorkflowExporter>,
): InjectedSink<OpenTelemetryWorkflowExporter> {
  return {
    export: {
      ...sink.export,
      fn: (info, spans) => {
        const ids = Object.fromEntries(WORKFLOW_SPAN_INFO.map((key) => [key, info[key]]));
        // The exporter only copies the fields it is given into the attributes.
        return sink.export.fn(ids as unknown as WorkflowInfo, spans);
      },
    },
  };
}

export interface WorkerTracing {
  tracer: Tracer;
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
  /** Bundled into the workflow code: they carry the trace from the start through every activity. */
  workflowInterceptorModules: string[];
  /** A warning when spans were left unsent (lib/tracing.ts). */
  shutdown(): Promise<string | undefined>;
}

/**
 * Tracing for the worker when `config.otlpEndpoint` is set: activity spans as children of the
 * workflow's, workflow spans exported through a sink with the run's ids only; undefined (nothing
 * loaded) otherwise.
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
    sinks: { exporter: withRunIdsOnly(otel.makeWorkflowExporter(tracing.spanProcessor, tracing.resource)) },
    workflowInterceptorModules: [
      require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
    ],
    shutdown: () => tracing.shutdown(),
  };
}
