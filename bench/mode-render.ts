/** Renders an API mode's result (burst, idle, waiting) as the plain-text table the bench prints. */
import type { CpuPhase } from './cpu-meter.js';
import type { Figures, ModeResult } from './mode-result.js';
import { table } from './render.js';
import { groupFigure, type TailBreakdown, type TailSaga } from './tail-histories.js';
import { TAIL_PHASES, type TailPhase } from './tail-phases.js';

const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');
const x = (ratio: number | undefined) =>
  ratio !== undefined && Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—';

function latencyRows(label: string, f: Figures): string[][] {
  const u = f.startToUrlsMs;
  const w = f.webhookToCompletedMs;
  return [
    [`${label} start → URLs`, s(u.p10), s(u.p50), s(u.p90), s(u.p99), s(u.max), `${u.medianOverMax}`],
    [`${label} webhook → completed`, s(w.p10), s(w.p50), s(w.p90), s(w.p99), s(w.max), ''],
  ];
}

function header(result: ModeResult): string {
  const { config: c, machine: m, product: p } = result;
  const limit = c.rateLimitPerSecond === null ? 'limit lifted' : `budget ${c.rateLimitPerSecond}/s`;
  return (
    `connect-saga bench --mode ${result.mode} — ${p.sagas.completed}/${p.sagas.total} sagas completed, ${c.slots} slot(s), ` +
    `${limit}, ${c.workers} worker process(es) (${c.workerRuntime}; ${c.cachedSagas} cached, ${c.workflowTasks} workflow tasks), think ${c.thinkMs[0] / 1000}–${c.thinkMs[1] / 1000} s (seed ${c.seed}) ` +
    `(${m.cpus} CPUs, load ${m.loadAverage.before}→${m.loadAverage.after}, Node ${m.node}, ${c.temporal})`
  );
}

function rateLines(result: ModeResult): string[] {
  const { product: p, floor: f, config: c } = result;
  const limit = c.rateLimitPerSecond;
  const arrival = result.requests.busiest5sOnArrival;
  const lines = [
    `Tray requests (counted on the wire, when sent): busiest 5 s ${p.busiest5s.perSecond.toFixed(1)} req/s (at ${p.busiest5s.startsAtS} s)` +
      `${limit === null ? '' : ` vs budget ${limit}/s → ${p.busiest5s.perSecond <= limit ? 'within' : 'OVER'}`}; ` +
      `on arrival ${arrival.perSecond.toFixed(1)} req/s (at ${arrival.startsAtS} s); ` +
      `mean until the last URLs ${p.meanUntilLastUrls} req/s`,
    `  per second: ${p.perSecond.join(' ')}`,
    `Throughput: ${p.throughput.sagasPerMinute} sagas/min (${p.sagas.completed} in ${s(p.throughput.wallMs)})` +
      (f ? `; floor ${f.throughput.sagasPerMinute} sagas/min → ${x(f.ratios.throughput)} the floor` : ''),
  ];
  if (f) lines.push(`Floor activities: busiest 5 s ${f.busiest5s.perSecond.toFixed(1)}/s`);
  const a = result.webhookAnswerMs;
  if (a) {
    lines.push(
      `API answered the ${a.count} relayed webhook(s) in p50 ${s(a.p50)}, p99 ${s(a.p99)}, max ${s(a.max)}`,
    );
  }
  return lines;
}

function requestLines(result: ModeResult): string[] {
  const r = result.requests;
  return [
    'Tray requests per saga',
    table([
      ['', 'sagas', 'min', 'max', 'mean', 'budget', 'within'],
      ...(['new', 'known'] as const).map((k) => [
        `${k} user`,
        String(r[k].sagas),
        String(r[k].min),
        String(r[k].max),
        String(r[k].mean),
        String(r[k].budget),
        r[k].withinBudget ? 'yes' : 'NO',
      ]),
    ]),
    `wire tap ${r.metered} (${r.stamped} with their send time), emulator log ${r.seenByEmulator}, not 200 ${r.failed}, unattributed ${r.unattributed}`,
  ];
}

function memoryLines(result: ModeResult): string[] {
  const { memory, completion } = result;
  const lines: string[] = [];
  if (memory.samples.length) lines.push(`Worker RSS: peak ${memory.peakMb} MB`);
  if (memory.rssAtWaitingMb) {
    const at = Object.entries(memory.rssAtWaitingMb).map(([k, mb]) => `${k} waiting ${mb} MB`);
    lines.push(`  at ${at.join(', ')}`);
  }
  if (completion) {
    lines.push(
      `Completing ${completion.sagas} waiting sagas: ${s(completion.wallMs)}, ${s(completion.perSagaMs)} per saga`,
    );
  }
  return lines;
}

/** A machine this busy sets the timings as much as the code does: the report says so. */
const BUSY_MACHINE = 0.9;

/** Where each timed phase's CPU went, per process and per saga, and how busy the machine was. */
export function cpuLines(result: ModeResult): string[] {
  const cpu = result.cpu;
  if (!cpu) return [];
  const sagas = result.product.sagas.total;
  const phases: [string, CpuPhase | undefined][] = [
    [result.mode, cpu.product],
    ['floor', cpu.floor],
  ];
  const lines: string[] = [];
  for (const [label, phase] of phases) {
    if (!phase || Object.keys(phase.coreSeconds).length === 0) continue;
    const used = Object.entries(phase.coreSeconds);
    const total = used.reduce((sum, [, v]) => sum + v, 0);
    const busy =
      phase.machineBusy === undefined ? '' : `, the machine ${Math.round(phase.machineBusy * 100)}% busy`;
    lines.push(
      `  ${label}: ${phase.wallS} s${busy}; core-seconds ${used.map(([name, v]) => `${name} ${v}`).join(', ')}` +
        ` (${Math.round((total * 1000) / Math.max(1, sagas))} ms a saga)`,
    );
  }
  if (!lines.length) return [];
  const busiest = Math.max(...phases.map(([, p]) => p?.machineBusy ?? 0));
  if (busiest >= BUSY_MACHINE) {
    lines.push(
      `  the CPUs were ${Math.round(busiest * 100)}% busy: this machine, not only the code, set that phase's timings`,
    );
  }
  return [
    `CPU (${result.machine.cpus} CPUs; bench = the API, emulator, wire tap and end users, or the floor's worker)`,
    ...lines,
  ];
}

const ms = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '—');

/** The machine's mean busy share over the seconds around `atS` (s into the phase), in percent. */
export function busyNear(
  result: ModeResult,
  atS: number,
  phase: 'product' | 'floor' = 'product',
): number | undefined {
  const near = (result.cpu?.[phase]?.busyBySecond ?? []).filter((b) => b.s >= atS - 1 && b.s <= atS + 2);
  return near.length ? Math.round(near.reduce((sum, b) => sum + b.pct, 0) / near.length) : undefined;
}

/** When a tail's slowest sagas had their last signals, and how busy the machine was then. */
function slowestLine(result: ModeResult, tail: TailBreakdown, phase: 'product' | 'floor'): string {
  const slowest = tail.sagas.filter((t) => t.group === 'slowest');
  const busy = slowest.map((t) => busyNear(result, t.signalAtS, phase));
  const retries = tail.sagas.reduce((n, t) => n + t.activityRetries, 0);
  const when = slowest.map((t) => `${t.signalAtS} s`).join(', ');
  const whose =
    phase === 'floor'
      ? { sagas: "the floor's slowest sagas'", burst: 'its' }
      : { sagas: "slowest sagas'", burst: 'the' };
  return (
    `  ${whose.sagas} last signals at ${when} into ${whose.burst} burst` +
    (busy.length > 0 && busy.every((b) => b !== undefined)
      ? `; the machine ${busy.map((b) => `${b}%`).join(', ')} busy then`
      : '') +
    (retries ? `; ${retries} activity retry(ies) among these sagas` : '')
  );
}

/**
 * Where the median and the slowest sagas spent webhook → completed, from their histories; with the
 * floor's sagas beside them when the run had a floor.
 */
export function tailLines(result: ModeResult): string[] {
  const { tail, floorTail } = result;
  if (!tail) return [];
  const tails = floorTail ? [tail, floorTail] : [tail];
  const count = (t: TailBreakdown, group: TailSaga['group']) =>
    t.sagas.filter((s) => s.group === group).length;
  const figures = (of: (t: TailSaga) => number): string[] =>
    tails.flatMap((t) => [ms(groupFigure(t.sagas, 'median', of)), ms(groupFigure(t.sagas, 'slowest', of))]);
  const heads = tails.flatMap((t, i) => {
    const who = i === 0 ? '' : 'floor ';
    return [
      `${who}median ${count(t, 'median')} saga(s) (ms)`,
      `${who}slowest ${count(t, 'slowest')} (mean ms)`,
    ];
  });
  const rows = [
    ['after the last signal', ...heads],
    ...TAIL_PHASES.map((p: TailPhase) => [
      p,
      ...tails.flatMap((t) => [ms(t.medianMs[p]), ms(t.slowestMeanMs[p])]),
    ]),
    ['= last signal → close', ...figures((t) => t.historyMs)],
    ['(bench: webhook → completed)', ...figures((t) => t.webhookToCompletedMs)],
  ];
  return [
    'Where webhook → completed went (Temporal histories)',
    table(rows),
    slowestLine(result, tail, 'product'),
    ...(floorTail ? [slowestLine(result, floorTail, 'floor')] : []),
  ];
}

/** The result as plain text for a terminal. */
export function renderModeResult(result: ModeResult): string {
  const f = result.floor;
  const rows = [
    ['latency', 'p10', 'p50', 'p90', 'p99', 'max', 'p50/max'],
    ...latencyRows('saga', result.product),
  ];
  if (f) rows.push(...latencyRows('floor', f));
  const lines = [header(result), '', table(rows)];
  if (f) {
    lines.push(
      `vs floor: start → URLs p50 ${x(f.ratios.startToUrlsP50)}, max ${x(f.ratios.startToUrlsMax)}; ` +
        `webhook → completed p50 ${x(f.ratios.webhookToCompletedP50)}, p99 ${x(f.ratios.webhookToCompletedP99)}`,
    );
  }
  const tail = tailLines(result);
  if (tail.length) lines.push('', ...tail);
  lines.push('', ...rateLines(result), '', ...requestLines(result), ...memoryLines(result));
  const cpu = cpuLines(result);
  if (cpu.length) lines.push('', ...cpu);
  if (result.failures.length) {
    lines.push('', 'Failed sagas:', ...result.failures.slice(0, 10).map((e) => `  ${e.id}: ${e.error}`));
  }
  if (result.charts.length) lines.push('', `Charts: ${result.charts.join(', ')}`);
  lines.push('', ...result.warnings.map((w) => `WARNING: ${w}`));
  lines.push(result.problems.length === 0 ? 'PASS' : `FAIL: ${result.problems.join('; ')}`);
  return lines.join('\n');
}
