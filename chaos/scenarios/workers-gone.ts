/**
 * No worker at all for a while (a deploy gone wrong, every node lost): the end users' auths are
 * relayed, partners cancel sagas and start new ones. The API must take all of it from Temporal
 * alone (202 webhooks, 202 DELETEs, 200/201 POSTs), and once a worker is back every saga must end
 * as asked, the cancelled ones without an instance left behind.
 */
import { postWebhook } from '../relay.js';
import type { Scenario } from '../scenario.js';
import { awaitEnd, cancelSaga, driveSaga, pause, planSagas, postSagas } from '../sagas.js';

export const workersGone: Scenario = {
  name: 'workers-gone',
  summary: 'every worker SIGKILLed for 30 s while auths are relayed, sagas cancelled and new ones started',
  quick: false,
  budgetMinutes: [5, 4],
  async run(ctx) {
    const { stack } = ctx;
    const n = ctx.quick ? 3 : 6;
    const relayed = planSagas(`${ctx.prefix}-relayed`, n);
    const cancel = planSagas(`${ctx.prefix}-cancel`, n, 'cancelled');
    const fresh = planSagas(`${ctx.prefix}-fresh`, n);
    stack.relay.hold();
    await postSagas(stack, [...relayed, ...cancel], ctx.deadline, (s) => relayed.includes(s));
    const held = stack.relay.take();
    stack.relay.release();
    ctx.log(`SIGKILL every worker (${stack.workers.length}); ${held.length} deliveries held`);
    await Promise.all(stack.workers.map((w) => w.kill()));
    const webhookUrl = `${stack.apiUrl}/v1/webhooks/auth-completed`;
    const [hooks, deletes] = await Promise.all([
      Promise.all(held.map((d) => postWebhook(webhookUrl, d, 0))),
      Promise.all(cancel.map((s) => cancelSaga(stack, s, ctx.deadline))),
    ]);
    // New sagas: their POSTs find no worker to hand out URLs and answer when ?wait= passes.
    const freshDone = Promise.all(fresh.map((s) => driveSaga(stack, s, ctx.deadline)));
    await pause(30_000);
    await stack.startWorker();
    const faultEndedAt = Date.now();
    ctx.log('a worker is back');
    await Promise.all([freshDone, ...[...relayed, ...cancel].map((s) => awaitEnd(stack, s, ctx.deadline))]);
    const problems: string[] = [];
    if (hooks.some((s) => s !== 202)) problems.push(`webhooks with no worker answered ${hooks.join(',')}`);
    if (deletes.some((s) => s !== 202)) problems.push(`DELETEs with no worker answered ${deletes.join(',')}`);
    return {
      sagas: [...relayed, ...cancel, ...fresh],
      faults: 1,
      faultEndedAt,
      problems,
      notes: [`${held.length} webhooks, ${cancel.length} DELETEs and ${fresh.length} POSTs with no worker`],
    };
  },
};
