/**
 * Creates that misbehave: every first create's response lost after Tray committed it (the retry must
 * adopt it, never leave a second instance), and creates landing 20 s late, half of those sagas
 * cancelled while their create is still on its way (compensation must not leave it behind).
 */
import { armFault, faultedSince, type Scenario } from '../scenario.js';
import { burst, pause, planSagas } from '../sagas.js';

export const creates: Scenario = {
  name: 'lost-and-late-creates',
  summary: "every create's response lost after commit; creates landing 20 s late, half cancelled meanwhile",
  quick: false,
  budgetMinutes: [6, 6],
  async run(ctx) {
    const { stack } = ctx;
    const n = ctx.quick ? 4 : 8;
    const lost = planSagas(`${ctx.prefix}-lost`, n);
    const late = planSagas(`${ctx.prefix}-late`, n).map((s, i) => ({
      ...s,
      expect: i % 2 === 0 ? ('cancelled' as const) : ('completed' as const),
    }));
    const since = Date.now();
    await armFault(stack, { operation: 'createSolutionInstance', kind: 'dropResponseAfterCommit', times: n });
    const lostDone = burst(stack, lost, 200, ctx.deadline);
    for (let i = 0; i < 60 && (await faultedSince(stack, since)) < n; i += 1) await pause(500);
    await armFault(stack, { operation: 'createSolutionInstance', kind: 'delay', delayMs: 20_000, times: n });
    ctx.log(`${n} create responses dropped; now ${n} creates land 20 s late`);
    // A cancelled saga's POST waits 10 s for URLs that take 20 s, then its DELETE lands mid-create.
    const lateDone = burst(stack, late, 100, ctx.deadline);
    await pause(25_000);
    const faultEndedAt = Date.now();
    await Promise.all([lostDone, lateDone]);
    const faults = await faultedSince(stack, since);
    return { sagas: [...lost, ...late], faults, faultEndedAt };
  },
};
