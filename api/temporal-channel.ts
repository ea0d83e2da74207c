/**
 * The API's connection to Temporal. gRPC's default reconnect backoff grows to 2 minutes while the
 * server is away, so after an outage of a few minutes (a Temporal upgrade, a restarted dev server)
 * the API kept answering 503 for up to two more minutes although the server was back. Capping the
 * backoff lets it notice the server within seconds; while the server is down that costs one TCP
 * connect attempt every few seconds.
 */
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import type { TemporalConnectionOptions } from '../lib/temporal-connection.js';
import { saysTooManyUpdates } from './update-limit.js';

/** The longest pause between two attempts to reconnect, before gRPC's jitter of ±20 %. */
export const MAX_RECONNECT_BACKOFF_MS = 5_000;

const UPDATE_PATH = '/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecution';

/**
 * The SDK's retries, except of an update the server refused for its limit of updates in flight on
 * one workflow: retried in gRPC, that one ran into the reissue's deadline and was answered as a saga
 * that did not answer; the reissue retries it itself and can then say why it gave up.
 */
export function apiGrpcInterceptors(): NonNullable<ConnectionOptions['interceptors']> {
  const defaults = defaultGrpcRetryOptions();
  const retry = makeGrpcRetryInterceptor(defaults);
  const updateRetry = makeGrpcRetryInterceptor({
    ...defaults,
    retryableDecider: (attempt, status) =>
      !saysTooManyUpdates(status) && defaults.retryableDecider(attempt, status),
  });
  return [
    (options, nextCall) =>
      (options.method_definition.path === UPDATE_PATH ? updateRetry : retry)(options, nextCall),
  ];
}

/** A lazy connection (it connects on first use and reconnects by itself) with the capped backoff. */
export function apiConnection(options: TemporalConnectionOptions): Connection {
  return Connection.lazy({
    ...options,
    channelArgs: { 'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS },
    interceptors: apiGrpcInterceptors(),
  });
}
