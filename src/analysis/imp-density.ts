/**
 * IMP's density law measured on real masks: pruning a fraction `rate` of the surviving weights in
 * each of R rounds leaves density (1 − rate)^R, up to the rounding of each round's count
 * (round(rate · alive), half to even, as the core's `fractionOfRemaining` counts it).
 */
import type { Mask } from '../core/mask.js';
import { parsePattern } from '../core/patterns.js';
import { prune } from '../core/plan.js';
import type { WeightSet } from '../core/types.js';

export interface DensityRow {
  readonly round: number;
  readonly rate: number;
  /** Kept fraction of the prunable weights, counted from the masks. */
  readonly density: number;
  /** (1 − rate)^round. */
  readonly expected: number;
}

/**
 * Runs `rounds` IMP pruning steps on `ws` (weights unchanged between rounds, as after rewinding
 * to the same weights) and returns the measured density after each; round 0 is dense.
 */
export function impDensity(ws: WeightSet, rate: number, rounds: number, scope: 'global' | 'layer' = 'global', seed = 0): DensityRow[] {
  const rows: DensityRow[] = [{ round: 0, rate, density: 1, expected: 1 }];
  let masks: Map<string, Mask> | undefined;
  const total = ws.tensors.filter((t) => t.prunable).reduce((s, t) => s + t.data.length, 0);
  for (let r = 1; r <= rounds; r++) {
    const res = prune(ws, {
      sparsity: rate, scope, pattern: parsePattern('unstructured'), criterion: 'magnitude', exclude: [], overrides: new Map(), seed, fractionOfRemaining: true, allowCollapse: true,
    }, masks);
    masks = res.masks;
    let kept = 0;
    for (const t of ws.tensors) if (t.prunable) kept += masks.get(t.name)?.keptCount() ?? t.data.length;
    rows.push({ round: r, rate, density: kept / total, expected: Math.pow(1 - rate, r) });
  }
  return rows;
}
