/**
 * `npm run chaos`: breaks a real connect-saga stack on this machine in the ways a hostile world does
 * (see README "Chaos suite") and checks at the emulator and at Temporal that nothing is left behind.
 * Prints a table and `N passed, M failed`; exits 1 on any failure.
 */
import { rmSync } from 'node:fs';
import { verify } from './checks.js';
import { parseOptions, USAGE, type ChaosOptions } from './options.js';
import { readCommandLine } from '../lib/command-line.js';
import { installExitHandlers } from './procs.js';
import { renderReport, type Row } from './report.js';
import { clearFaults, type Scenario } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { Stack } from './stack.js';
import { seededRandom } from '../dev/async.js';

const say = (line: string) => process.stdout.write(`[chaos] ${line}\n`);

function pick(options: ChaosOptions): Scenario[] {
  if (options.scenarios.length === 0) return SCENARIOS.filter((s) => !options.quick || s.quick);
  const unknown = options.scenarios.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  return SCENARIOS.filter((s) => options.scenarios.includes(s.name));
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} overran its ${Math.round(ms / 1000)} s budget`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function runScenario(
  stack: Stack,
  scenario: Scenario,
  options: ChaosOptions,
  index: number,
): Promise<Row> {
  const started = Date.now();
  const row: Row = {
    name: scenario.name,
    passed: false,
    sagas: 0,
    faults: 0,
    tookMs: 0,
    problems: [],
    notes: [],
  };
  try {
    await stack.heal(scenario.workers ?? 1);
    await clearFaults(stack);
    const budgetMs = scenario.budgetMinutes[options.quick ? 1 : 0] * 60_000;
    const prefix = `c${options.seed}-${scenario.name}`;
    say(`${scenario.name}: ${scenario.summary}`);
    const outcome = await withDeadline(
      scenario.run({
        stack,
        random: seededRandom(options.seed + index * 7919),
        quick: options.quick,
        prefix,
        deadline: started + budgetMs,
        log: (m) => say(`${scenario.name}: ${m}`),
      }),
      budgetMs + 60_000,
      scenario.name,
    );
    await clearFaults(stack);
    row.sagas = outcome.sagas.length;
    row.faults = outcome.faults;
    row.notes = outcome.notes ?? [];
    row.verdict = await verify(stack, prefix, outcome.sagas);
    row.problems = [...(outcome.problems ?? []), ...row.verdict.problems];
    // A run whose fault never fired (a kill after the burst ended, a storm no request met) proved nothing.
    if (outcome.faults === 0)
      row.problems.push('no fault was injected while sagas ran, so nothing was tested');
    const ends = outcome.sagas.map((s) => s.endedAt ?? 0);
    if (ends.every((e) => e > 0)) row.recoverMs = Math.max(0, Math.max(...ends) - outcome.faultEndedAt);
    row.passed = row.problems.length === 0;
  } catch (error) {
    row.problems.push(error instanceof Error ? error.message : String(error));
  }
  row.tookMs = Date.now() - started;
  say(`${scenario.name}: ${row.passed ? 'passed' : 'FAILED'} in ${Math.round(row.tookMs / 1000)} s`);
  return row;
}

async function main(): Promise<number> {
  const read = readCommandLine(parseOptions, USAGE);
  if ('exitCode' in read) return read.exitCode;
  const { options } = read;
  if (options.list) {
    for (const s of SCENARIOS)
      process.stdout.write(`${s.name.padEnd(22)} ${s.quick ? 'quick ' : '      '}${s.summary}\n`);
    return 0;
  }
  const scenarios = pick(options);
  let stack: Stack | undefined;
  installExitHandlers(() => void stack?.relay.close());
  say(`seed ${options.seed}${options.quick ? ', quick' : ''}: ${scenarios.map((s) => s.name).join(', ')}`);
  const rows: Row[] = [];
  try {
    stack = await Stack.start(options.seed);
    say(`stack up (logs and state in ${stack.runDir})`);
    for (const [i, scenario] of scenarios.entries())
      rows.push(await runScenario(stack, scenario, options, i));
  } catch (error) {
    rows.push({
      name: 'stack',
      passed: false,
      sagas: 0,
      faults: 0,
      tookMs: 0,
      problems: [String(error)],
      notes: [],
    });
  } finally {
    await stack?.close().catch((e: unknown) => say(`stopping the stack: ${String(e)}`));
  }
  const failed = rows.filter((r) => !r.passed).length;
  process.stdout.write(`\n${renderReport(rows)}\n`);
  if (stack && (failed > 0 || options.keep)) say(`process logs kept in ${stack.runDir}`);
  else if (stack) rmSync(stack.runDir, { recursive: true, force: true });
  process.stdout.write(`\nseed ${options.seed}\n${rows.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
