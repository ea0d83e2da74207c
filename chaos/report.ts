/** The chaos run's table and its closing line. */
import type { Verdict } from './checks.js';

export interface Row {
  name: string;
  passed: boolean;
  sagas: number;
  faults: number;
  verdict?: Verdict;
  /** From the end of the last fault to the end of the last saga. */
  recoverMs?: number;
  tookMs: number;
  problems: string[];
  notes: string[];
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`);

/** The table, then each scenario's problems (at most 10 lines each) and notes. */
export function renderReport(rows: Row[]): string {
  const header = [
    'scenario',
    'result',
    'sagas',
    'faults',
    'orphans',
    'dup',
    'lost',
    'leaks',
    'recover',
    'took',
  ];
  const cells = rows.map((r) => [
    r.name,
    r.passed ? 'PASS' : 'FAIL',
    String(r.sagas),
    String(r.faults),
    String(r.verdict?.orphans ?? '-'),
    String(r.verdict?.duplicates ?? '-'),
    String(r.verdict?.lost ?? '-'),
    String(r.verdict?.leaks ?? '-'),
    seconds(r.recoverMs),
    seconds(r.tookMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ''];
  for (const r of rows) {
    for (const note of r.notes) out.push(`${r.name}: ${note}`);
    for (const p of r.problems.slice(0, 10)) out.push(`${r.name}: FAIL ${p}`);
    if (r.problems.length > 10) out.push(`${r.name}: … ${r.problems.length - 10} more problems`);
  }
  return out.join('\n');
}
