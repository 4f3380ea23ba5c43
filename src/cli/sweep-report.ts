/**
 * DIR/report.html of a sweep: one chart per metric that varies (cell means with 95% t intervals
 * as error bars), the paired differences the grid asks for, and a table of every cell.
 */
import { cellLabel, type SweepCell } from '../api/sweep-cells.js';
import { intervalSpec, renderReport, type ChartSection, type TableSection } from '../report/index.js';

/** Charts beyond this many metrics would make the report unreadable; the table keeps them all. */
const MAX_CHARTS = 30;

/**
 * Metric names in first-seen order whose values differ somewhere (between cells or seeds); a
 * result's echo of its own seed (`seed`, `options.seed`) is no measurement and is left out.
 */
export function varyingMetrics(cells: readonly SweepCell[]): string[] {
  const names = [...new Set(cells.flatMap((c) => Object.keys(c.metrics)))].filter((n) => n !== 'seed' && !n.endsWith('.seed'));
  return names.filter((name) => {
    const ms = cells.map((c) => c.metrics[name]).filter((m) => m !== undefined);
    return ms.some((m) => m.sd > 0 || m.mean !== ms[0]!.mean);
  });
}

const fmt = (x: number): string => String(Number(x.toPrecision(5)));

export async function sweepReport(cells: readonly SweepCell[], command: string, comparisons: ReadonlyArray<readonly [string, string]> = []): Promise<string> {
  const metrics = varyingMetrics(cells);
  const charts: ChartSection[] = [];
  for (const [a, b] of comparisons) {
    const points = cells.flatMap((c) => (c.pairs ?? []).filter((p) => p.a === a && p.b === b).map((p) => ({ cell: cellLabel(c.options), mean: p.mean, lo: p.ci95[0], hi: p.ci95[1], n: p.n })));
    const name = `${a} − ${b}`;
    if (points.length > 0) charts.push({ title: `paired difference ${name} (same seeds)`, spec: intervalSpec(points, name) as unknown as Record<string, unknown> });
  }
  for (const name of metrics.slice(0, MAX_CHARTS)) {
    const points = cells.flatMap((c) => {
      const m = c.metrics[name];
      return m ? [{ cell: cellLabel(c.options), mean: m.mean, lo: m.ci95[0], hi: m.ci95[1], n: m.n }] : [];
    });
    charts.push({ title: name, spec: intervalSpec(points, name) as unknown as Record<string, unknown> });
  }
  const tables: TableSection[] = [{
    title: 'Cells: mean ± half-width of the 95% interval',
    columns: ['cell', 'n', 'failed', ...metrics],
    rows: cells.map((c) => [cellLabel(c.options), c.n, c.failed, ...metrics.map((name) => {
      const m = c.metrics[name];
      return m ? `${fmt(m.mean)} ± ${fmt((m.ci95[1] - m.ci95[0]) / 2)}` : '';
    })]),
  }];
  const constant = [...new Set(cells.flatMap((c) => Object.keys(c.metrics)))].filter((n) => !metrics.includes(n)).length;
  return renderReport({
    title: 'sculpt sweep',
    subtitle: `sculpt ${command}`,
    summary: [
      `${cells.length} cells, ${cells.reduce((s, c) => s + c.n, 0)} finished jobs; intervals are 95% Student-t over seeds (n − 1 degrees of freedom), none for n = 1.`,
      `${metrics.length} metrics vary${metrics.length > MAX_CHARTS ? ` (the first ${MAX_CHARTS} charted)` : ''}; ${constant} are the same in every job and not shown.`,
    ],
    charts, tables,
  });
}
