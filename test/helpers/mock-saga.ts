/**
 * One saga on its own task queue, with its own worker over mock activities: the set-up the workflow
 * tests share (workflow, foreign authIds, rate limits).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { sagaStartOptions } from '../../api/start-options.js';
import { connectionIdFor, WORKFLOW_TYPE, type ConnectInput } from '../../common/messages.js';
import type { connectIntegration } from '../../workflows/index.js';
import { createMockActivities, type MockActivities, type MockOptions } from './mock-activities.js';
import { uniqueId } from './temporal.js';

export type Handle = WorkflowHandle<typeof connectIntegration>;

/** What a saga needs of a server: a client, a worker connection and the namespace. */
export interface MockSagaServer {
  client: Client;
  nativeConnection: NativeConnection;
  namespace?: string;
}

export interface MockSaga {
  handle: Handle;
  mock: MockActivities;
  input: ConnectInput;
}

/** The input a mock saga gets: a user of its own, one slack slot, sol-1, 1 h to authorise. */
export function mockSagaInput(overrides: Partial<ConnectInput> = {}): ConnectInput {
  return {
    externalUserId: uniqueId('user'),
    userName: 'Ada',
    solutionId: 'sol-1',
    authSlots: ['slack'],
    authTimeout: '1h',
    ...overrides,
  };
}

/** Starts one saga (one slack slot, sol-1, 1 h to authorise unless `input` says otherwise), runs `body`, stops the worker. */
export async function runMockSaga<T>(
  server: MockSagaServer,
  bundle: WorkflowBundleWithSourceMap,
  opts: {
    mock?: MockOptions;
    input?: Partial<ConnectInput>;
    queuePrefix: string;
    /** Start it with no argument at all, as a direct start may (`input` is still handed to `body`). */
    withoutInput?: boolean;
    /** Start it as the API does: with the first step's search attributes and memo. */
    asTheApiStarts?: boolean;
    /** Start it under this workflow id rather than its connection id. */
    workflowId?: string;
  },
  body: (saga: MockSaga) => Promise<T>,
): Promise<T> {
  const mock = createMockActivities(opts.mock);
  const taskQueue = uniqueId(opts.queuePrefix);
  const input = mockSagaInput(opts.input);
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace ?? 'default',
    taskQueue,
    workflowBundle: bundle,
    activities: mock.activities,
  });
  return worker.runUntil(async () => {
    // The saga refuses any other id; a test's deliberately bad input is refused before it looks.
    const workflowId =
      opts.workflowId ?? connectionIdFor(String(input.externalUserId), String(input.solutionId));
    const handle: Handle = await server.client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
      ...(opts.asTheApiStarts ? sagaStartOptions(taskQueue, input, workflowId, uniqueId('request')) : {}),
      taskQueue,
      workflowId,
      // Typed for the API's starts; a direct start may pass nothing, which the saga must refuse.
      args: (opts.withoutInput ? [] : [input]) as [ConnectInput],
    });
    return body({ handle, mock, input });
  });
}
