/**
 * A rate-limit storm: every Tray request answered 429 (Retry-After: 1) for 2 minutes (quick: 30 s)
 * during a burst of 100 sagas (quick: 20). A storm should delay sagas, not fail them.
 */
import { armFault, clearFaults, faultedSince, type Scenario } from '../scenario.js';
import { burst, pause, planSagas } from '../sagas.js';

export const rateLimitStorm: Scenario = {
  name: 'rate-limit-storm',
  summary: 'every Tray request answered 429 for 2 min (quick: 30 s) during a burst of 100 sagas (quick: 20)',
  // Not in --quick: even its short storm takes about 3 minutes of CI's time.
  quick: false,
  budgetMinutes: [7, 3],
  async run(ctx) {
    const { stack } = ctx;
    const stormMs = ctx.quick ? 30_000 : 120_000;
    const sagas = planSagas(ctx.prefix, ctx.quick ? 20 : 100);
    const stormStart = Date.now();
    await armFault(stack, { kind: 'http429', times: 1_000_000 });
    ctx.log(`storm on for ${stormMs / 1000} s`);
    const done = burst(stack, sagas, 50, ctx.deadline);
    await pause(stormMs);
    const faults = await faultedSince(stack, stormStart);
    await clearFaults(stack);
    const faultEndedAt = Date.now();
    ctx.log(`storm over (${faults} answers were 429)`);
    await done;
    return { sagas, faults, faultEndedAt };
  },
};
