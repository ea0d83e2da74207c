/**
 * A small hand-written SVG line chart (no dependency): axes with round ticks, labels, a title, a
 * legend, optional step lines, horizontal reference lines (a budget) and vertical markers.
 */

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  /** Draw as steps (a value holds until the next point), e.g. per-second counts or a CDF. */
  step?: boolean;
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  hLines?: { y: number; label: string; color: string }[];
  vLines?: { x: number; label: string }[];
  yMax?: number;
  /** Where the legend goes (default bottom right). */
  legendAt?: 'bottom-right' | 'top-left';
}

const W = 760;
const H = 420;
const M = { left: 72, right: 24, top: 62, bottom: 58 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
const n = (v: number) => (Math.round(v * 10) / 10).toString();

/** A round tick step giving about `count` ticks over `range`. */
function tickStep(range: number, count: number): number {
  const raw = range / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

function ticks(max: number): number[] {
  const step = tickStep(max, 5);
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

const label = (v: number) => (Math.abs(v) >= 1000 ? `${n(v / 1000)}k` : String(Math.round(v * 1000) / 1000));

function path(
  points: [number, number][],
  step: boolean,
  sx: (x: number) => number,
  sy: (y: number) => number,
) {
  const parts: string[] = [];
  points.forEach(([x, y], i) => {
    if (i === 0) parts.push(`M${n(sx(x))},${n(sy(y))}`);
    else if (step) parts.push(`H${n(sx(x))}V${n(sy(y))}`);
    else parts.push(`L${n(sx(x))},${n(sy(y))}`);
  });
  return parts.join('');
}

function axes(
  xTicks: number[],
  yTicks: number[],
  sx: (x: number) => number,
  sy: (y: number) => number,
): string[] {
  const out: string[] = [];
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" x2="${M.left + PW}" y1="${n(sy(t))}" y2="${n(sy(t))}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${M.left - 8}" y="${n(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(
      `<line x1="${n(sx(t))}" x2="${n(sx(t))}" y1="${M.top + PH}" y2="${M.top + PH + 5}" stroke="#6b7280"/>`,
    );
    out.push(`<text x="${n(sx(t))}" y="${M.top + PH + 20}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#6b7280"/>`);
  return out;
}

/** Inside the plot on a white box; bottom right is where rates and CDFs rarely are. */
function legend(series: Series[], at: ChartSpec['legendAt']): string[] {
  const width = 16 + 30 + 7 * Math.max(...series.map((s) => s.name.length));
  const height = 10 + series.length * 18;
  const left = at === 'top-left' ? M.left + 10 : M.left + PW - width - 10;
  const top = at === 'top-left' ? M.top + 10 : M.top + PH - height - 24;
  const out = [
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#fff" fill-opacity="0.85" stroke="#d1d5db"/>`,
  ];
  series.forEach((s, i) => {
    const y = top + 18 + i * 18;
    const x = left + 8;
    out.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${x + 30}" y="${y}">${esc(s.name)}</text>`,
    );
  });
  return out;
}

/** The chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const xMax = Math.max(1e-9, ...all.map(([x]) => x), ...(spec.vLines ?? []).map((v) => v.x));
  const yMax =
    spec.yMax ?? Math.max(1e-9, ...all.map(([, y]) => y), ...(spec.hLines ?? []).map((h) => h.y)) * 1.1;
  const xTicks = ticks(xMax);
  const yTicks = ticks(yMax).filter((t) => t <= yMax + 1e-9);
  const xTop = Math.max(xMax, xTicks[xTicks.length - 1] ?? xMax);
  const sx = (x: number) => M.left + (x / xTop) * PW;
  const sy = (y: number) => M.top + PH - (Math.min(y, yMax) / yMax) * PH;
  const body: string[] = [
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(spec.title)}</text>`,
    spec.subtitle
      ? `<text x="${W / 2}" y="44" text-anchor="middle" fill="#4b5563">${esc(spec.subtitle)}</text>`
      : '',
    ...axes(xTicks, yTicks, sx, sy),
    `<text x="${M.left + PW / 2}" y="${H - 14}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  ];
  for (const h of spec.hLines ?? []) {
    body.push(
      `<line x1="${M.left}" x2="${M.left + PW}" y1="${n(sy(h.y))}" y2="${n(sy(h.y))}" stroke="${h.color}" stroke-width="1.5" stroke-dasharray="8 4"/>`,
      `<text x="${M.left + PW - 6}" y="${n(sy(h.y) - 6)}" text-anchor="end" fill="${h.color}">${esc(h.label)}</text>`,
    );
  }
  // Labels step up from the bottom, so markers close together stay readable.
  (spec.vLines ?? []).forEach((v, i) => {
    body.push(
      `<line x1="${n(sx(v.x))}" x2="${n(sx(v.x))}" y1="${M.top}" y2="${M.top + PH}" stroke="#9ca3af" stroke-dasharray="3 3"/>`,
      `<text x="${n(sx(v.x) + 4)}" y="${M.top + PH - 8 - (i % 4) * 16}" fill="#4b5563">${esc(v.label)}</text>`,
    );
  });
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(
      `<path d="${path(s.points, s.step ?? false, sx, sy)}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
  }
  body.push(...legend(spec.series, spec.legendAt));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">\n${body.filter(Boolean).join('\n')}\n</svg>\n`;
}
