/**
 * Every Tray request, counted and timed through the SDK's metric meter (so it reaches the worker's
 * Prometheus endpoint next to the SDK's own metrics) and, when tracing is on, wrapped in a span that
 * is a child of the activity's span. A decorator around the Tray client, so the activities stay as
 * they are; outside an activity (no meter to use) requests pass through unobserved.
 */
import type { Tracer } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { operationName, type TrayClient } from '../activities/tray-client.js';

export const TRAY_REQUESTS_METRIC = 'connect_saga_tray_requests';
export const TRAY_LATENCY_METRIC = 'connect_saga_tray_request_latency';

/** ok; retryable (a transient failure Temporal retries); permanent; rate_limited (Tray said slow down). */
export type TrayOutcome = 'ok' | 'retryable' | 'permanent' | 'rate_limited';

/** How a Tray request ended, from the failure the Tray client threw (or none). */
export function trayOutcome(error: unknown): TrayOutcome {
  if (error === undefined) return 'ok';
  if (!(error instanceof ApplicationFailure)) return 'retryable';
  if (error.type === TRAY_FAILURE_TYPES.rateLimited) return 'rate_limited';
  return error.nonRetryable ? 'permanent' : 'retryable';
}

function activityMeter(): MetricMeter | undefined {
  try {
    return Context.current().metricMeter;
  } catch {
    return undefined;
  }
}

function record(operation: string, startedMs: number, error: unknown): void {
  const meter = activityMeter();
  if (!meter) return;
  const tags = { operation, outcome: trayOutcome(error) };
  meter
    .createCounter(TRAY_REQUESTS_METRIC, '1', 'Tray GraphQL requests by operation and outcome')
    .add(1, tags);
  meter
    .createHistogram(TRAY_LATENCY_METRIC, 'float', 'ms', 'Tray GraphQL request duration')
    .record(Date.now() - startedMs, tags);
}

/**
 * `tray` with every request observed. `tracer` (from lib/tracing.ts, only when tracing is on) adds a
 * span per request named `Tray <operation>`, failed when the request failed.
 */
export function observeTrayClient(tray: TrayClient, tracer?: Tracer): TrayClient {
  return {
    async request<T>(...args: Parameters<TrayClient['request']>): Promise<T> {
      const operation = operationName(args[0]);
      const startedMs = Date.now();
      const send = () => tray.request<T>(...args);
      let error: unknown;
      try {
        if (!tracer) return await send();
        return await tracer.startActiveSpan(`Tray ${operation}`, async (span) => {
          span.setAttribute('tray.operation', operation);
          try {
            return await send();
          } catch (err) {
            span.setAttribute('tray.outcome', trayOutcome(err));
            // 2 is SpanStatusCode.ERROR; the enum would load @opentelemetry/api with tracing off.
            span.setStatus({ code: 2, message: err instanceof Error ? err.message : String(err) });
            throw err;
          } finally {
            span.end();
          }
        });
      } catch (err) {
        error = err;
        throw err;
      } finally {
        record(operation, startedMs, error);
      }
    },
  };
}
