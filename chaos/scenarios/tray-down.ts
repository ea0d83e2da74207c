/**
 * Tray refusing connections (the emulator process stopped, then started again on the same port and
 * state file) while one group of sagas attaches its auths and another creates its instances.
 */
import { armFault, awaitAtStep, type Scenario } from '../scenario.js';
import { awaitEnd, driveSaga, pause, planSagas, postSagas } from '../sagas.js';

export const trayDown: Scenario = {
  name: 'tray-down',
  summary: 'Tray refuses connections for 60 s (quick: 20 s) while sagas attach and new sagas create',
  quick: true,
  budgetMinutes: [5, 3],
  async run(ctx) {
    const { stack } = ctx;
    const outageMs = ctx.quick ? 20_000 : 60_000;
    const attach = planSagas(`${ctx.prefix}-attach`, ctx.quick ? 4 : 8);
    const create = planSagas(`${ctx.prefix}-create`, ctx.quick ? 4 : 8);
    stack.relay.hold();
    await postSagas(stack, attach, ctx.deadline, () => true);
    // Slow attaches, so the outage begins while they are in flight.
    await armFault(stack, { operation: 'updateSolutionInstance', kind: 'delay', delayMs: 4000, times: 100 });
    stack.relay.release();
    const inAttach = await awaitAtStep(stack, attach, ['attaching_auths'], 1, 15_000);
    ctx.log(`stopping Tray for ${outageMs / 1000} s (${inAttach} sagas attaching)`);
    await stack.stopEmulator();
    // New sagas during the outage: their user lookups and creates meet a Tray that refuses connections.
    // (An in-flight create cut off would add the 2-minute late-create window; lost-and-late-creates covers it.)
    const creating = Promise.all(create.map((s) => driveSaga(stack, s, ctx.deadline)));
    await pause(outageMs);
    await stack.startEmulator();
    const faultEndedAt = Date.now();
    ctx.log('Tray is back');
    await Promise.all([creating, ...attach.map((s) => awaitEnd(stack, s, ctx.deadline))]);
    return {
      sagas: [...attach, ...create],
      faults: 1,
      faultEndedAt,
      notes: [
        `outage of ${outageMs / 1000} s began with ${inAttach} sagas attaching; ${create.length} sagas started in it`,
      ],
    };
  },
};
