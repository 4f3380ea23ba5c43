/**
 * Lipschitz bounds of feed-forward ReLU networks from their weight matrices.
 *
 * Norm: Euclidean (ℓ2) on inputs and logits. Each layer x ↦ W·x + b has Lipschitz constant
 * ‖W‖₂ = σ_max(W) (its largest singular value); ReLU and max-pooling are 1-Lipschitz, so
 * L = Π ‖W_l‖₂ bounds the whole network. For an input with logit margin m = f_y − max_{j≠y} f_j,
 * each difference f_y − f_j is (√2·L)-Lipschitz (‖e_y − e_j‖₂ = √2), so no perturbation δ with
 * ‖δ‖₂ < m / (√2·L) changes the prediction: that is the certified ℓ2 radius.
 */
import { Rng } from '../core/rng.js';
import { gram, jacobiEigenvalues } from './linalg.js';

/**
 * Largest singular value of a row-major rows×cols matrix by power iteration on WᵀW, from a seeded
 * random start; stops when the estimate changes by less than `tol` relatively.
 */
export function spectralNorm(w: ArrayLike<number>, rows: number, cols: number, opts: { iterations?: number; tol?: number; seed?: number } = {}): number {
  const iters = opts.iterations ?? 500;
  const tol = opts.tol ?? 1e-10;
  const rng = new Rng(opts.seed ?? 1);
  let v = new Float64Array(cols);
  for (let i = 0; i < cols; i++) v[i] = rng.normal();
  normalise(v);
  const u = new Float64Array(rows);
  let sigma = 0;
  for (let it = 0; it < iters; it++) {
    // u = W v, v' = Wᵀ u
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const o = r * cols;
      for (let c = 0; c < cols; c++) s += w[o + c] * v[c];
      u[r] = s;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const ur = u[r];
      if (ur === 0) continue;
      const o = r * cols;
      for (let c = 0; c < cols; c++) next[c] += w[o + c] * ur;
    }
    const n2 = normalise(next); // = ‖WᵀW v‖ = σ² once converged
    const est = Math.sqrt(n2);
    v = next;
    if (n2 === 0) return 0;
    if (Math.abs(est - sigma) <= tol * est) return est;
    sigma = est;
  }
  return sigma;
}

function normalise(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}

/** σ_max exactly: the square root of the largest eigenvalue of WᵀW (Jacobi), for small matrices. */
export function spectralNormExact(w: ArrayLike<number>, rows: number, cols: number): number {
  const small = Math.min(rows, cols);
  // Use the smaller Gram matrix: WᵀW (cols×cols) or W·Wᵀ = (Wᵀ)ᵀ(Wᵀ) (rows×rows).
  if (cols === small) return Math.sqrt(Math.max(0, jacobiEigenvalues(gram(w, rows, cols), cols)[0]));
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return Math.sqrt(Math.max(0, jacobiEigenvalues(gram(t, cols, rows), rows)[0]));
}

export interface LayerNorm {
  readonly name: string;
  readonly shape: readonly number[];
  readonly spectralNorm: number;
}

export interface LipschitzBound {
  readonly layers: LayerNorm[];
  /** Π of the per-layer spectral norms. */
  readonly lipschitz: number;
}

/** Per-layer spectral norms of 2-D weight matrices (any layout: σ_max(W) = σ_max(Wᵀ)) and their product. */
export function lipschitzBound(layers: readonly { name: string; shape: readonly number[]; data: ArrayLike<number> }[], seed = 1): LipschitzBound {
  const out: LayerNorm[] = [];
  let product = 1;
  for (const l of layers) {
    const rows = l.shape[0];
    const cols = l.data.length / rows;
    const s = spectralNorm(l.data, rows, cols, { seed });
    out.push({ name: l.name, shape: l.shape, spectralNorm: s });
    product *= s;
  }
  return { layers: out, lipschitz: product };
}

/** Certified ℓ2 radius margin / (√2·L) of each input, from logits [n, classes] and labels; 0 when misclassified. */
export function certifiedRadii(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number, lipschitz: number): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    const fy = logits[i * classes + y];
    let other = -Infinity;
    for (let c = 0; c < classes; c++) if (c !== y && logits[i * classes + c] > other) other = logits[i * classes + c];
    const margin = fy - other;
    out[i] = margin > 0 ? margin / (Math.SQRT2 * lipschitz) : 0;
  }
  return out;
}
