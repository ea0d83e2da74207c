/**
 * After a burst, while Temporal still runs: the histories of the slowest sagas (by webhook →
 * completed) and of a few around the median, split into phases, so a reader can tell whether the
 * tail waited on the worker, on Tray or on the timer. A history that cannot be read is a warning.
 */
import type { Client } from '@temporalio/client';
import { percentile } from './stats.js';
import { TAIL_PHASES, tailPhases, type TailPhase, type TailPhases } from './tail-phases.js';
import type { SagaTiming } from './timing.js';

const SLOWEST = 5;
const AROUND_MEDIAN = 5;
const FETCH_DEADLINE_MS = 10_000;

export interface TailSaga {
  id: string;
  group: 'median' | 'slowest';
  webhookToCompletedMs: number;
  /** When the saga's last signal came, seconds from the burst's start. */
  signalAtS: number;
  historyMs: number;
  activityRetries: number;
  phases: Record<TailPhase, number>;
}

export interface TailBreakdown {
  /** Per phase, the median over the sagas around the median. */
  medianMs: Record<TailPhase, number>;
  /** Per phase, the mean over the slowest sagas. */
  slowestMeanMs: Record<TailPhase, number>;
  sagas: TailSaga[];
}

type Done = SagaTiming & { webhookAt: number; completedAt: number };

/** The slowest `SLOWEST` completed sagas and up to `AROUND_MEDIAN` others nearest the median. */
export function pickTailSagas(timings: readonly SagaTiming[]): { id: string; group: TailSaga['group'] }[] {
  const done = timings
    .filter((t): t is Done => t.webhookAt !== undefined && t.completedAt !== undefined && !t.error)
    .sort((a, b) => a.completedAt - a.webhookAt - (b.completedAt - b.webhookAt));
  const slowest = done.slice(-SLOWEST).reverse();
  const rest = done.slice(0, Math.max(0, done.length - SLOWEST));
  const mid = Math.floor((done.length - 1) / 2);
  const from = Math.max(0, Math.min(mid - Math.floor(AROUND_MEDIAN / 2), rest.length - AROUND_MEDIAN));
  const median = rest.slice(from, from + AROUND_MEDIAN);
  return [
    ...slowest.map((t) => ({ id: t.id, group: 'slowest' as const })),
    ...median.map((t) => ({ id: t.id, group: 'median' as const })),
  ];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * One figure over a group's sagas, rounded: the median over the sagas around the median, the mean
 * over the slowest (NaN for an empty group). The phases and the table's totals both use it.
 */
export function groupFigure(
  sagas: readonly TailSaga[],
  group: TailSaga['group'],
  of: (s: TailSaga) => number,
) {
  const values = sagas.filter((s) => s.group === group).map(of);
  if (!values.length) return Number.NaN;
  return Math.round(group === 'median' ? percentile(values, 50) : mean(values));
}

function byPhase(sagas: TailSaga[], group: TailSaga['group']): Record<TailPhase, number> {
  const out = {} as Record<TailPhase, number>;
  for (const p of TAIL_PHASES) out[p] = groupFigure(sagas, group, (s) => s.phases[p]);
  return out;
}

/** The breakdown from each picked saga's phases; pure, so the table can be tested without a server. */
export function summarizeTail(sagas: TailSaga[]): TailBreakdown {
  return { medianMs: byPhase(sagas, 'median'), slowestMeanMs: byPhase(sagas, 'slowest'), sagas };
}

/** Reads and splits the picked sagas' histories; undefined (and a warning) when none could be read. */
export async function tailBreakdown(
  client: Client,
  timings: readonly SagaTiming[],
  startedAt: number,
  warn: (message: string) => void,
): Promise<TailBreakdown | undefined> {
  const byId = new Map(timings.map((t) => [t.id, t]));
  const picked = pickTailSagas(timings);
  const failed: string[] = [];
  const read = await Promise.all(
    picked.map(async ({ id, group }): Promise<TailSaga | undefined> => {
      let split: TailPhases | undefined;
      try {
        const history = await client.withDeadline(Date.now() + FETCH_DEADLINE_MS, () =>
          client.workflow.getHandle(id).fetchHistory(),
        );
        split = tailPhases(history.events);
      } catch (error) {
        failed.push(`${id}: ${(error as Error).message}`);
        return undefined;
      }
      const t = byId.get(id) as Done;
      if (!split) {
        failed.push(`${id}: no signal in its history`);
        return undefined;
      }
      return {
        id,
        group,
        webhookToCompletedMs: t.completedAt - t.webhookAt,
        signalAtS: Math.round((split.signalAt - startedAt) / 100) / 10,
        historyMs: split.totalMs,
        activityRetries: split.activityRetries,
        phases: split.phases,
      };
    }),
  );
  if (failed.length) {
    warn(`could not split ${failed.length} saga history(ies) into phases: ${failed.slice(0, 3).join('; ')}`);
  }
  const sagas = read.filter((s): s is TailSaga => s !== undefined);
  return sagas.length ? summarizeTail(sagas) : undefined;
}
