/**
 * A webhook flood: 1,000 deliveries over 50 distinct webhook ids, sent 50 at a time: the real
 * deliveries many times over, foreign authIds (another user's) for the flood's slots, and bad
 * signatures. Bad signatures must get 401, real ones 202, nothing a 5xx, and every saga must end
 * with the authIds its user made.
 */
import { randomUUID } from 'node:crypto';
import { webhookRequest } from '../../dev/webhook.js';
import { postWebhook, type Delivery } from '../relay.js';
import { trayRequestsSince, type Scenario, type ScenarioContext } from '../scenario.js';
import { awaitEnd, completeAuths, getStatus, planSagas, postSaga, type Saga } from '../sagas.js';
import { authorize } from '../sagas.js';
import { pooled } from '../../dev/async.js';

type Kind = 'real' | 'foreign' | 'bad';
interface Shot {
  kind: Kind;
  delivery: Delivery;
}

async function prepare(ctx: ScenarioContext, sagas: Saga[]): Promise<void> {
  await pooled(sagas, 6, async (saga) => {
    try {
      await postSaga(ctx.stack, saga, ctx.deadline);
      await completeAuths(ctx.stack, saga, ctx.deadline);
    } catch (error) {
      saga.error = String(error);
    }
  });
}

function signed(ctx: ScenarioContext, body: object, id: string, secret: string): Delivery {
  const { headers, body: raw } = webhookRequest(body, { id, secret });
  return { headers, body: raw };
}

/** The 50 distinct ids: the real deliveries, foreign authIds aimed at real slots, bad signatures. */
function shots(ctx: ScenarioContext, real: Delivery[], foreignAuthIds: string[]): Shot[] {
  const pick = <T>(items: T[]): T => items[Math.floor(ctx.random() * items.length)] as T;
  const list: Shot[] = real.map((delivery) => ({ kind: 'real', delivery }));
  const wrongSecret = `whsec_${Buffer.from(randomUUID()).toString('base64')}`;
  const foreignIds = Math.max(5, 40 - real.length);
  for (let i = 0; i < foreignIds; i += 1) {
    const target = pick(real);
    const authId = i % 3 === 0 ? randomUUID() : pick(foreignAuthIds);
    const body = {
      solutionInstanceId: target.solutionInstanceId,
      externalAuthId: target.externalAuthId,
      authId,
    };
    list.push({
      kind: 'foreign',
      delivery: signed(ctx, body, `msg_foreign_${i}`, ctx.stack.secrets.webhookSecret),
    });
  }
  for (let i = 0; list.length < 50; i += 1) {
    const target = pick(real);
    const body = {
      solutionInstanceId: target.solutionInstanceId,
      externalAuthId: target.externalAuthId,
      authId: target.authId,
    };
    list.push({ kind: 'bad', delivery: signed(ctx, body, `msg_bad_${i}`, wrongSecret) });
  }
  // A real delivery with its body changed under the same signature: bad too, under a real id.
  const tampered = real.map((d): Shot => ({
    kind: 'bad',
    delivery: { ...d, body: d.body.replace(/"}$/, 'x"}') },
  }));
  const all = [...list, ...tampered];
  const flood = [...list];
  while (flood.length < 1000) flood.push(pick(all));
  for (let i = flood.length - 1; i > 0; i -= 1) {
    const j = Math.floor(ctx.random() * (i + 1));
    [flood[i], flood[j]] = [flood[j] as Shot, flood[i] as Shot];
  }
  return flood;
}

function judge(kind: Kind, status: number): string | undefined {
  if (kind === 'bad' && status !== 401) return `bad signature answered ${status}`;
  if (kind === 'real' && status !== 202) return `real delivery answered ${status}`;
  if (kind === 'foreign' && status !== 202 && status !== 409) return `foreign authId answered ${status}`;
  return undefined;
}

/**
 * Sagas the flood left waiting (a foreign authId took a slot, and the real delivery's redeliveries
 * are duplicates by webhook id): the user opens a fresh dialog for each pending slot, round after
 * round until none waits. Returns how many sagas needed it.
 */
async function redoPending(ctx: ScenarioContext, sagas: Saga[], deadline: number): Promise<number> {
  const redone = new Set<string>();
  while (Date.now() < deadline) {
    const statuses = await Promise.all(sagas.map((saga) => getStatus(ctx.stack, saga.id)));
    const waiting = sagas.filter((_, i) => statuses[i]?.step === 'awaiting_auth');
    if (waiting.length === 0) break;
    for (const saga of waiting) {
      const pending = statuses[sagas.indexOf(saga)]?.authSlots.filter((s) => s.state === 'pending') ?? [];
      for (const slot of pending) {
        redone.add(saga.id);
        const path = `/v1/connections/${saga.id}/auth-urls/${slot.externalAuthId}`;
        const res = await fetch(`${ctx.stack.apiUrl}${path}`, { method: 'POST' });
        const outcome = res.ok ? await authorize(((await res.json()) as { url: string }).url) : res.status;
        if (typeof outcome === 'string') saga.authIds.set(slot.externalAuthId, outcome);
      }
    }
    await new Promise((r) => setTimeout(r, 5000));
  }
  return redone.size;
}

export const webhookFlood: Scenario = {
  name: 'webhook-flood',
  summary:
    '1,000 webhook deliveries, 50 distinct ids: duplicates, foreign authIds, bad signatures, 50 at once',
  quick: true,
  budgetMinutes: [4, 3],
  async run(ctx) {
    const { stack } = ctx;
    const sagas = planSagas(ctx.prefix, ctx.quick ? 6 : 10);
    const others = planSagas(`${ctx.prefix}-other`, 2);
    stack.relay.hold();
    await prepare(ctx, [...sagas, ...others]);
    const held = stack.relay.take();
    stack.relay.release();
    const otherAuthIds = new Set(others.flatMap((s) => [...s.authIds.values()]));
    const real = held.filter((d) => d.authId && !otherAuthIds.has(d.authId));
    const webhookUrl = `${stack.apiUrl}/v1/webhooks/auth-completed`;
    for (const d of held.filter((d) => d.authId && otherAuthIds.has(d.authId)))
      await postWebhook(webhookUrl, d, 30_000);
    const flood = shots(ctx, real, [...otherAuthIds]);
    const floodStart = Date.now();
    // Like a Standard Webhooks sender, the partner retries a 5xx (the API answers 503 when Temporal
    // does not answer within its deadline, as a loaded box's SQLite dev server may under 50 at once).
    const answers = await pooled(flood, 50, (s) => postWebhook(webhookUrl, s.delivery, 30_000));
    const faultEndedAt = Date.now();
    const problems = new Map<string, number>();
    flood.forEach((s, i) => {
      const p = judge(s.kind, answers[i] ?? 0);
      if (p) problems.set(p, (problems.get(p) ?? 0) + 1);
    });
    const quickEnd = Math.min(ctx.deadline, Date.now() + 30_000);
    await Promise.all(sagas.map((s) => awaitEnd(stack, s, quickEnd)));
    for (const s of sagas) delete s.error;
    const redone = await redoPending(ctx, sagas, ctx.deadline - 20_000);
    await Promise.all([...sagas, ...others].map((s) => awaitEnd(stack, s, ctx.deadline)));
    const tray = (await trayRequestsSince(stack, floodStart)).filter((r) => r.at <= faultEndedAt).length;
    return {
      sagas: [...sagas, ...others],
      faults: flood.filter((s) => s.kind !== 'real').length,
      faultEndedAt,
      problems: [...problems].map(([p, n]) => `${p} (${n}×)`),
      notes: [
        `${real.length} real ids in ${flood.filter((s) => s.kind === 'real').length} deliveries; ${tray} Tray requests during the flood`,
        `${redone} sagas needed a fresh dialog after a foreign authId took a slot`,
      ],
    };
  },
};
