/**
 * OWL, outlier-weighted layer-wise sparsity (Yin et al. 2024): layers with more outliers keep more
 * weights. A layer's outlier ratio D is the fraction of its Wanda scores |W_ij|·‖X_j‖ above M times
 * the layer's mean score (over all the weights of the layer, e.g. of one transformer block). The
 * ratios are scaled to [0, 2λ], shifted so that their mean is the target density 1 − s, and each
 * layer's sparsity is 1 minus its shifted ratio: the sparsities span 2λ around s. Defaults are the paper's,
 * M = 5 and λ = 0.08. The mean is weighted by the layers' sizes, so the pruned total stays
 * s·N also when layers differ in size (for equal layers, as in the paper, it is the plain mean).
 */
import { SculptError } from './errors.js';

export interface OwlOptions {
  /** Outlier threshold as a multiple of the layer's mean score (paper: M = 5). */
  readonly m?: number;
  /** The per-layer sparsities span 2λ (paper: λ = 0.08). */
  readonly lambda?: number;
}

export const OWL_DEFAULTS = { m: 5, lambda: 0.08 } as const;

/** Fraction of `scores` above m × their mean. */
export function outlierRatio(scores: ArrayLike<number>, m: number = OWL_DEFAULTS.m): number {
  let mean = 0;
  for (let i = 0; i < scores.length; i++) mean += scores[i];
  mean /= scores.length;
  let above = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > m * mean) above++;
  return above / scores.length;
}

/**
 * Per-layer sparsities for a target `sparsity` from the layers' outlier ratios and sizes. Equal
 * ratios give the target everywhere. A result outside [0, 1) is a SculptError (lower λ).
 */
export function owlSparsities(ratios: readonly number[], sizes: readonly number[], sparsity: number, lambda: number = OWL_DEFAULTS.lambda): number[] {
  if (ratios.length !== sizes.length || ratios.length === 0) throw new SculptError('owl: one outlier ratio and one size per layer are needed');
  if (!(lambda >= 0 && lambda < 1)) throw new SculptError(`owl: lambda must be in [0, 1), got ${lambda}`);
  const lo = Math.min(...ratios);
  const hi = Math.max(...ratios);
  const scaled = ratios.map((r) => (hi > lo ? ((r - lo) / (hi - lo)) * 2 * lambda : lambda));
  const total = sizes.reduce((a, b) => a + b, 0);
  const mean = scaled.reduce((a, v, i) => a + v * sizes[i], 0) / total;
  const out = scaled.map((v) => 1 - (v - mean + (1 - sparsity)));
  for (let i = 0; i < out.length; i++) {
    if (!(out[i] >= 0 && out[i] < 1)) throw new SculptError(`owl: layer ${i} would get sparsity ${out[i].toFixed(4)}, outside [0, 1); lower --owl-lambda or the sparsity`);
  }
  return out;
}

/**
 * The layer (transformer block) a tensor belongs to, from its name: the prefix up to the first
 * numeric path component (`h.3.attn.c_attn.weight` → `h.3`, `model.layers.10.mlp.up_proj` →
 * `model.layers.10`). A name without one is its own layer.
 */
export function blockOfName(name: string): string {
  const m = /^(.*?(?:^|[./])\d+)(?:[./]|$)/.exec(name);
  return m ? m[1] : name;
}
