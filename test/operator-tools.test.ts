/**
 * What operators do to sagas with Temporal's own tools (the Web UI and the `temporal` CLI issue these
 * same RPCs): a reset must not leave a second instance at Tray. Real dev server, worker, API and
 * emulator.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { reissueAuthUrlUpdate, type ConnectionStatus } from '../common/messages.js';
import { pollUntil } from './helpers/poll.js';
import { startStack } from './helpers/stack.js';
import { uniqueId } from './helpers/temporal.js';

const stack = await startStack();
after(() => stack.close());

const { EventType, PendingActivityState } = proto.temporal.api.enums.v1;

async function post(externalUserId: string): Promise<ConnectionStatus> {
  const res = await fetch(`${stack.apiUrl}/v1/connections`, {
    method: 'POST',
    headers: stack.headers(),
    body: JSON.stringify({ externalUserId, userName: 'Ada', solutionId: 'sol-1', authSlots: ['slack'] }),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as ConnectionStatus;
}

async function get(connectionId: string): Promise<ConnectionStatus> {
  const res = await fetch(`${stack.apiUrl}/v1/connections/${encodeURIComponent(connectionId)}`, {
    headers: stack.headers(),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as ConnectionStatus;
}

/** The run's first WorkflowTaskCompleted event: where the CLI's `--type FirstWorkflowTask` resets to. */
async function firstWorkflowTaskCompleted(workflowId: string, runId: string) {
  const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const event = history.events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  assert.ok(event?.eventId, 'the run has a completed workflow task');
  return event.eventId;
}

/** The create's scheduled event and the run's last WorkflowTaskCompleted event. */
async function createAndLastTask(workflowId: string, runId: string) {
  const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createInstance',
  );
  const last = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).at(-1);
  return { scheduled: scheduled?.eventId, last: last?.eventId };
}

async function createPendingAtLastTask(workflowId: string, runId: string): Promise<boolean> {
  const { scheduled, last } = await createAndLastTask(workflowId, runId);
  return !!scheduled && !!last && last.greaterThan(scheduled);
}

/** The run's last WorkflowTaskCompleted event: where the CLI's `--type LastWorkflowTask` resets to. */
async function lastWorkflowTaskCompleted(workflowId: string, runId: string) {
  const { scheduled, last } = await createAndLastTask(workflowId, runId);
  assert.ok(scheduled && last, 'the run scheduled the create and completed a task');
  assert.ok(last.greaterThan(scheduled), 'the create is pending at the reset point');
  return last;
}

function instancesOf(userId: string): string[] {
  return [...stack.emulator.emulator.store.instances.values()]
    .filter((instance) => instance.owner === userId)
    .map((instance) => instance.id);
}

test('a reset to the first workflow task adopts the instance the runs before it created', async () => {
  const started = await post(uniqueId('reset-user'));
  assert.equal(started.step, 'awaiting_auth');
  const { connectionId, runId, userId, solutionInstanceId } = started;
  assert.ok(userId && solutionInstanceId);

  const reset = await stack.client.workflowService.resetWorkflowExecution({
    namespace: stack.namespace,
    workflowExecution: { workflowId: connectionId, runId },
    reason: 'operator re-runs the saga',
    workflowTaskFinishEventId: await firstWorkflowTaskCompleted(connectionId, runId),
    requestId: randomUUID(),
  });
  const newRunId = reset.runId;
  assert.ok(newRunId && newRunId !== runId);

  const again = await pollUntil(
    async () => {
      const status = await get(connectionId);
      return status.runId === newRunId && status.step === 'awaiting_auth' && status.authSlots[0]?.url
        ? status
        : undefined;
    },
    { timeoutMs: 30_000, what: 'the reset run to hand out a fresh URL' },
  );
  // The reset ended the first run without compensation: a second create would leave its instance.
  assert.equal(again.solutionInstanceId, solutionInstanceId);
  assert.deepEqual(instancesOf(userId), [solutionInstanceId]);
});

async function listed(params: Record<string, string>): Promise<ConnectionStatus[]> {
  const res = await fetch(`${stack.apiUrl}/v1/connections?${new URLSearchParams(params).toString()}`, {
    headers: stack.headers(),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { connections: ConnectionStatus[] }).connections;
}

test('a terminated saga is listed under the step it shows (failed), not the step it was in', async () => {
  const externalUserId = uniqueId('terminated-user');
  const { connectionId } = await post(externalUserId);
  await stack.client.workflow.getHandle(connectionId).terminate('operator ends it by hand');

  // Its ConnectStep stays awaiting_auth: no workflow code runs after a terminate.
  const failed = await pollUntil(
    async () => {
      const items = await listed({ externalUserId, step: 'failed' });
      return items.length > 0 ? items : undefined;
    },
    { timeoutMs: 15_000, what: 'the terminated saga under step=failed' },
  );
  assert.deepEqual(
    failed.map((item) => [item.connectionId, item.step, item.error?.type]),
    [[connectionId, 'failed', 'Terminated']],
  );
  assert.deepEqual(await listed({ externalUserId, step: 'awaiting_auth' }), []);
  assert.equal((await listed({ externalUserId })).length, 1);
});

test('a reissue sent by hand without a slot is refused as an unknown slot, not retryable', async () => {
  const { connectionId } = await post(uniqueId('reissue-user'));
  const handle = stack.client.workflow.getHandle(connectionId);
  // What `temporal workflow update execute --name reissueAuthUrl` sends without --input, or with null.
  for (const payload of [undefined, null]) {
    const err = await handle.executeUpdate(reissueAuthUrlUpdate, { args: [payload as never] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'UnknownSlot');
    assert.equal(err.cause.nonRetryable, true);
  }
  assert.equal((await get(connectionId)).step, 'awaiting_auth');
});

test('a reset while the create was pending looks for the instance the ended run sent', async () => {
  const externalUserId = uniqueId('pending-create-user');
  const store = stack.emulator.emulator.store;
  // The create lands at Tray seconds after it was sent: the operator terminates before its answer.
  stack.emulator.emulator.faults.add({ operation: 'createSolutionInstance', kind: 'delay', delayMs: 5000 });
  const res = await fetch(`${stack.apiUrl}/v1/connections?wait=0`, {
    method: 'POST',
    headers: stack.headers(),
    body: JSON.stringify({ externalUserId, userName: 'Ada', solutionId: 'sol-1', authSlots: ['slack'] }),
  });
  assert.equal(res.status, 201);
  const { connectionId, runId } = (await res.json()) as ConnectionStatus;
  const userId = await pollUntil(
    async () => {
      const user = [...store.users.values()].find((u) => u.externalUserId === externalUserId);
      const { pendingActivities } = await stack.client.workflowService.describeWorkflowExecution({
        namespace: stack.namespace,
        execution: { workflowId: connectionId, runId },
      });
      const creating = pendingActivities?.some(
        (a) =>
          a.activityType?.name === 'createInstance' &&
          a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
      );
      // The reset point must lie after the create was scheduled: a later task (the codes' answers)
      // has completed, or the reset would drop the create and schedule it afresh.
      return user && creating && (await createPendingAtLastTask(connectionId, runId)) ? user.id : undefined;
    },
    { timeoutMs: 30_000, what: 'the create to be sent and a later task to complete' },
  );
  const handle = stack.client.workflow.getHandle(connectionId, runId);
  await handle.terminate('operator ends it while it creates');
  const [landed] = await pollUntil(
    async () => (instancesOf(userId).length > 0 ? instancesOf(userId) : undefined),
    { timeoutMs: 15_000, what: 'the create sent before the terminate to land' },
  );

  const reset = await stack.client.workflowService.resetWorkflowExecution({
    namespace: stack.namespace,
    workflowExecution: { workflowId: connectionId, runId },
    reason: 'operator undoes the terminate',
    workflowTaskFinishEventId: await lastWorkflowTaskCompleted(connectionId, runId),
    requestId: randomUUID(),
  });
  const again = await pollUntil(
    async () => {
      const status = await get(connectionId);
      return status.runId === reset.runId && status.step === 'awaiting_auth' ? status : undefined;
    },
    { timeoutMs: 30_000, what: 'the reset run to await auths' },
  );
  assert.equal(again.solutionInstanceId, landed);
  assert.deepEqual(instancesOf(userId), [landed]);
});
