/**
 * A saga whose cancel reaches the workflow in the same workflow task as one activity's result: the
 * moment a cancel can no longer stop that activity but the steps after it are never sent. Arranged
 * on a real server with two workers on one task queue: one for the activities, one for the workflow
 * that is stopped while the activity is held, so the cancel and the result wait for the same task.
 */
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { connectionIdFor, WORKFLOW_TYPE, type ConnectInput } from '../../common/messages.js';
import type { connectIntegration } from '../../workflows/index.js';
import {
  createMockActivities,
  type ActivityName,
  type MockActivities,
  type MockOptions,
} from './mock-activities.js';
import { mockSagaInput, type Handle, type MockSagaServer } from './mock-saga.js';
import { pollUntil } from './poll.js';
import { uniqueId } from './temporal.js';

/**
 * Starts the saga, cancels it while `activity` is held, lets the activity answer, and then runs the
 * workflow worker while `drive` watches the saga (by default until it closes).
 */
export async function cancelWithResultOf(
  server: MockSagaServer,
  bundle: WorkflowBundleWithSourceMap,
  activity: ActivityName,
  opts: {
    input?: Partial<ConnectInput>;
    mock?: MockOptions;
    taskQueue?: string;
    workflowId?: string;
    drive?: (handle: Handle, mock: MockActivities) => Promise<void>;
  } = {},
): Promise<{ handle: Handle; mock: MockActivities }> {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const mock = createMockActivities({ ...opts.mock, holds: { [activity]: held } });
  const taskQueue = opts.taskQueue ?? uniqueId('cancel-with-result');
  const namespace = server.namespace ?? 'default';
  const input = mockSagaInput(opts.input);
  const activityWorker = await Worker.create({
    connection: server.nativeConnection,
    namespace,
    taskQueue,
    activities: mock.activities,
  });
  // No cache, so no sticky queue: the workflow's next task goes to the task queue the second
  // workflow worker polls, not to the stopped one's.
  const workflowWorker = () =>
    Worker.create({
      connection: server.nativeConnection,
      namespace,
      taskQueue,
      workflowBundle: bundle,
      maxCachedWorkflows: 0,
    });
  return activityWorker.runUntil(async () => {
    try {
      const first = await workflowWorker();
      const saga = await first.runUntil(async () => {
        const handle: Handle = await server.client.workflow.start<typeof connectIntegration>(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: opts.workflowId ?? connectionIdFor(input.externalUserId, input.solutionId),
          args: [input],
        });
        await pollUntil(async () => mock.calls.some((c) => c.name === activity), {
          timeoutMs: 20_000,
          what: `${activity} to run`,
        });
        return handle;
      });
      await saga.cancel();
      release();
      await pollUntil(async () => ((await saga.describe()).raw.pendingActivities ?? []).length === 0, {
        timeoutMs: 20_000,
        what: `${activity}'s result in the history`,
      });
      const second = await workflowWorker();
      const drive =
        opts.drive ??
        ((h: Handle) =>
          h.result().then(
            () => undefined,
            () => undefined,
          ));
      await second.runUntil(drive(saga, mock));
      return { handle: saga, mock };
    } finally {
      release();
    }
  });
}
