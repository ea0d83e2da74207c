/**
 * Signalling a saga at most once per webhook delivery. The SDK's `handle.signal` gives every call a
 * random request id. The server remembers the request ids of a run's signals and drops a signal
 * whose id it has seen, so a request id derived from the `webhook-id` turns a replayed or redelivered
 * webhook into a no-op in the history too, on whichever API replica it lands. Without it, one
 * captured delivery replayed thousands of times within the signature's tolerance would fill the
 * saga's history until the history guard fails the saga.
 */
import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowClientInterceptor,
  type WorkflowSignalInput,
} from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { GrpcStatus } from '../lib/grpc-status.js';

/** The request id for a signal that `key` (e.g. a webhook-id) identifies: the same key, the same id. */
export function signalRequestId(signalName: string, key: string): string {
  return createHash('sha256').update(`${signalName}\u0000${key}`).digest('hex');
}

/**
 * Sends `signal` with `requestId` as its request id, through the client's interceptors (so tracing
 * headers still go along) and data converter (so the payload is encrypted like any other).
 * Throws `WorkflowNotFoundError` when the run is gone, and the gRPC error otherwise.
 */
export async function signalOnce<Args extends unknown[]>(
  client: Client,
  execution: { workflowId: string; runId?: string },
  signal: SignalDefinition<Args>,
  args: Args,
  requestId: string,
): Promise<void> {
  const { namespace, identity, loadedDataConverter } = client.options;
  const send = async (input: WorkflowSignalInput): Promise<void> => {
    try {
      await client.workflowService.signalWorkflowExecution({
        namespace,
        identity,
        requestId,
        workflowExecution: input.workflowExecution,
        signalName: input.signalName,
        header: { fields: input.headers },
        input: { payloads: await encodeToPayloads(loadedDataConverter, ...input.args) },
      });
    } catch (err) {
      if (isGrpcServiceError(err) && err.code === GrpcStatus.NOT_FOUND) {
        throw new WorkflowNotFoundError(
          err.details || 'Workflow not found',
          execution.workflowId,
          execution.runId,
        );
      }
      throw err;
    }
  };
  // The first interceptor is the outermost, as in the SDK's own chain.
  const interceptors = client.workflow.options.interceptors;
  const list: WorkflowClientInterceptor[] = Array.isArray(interceptors) ? interceptors : [];
  const call = list.reduceRight<(input: WorkflowSignalInput) => Promise<void>>((next, interceptor) => {
    const own = interceptor.signal?.bind(interceptor);
    return own ? (input) => own(input, next) : next;
  }, send);
  await call({ workflowExecution: execution, signalName: signal.name, args, headers: {} });
}
