/**
 * Tray hanging instead of refusing: the emulator SIGSTOPped for 45 s (quick: 35 s) and then
 * SIGCONTed. Requests are accepted but never answered, so every one runs into its timeout, and on
 * SIGCONT the emulator serves all of them at once, long after their callers gave up: attaches that
 * were in flight, removals of cancelled sagas, and the user lookups and creates of sagas started
 * during the hang.
 */
import { armFault, awaitAtStep, type Scenario } from '../scenario.js';
import { awaitEnd, cancelSaga, driveSaga, pause, planSagas, postSagas } from '../sagas.js';

export const trayHang: Scenario = {
  name: 'tray-hang',
  summary: 'Tray accepts requests but answers none for 45 s (quick: 35 s), then answers them all late',
  quick: false,
  budgetMinutes: [6, 5],
  async run(ctx) {
    const { stack } = ctx;
    const hangMs = ctx.quick ? 35_000 : 45_000;
    const n = ctx.quick ? 3 : 6;
    const attach = planSagas(`${ctx.prefix}-attach`, n);
    const cancel = planSagas(`${ctx.prefix}-cancel`, n, 'cancelled');
    const create = planSagas(`${ctx.prefix}-create`, n);
    stack.relay.hold();
    await postSagas(stack, [...attach, ...cancel], ctx.deadline, (s) => attach.includes(s));
    await armFault(stack, { operation: 'updateSolutionInstance', kind: 'delay', delayMs: 3000, times: 100 });
    stack.relay.release();
    const inAttach = await awaitAtStep(stack, attach, ['attaching_auths'], 1, 15_000);
    const emulator = stack.emulator;
    if (!emulator) throw new Error('no emulator to hang');
    ctx.log(`SIGSTOP Tray for ${hangMs / 1000} s (${inAttach} sagas attaching)`);
    emulator.signal('SIGSTOP');
    let faultEndedAt = 0;
    let answers: number[] = [];
    try {
      const cancels = Promise.all(cancel.map((s) => cancelSaga(stack, s, ctx.deadline)));
      const creating = Promise.all(create.map((s) => driveSaga(stack, s, ctx.deadline)));
      await pause(hangMs);
      emulator.signal('SIGCONT');
      faultEndedAt = Date.now();
      ctx.log('Tray answers again');
      answers = await cancels;
      await creating;
    } finally {
      if (!faultEndedAt) emulator.signal('SIGCONT');
    }
    await Promise.all([...attach, ...cancel].map((s) => awaitEnd(stack, s, ctx.deadline)));
    return {
      sagas: [...attach, ...cancel, ...create],
      faults: 1,
      faultEndedAt,
      // The API needs no Tray to cancel: a hang there must not change its answer.
      problems: answers.some((a) => a !== 202)
        ? [`DELETEs during the hang answered ${answers.join(',')}`]
        : [],
      notes: [`hang of ${hangMs / 1000} s began with ${inAttach} sagas attaching`],
    };
  },
};
