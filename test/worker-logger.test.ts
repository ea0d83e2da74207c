/**
 * The worker's log lines for the SDK's "Activity failed": a classified Tray failure (a 429, a 503, a
 * timeout) is logged without its stack, which repeats the same client frames at every attempt of a
 * rate-limit storm; any other error keeps its stack for debugging. A saga's own end ("Workflow
 * failed") keeps its first line only too.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { pino } from 'pino';
import { failure } from '../activities/tray-errors.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { REDACT } from '../lib/redact.js';
import { temporalLogger } from '../worker/logger.js';
import proto from '@temporalio/proto';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  // Redacting as the worker's own logger does (createWorkerLogger).
  return { lines, logger: temporalLogger(pino({ level: 'info', redact: REDACT }, stream)) };
}

test('a classified Tray failure is logged with its type, message and details, not its stack', () => {
  const { lines, logger } = capture();
  const rateLimited = failure(
    TRAY_FAILURE_TYPES.rateLimited,
    'Tray FindUser: rate limit exceeded (HTTP 429)',
    false,
    { operation: 'FindUser', code: 'rate_limited', httpStatus: 429, retryAfterMs: 2000, attempt: 1 },
    2000,
  );
  logger.warn('Activity failed', { activityType: 'findUser', error: rateLimited });
  const err = lines[0]?.err as Record<string, unknown>;
  assert.equal(lines[0]?.activityType, 'findUser');
  assert.equal(err.message, 'Tray FindUser: rate limit exceeded (HTTP 429)');
  assert.equal(err.type, 'ApplicationFailure');
  assert.deepEqual(err.details, [
    { operation: 'FindUser', code: 'rate_limited', httpStatus: 429, retryAfterMs: 2000, attempt: 1 },
  ]);
  assert.equal(err.nextRetryDelay, 2000);
  assert.doesNotMatch(String(err.stack), /\bat /, 'no stack frames for an expected Tray answer');
});

test("the saga's own lines keep their plain error, which names Tray's reason", () => {
  const { lines, logger } = capture();
  const error = { type: 'TrayTransientError', message: 'Tray FindInstances: network error (ECONNREFUSED)' };
  logger.warn('could not remove stray instances yet; trying again', { error, at: '2026-11-30T00:12:39Z' });
  assert.deepEqual(lines[0]?.error, error);
  assert.equal(lines[0]?.at, '2026-11-30T00:12:39Z');
});

test('any other error keeps its stack', () => {
  const { lines, logger } = capture();
  logger.warn('Activity failed', { error: new TypeError('a bug') });
  logger.warn('Activity failed', { error: ApplicationFailure.nonRetryable('bad input', 'InvalidInput') });
  for (const line of lines) {
    const err = line.err as Record<string, unknown>;
    assert.match(String(err.stack), /at /, 'a stack to debug it');
  }
});

test("a saga's own failure, which the SDK logs as Workflow failed, is logged without its stack", () => {
  const { lines, logger } = capture();
  const timedOut = ApplicationFailure.create({
    type: 'AuthTimeout',
    message: 'auths not completed by 2026-11-29T21:00:00.000Z; pending: slack',
    nonRetryable: true,
  });
  logger.warn('Workflow failed', { error: timedOut, workflowId: 'connect:u:s' });
  const err = lines[0]?.err as Record<string, unknown>;
  assert.equal(lines[0]?.workflowId, 'connect:u:s');
  assert.equal(err.message, timedOut.message);
  assert.equal(err.type, 'ApplicationFailure');
  assert.doesNotMatch(String(err.stack), /\bat /, 'no bundle frames for a saga that ended as designed');
});

test("a saga failed by a permanent Tray error logs its causes' first lines, not their frames", () => {
  const { lines, logger } = capture();
  const tray = failure(TRAY_FAILURE_TYPES.permanent, 'Tray CreateInstance: error: nope', true, {
    operation: 'CreateInstance',
    code: 'error',
  });
  const wrapper = new Error('Activity task failed', { cause: tray });
  const failed = ApplicationFailure.create({
    type: TRAY_FAILURE_TYPES.permanent,
    message: tray.message,
    nonRetryable: true,
    cause: wrapper,
  });
  logger.warn('Workflow failed', { error: failed });
  const stack = String((lines[0]?.err as Record<string, unknown>).stack);
  // pino appends each cause's stack; every one of them is its first line.
  assert.match(stack, /caused by: Error: Activity task failed/);
  assert.match(stack, /Tray CreateInstance: error: nope/);
  assert.doesNotMatch(stack, /\bat /, stack);
});

const { coresdk } = proto;

test('at trace level the payloads in the tasks the SDK logs are left out, their size kept', () => {
  const code = 'c0de5ecret1234567890abcdef';
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const logger = temporalLogger(pino({ level: 'trace', redact: REDACT }, stream));
  const json = (value: unknown) => ({
    metadata: { encoding: Buffer.from('json/plain') },
    data: Buffer.from(JSON.stringify(value)),
  });
  const result = { codes: [{ externalAuthId: 'slack', code }] };
  // What the worker logs as "Got workflow activation": the decoded protobuf message, as is.
  const { WorkflowActivation } = coresdk.workflow_activation;
  const activation = WorkflowActivation.decode(
    WorkflowActivation.encode({
      runId: 'run-1',
      jobs: [{ resolveActivity: { seq: 1, result: { completed: { result: json(result) } } } }],
    }).finish(),
  );
  logger.trace('Got workflow activation', activation as unknown as Record<string, unknown>);
  const { ActivityTask } = coresdk.activity_task;
  const task = ActivityTask.decode(
    ActivityTask.encode({
      taskToken: Buffer.from('a-task-token'),
      start: { activityType: 'issueAuthUrls', input: [json({ code })] },
    }).finish(),
  );
  logger.trace('Got activity task', { taskToken: 'dA==', task });
  assert.equal(lines.length, 2);
  const all = JSON.stringify(lines);
  for (const form of [code, Buffer.from(JSON.stringify(result)).toString('base64').slice(8, 40)])
    assert.ok(!all.includes(form), `payload logged: ${all}`);
  assert.ok(!all.includes(Buffer.from(JSON.stringify({ code })).toString('base64').slice(4, 30)));
  assert.ok(!all.includes(Buffer.from('a-task-token').toString('base64')), 'task token logged');
  assert.ok(!all.includes('dA=='), 'task token logged');
  assert.match(all, /"runId":"run-1"/);
  assert.match(all, /"activityType":"issueAuthUrls"/);
  assert.match(all, /bytes, not logged/);
  // The encoding still says what kind of payload it was.
  assert.match(all, new RegExp(Buffer.from('json/plain').toString('base64')));
});

test('below the level pino writes, the task dumps the SDK hands over on every activation are not serialised', () => {
  let serialised = 0;
  const activation = { runId: 'run-1', toJSON: () => (serialised++, { runId: 'run-1' }) };
  const logger = temporalLogger(pino({ level: 'info' }, { write: () => undefined }));
  logger.trace('Got workflow activation', { activation });
  logger.debug('Got activity task', { activation });
  assert.equal(serialised, 0);
});

test("an activity's task token, which the SDK puts on each of its log lines, is not written", () => {
  const { lines, logger } = capture();
  const taskToken = Buffer.from('a-task-token-that-completes-the-activity').toString('base64');
  logger.info('Removed solution instance(s)', { taskToken, activityType: 'removeInstance' });
  assert.equal(lines[0]?.activityType, 'removeInstance');
  assert.ok(!JSON.stringify(lines).includes(taskToken), JSON.stringify(lines));
});

test("the core's task token, under its own name or written into text, is not written", () => {
  const { lines, logger } = capture();
  const token = Buffer.from('a-task-token-that-completes-the-activity').toString('base64');
  // As the SDK forwards sdk-core's "Activity not found on completion" line: the token is a field.
  logger.warn(
    'Activity not found on completion. This may happen if the activity has already been cancelled',
    {
      sdkComponent: 'core',
      task_token: `TaskToken(${token})`,
      spanContexts: [`complete_activity_task{task_token=TaskToken(${token})}`],
    },
  );
  logger.warn(`gRPC error for TaskToken(${token}) left`, { sdkComponent: 'core' });
  assert.equal(lines.length, 2);
  assert.ok(!JSON.stringify(lines).includes(token), JSON.stringify(lines));
  assert.equal(lines[0]?.task_token, '[redacted]');
  assert.deepEqual(lines[0]?.spanContexts, ['complete_activity_task{task_token=TaskToken([redacted])}']);
  assert.equal(lines[1]?.msg, 'gRPC error for TaskToken([redacted]) left');
});

test('the scrub keeps a cycle a cycle, reaches tokens at any depth, and blanks one in an error message', () => {
  const { lines, logger } = capture();
  const token = Buffer.from('another-task-token').toString('base64');
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  logger.info('a line with a cycle', { cyclic, deep: { a: { b: { task_token: token, taskToken: token } } } });
  const err = new Error(`failed completing TaskToken(${token})`);
  logger.warn('Activity failed', { error: err });
  assert.equal(lines.length, 2);
  assert.ok(!JSON.stringify(lines).includes(token), JSON.stringify(lines));
  assert.match(JSON.stringify(lines[0]?.cyclic), /"\[Circular\]"/);
  assert.match(String((lines[1]?.err as Record<string, unknown>).message), /TaskToken\(\[redacted\]\)/);
  assert.match(String((lines[1]?.err as Record<string, unknown>).type), /Error/);
});
