/**
 * Where a saga's time went after its last signal (the end user's last authorisation), read from its
 * Temporal history: queueing for the worker, the worker's own work, Tray calls, the timer. The bench
 * times webhook → completed from outside; this says which part of the path a slow saga waited in.
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export const TAIL_PHASES = [
  'workflow task queued',
  'workflow task run',
  'activity queued',
  'activity run',
  'timer',
  'other',
] as const;
export type TailPhase = (typeof TAIL_PHASES)[number];

export interface TailPhases {
  /** The last signal's event time, ms since epoch. */
  signalAt: number;
  /** From the last signal to the close event (or, while the run is open, its latest event). */
  totalMs: number;
  closed: boolean;
  /**
   * Activity attempts beyond the first. Temporal records only the last attempt's start, so earlier
   * attempts and their backoff count as `activity queued`.
   */
  activityRetries: number;
  /** Sums to `totalMs`. */
  phases: Record<TailPhase, number>;
}

/** A Long (from the client), a number, or a string (from JSON) as a number; undefined when absent. */
function num(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = Number(typeof value === 'object' ? String(value) : value);
  return Number.isFinite(n) ? n : undefined;
}

/** An event's time in whole ms; undefined when it has none (or one that cannot be read). */
export function eventMs(event: HistoryEvent): number | undefined {
  const t = event.eventTime as { seconds?: unknown; nanos?: number | null } | string | null | undefined;
  if (t === null || t === undefined) return undefined;
  // A history written as JSON (tctl, the CLI) has RFC 3339 strings.
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : undefined;
  }
  const seconds = num(t.seconds);
  if (seconds === undefined) return undefined;
  return seconds * 1000 + Math.floor((t.nanos ?? 0) / 1_000_000);
}

const isClose = (e: HistoryEvent) =>
  Boolean(
    e.workflowExecutionCompletedEventAttributes ??
    e.workflowExecutionFailedEventAttributes ??
    e.workflowExecutionTimedOutEventAttributes ??
    e.workflowExecutionCanceledEventAttributes ??
    e.workflowExecutionTerminatedEventAttributes ??
    e.workflowExecutionContinuedAsNewEventAttributes,
  );

/** Whether the activity close event refers to a started attempt (else it never left the queue). */
const wasStarted = (attrs: { startedEventId?: unknown } | null | undefined) =>
  (num(attrs?.startedEventId) ?? 0) > 0;

/**
 * The phase of the gap that `event` ends: what the saga was waiting for just before it happened. In a
 * saga that does one thing at a time this is exactly scheduled → started, started → completed and
 * so on; when things overlap (an activity during the timer) the time is charged once, to whatever
 * finished first, so the phases still add up to the total.
 */
function phaseEndedBy(event: HistoryEvent, wftStarted: boolean): TailPhase {
  if (event.workflowTaskScheduledEventAttributes || event.workflowTaskStartedEventAttributes) {
    return 'workflow task queued';
  }
  if (event.workflowTaskCompletedEventAttributes || event.workflowTaskFailedEventAttributes) {
    return 'workflow task run';
  }
  if (event.workflowTaskTimedOutEventAttributes) {
    return wftStarted ? 'workflow task run' : 'workflow task queued';
  }
  if (event.activityTaskStartedEventAttributes) return 'activity queued';
  const closed =
    event.activityTaskCompletedEventAttributes ??
    event.activityTaskFailedEventAttributes ??
    event.activityTaskTimedOutEventAttributes ??
    event.activityTaskCanceledEventAttributes;
  if (closed) return wasStarted(closed) ? 'activity run' : 'activity queued';
  if (event.timerFiredEventAttributes) return 'timer';
  return 'other';
}

const emptyPhases = (): Record<TailPhase, number> =>
  Object.fromEntries(TAIL_PHASES.map((p) => [p, 0])) as Record<TailPhase, number>;

/**
 * Splits the time from the last signal to the close into phases (see `phaseEndedBy`). Undefined for a
 * history without a signal, or whose last signal has no time. Events without a time are skipped.
 */
export function tailPhases(events: readonly HistoryEvent[] | null | undefined): TailPhases | undefined {
  const list = events ?? [];
  let signalIndex = -1;
  list.forEach((e, i) => {
    if (e.workflowExecutionSignaledEventAttributes) signalIndex = i;
  });
  const signal = list[signalIndex];
  const signalAt = signal ? eventMs(signal) : undefined;
  if (signalAt === undefined) return undefined;
  const after = list.slice(signalIndex + 1);
  const closeIndex = after.findIndex(isClose);
  const window = closeIndex >= 0 ? after.slice(0, closeIndex + 1) : after;
  // A started event is written when its attempt ends, so history order is not time order.
  const timed = window
    .map((event, order) => ({ event, order, at: eventMs(event) }))
    .filter((t): t is { event: HistoryEvent; order: number; at: number } => t.at !== undefined)
    .sort((a, b) => a.at - b.at || a.order - b.order);
  const closeAt = closeIndex >= 0 ? eventMs(after[closeIndex] as HistoryEvent) : undefined;
  const endAt = Math.max(signalAt, closeAt ?? timed.at(-1)?.at ?? signalAt);
  const phases = emptyPhases();
  let activityRetries = 0;
  let wftStarted = false;
  let previous = signalAt;
  for (const { event, at } of timed) {
    const attempt = num(event.activityTaskStartedEventAttributes?.attempt);
    if (attempt !== undefined && attempt > 1) activityRetries += attempt - 1;
    const clamped = Math.min(Math.max(at, previous), endAt);
    const phase = phaseEndedBy(event, wftStarted);
    phases[phase] += clamped - previous;
    previous = clamped;
    if (event.workflowTaskStartedEventAttributes) wftStarted = true;
    else if (phase === 'workflow task run') wftStarted = false;
  }
  return { signalAt, totalMs: endAt - signalAt, closed: closeAt !== undefined, activityRetries, phases };
}
