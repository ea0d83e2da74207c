/**
 * The API modes' charts, written as SVG beside the JSON: Tray requests per second over time against
 * the budget, latency CDFs (start → URLs, webhook → completed; the floor dashed), worker RSS over time
 * and how busy the machine's CPUs were.
 */
import { writeFileSync } from 'node:fs';
import type { CpuPhase } from './cpu-meter.js';
import type { ModeResult } from './mode-result.js';
import type { Phase } from './modes-run.js';
import { lineChart, type Series } from './svg.js';
import { latencies } from './timing.js';

const BLUE = '#2563eb';
const ORANGE = '#ea580c';
const GREY = '#6b7280';
const RED = '#dc2626';

function subtitle(result: ModeResult): string {
  const c = result.config;
  const limit = c.rateLimitPerSecond === null ? 'no limit' : `budget ${c.rateLimitPerSecond}/s`;
  return `${result.mode}: ${c.sagas} sagas, ${c.slots} slot(s), ${limit}, ${c.workers} worker process(es) (${c.workerRuntime}) — ${result.startedAt.slice(0, 10)}`;
}

function perSecondPoints(counts: number[]): [number, number][] {
  const points = counts.map((v, i): [number, number] => [i, v]);
  points.push([counts.length, counts[counts.length - 1] ?? 0]);
  return points;
}

/** Tray requests per second (1 s buckets) with the budget line; the floor's activities dashed. */
export function requestsChart(result: ModeResult): string {
  const series: Series[] = [
    {
      name: 'Tray requests/s (saga)',
      color: BLUE,
      step: true,
      points: perSecondPoints(result.product.perSecond),
    },
  ];
  if (result.floor) {
    series.push({
      name: 'no-op activities/s (floor)',
      color: GREY,
      step: true,
      dashed: true,
      points: perSecondPoints(result.floor.perSecond),
    });
  }
  const limit = result.config.rateLimitPerSecond;
  return lineChart({
    title: 'Tray requests per second',
    subtitle: `${subtitle(result)}; busiest 5 s ${result.product.busiest5s.perSecond.toFixed(1)}/s as sent`,
    xLabel: 'seconds since the first POST',
    yLabel: 'requests per second (1 s buckets)',
    series,
    hLines: limit === null ? [] : [{ y: limit, label: `budget ${limit}/s`, color: RED }],
  });
}

function cdf(values: number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  const points: [number, number][] = [[0, 0]];
  sorted.forEach((v, i) => points.push([v / 1000, ((i + 1) / sorted.length) * 100]));
  return points;
}

/** Cumulative share of sagas by latency, for start → URLs and webhook → completed. */
export function latencyChart(result: ModeResult, phase: Phase, floor?: Phase): string {
  const product = latencies(phase.timings);
  const series: Series[] = [
    { name: 'start → URLs', color: BLUE, step: true, points: cdf(product.toUrls) },
    { name: 'webhook → completed', color: ORANGE, step: true, points: cdf(product.webhookToDone) },
  ];
  if (floor) {
    const f = latencies(floor.timings);
    series.push(
      { name: 'start → URLs (floor)', color: BLUE, step: true, dashed: true, points: cdf(f.toUrls) },
      {
        name: 'webhook → completed (floor)',
        color: ORANGE,
        step: true,
        dashed: true,
        points: cdf(f.webhookToDone),
      },
    );
  }
  return lineChart({
    title: 'Latency per saga (CDF)',
    subtitle: subtitle(result),
    xLabel: 'seconds',
    yLabel: '% of sagas at or below',
    series,
    yMax: 100,
  });
}

/** Worker RSS over time, marking when 200, 500 and 1,000 sagas were waiting. */
export function rssChart(result: ModeResult, phase: Phase): string {
  const points = result.memory.samples.map((s): [number, number] => [s.s, s.mb]);
  const vLines: { x: number; label: string }[] = [];
  for (const mark of [200, 500, 1000]) {
    const first = result.memory.samples.find((s) => s.waiting >= mark);
    if (first) vLines.push({ x: first.s, label: `${mark} waiting` });
  }
  if (phase.completion) {
    vLines.push({ x: (phase.completion.startedAt - phase.startedAt) / 1000, label: 'completing' });
  }
  return lineChart({
    title: 'Worker RSS',
    subtitle: `${subtitle(result)}; peak ${result.memory.peakMb} MB`,
    xLabel: 'seconds since the first POST',
    yLabel: 'RSS of the worker process(es), MB',
    series: [{ name: 'worker RSS (VmRSS)', color: BLUE, points }],
    vLines,
    legendAt: 'top-left',
  });
}

/** How busy the machine's CPUs were each second, the floor's phase dashed (Linux only). */
export function cpuChart(result: ModeResult): string {
  const points = (samples: CpuPhase['busyBySecond'] = []) =>
    samples.map((b): [number, number] => [b.s, b.pct]);
  const series: Series[] = [
    { name: `${result.mode} (the saga)`, color: BLUE, points: points(result.cpu?.product.busyBySecond) },
  ];
  const floor = result.cpu?.floor?.busyBySecond;
  if (floor?.length) series.push({ name: 'floor', color: GREY, dashed: true, points: points(floor) });
  return lineChart({
    title: "The machine's CPU",
    subtitle: `${subtitle(result)}; ${result.machine.cpus} CPUs, whoever used them`,
    xLabel: 'seconds since the phase began',
    yLabel: '% of all CPU time busy (1 s)',
    series,
    yMax: 100,
  });
}

/** Writes the charts beside `jsonFile` (RSS and CPU where sampled); returns the file names. */
export function writeCharts(jsonFile: string, result: ModeResult, phase: Phase, floor?: Phase): string[] {
  const base = jsonFile.replace(/\.json$/, '');
  const charts: [string, string][] = [
    [`${base}-requests.svg`, requestsChart(result)],
    [`${base}-latency.svg`, latencyChart(result, phase, floor)],
  ];
  if (result.memory.samples.length > 0) charts.push([`${base}-rss.svg`, rssChart(result, phase)]);
  if (result.cpu?.product.busyBySecond?.length) charts.push([`${base}-cpu.svg`, cpuChart(result)]);
  for (const [file, svg] of charts) writeFileSync(file, svg);
  return charts.map(([file]) => file);
}
