/**
 * The Temporal dev server SIGKILLed in the middle of a burst and started again on the same SQLite
 * file and port: POSTs retried meanwhile, worker and API reconnect, every saga completes.
 */
import { burst, pause } from '../sagas.js';
import { planSagas } from '../sagas.js';
import type { Scenario } from '../scenario.js';

export const temporalKill: Scenario = {
  name: 'temporal-kill',
  summary: 'Temporal dev server SIGKILLed mid-burst, restarted on the same database file and port',
  quick: true,
  budgetMinutes: [4, 3],
  async run(ctx) {
    const { stack } = ctx;
    const sagas = planSagas(ctx.prefix, ctx.quick ? 8 : 20);
    const done = burst(stack, sagas, 250, ctx.deadline);
    await pause(1500 + ctx.random() * 2500);
    const started = sagas.filter((s) => s.posts.length > 0).length;
    ctx.log(`SIGKILL the Temporal dev server (${started}/${sagas.length} POSTs answered)`);
    await stack.killTemporal();
    await pause(2000 + ctx.random() * 2000);
    await stack.startTemporal();
    const faultEndedAt = Date.now();
    ctx.log('Temporal is back on the same database');
    await done;
    return { sagas, faults: 1, faultEndedAt, notes: [`killed after ${started} POSTs`] };
  },
};
