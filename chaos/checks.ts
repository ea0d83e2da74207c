/**
 * The invariants every scenario ends with, checked at the emulator and at Temporal: no orphan
 * instance, no duplicate user, no duplicate saga run, every saga ended as expected with the authIds
 * its user made, and no plaintext secret in any history.
 */
import { leakyHistories } from './history.js';
import type { Saga } from './sagas.js';
import type { Stack } from './stack.js';

interface EmulatorUser {
  id: string;
  externalUserId: string;
}
interface EmulatorInstance {
  id: string;
  owner: string;
  enabled: boolean;
  authValues: { externalId: string; authId: string }[];
}
export interface EmulatorState {
  users: EmulatorUser[];
  instances: EmulatorInstance[];
}

export interface Verdict {
  orphans: number;
  duplicates: number;
  lost: number;
  leaks: number;
  /** One line per problem found. */
  problems: string[];
}

/** GET /_emulator/state, retried while the emulator restarts. */
export async function emulatorState(stack: Stack, timeoutMs = 30_000): Promise<EmulatorState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${stack.emulatorUrl}/_emulator/state`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return (await res.json()) as EmulatorState;
    } catch {
      // down for a moment
    }
    if (Date.now() > deadline) throw new Error('the emulator did not answer /_emulator/state');
    await new Promise((r) => setTimeout(r, 500));
  }
}

function sagaProblem(saga: Saga): string | undefined {
  const step = saga.final?.step;
  if (step !== saga.expect) {
    const why = saga.final?.error?.message ?? saga.error ?? '';
    return `${saga.id}: ${step ?? 'no end'} instead of ${saga.expect}${why ? ` (${why.slice(0, 160)})` : ''}`;
  }
  if (saga.expect !== 'completed') return undefined;
  for (const [slot, authId] of saga.authIds) {
    const got = saga.final?.authSlots.find((s) => s.externalAuthId === slot)?.authId;
    if (got !== authId) return `${saga.id}: slot ${slot} ended with authId ${got ?? 'none'}, not ${authId}`;
  }
  return undefined;
}

/** Connection ids with more than one workflow run (a retried POST that started a second saga). */
async function duplicateRuns(stack: Stack, sagas: Saga[]): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const saga of sagas) {
    for await (const run of stack.client.workflow.list({ query: `WorkflowId = "${saga.id}"` })) {
      counts.set(run.workflowId, (counts.get(run.workflowId) ?? 0) + 1);
    }
  }
  return [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id}: ${n} runs`);
}

/** Checks the scenario's users (those whose externalUserId starts with `prefix`) and sagas. */
export async function verify(stack: Stack, prefix: string, sagas: Saga[]): Promise<Verdict> {
  const problems: string[] = [];
  const state = await emulatorState(stack);
  const users = state.users.filter((u) => u.externalUserId.startsWith(`${prefix}-`));
  const byExternal = new Map<string, number>();
  for (const u of users) byExternal.set(u.externalUserId, (byExternal.get(u.externalUserId) ?? 0) + 1);
  const dupUsers = [...byExternal].filter(([, n]) => n > 1);
  for (const [ext, n] of dupUsers) problems.push(`duplicate user: ${n} Tray users for ${ext}`);

  const owners = new Set(users.map((u) => u.id));
  const kept = new Set(
    sagas.filter((s) => s.final?.step === 'completed').map((s) => s.final?.solutionInstanceId),
  );
  const orphans = state.instances.filter((i) => owners.has(i.owner) && !(i.enabled && kept.has(i.id)));
  for (const i of orphans) problems.push(`orphan instance ${i.id} (enabled ${String(i.enabled)})`);

  const lost = sagas.map(sagaProblem).filter((p): p is string => p !== undefined);
  problems.push(...lost);
  const runs = await duplicateRuns(stack, sagas).catch((e: unknown) => [`run listing failed: ${String(e)}`]);
  problems.push(...runs);
  const leaks = await leakyHistories(
    stack.client,
    sagas.map((s) => s.id),
    stack.secrets,
  );
  problems.push(...leaks.map((l) => `secret in history: ${l}`));
  return {
    orphans: orphans.length,
    duplicates: dupUsers.length + runs.length,
    lost: lost.length,
    leaks: leaks.length,
    problems,
  };
}
