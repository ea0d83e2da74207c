/** Renders a bench result as the plain-text tables `npm run bench` prints. */
import type { BenchResult, WorkersDownResult } from './result.js';
import type { Summary } from './stats.js';

const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');

/** Columns padded to their widest cell: the first left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

/** The run's settings, the Tray requests per saga against the budget, and the counts. */
function requestLines(result: BenchResult): string[] {
  const { config, requests: req } = result;
  const ops = [...new Set([...Object.keys(req.new.byOperation), ...Object.keys(req.known.byOperation)])];
  return [
    `connect-saga bench — ${result.sagas.completed}/${result.sagas.total} sagas completed, ${config.slots} slot(s) each, ` +
      `concurrency ${config.concurrency}, rate limit ${config.rateLimitPerSecond}/s ` +
      `(${result.machine.cpus} CPUs, load ${result.machine.loadAverage.before}→${result.machine.loadAverage.after}, ` +
      `Node ${result.machine.node}, ${config.temporal})`,
    '',
    'Tray requests per saga (mean; budget is a per-saga maximum)',
    table([
      ['operation', 'new user', 'known user'],
      ...ops.map((op) => [op, String(req.new.byOperation[op] ?? 0), String(req.known.byOperation[op] ?? 0)]),
      ['total (mean)', String(req.new.perSaga.mean), String(req.known.perSaga.mean)],
      [
        'total (min–max)',
        `${req.new.perSaga.min}–${req.new.perSaga.max}`,
        `${req.known.perSaga.min}–${req.known.perSaga.max}`,
      ],
      ['budget (max)', String(req.new.budget), String(req.known.budget)],
      ['within budget', req.new.withinBudget ? 'yes' : 'NO', req.known.withinBudget ? 'yes' : 'NO'],
      ['sagas', String(req.new.sagas), String(req.known.sagas)],
    ]),
    `requests sent ${req.total}, seen by the emulator ${req.seenByEmulator}, failed ${req.failed}`,
  ];
}

/** Latency, throughput, the observed Tray rate and memory. */
function timingLines(result: BenchResult): string[] {
  const { config, latencyMs, rate, memory } = result;
  return [
    'Latency per saga',
    table([
      ['', 'p50', 'p95', 'max'],
      [
        'start → completed (incl. 2 s timer)',
        fmtMs(latencyMs.endToEnd.p50),
        fmtMs(latencyMs.endToEnd.p95),
        fmtMs(latencyMs.endToEnd.max),
      ],
      [
        `start → auth URLs (polled every ${config.statusPollMs} ms)`,
        fmtMs(latencyMs.toAuthUrls.p50),
        fmtMs(latencyMs.toAuthUrls.p95),
        fmtMs(latencyMs.toAuthUrls.max),
      ],
    ]),
    '',
    `Throughput: ${result.throughput.sagasPerMinute} sagas/min (${result.sagas.completed} in ${fmtMs(result.throughput.wallMs)})`,
    `Tray rate: busiest 5 s ${rate.peakRequests.perSecond.toFixed(1)} req/s ` +
      `(${rate.peakRequests.count} requests${result.throughput.wallMs < 5000 ? ', the whole run' : ''}), ` +
      `average over the run's ${fmtMs(result.throughput.wallMs)} ${rate.averageRequestsPerSecond} req/s, ` +
      `limit ${rate.configuredPerSecond}/s → ${rate.requestsWithinLimit ? 'within' : 'OVER'}; ` +
      `peak activities ${rate.peakActivities.perSecond.toFixed(1)}/s`,
    `Memory (bench process: worker + emulator + client): RSS ${memory.before.rssMb} → ${memory.after.rssMb} MB ` +
      `(peak ${memory.peakRssMb} MB), heap used ${memory.before.heapUsedMb} → ${memory.after.heapUsedMb} MB`,
  ];
}

/** The workers-down probe: GET latency against its target, the webhook, every status seen. */
function workersDownLines(down: WorkersDownResult): string[] {
  const verdict = (summary: Summary) =>
    summary.count === 0 ? '—' : summary.max <= down.targetMs ? 'ok' : 'OVER';
  const codes = (Object.entries(down.statusCodes) as [string, Record<string, number>][])
    .map(([kind, counts]) =>
      Object.entries(counts)
        .map(([code, n]) => `${kind} ${code === '0' ? 'no answer' : code}×${n}`)
        .join(', '),
    )
    .join(', ');
  const lines = [
    '',
    `Workers down (${down.started}/${down.sagas} sagas started through the API on a task queue no worker polls)`,
    table([
      ['GET /v1/connections/{id}', 'n', 'p50', 'max', 'target', 'result'],
      ...(
        [
          ['one at a time', down.get.sequential],
          [`${down.get.concurrent.count} at once`, down.get.concurrent],
          ['all', down.get.all],
        ] as const
      ).map(([label, summary]) => [
        label,
        String(summary.count),
        fmtMs(summary.p50),
        fmtMs(summary.max),
        fmtMs(down.targetMs),
        verdict(summary),
      ]),
    ]),
    `signed webhook: ${down.webhook ? `${down.webhook.status} in ${fmtMs(down.webhook.ms)}` : 'not sent'}; answers: ${codes}`,
  ];
  for (const f of down.failures.slice(0, 10)) lines.push(`  ${f.kind} ${f.connectionId}: ${f.error}`);
  return lines;
}

/** The result as plain text for a terminal. */
export function renderResult(result: BenchResult): string {
  const lines = [...requestLines(result), '', ...timingLines(result)];
  if (result.workersDown) lines.push(...workersDownLines(result.workersDown));
  if (result.sagas.failed.length > 0) {
    lines.push('', 'Failed sagas:');
    for (const f of result.sagas.failed.slice(0, 10)) lines.push(`  ${f.workflowId}: ${f.error}`);
  }
  lines.push('');
  for (const warning of result.warnings) lines.push(`WARNING: ${warning}`);
  lines.push(result.problems.length === 0 ? 'PASS' : `FAIL: ${result.problems.join('; ')}`);
  return lines.join('\n');
}
