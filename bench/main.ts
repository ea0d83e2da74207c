/**
 * `npm run bench`: runs N connect sagas against the in-process Tray emulator on a fresh Temporal dev
 * server and reports Tray requests per saga (against the budget in docs/design.md), latency,
 * throughput, the observed Tray request rate and memory; then probes how fast the API answers GET
 * while no worker runs. `--mode burst|idle|waiting` go through the API instead (bench/modes.ts). Exits 1 when a saga fails or spends more than its budget or a probe call
 * answers wrong, 2 on bad flags, 130 on Ctrl-C, 141 when its output lost its reader; it always stops
 * what it started.
 */
import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { relative } from 'node:path';
import { connectionIdFor } from '../common/messages.js';
import { handleClosedOutput } from '../lib/closed-output.js';
import { ConfigError } from '../lib/config.js';
import { readBenchEnv } from './env.js';
import { checkOut, OutFileError, resultFile } from './out-file.js';
import { startHarness, type Harness } from './harness.js';
import { parseBenchOptions, USAGE, type BenchOptions } from './options.js';
import { readCommandLine } from '../lib/command-line.js';
import { runApiMode } from './modes.js';
import { renderResult } from './render.js';
import { buildResult } from './report.js';
import { sampleMemory, type BenchResult, type MemorySample } from './result.js';
import { planSagas, runSagas, type SagaOutcome, type SagaPlan } from './sagas.js';
import { runWorkersDownProbe, type WorkersDownObservation } from './workers-down.js';

const startTime = Date.now();
function progress(message: string): void {
  const seconds = ((Date.now() - startTime) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

class Interrupted extends Error {}
/** The run stopped because its output has no reader, as SIGPIPE stops a C program (exit 141). */
class OutputClosed extends Interrupted {}

/** The running harness's close(), for the last-resort handler below. */
let emergencyClose: (() => Promise<void>) | undefined;

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/** What the saga phase measured, ready for buildResult; the request logs are sliced from `*Before`. */
interface SagaPhase {
  outcomes: SagaOutcome[];
  startedAt: number;
  finishedAt: number;
  meteredBefore: number;
  emulatorRequestsBefore: number;
  memoryBefore: MemorySample;
  memoryAfter: MemorySample;
  peakRssMb: number;
  loadBefore: number;
  loadAfter: number;
}

/** Runs every planned saga against the harness, sampling memory and load around them. */
async function runSagaPhase(
  h: Harness,
  plans: SagaPlan[],
  options: BenchOptions,
  signal: AbortSignal,
): Promise<SagaPhase> {
  const emulatorRequestsBefore = h.emulator.requests.length;
  const meteredBefore = h.metered.length;
  const memoryBefore = sampleMemory();
  let peakRss = memoryBefore.rssMb;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, sampleMemory().rssMb);
  }, 250);
  const loadBefore = loadavg()[0] ?? 0;
  const startedAt = Date.now();
  let outcomes: SagaOutcome[];
  try {
    outcomes = await runSagas(
      {
        client: h.client,
        emulator: h.emulator,
        taskQueue: h.taskQueue,
        solutionId: h.solution.id,
        slotIds: h.solution.authSlots.map((s) => s.externalId),
        signal,
      },
      plans,
      options.concurrency,
      (outcome, done) => {
        const took = outcome.completedAt
          ? `${((outcome.completedAt - outcome.startedAt) / 1000).toFixed(2)} s`
          : '';
        progress(
          `${String(done).padStart(String(plans.length).length)}/${plans.length} ${outcome.kind.padEnd(5)} ` +
            `${outcome.error ? `FAILED: ${outcome.error}` : `completed in ${took}`}`,
        );
      },
    );
  } finally {
    clearInterval(sampler);
  }
  const finishedAt = Date.now();
  const memoryAfter = sampleMemory();
  return {
    outcomes,
    startedAt,
    finishedAt,
    meteredBefore,
    emulatorRequestsBefore,
    memoryBefore,
    memoryAfter,
    peakRssMb: Math.max(peakRss, memoryAfter.rssMb),
    loadBefore,
    loadAfter: loadavg()[0] ?? 0,
  };
}

/** Writes the result to its file and prints it; returns the exit code it calls for. */
function publish(result: BenchResult, options: BenchOptions): number {
  const outFile = resultFile(options.out, result.startedAt);
  writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

  const text = renderResult(result);
  if (options.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
  progress(`result written to ${relative(process.cwd(), outFile) || outFile}`);
  return result.problems.length === 0 ? 0 : 1;
}

async function run(options: BenchOptions, controller: AbortController): Promise<number> {
  const { signal } = controller;
  let harness: Harness | undefined;
  const plans = planSagas(options.sagas);
  let outcomes: SagaOutcome[] = [];
  try {
    harness = await startHarness({
      slots: options.slots,
      rateLimitPerSecond: options.rateLimitPerSecond,
      ...(options.temporalAddress !== undefined ? { temporalAddress: options.temporalAddress } : {}),
      signal,
      progress,
    });
    const h = harness;
    emergencyClose = () => h.close();
    // A worker that dies mid-run would otherwise leave every saga waiting until the timeout.
    h.workerRunning.catch((error: unknown) => controller.abort(error));

    const known = plans.filter((p) => p.kind === 'known');
    for (const plan of known)
      await h.createExternalUser(plan.externalUserId, `Bench user ${plan.externalUserId}`);
    progress(`created ${known.length} known user(s) in the emulator; running ${plans.length} sagas …`);

    const phase = await runSagaPhase(h, plans, options, signal);
    outcomes = phase.outcomes;
    throwIfAborted(signal);

    let workersDown: WorkersDownObservation | undefined;
    if (options.probeSagas > 0) {
      // Not under client.withAbortSignal: the probe's cleanup must still reach Temporal after an abort.
      workersDown = await runWorkersDownProbe(
        {
          client: h.client,
          namespace: h.namespace,
          solutionId: h.solution.id,
          slotIds: h.solution.authSlots.map((s) => s.externalId),
          signal,
          progress,
        },
        options.probeSagas,
      );
      throwIfAborted(signal);
    }

    const { meteredBefore, emulatorRequestsBefore, ...measured } = phase;
    const result = buildResult({
      ...measured,
      options,
      ownDevServer: h.ownDevServer,
      metered: h.metered.slice(meteredBefore),
      emulatorRequests: h.emulator.requests.slice(emulatorRequestsBefore),
      ...(workersDown ? { workersDown } : {}),
    });
    return publish(result, options);
  } finally {
    if (harness) {
      if (signal.aborted) await terminateOpen(harness, plans, outcomes);
      progress('cleaning up …');
      await harness.close();
    }
  }
}

/** After an abort: ends the sagas this run left open, so none lingers on a server it did not start. */
async function terminateOpen(harness: Harness, plans: { externalUserId: string }[], outcomes: SagaOutcome[]) {
  const finished = new Set(outcomes.filter((o) => o.completedAt !== undefined).map((o) => o.workflowId));
  const ids = plans
    .map((p) => connectionIdFor(p.externalUserId, harness.solution.id))
    .filter((id) => !finished.has(id));
  await Promise.allSettled(
    ids.map((id) =>
      harness.client.withDeadline(Date.now() + 5000, () =>
        harness.client.workflow.getHandle(id).terminate('bench aborted'),
      ),
    ),
  );
}

async function main(): Promise<number> {
  const read = readCommandLine(parseBenchOptions, USAGE);
  if ('exitCode' in read) return read.exitCode;
  const { options } = read;
  const controller = new AbortController();
  // Unhandled, each failed write would reach the crash handler below, which writes again: the
  // failures would follow each other in the tick queue for ever, never reaching cleanup or exit.
  handleClosedOutput((why) => controller.abort(new OutputClosed(`the output has no reader (${why})`)));
  try {
    readBenchEnv();
    // Before anything starts: a run of minutes must not end unable to save its result.
    checkOut(options.out);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof OutFileError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }

  // Every saga in flight (and each of its RPCs) listens on this one signal, so more than Node's
  // default of 10 listeners is normal, not a leak.
  setMaxListeners(0, controller.signal);
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`[bench] ${name} again: exiting without cleaning up\n`);
      process.exit(130);
    }
    progress(`${name}: stopping (press Ctrl-C again to exit at once) …`);
    controller.abort(new Interrupted(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort: whatever throws outside the run's own try/finally must not leave a dev server behind.
  let crashed = false;
  const onCrash = (error: unknown) => {
    // One cleanup: a second failure while it runs must not start another.
    if (crashed) return;
    crashed = true;
    progress(`unexpected error: ${(error as Error)?.stack ?? String(error)}`);
    const close = emergencyClose ?? (() => Promise.resolve());
    void close().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const timeout = setTimeout(
    () => controller.abort(new Error(`the run took longer than ${options.timeoutSeconds} s (--timeout)`)),
    options.timeoutSeconds * 1000,
  );
  timeout.unref();

  try {
    if (options.mode !== 'sagas') {
      return await runApiMode(options, controller.signal, progress, (close) => (emergencyClose = close));
    }
    return await run(options, controller);
  } catch (error) {
    progress(`aborted: ${(error as Error).message}`);
    if (error instanceof OutputClosed) return 141;
    return error instanceof Interrupted ? 130 : 1;
  } finally {
    clearTimeout(timeout);
  }
}

// Exit explicitly: the SDK's native runtime can keep the event loop alive after everything stopped.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
