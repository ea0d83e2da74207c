/**
 * Three workers on one task queue; every 6 s (quick: 5 s) one of them, picked by the seed, is
 * SIGKILLed and a fresh one started, while a burst of sagas runs. The burst outlasts the kills
 * (60 sagas, one every 300 ms), so every kill lands on sagas in flight.
 */
import type { Scenario } from '../scenario.js';
import { burst, pause, planSagas } from '../sagas.js';

export const workerChurn: Scenario = {
  name: 'worker-churn',
  summary: '3 workers on one task queue, one SIGKILLed (and replaced) every 6 s during a burst',
  quick: false,
  workers: 3,
  budgetMinutes: [5, 4],
  async run(ctx) {
    const { stack } = ctx;
    const sagas = planSagas(ctx.prefix, ctx.quick ? 20 : 60);
    const kills = ctx.quick ? 2 : 4;
    const everyMs = ctx.quick ? 5_000 : 6_000;
    let ended = false;
    const done = burst(stack, sagas, 300, ctx.deadline).finally(() => (ended = true));
    const replacements: Promise<unknown>[] = [];
    const victims = new Set<string>();
    // A replacement still starting can be the next victim: that is a kill, not a failed start.
    const startFailed = (e: unknown): void => {
      const name = /^(worker-\d+) exited before it was ready/.exec(e instanceof Error ? e.message : '')?.[1];
      ctx.log(
        name && victims.has(name) ? `${name} was killed while starting` : `replacement failed: ${String(e)}`,
      );
    };
    let killed = 0;
    for (; killed < kills && !ended; killed += 1) {
      await pause(everyMs);
      const victim = stack.workers[Math.floor(ctx.random() * stack.workers.length)];
      if (!victim) break;
      ctx.log(`SIGKILL ${victim.name} (${stack.workers.length} workers running)`);
      victims.add(victim.name);
      await victim.kill();
      replacements.push(stack.startWorker().catch(startFailed));
    }
    await Promise.all(replacements);
    const faultEndedAt = Date.now();
    await done;
    return { sagas, faults: killed, faultEndedAt, notes: [`${killed} workers killed, ${kills} planned`] };
  },
};
