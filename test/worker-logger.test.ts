/**
 * The worker's log lines for the SDK's "Activity failed": a classified Tray failure (a 429, a 503, a
 * timeout) is logged without its stack, which repeats the same client frames at every attempt of a
 * rate-limit storm; any other error keeps its stack for debugging.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { pino } from 'pino';
import { failure } from '../activities/tray-errors.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { temporalLogger } from '../worker/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: temporalLogger(pino({ level: 'info' }, stream)) };
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

test('any other error keeps its stack', () => {
  const { lines, logger } = capture();
  logger.warn('Activity failed', { error: new TypeError('a bug') });
  logger.warn('Activity failed', { error: ApplicationFailure.nonRetryable('bad input', 'InvalidInput') });
  for (const line of lines) {
    const err = line.err as Record<string, unknown>;
    assert.match(String(err.stack), /at /, 'a stack to debug it');
  }
});
