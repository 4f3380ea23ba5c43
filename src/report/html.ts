/**
 * The standalone HTML report: one file, inline CSS and SVG, no scripts, no external URLs,
 * so it opens offline, can be mailed, and is safe to view anywhere.
 */
import { accuracyVsDensitySvg, layerDensitySvg, magnitudeHistogramSvg, speedupSvg } from './charts.js';
import { renderSvg } from './render.js';
import type { LayerStats, ReportData, TableSection } from './types.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function cell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toPrecision(6)));
  return String(v);
}

/** An HTML table; numbers are right-aligned. */
export function renderTable(columns: readonly string[], rows: TableSection['rows']): string {
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${escapeHtml(cell(v))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function layerStatsRows(rows: readonly LayerStats[]): TableSection['rows'] {
  const out: (string | number | null)[][] = rows.map((r) => [
    r.layer,
    r.shape ? `[${r.shape.join(', ')}]` : '',
    r.total,
    r.kept,
    `${((100 * r.kept) / Math.max(1, r.total)).toFixed(2)}%`,
    r.threshold ?? null,
  ]);
  const total = rows.reduce((s, r) => s + r.total, 0);
  const kept = rows.reduce((s, r) => s + r.kept, 0);
  out.push(['total', '', total, kept, `${((100 * kept) / Math.max(1, total)).toFixed(2)}%`, null]);
  return out;
}

function figure(id: string, title: string, svg: string): string {
  return `<section class="chart" id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>\n<figure>${svg}</figure></section>`;
}

function tableSection(id: string, title: string, table: string): string {
  return `<section class="table" id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>\n${table}</section>`;
}

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:980px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd}
.subtitle{color:#666;margin-top:0}figure{margin:0}svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.92em}th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:none}ul.summary{padding-left:1.2em}
`;

/** Builds the report; sections absent from `data` are left out. */
export async function renderReport(data: ReportData): Promise<string> {
  const parts: string[] = [];
  if (data.summary && data.summary.length > 0) {
    parts.push(`<ul class="summary">${data.summary.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>`);
  }
  if (data.accuracy && data.accuracy.points.length > 0) {
    const a = data.accuracy;
    parts.push(figure('accuracy', a.title ?? `${a.metric ?? 'Accuracy'} versus density`, await accuracyVsDensitySvg(a.points, a.metric)));
  }
  if (data.layerDensity && data.layerDensity.rows.length > 0) {
    parts.push(figure('layer-density', data.layerDensity.title ?? 'Density per layer', await layerDensitySvg(data.layerDensity.rows)));
  }
  if (data.magnitudes && data.magnitudes.values.length > 0) {
    const m = data.magnitudes;
    parts.push(figure('magnitudes', m.title ?? 'Weight magnitudes and threshold', await magnitudeHistogramSvg(m.values, m.threshold, m.bins)));
  }
  if (data.speedup && data.speedup.points.length > 0) {
    const s = data.speedup;
    parts.push(figure('speedup', s.title ?? 'Speed-up versus sparsity', await speedupSvg(s.points, s.flopLine ?? true)));
  }
  for (const [i, c] of (data.charts ?? []).entries()) {
    parts.push(figure(`chart-${i}`, c.title, await renderSvg(c.spec)));
  }
  if (data.layers && data.layers.rows.length > 0) {
    const cols = ['layer', 'shape', 'parameters', 'kept', 'density', 'threshold'];
    parts.push(tableSection('layers', data.layers.title ?? 'Per-layer statistics', renderTable(cols, layerStatsRows(data.layers.rows))));
  }
  for (const [i, t] of (data.tables ?? []).entries()) {
    parts.push(tableSection(`table-${i}`, t.title, renderTable(t.columns, t.rows)));
  }
  if (data.settings) {
    const rows = Object.entries(data.settings).filter(([, v]) => v !== undefined).map(([k, v]) => [k, cell(v)]);
    if (rows.length > 0) parts.push(tableSection('settings', 'Settings', renderTable(['setting', 'value'], rows)));
  }
  const subtitle = data.subtitle ? `<p class="subtitle">${escapeHtml(data.subtitle)}</p>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title><style>${CSS}</style></head>
<body><h1>${escapeHtml(data.title)}</h1>${subtitle}
${parts.join('\n')}
<footer class="subtitle"><p>Made by sculpt.</p></footer>
</body></html>
`;
}
