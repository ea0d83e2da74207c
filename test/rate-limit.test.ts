/**
 * Rate-limit storms on the time-skipping server with faked activities: rate-limited answers wait as
 * Tray asks and never use up the attempts a step has for real failures (docs/design.md#retries).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time.js';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { connectIntegration } from '../workflows/index.js';
import { authCompletedSignal, SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';
import { TRAY_FAILURE_TYPES } from '../common/activity-types.js';
import { CREATE_ATTEMPTS } from '../workflows/activity-stubs.js';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import type { MockActivities, MockOptions } from './helpers/mock-activities.js';
import { rateLimitedError, transientError } from './helpers/mock-activities.js';
import { runMockSaga } from './helpers/mock-saga.js';
import { installQuietRuntime, timeSkippingEnv } from './helpers/temporal.js';

installQuietRuntime();

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

before(async () => {
  env = await timeSkippingEnv();
  const KEYWORD = 2; // INDEXED_VALUE_TYPE_KEYWORD: the saga upserts these, so register them
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_NAMES.map((name) => [name, KEYWORD])),
  });
  bundle = await bundleConnectWorkflows();
});
after(async () => {
  await env?.teardown();
});

type Handle = WorkflowHandle<typeof connectIntegration>;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Runs one saga with its own worker and task queue. */
async function withSaga<T>(
  mockOptions: MockOptions,
  body: (saga: { handle: Handle; mock: MockActivities }) => Promise<T>,
): Promise<T> {
  const options = { mock: mockOptions, input: { authTimeout: '2h' }, queuePrefix: 'rate-limit-test' };
  return runMockSaga(env, bundle, options, body);
}

function scheduled(events: HistoryEvent[], activity: string): HistoryEvent[] {
  return events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
}

const times = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);

/** A timer's summary as text ('' for any other event). */
function summaryOf(event: HistoryEvent): string {
  const data = event.timerStartedEventAttributes ? event.userMetadata?.summary?.data : undefined;
  return data ? Buffer.from(data).toString('utf8') : '';
}

describe('a rate-limit storm', () => {
  test('30 minutes of rate-limited creates: the saga waits them out and completes, creating once', async () => {
    // 40 rate-limited runs with pauses of 1 s doubling to 1 min: over 30 minutes of storm.
    await withSaga(
      { failures: { createInstance: times(40, () => rateLimitedError()) } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        const result = await handle.result();
        assert.equal(result.enabled, true);
        const creates = mock.inputsOf('createInstance');
        assert.equal(creates.length, 41);
        // No run failed for real, so none may have created anything: no adoption look-up, no stray sweep.
        assert.ok(creates.every((input) => input.retried === undefined));
        assert.equal(mock.inputsOf('removeStrayInstances').length, 0);
        assert.equal(mock.inputsOf('removeInstance').length, 0);
        const events = (await handle.fetchHistory()).events ?? [];
        const runs = scheduled(events, 'createInstance');
        assert.equal(runs.length, 41);
        const stormMs = tsToMs(runs.at(-1)?.eventTime) - tsToMs(runs[0]?.eventTime);
        assert.ok(stormMs >= 30 * 60_000, `storm lasted ${stormMs} ms`);
        // A few events a minute, far from Temporal's history limits.
        assert.ok(events.length < 600, `${events.length} events`);
      },
    );
  });

  test('a rate-limited answer waits as long as Retry-After asks before the step runs again', async () => {
    await withSaga({ failures: { createInstance: [rateLimitedError(45_000)] } }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      assert.equal((await handle.result()).enabled, true);
      assert.equal(mock.inputsOf('createInstance').length, 2);
      const events = (await handle.fetchHistory()).events ?? [];
      const failed = events.find((e) => e.activityTaskFailedEventAttributes);
      const [, again] = scheduled(events, 'createInstance');
      assert.ok(failed && again);
      const waitedMs = tsToMs(again.eventTime) - tsToMs(failed.eventTime);
      assert.ok(waitedMs >= 45_000 && waitedMs < 50_000, `waited ${waitedMs} ms`);
      const timer = events.find((e) => e.timerStartedEventAttributes);
      assert.equal(tsToMs(timer?.timerStartedEventAttributes?.startToFireTimeout), 45_000);
    });
  });

  /** A saga whose create meets `n` answers asking for 1 s, then completes: its history and storm. */
  async function retryAfterOneSecond(n: number) {
    return withSaga(
      { failures: { createInstance: times(n, () => rateLimitedError(1000)) } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.equal(mock.inputsOf('createInstance').length, n + 1);
        const events = (await handle.fetchHistory()).events ?? [];
        const runs = scheduled(events, 'createInstance');
        return { events, stormMs: tsToMs(runs.at(-1)?.eventTime) - tsToMs(runs[0]?.eventTime) };
      },
    );
  }

  test('a short storm is waited out as Tray asks: fourteen Retry-After 1 s answers cost seconds', async () => {
    const { events, stormMs } = await retryAfterOneSecond(14);
    const pauses = events
      .filter((e) => /rate-limited/.test(summaryOf(e)))
      .map((e) => tsToMs(e.timerStartedEventAttributes?.startToFireTimeout));
    assert.equal(pauses.length, 14);
    // Exactly as asked while the storm is young; then at most a tenth of the storm so far.
    assert.deepEqual(
      pauses.slice(0, 10),
      times(10, () => 1000),
    );
    assert.ok(stormMs >= 14_000 && stormMs < 25_000, `storm lasted ${stormMs} ms`);
  });

  test('an answer without Retry-After after a run of Retry-After 1 s ones waits 1 s, not a minute', async () => {
    const failures = [...times(6, () => rateLimitedError(1000)), rateLimitedError()];
    await withSaga({ failures: { createInstance: failures } }, async ({ handle }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      assert.equal((await handle.result()).enabled, true);
      const pauses = ((await handle.fetchHistory()).events ?? [])
        .filter((e) => /rate-limited/.test(summaryOf(e)))
        .map((e) => tsToMs(e.timerStartedEventAttributes?.startToFireTimeout));
      // The first guess of its own: 1 s doubling, as a storm without Retry-After starts.
      assert.deepEqual(
        pauses,
        times(7, () => 1000),
      );
    });
  });

  test('a long storm of Retry-After 1 s answers still costs only a few runs a minute', async () => {
    const { events, stormMs } = await retryAfterOneSecond(80);
    // 80 runs a second apart would be 80 s; the pauses grew with the storm, up to a minute.
    assert.ok(stormMs >= 30 * 60_000, `storm lasted ${stormMs} ms`);
    assert.ok(events.length < 1200, `${events.length} events`);
  });

  test('rate limits after the auths (attach) delay the saga too, past the 30 minutes of real trouble', async () => {
    await withSaga(
      { failures: { attachAuths: times(40, () => rateLimitedError()) } },
      async ({ handle, mock }) => {
        await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
        assert.equal((await handle.result()).enabled, true);
        assert.equal(mock.inputsOf('attachAuths').length, 41);
        assert.equal(mock.inputsOf('removeInstance').length, 0);
      },
    );
  });
});

describe('real failures between rate limits', () => {
  test('still fail the step after its attempts; the run after real failures looks before creating', async () => {
    const failures = [
      ...times(3, () => transientError()),
      rateLimitedError(),
      ...times(CREATE_ATTEMPTS - 3, () => transientError()),
    ];
    await withSaga({ failures: { createInstance: failures } }, async ({ handle, mock }) => {
      const err = await handle.result().then(
        () => assert.fail('the saga should have failed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
      assert.equal(err.cause.type, TRAY_FAILURE_TYPES.transient);
      const creates = mock.inputsOf('createInstance');
      // 3 real failures, the rate limit, then the attempts left: CREATE_ATTEMPTS real failures in all.
      assert.equal(creates.length, CREATE_ATTEMPTS + 1);
      assert.deepEqual(
        creates.map((input) => input.retried === true),
        [...times(4, () => false), ...times(CREATE_ATTEMPTS - 3, () => true)],
      );
      assert.equal(mock.inputsOf('removeInstance').length, 2, 'looked, then looked again after late creates');
    });
  });

  test('a user create run again after real failures says so, so it looks before creating', async () => {
    const failures = [transientError(), rateLimitedError()];
    await withSaga({ failures: { createUser: failures } }, async ({ handle, mock }) => {
      await handle.signal(authCompletedSignal, { externalAuthId: 'slack', authId: 'auth-1' });
      assert.equal((await handle.result()).enabled, true);
      assert.deepEqual(
        mock.inputsOf('createUser').map((input) => input.retried === true),
        [false, false, true],
      );
    });
  });

  test('without rate limits, 10 real failures fail a step as before', async () => {
    await withSaga(
      { failures: { prepareUserToken: times(10, () => transientError()) } },
      async ({ handle, mock }) => {
        await assert.rejects(handle.result(), WorkflowFailedError);
        assert.equal(mock.inputsOf('prepareUserToken').length, 10);
      },
    );
  });

  test('a create step has ten creates and a look before each retry: 19 attempts', async () => {
    assert.equal(CREATE_ATTEMPTS, 19);
    await withSaga(
      { failures: { createUser: times(CREATE_ATTEMPTS, () => transientError()) } },
      async ({ handle, mock }) => {
        await assert.rejects(handle.result(), WorkflowFailedError);
        assert.equal(mock.inputsOf('createUser').length, CREATE_ATTEMPTS);
      },
    );
  });
});
