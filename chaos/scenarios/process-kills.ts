/**
 * The API SIGKILLed while POSTs arrive (a retried POST must find the saga: 200 existing or 201, never
 * a second run), then the worker SIGKILLed mid-activity twice in a row (full run; once in --quick).
 */
import {
  armFault,
  countAtStep,
  trayRequestsSince,
  type Scenario,
  type ScenarioContext,
} from '../scenario.js';
import { burst, pause, planSagas, type Saga } from '../sagas.js';

async function killApiDuringPosts(ctx: ScenarioContext, sagas: Saga[]): Promise<void> {
  await pause(600 + ctx.random() * 800);
  ctx.log(`SIGKILL the API (${sagas.filter((s) => s.posts.length > 0).length} POSTs answered)`);
  await ctx.stack.api?.kill();
  await pause(500);
  await ctx.stack.startApi();
  ctx.log('API back');
}

/**
 * Waits until some saga is attaching (slow attaches are armed), then kills the worker. Attaches, not
 * creates: a create cut short makes the saga wait out the 2-minute late-create window.
 */
async function killWorkerMidActivity(ctx: ScenarioContext, sagas: Saga[], round: number): Promise<void> {
  const { stack } = ctx;
  const since = Date.now();
  for (let i = 0; i < 120; i += 1) {
    if (round === 1 && (await countAtStep(stack, sagas, ['attaching_auths', 'enabling'])) > 0) break;
    if (round > 1 && (await trayRequestsSince(stack, since)).length > 0) break;
    await pause(500);
  }
  ctx.log(`SIGKILL worker (round ${round})`);
  await Promise.all(stack.workers.map((w) => w.kill()));
  await stack.startWorker();
  ctx.log(`worker restarted (round ${round})`);
}

export const processKills: Scenario = {
  name: 'process-kills',
  summary: 'API SIGKILLed during POSTs (retried POSTs find the saga), worker SIGKILLed mid-activity twice',
  quick: true,
  budgetMinutes: [5, 4],
  async run(ctx) {
    const { stack } = ctx;
    const sagas = planSagas(ctx.prefix, ctx.quick ? 8 : 16);
    const kills = ctx.quick ? 1 : 2;
    // Slow attaches keep activities in flight long enough to be killed in the middle of one.
    await armFault(stack, { operation: 'updateSolutionInstance', kind: 'delay', delayMs: 3000, times: 1000 });
    const done = burst(stack, sagas, 200, ctx.deadline);
    await killApiDuringPosts(ctx, sagas);
    for (let round = 1; round <= kills; round += 1) await killWorkerMidActivity(ctx, sagas, round);
    const faultEndedAt = Date.now();
    await done;
    const retried = sagas.filter((s) => s.posts.length > 1);
    const problems = retried
      .filter((s) => ![200, 201].includes(s.posts.at(-1) ?? 0))
      .map((s) => `${s.id}: retried POST ended ${s.posts.join(',')}`);
    const answers = retried.map((s) => s.posts.at(-1)).join(',');
    return {
      sagas,
      faults: 1 + kills,
      faultEndedAt,
      problems,
      notes: [`${retried.length} POSTs retried after the API kill (final answers ${answers || '-'})`],
    };
  },
};
