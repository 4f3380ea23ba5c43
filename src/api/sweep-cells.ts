/**
 * A sweep's cells: the jobs grouped by their options without the seed, each cell's finished jobs
 * aggregated over seeds (mean, sample sd, 95% Student-t interval per numeric result field).
 */
import { cellStats, type CellStats, type Comparison } from '../analysis/sweep-stats.js';
import type { GridValue } from './sweep-grid.js';
import type { JobOutcome } from './sweep-run.js';

export interface SweepCell extends CellStats {
  readonly options: Readonly<Record<string, GridValue>>;
  /** Jobs of the cell that failed (left out of the statistics). */
  readonly failed: number;
}

/** Cells in grid order; `compare` names the metrics of the paired difference a − b, or lists such pairs. */
export function sweepCells(outcomes: readonly JobOutcome[], compare?: Comparison | readonly Comparison[]): SweepCell[] {
  const groups = new Map<string, JobOutcome[]>();
  for (const o of outcomes) {
    const g = groups.get(o.job.cellKey);
    if (g) g.push(o); else groups.set(o.job.cellKey, [o]);
  }
  return [...groups.values()].map((g) => {
    const done = g.filter((o) => o.status === 'done').map((o) => ({ seed: o.job.seed, result: o.result }));
    return { options: g[0]!.job.options, failed: g.length - done.length, ...cellStats(done, compare) };
  });
}

/** A cell's short name for tables and chart axes: `sparsity=0.3 criterion=random` (or `all`). */
export function cellLabel(options: Readonly<Record<string, GridValue>>): string {
  const parts = Object.entries(options).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? parts.join(' ') : 'all';
}
