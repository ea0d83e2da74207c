/**
 * `npm run bench -- --mode burst|idle|waiting`: starts the API stack, runs the mode's timed part
 * (and, with --floor, the same shape on the floor), writes the JSON and the SVG charts, prints the
 * table. Returns the exit code (0 pass, 1 a problem); it always stops what it started.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, relative } from 'node:path';
import { driveApiSaga, newTiming, type ApiContext } from './api-sagas.js';
import { driveFloorSaga, newFloorTiming } from './floor.js';
import { LIFTED_RATE, startApiStack, type ApiStack } from './api-stack.js';
import { writeCharts } from './charts.js';
import { resultFile } from './out-file.js';
import { cpuBetween, markCpu, type CpuPhase, type CpuProcesses } from './cpu-meter.js';
import type { Progress } from './harness.js';
import {
  configOf,
  figuresOf,
  judge,
  machineOf,
  ratios,
  requestCounts,
  type ModeResult,
} from './mode-result.js';
import { renderModeResult } from './mode-render.js';
import { runBurst, runFloor, runIdle, runWaiting, type Phase } from './modes-run.js';
import type { BenchOptions } from './options.js';
import { tailBreakdown } from './tail-histories.js';
import { percentiles, planTimed, type Percentiles, type SagaTiming, type TimedPlan } from './timing.js';
import { abortable } from '../dev/async.js';

/** The end user's think time in burst mode (idle and waiting authorise at once). */
const THINK_MS: [number, number] = [2000, 8000];

/** After the warm-up saga: Temporal's rate limiter refills its bucket within a second. */
const WARM_UP_PAUSE_MS = 1500;

/**
 * One saga through the path before its phase, outside the figures (they count from the phase's
 * start): the phase then meets warm processes, as a partner's running worker and API are, rather
 * than paying for code loading and compilation in its first seconds, which the floor's in-process
 * worker partly skips.
 */
async function warmUp(
  label: string,
  signal: AbortSignal,
  progress: Progress,
  drive: (plan: TimedPlan) => Promise<SagaTiming>,
): Promise<void> {
  progress(`${label}: one warm-up saga first (not counted) …`);
  const plan: TimedPlan = {
    externalUserId: `bench-warm-up-${randomBytes(4).toString('hex')}`,
    kind: 'new',
    thinkMs: 0,
  };
  const timing = await drive(plan);
  if (timing.error !== undefined && !signal.aborted)
    throw new Error(`the ${label} warm-up saga failed: ${timing.error}`);
  await abortable(signal, WARM_UP_PAUSE_MS);
}

async function timedPart(
  stack: ApiStack,
  ctx: ApiContext,
  plans: TimedPlan[],
  options: BenchOptions,
  progress: Progress,
) {
  const run = { burst: runBurst, idle: runIdle, waiting: runWaiting }[
    options.mode as 'burst' | 'idle' | 'waiting'
  ];
  await warmUp('API', ctx.signal, progress, (plan) => driveApiSaga(ctx, plan, newTiming(ctx, plan)));
  progress(`${options.mode}: ${plans.length} saga(s) through the API …`);
  const processes = cpuProcesses(stack);
  const before = markCpu(processes);
  const phase = await run(ctx, plans, stack.workers, progress);
  const cpu: NonNullable<ModeResult['cpu']> = {
    product: { ...cpuBetween(before, markCpu(processes)), busyBySecond: busyBySecond(phase) },
  };
  let floor: Phase | undefined;
  if (stack.floor && !ctx.signal.aborted) {
    const f = stack.floor;
    const floorCtx = {
      client: stack.client,
      taskQueue: f.taskQueue,
      slotIds: ctx.slotIds,
      signal: ctx.signal,
    };
    await warmUp('floor', ctx.signal, progress, (plan) =>
      driveFloorSaga(floorCtx, plan, newFloorTiming(plan)),
    );
    progress(`floor: the same ${plans.length} saga(s) with no-op activities …`);
    const floorBefore = markCpu(processes);
    floor = await runFloor(
      floorCtx,
      plans,
      options.mode === 'idle' ? 1 : plans.length,
      progress,
      () => f.activityTimes.length,
    );
    cpu.floor = { ...cpuBetween(floorBefore, markCpu(processes)), busyBySecond: busyBySecond(floor) };
  }
  return { phase, floor, cpu };
}

/** Seconds (to 0.1) from the phase's start to `at`, as the result's samples are placed. */
const intoPhase = (phase: Phase, at: number) => Math.round((at - phase.startedAt) / 100) / 10;

/** The machine's busy share each second, placed from the phase's start, for the chart. */
function busyBySecond(phase: Phase): CpuPhase['busyBySecond'] {
  return phase.busy.map((b) => ({ s: intoPhase(phase, b.at), pct: Math.round(b.share * 100) }));
}

/** The processes whose CPU the report gives: the bench's own holds the API, emulator and floor. */
function cpuProcesses(stack: ApiStack): CpuProcesses {
  return {
    ...(stack.devServerPid !== undefined ? { 'dev server': [stack.devServerPid] } : {}),
    workers: stack.workers.map((w) => w.pid),
    bench: [process.pid],
  };
}

function buildModeResult(
  stack: ApiStack,
  options: BenchOptions,
  phase: Phase,
  floor: Phase | undefined,
  load: [number, number],
): ModeResult {
  const wire = stack.tap.requests.filter((r) => r.at >= phase.startedAt);
  // When sent, as the workers pace them; on arrival only where a request carried no stamp.
  const product = figuresOf(
    phase,
    wire.map((r) => r.sentAt ?? r.at),
  );
  const floorFigures =
    floor && stack.floor
      ? figuresOf(
          floor,
          stack.floor.activityTimes.filter((at) => at >= floor.startedAt),
        )
      : undefined;
  const samples = phase.rss.map((s) => ({
    s: intoPhase(phase, s.at),
    mb: s.mb,
    waiting: s.waiting,
  }));
  const result: ModeResult = {
    mode: options.mode,
    startedAt: new Date(phase.startedAt).toISOString(),
    config: configOf(options, options.mode === 'burst' ? THINK_MS : [0, 0], stack.ownDevServer),
    machine: machineOf(load[0], load[1]),
    product,
    requests: {
      ...requestCounts(wire, phase, stack.emulator),
      seenByEmulator: stack.emulator.requests.since(phase.startedAt).length,
    },
    memory: {
      samples,
      peakMb: samples.length ? Math.max(...samples.map((s) => s.mb)) : 0,
      rssAtWaitingMb: phase.rssAtWaiting ?? null,
    },
    webhookAnswerMs: webhookAnswers(stack, phase.startedAt),
    completion: phase.completion
      ? {
          sagas: phase.completion.sagas,
          wallMs: phase.completion.finishedAt - phase.completion.startedAt,
          perSagaMs: Math.round(
            (phase.completion.finishedAt - phase.completion.startedAt) / phase.completion.sagas,
          ),
        }
      : null,
    floor: floorFigures ? { ...floorFigures, ratios: ratios(product, floorFigures) } : null,
    failures: phase.timings
      .filter((t) => t.error)
      .slice(0, 20)
      .map((t) => ({ id: t.id, error: t.error as string })),
    charts: [],
    problems: [],
    warnings: [],
  };
  Object.assign(result, judge(result));
  return result;
}

/** Ends the sagas an aborted run left open, so none lingers on a server it did not start. */
async function terminateOpen(
  stack: ApiStack,
  phase: Phase | undefined,
  plans: TimedPlan[],
  solutionId: string,
) {
  const done = new Set(phase?.timings.filter((t) => t.completedAt !== undefined).map((t) => t.id));
  const ids = plans.map((p) => `connect:${p.externalUserId}:${solutionId}`).filter((id) => !done.has(id));
  await Promise.allSettled(
    ids.map((id) =>
      stack.client.withDeadline(Date.now() + 5000, () =>
        stack.client.workflow.getHandle(id).terminate('bench aborted'),
      ),
    ),
  );
}

/** How long the API took to answer the relayed webhooks of the phase (lookup, describe, signal). */
function webhookAnswers(stack: ApiStack, since: number): Percentiles | null {
  const times = stack.tap.webhooks
    .filter((w) => w.at >= since && w.answeredAt !== undefined)
    .map((w) => (w.answeredAt as number) - w.at);
  return times.length ? percentiles(times) : null;
}

/** Runs an API mode end to end; see the file comment. */
export async function runApiMode(
  options: BenchOptions,
  signal: AbortSignal,
  progress: Progress,
  onStarted: (close: () => Promise<void>) => void,
): Promise<number> {
  const [minMs, maxMs] = options.mode === 'burst' ? THINK_MS : [0, 0];
  const plans = planTimed(options.sagas, options.seed, minMs, maxMs);
  const stack = await startApiStack({
    slots: options.slots,
    rateLimitPerSecond: options.noLimit ? LIFTED_RATE : options.rateLimitPerSecond,
    workers: options.workers,
    workerRuntime: options.workerRuntime,
    floor: options.floor,
    ...(options.temporalAddress !== undefined ? { temporalAddress: options.temporalAddress } : {}),
    signal,
    progress,
  });
  onStarted(() => stack.close());
  let phase: Phase | undefined;
  try {
    // A worker process that dies mid-run would otherwise leave every saga waiting until the timeout.
    const died = Promise.race(stack.workers.map((w) => w.exited));
    died.catch(() => undefined);
    const ctx: ApiContext = {
      api: stack.api,
      apiToken: stack.apiToken,
      client: stack.client,
      emulator: stack.emulator,
      tap: stack.tap,
      solutionId: stack.solution.id,
      slotIds: stack.solution.authSlots.map((s) => s.externalId),
      signal,
    };
    for (const p of plans.filter((p) => p.kind === 'known'))
      stack.emulator.store.createUser(p.externalUserId, `Bench user ${p.externalUserId}`);
    const loadBefore = loadavg()[0] ?? 0;
    const part = timedPart(stack, ctx, plans, options, progress);
    const { phase: measured, floor, cpu } = await Promise.race([part, died.then(() => part)]);
    phase = measured;
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    const result = buildModeResult(stack, options, phase, floor, [loadBefore, loadavg()[0] ?? 0]);
    result.cpu = cpu;
    if (options.mode === 'burst') {
      progress("reading the slowest and the median sagas' histories …");
      const warn = (w: string) => result.warnings.push(w);
      const tail = await tailBreakdown(stack.client, phase.timings, phase.startedAt, warn);
      if (tail) result.tail = tail;
      const floorWarn = (w: string) => warn(`floor: ${w}`);
      const floorTail =
        floor && (await tailBreakdown(stack.client, floor.timings, floor.startedAt, floorWarn));
      if (floorTail) result.floorTail = floorTail;
    }
    return publishMode(result, options, phase, floor, progress);
  } finally {
    if (signal.aborted) await terminateOpen(stack, phase, plans, stack.solution.id);
    progress('cleaning up …');
    await stack.close();
  }
}

function publishMode(
  result: ModeResult,
  options: BenchOptions,
  phase: Phase,
  floor: Phase | undefined,
  progress: Progress,
): number {
  const outFile = resultFile(options.out, result.startedAt, `${options.mode}-`);
  result.charts = writeCharts(outFile, result, phase, floor).map((f) => relative(dirname(outFile), f));
  writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  const text = renderModeResult(result);
  if (options.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
  progress(`result written to ${relative(process.cwd(), outFile) || outFile} (charts beside it)`);
  return result.problems.length === 0 ? 0 : 1;
}
