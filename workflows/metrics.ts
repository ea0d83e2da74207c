/**
 * The saga's own metrics, through the SDK's workflow metric meter: they reach the worker's Prometheus
 * endpoint tagged with namespace, task queue and workflow type. Metrics are no commands, and the SDK
 * drops them while replaying, so a replayed saga is not counted twice and histories replay as before.
 */
import { metricMeter } from '@temporalio/workflow';

export const SAGAS_FINISHED_METRIC = 'connect_saga_sagas_finished';
export const COMPENSATIONS_METRIC = 'connect_saga_compensations';
export const STRAY_REMOVALS_METRIC = 'connect_saga_stray_removals';

export type SagaOutcome = 'completed' | 'failed' | 'timed_out' | 'cancelled';
/** removed: the instance was deleted; nothing_to_remove: none existed; failed: an attempt failed (retried). */
export type CompensationResult = 'removed' | 'nothing_to_remove' | 'failed';

/** Counts a saga reaching its end state. */
export function countSagaFinished(outcome: SagaOutcome): void {
  metricMeter.createCounter(SAGAS_FINISHED_METRIC, '1', 'sagas finished, by outcome').add(1, { outcome });
}

/** Counts one compensation attempt by its result. */
export function countCompensation(result: CompensationResult): void {
  metricMeter
    .createCounter(COMPENSATIONS_METRIC, '1', 'compensations (instance removals), by result')
    .add(1, {
      result,
    });
}

/** removed: the strays are gone (or there were none); failed: a round failed; given_up: left at Tray. */
export type StrayRemovalResult = 'removed' | 'failed' | 'given_up';

/** Counts one round of removing the instances a retried create left, by its result. */
export function countStrayRemoval(result: StrayRemovalResult): void {
  metricMeter
    .createCounter(STRAY_REMOVALS_METRIC, '1', 'removals of instances a retried create left, by result')
    .add(1, { result });
}
