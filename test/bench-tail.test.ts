/**
 * The burst's tail breakdown: a saga's history after its last signal split into phases that add up to
 * the total, without a server (hand-built and recorded histories), and which sagas it reads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { msNumberToTs } from '@temporalio/common/lib/time.js';
import type { temporal } from '@temporalio/proto';
import { tailLines } from '../bench/mode-render.js';
import type { ModeResult } from '../bench/mode-result.js';
import { pickTailSagas, summarizeTail, type TailSaga } from '../bench/tail-histories.js';
import { TAIL_PHASES, tailPhases, type TailPhase } from '../bench/tail-phases.js';
import type { SagaTiming } from '../bench/timing.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const T0 = Date.UTC(2026, 10, 28, 5, 0, 0);
let nextId = 1;
/** One event `ms` after T0 (no time when `ms` is undefined) with the given attributes. */
function at(ms: number | undefined, attrs: Partial<HistoryEvent>): HistoryEvent {
  return {
    eventId: nextId++ as unknown as HistoryEvent['eventId'],
    ...(ms === undefined ? {} : { eventTime: msNumberToTs(T0 + ms) }),
    ...attrs,
  };
}

const wft = (scheduled: number, started: number, completed: number) => [
  at(scheduled, { workflowTaskScheduledEventAttributes: {} }),
  at(started, { workflowTaskStartedEventAttributes: {} }),
  at(completed, { workflowTaskCompletedEventAttributes: {} }),
];

const sum = (phases: Record<TailPhase, number>) => TAIL_PHASES.reduce((n, p) => n + phases[p], 0);

/** Started, one signal long before (ignored), the last signal at 0, then the saga's steps. */
function sagaHistory(): HistoryEvent[] {
  return [
    at(-60_000, { workflowExecutionStartedEventAttributes: {} }),
    at(-30_000, { workflowExecutionSignaledEventAttributes: { signalName: 'authCompleted' } }),
    ...wft(-30_000, -29_990, -29_980),
    at(0, { workflowExecutionSignaledEventAttributes: { signalName: 'authCompleted' } }),
    ...wft(5, 105, 305),
    at(305, { activityTaskScheduledEventAttributes: {} }),
    at(305, { timerStartedEventAttributes: {} }),
    at(undefined, { markerRecordedEventAttributes: {} }),
    at(405, { activityTaskStartedEventAttributes: { attempt: 1 } }),
    at(455, { activityTaskCompletedEventAttributes: { startedEventId: 9 as never } }),
    ...wft(455, 475, 500),
    at(2305, { timerFiredEventAttributes: {} }),
    ...wft(2305, 2405, 2455),
    at(2460, { workflowExecutionCompletedEventAttributes: {} }),
  ];
}

test('tailPhases: the time from the last signal to the close, by phase, adding up to the total', () => {
  const split = tailPhases(sagaHistory());
  assert.ok(split);
  assert.equal(split.signalAt, T0);
  assert.equal(split.totalMs, 2460);
  assert.equal(split.closed, true);
  assert.equal(split.activityRetries, 0);
  assert.deepEqual(split.phases, {
    'workflow task queued': 5 + 100 + 20 + 100,
    'workflow task run': 200 + 25 + 50,
    'activity queued': 100,
    'activity run': 50,
    timer: 1805,
    other: 5,
  });
  assert.equal(sum(split.phases), split.totalMs);
});

test('tailPhases: no signal, or a signal without a time, gives undefined and never throws', () => {
  assert.equal(tailPhases([]), undefined);
  assert.equal(tailPhases(undefined), undefined);
  assert.equal(
    tailPhases(sagaHistory().filter((e) => !e.workflowExecutionSignaledEventAttributes)),
    undefined,
  );
  const untimed = sagaHistory();
  const last = untimed.map((e) => Boolean(e.workflowExecutionSignaledEventAttributes)).lastIndexOf(true);
  untimed[last] = { ...untimed[last], eventTime: null };
  assert.equal(tailPhases(untimed), undefined);
});

test('tailPhases: retried activities (by the server and by the workflow) and an open run', () => {
  const events = [
    at(0, { workflowExecutionSignaledEventAttributes: {} }),
    ...wft(0, 10, 20),
    at(20, { activityTaskScheduledEventAttributes: {} }),
    // The server retried it twice: only the third attempt's start is in the history.
    at(1520, { activityTaskStartedEventAttributes: { attempt: 3 } }),
    at(1600, { activityTaskFailedEventAttributes: { startedEventId: 6 as never } }),
    ...wft(1600, 1650, 1660),
    at(1660, { activityTaskScheduledEventAttributes: {} }),
    at(1700, { activityTaskStartedEventAttributes: { attempt: 1 } }),
    at(1900, { activityTaskCompletedEventAttributes: { startedEventId: 12 as never } }),
    ...wft(1900, 1910, 1930),
    at(1930, { workflowExecutionCompletedEventAttributes: {} }),
  ];
  const split = tailPhases(events);
  assert.ok(split);
  assert.equal(split.activityRetries, 2);
  assert.deepEqual(split.phases, {
    'workflow task queued': 10 + 50 + 10,
    'workflow task run': 10 + 10 + 20,
    'activity queued': 1500 + 40,
    'activity run': 80 + 200,
    timer: 0,
    other: 0,
  });
  assert.equal(sum(split.phases), 1930);
  // Still open (no close event): up to its latest event.
  const open = tailPhases(events.slice(0, -4));
  assert.ok(open);
  assert.equal(open.closed, false);
  assert.equal(open.totalMs, 1900);
  assert.equal(sum(open.phases), 1900);
});

test('tailPhases: an activity that ran across the timer; its start is written when it ends', () => {
  const events = [
    at(0, { workflowExecutionSignaledEventAttributes: {} }),
    ...wft(0, 10, 20),
    at(20, { activityTaskScheduledEventAttributes: {} }),
    at(20, { timerStartedEventAttributes: {} }),
    at(300, { timerFiredEventAttributes: {} }),
    ...wft(300, 310, 320),
    at(100, { activityTaskStartedEventAttributes: { attempt: 1 } }),
    at(500, { activityTaskCompletedEventAttributes: { startedEventId: 10 as never } }),
    ...wft(500, 510, 520),
    at(520, { workflowExecutionCompletedEventAttributes: {} }),
  ];
  const split = tailPhases(events);
  assert.ok(split);
  assert.deepEqual(split.phases, {
    'workflow task queued': 30,
    'workflow task run': 30,
    'activity queued': 80,
    'activity run': 180,
    timer: 200,
    other: 0,
  });
  assert.equal(sum(split.phases), split.totalMs);
});

test('tailPhases: a recorded history (JSON, string times) adds up to its last signal → close', () => {
  const file = join(PROJECT_ROOT, 'test', 'histories', 'completed-2-slots.json');
  const { events } = JSON.parse(readFileSync(file, 'utf8')) as { events: HistoryEvent[] };
  const split = tailPhases(events);
  assert.ok(split);
  assert.equal(split.closed, true);
  assert.ok(split.totalMs > 0);
  assert.equal(sum(split.phases), split.totalMs);
  assert.ok(split.phases.timer >= 1900, 'the 2 s timer runs after the last signal');
});

const timing = (i: number, ms: number, extra: Partial<SagaTiming> = {}): SagaTiming => ({
  id: `s${i}`,
  externalUserId: `u${i}`,
  kind: 'new',
  startedAt: 0,
  webhookAt: 1000,
  completedAt: 1000 + ms,
  ...extra,
});

test('pickTailSagas: the five slowest completed sagas and five around the median', () => {
  const timings = Array.from({ length: 21 }, (_, i) => timing(i, 100 * i));
  timings.push(timing(99, 99_999, { error: 'failed' }), timing(98, 0, { completedAt: undefined }));
  const picked = pickTailSagas(timings);
  assert.deepEqual(
    picked.filter((p) => p.group === 'slowest').map((p) => p.id),
    ['s20', 's19', 's18', 's17', 's16'],
  );
  assert.deepEqual(
    picked.filter((p) => p.group === 'median').map((p) => p.id),
    ['s8', 's9', 's10', 's11', 's12'],
  );
  assert.deepEqual(pickTailSagas(timings.slice(0, 3)), [
    { id: 's2', group: 'slowest' },
    { id: 's1', group: 'slowest' },
    { id: 's0', group: 'slowest' },
  ]);
});

test('the tail table: median per phase of the median sagas, mean of the slowest, and when they came', () => {
  const phases = (timer: number, queued: number) =>
    ({
      ...Object.fromEntries(TAIL_PHASES.map((p) => [p, 10])),
      timer,
      'workflow task queued': queued,
    }) as Record<TailPhase, number>;
  const saga = (id: string, group: TailSaga['group'], queued: number, signalAtS: number): TailSaga => ({
    id,
    group,
    webhookToCompletedMs: 2000 + queued,
    signalAtS,
    historyMs: 2050 + queued,
    activityRetries: 0,
    phases: phases(2000, queued),
  });
  const tail = summarizeTail([
    saga('a', 'median', 10, 3),
    saga('b', 'median', 30, 4),
    saga('c', 'median', 20, 5),
    saga('d', 'slowest', 1000, 9.5),
    saga('e', 'slowest', 2000, 10.2),
  ]);
  assert.equal(tail.medianMs['workflow task queued'], 20);
  assert.equal(tail.slowestMeanMs['workflow task queued'], 1500);
  assert.equal(tail.slowestMeanMs.timer, 2000);
  const text = tailLines({ tail } as ModeResult).join('\n');
  assert.match(text, /workflow task queued\s+20\s+1500/);
  assert.match(text, /= last signal → close\s+2070\s+3550/);
  assert.match(text, /last signals at 9\.5 s, 10\.2 s into the burst/);
  assert.doesNotMatch(text, /busy then/, 'no CPU samples, no figure');
  // With the machine's busy share by second: the mean over the seconds around each signal.
  const busyBySecond = [8.5, 9.5, 10.5, 11.5, 12.5].map((s, i) => ({
    s,
    pct: [80, 100, 90, 70, 10][i] as number,
  }));
  const cpu = { product: { wallS: 20, coreSeconds: {}, busyBySecond } };
  const withCpu = tailLines({ tail, cpu } as ModeResult).join('\n');
  assert.match(withCpu, /into the burst; the machine 85%, 87% busy then/);
  assert.deepEqual(tailLines({} as ModeResult), []);

  // With a floor: its median and slowest beside the product's, and when its slowest signals came.
  const floorTail = summarizeTail([
    saga('fa', 'median', 5, 2),
    saga('fb', 'slowest', 400, 7.5),
    saga('fc', 'slowest', 600, 8),
  ]);
  const floorCpu = { ...cpu, floor: { wallS: 20, coreSeconds: {}, busyBySecond } };
  const both = tailLines({ tail, floorTail, cpu: floorCpu } as ModeResult).join('\n');
  assert.match(
    both,
    /median 3 saga\(s\) \(ms\)\s+slowest 2 \(mean ms\)\s+floor median 1 saga\(s\) \(ms\)\s+floor slowest 2/,
  );
  assert.match(both, /workflow task queued\s+20\s+1500\s+5\s+500\n/);
  assert.match(both, /= last signal → close\s+2070\s+3550\s+2055\s+2550/);
  assert.match(
    both,
    /\n {2}slowest sagas' last signals at 9\.5 s, 10\.2 s into the burst; the machine 85%, 87% busy then/,
  );
  assert.match(
    both,
    /\n {2}the floor's slowest sagas' last signals at 7\.5 s, 8 s into its burst; the machine 90%, 90% busy then/,
  );
});
