/**
 * A small line chart as SVG text (no dependency): linear axes from 0, ticks at round numbers, one
 * polyline with dots per series, a legend. Pure: data in, markup out.
 */

export interface ChartSeries {
  label: string;
  points: { x: number; y: number }[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Text under the title (machine, load); one line per \\n. */
  subtitle?: string;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tick step of 1, 2 or 5 × 10^k giving about `target` ticks up to max. */
export function niceStep(max: number, target = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}

function ticks(max: number): number[] {
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const values: number[] = [];
  for (let value = 0; value <= top + step / 2 && values.length < 50; value += step) values.push(Math.round(value * 1e6) / 1e6);
  return values;
}

const fmt = (value: number) => (Math.abs(value) >= 1000 ? value.toLocaleString('en-US') : String(value));

export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 440;
  const subtitleLines = chart.subtitle ? chart.subtitle.split('\n') : [];
  const margin = { left: 80, right: 290, top: 44 + subtitleLines.length * 18, bottom: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = chart.series.flatMap((series) => series.points).filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  const xTicks = ticks(Math.max(1, ...all.map((point) => point.x)));
  const yTicks = ticks(Math.max(1, ...all.map((point) => point.y)));
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const sx = (x: number) => margin.left + (x / xMax) * plotW;
  const sy = (y: number) => margin.top + plotH - (y / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  subtitleLines.forEach((line, index) => out.push(`<text x="${margin.left}" y="${44 + index * 18}" fill="#555555">${escapeXml(line)}</text>`));
  for (const value of yTicks) {
    const y = sy(value).toFixed(1);
    out.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(value)}</text>`);
  }
  for (const value of xTicks) {
    const x = sx(value).toFixed(1);
    out.push(`<line x1="${x}" y1="${margin.top + plotH}" x2="${x}" y2="${margin.top + plotH + 5}" stroke="#333333"/>`);
    out.push(`<text x="${x}" y="${margin.top + plotH + 20}" text-anchor="middle">${fmt(value)}</text>`);
  }
  out.push(
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#333333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text x="18" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${margin.top + plotH / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length]!;
    const points = series.points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y)).sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((point) => `${sx(point.x).toFixed(1)},${sy(point.y).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const point of points) {
      out.push(`<circle cx="${sx(point.x).toFixed(1)}" cy="${sy(point.y).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${series.label}: ${fmt(point.y)} at ${fmt(point.x)}`)}</title></circle>`);
    }
    const ly = margin.top + 10 + index * 20;
    const lx = margin.left + plotW + 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(series.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
