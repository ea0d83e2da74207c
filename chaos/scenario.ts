/**
 * What a scenario is and what it gets: the stack, a seeded random source, the run's size (quick or
 * full), and helpers for the emulator's fault controls.
 */
import type { Saga } from './sagas.js';
import type { Stack } from './stack.js';

export interface ScenarioContext {
  stack: Stack;
  /** Seeded: the same `--seed` makes the same choices. */
  random: () => number;
  quick: boolean;
  /** Prefix of every externalUserId this scenario uses (the checks look at these users only). */
  prefix: string;
  /** The scenario must be done by then (its waits use it as their deadline). */
  deadline: number;
  log(message: string): void;
}

export interface ScenarioOutcome {
  sagas: Saga[];
  /** Faults injected: kills, outages, faulted Tray answers, bad deliveries. */
  faults: number;
  /** When the last fault ended (process back, Tray back, storm over). */
  faultEndedAt: number;
  /** Problems beyond the common checks (e.g. a wrong webhook answer). */
  problems?: string[];
  notes?: string[];
}

export interface Scenario {
  name: string;
  /** One line for `--list` and the README. */
  summary: string;
  /** Part of `--quick`. */
  quick: boolean;
  /** Workers the stack runs when the scenario starts (default 1). */
  workers?: number;
  /** Time budget in minutes (full, quick). */
  budgetMinutes: [number, number];
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

export interface FaultSpec {
  operation?: string;
  kind: 'http500' | 'http429' | 'rateLimitError' | 'permanentError' | 'dropResponseAfterCommit' | 'delay';
  times?: number;
  delayMs?: number;
}

/** POST /_emulator/faults. */
export async function armFault(stack: Stack, spec: FaultSpec): Promise<void> {
  const res = await fetch(`${stack.emulatorUrl}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 201) throw new Error(`arming ${spec.kind} answered ${res.status}: ${await res.text()}`);
}

/** DELETE /_emulator/faults. */
export async function clearFaults(stack: Stack): Promise<void> {
  await fetch(`${stack.emulatorUrl}/_emulator/faults`, {
    method: 'DELETE',
    signal: AbortSignal.timeout(5000),
  });
}

interface RecordedRequest {
  at: number;
  operations: string[];
  status: number;
  fault?: string;
}

/**
 * GET /_emulator/requests, those made at or after `since` (ms epoch). The emulator's log is bounded:
 * when it dropped some of them this throws, since a short list would pass for fewer requests.
 */
export async function trayRequestsSince(stack: Stack, since: number): Promise<RecordedRequest[]> {
  const res = await fetch(`${stack.emulatorUrl}/_emulator/requests`, { signal: AbortSignal.timeout(10_000) });
  const { requests, lastDroppedAt } = (await res.json()) as {
    requests: RecordedRequest[];
    lastDroppedAt: number | null;
  };
  if (lastDroppedAt !== null && lastDroppedAt >= since)
    throw new Error('the emulator dropped requests made in the window; its request log is too small');
  return requests.filter((r) => r.at >= since);
}

/** Faulted answers the emulator gave since `since` (ms epoch). */
export async function faultedSince(stack: Stack, since: number): Promise<number> {
  return (await trayRequestsSince(stack, since)).filter((r) => r.fault).length;
}

/** How many of `sagas` the API shows at one of `steps`, for deciding when to strike. */
export async function countAtStep(stack: Stack, sagas: Saga[], steps: string[]): Promise<number> {
  const at = await Promise.all(
    sagas.map(async (saga) => {
      const res = await fetch(`${stack.apiUrl}/v1/connections/${encodeURIComponent(saga.id)}`, {
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      return res?.ok === true && steps.includes(((await res.json()) as { step: string }).step);
    }),
  );
  return at.filter(Boolean).length;
}

/** Polls `countAtStep` until at least `want` are there, for at most `timeoutMs`; returns the count. */
export async function awaitAtStep(
  stack: Stack,
  sagas: Saga[],
  steps: string[],
  want: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await countAtStep(stack, sagas, steps);
    if (n >= want || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 300));
  }
}
