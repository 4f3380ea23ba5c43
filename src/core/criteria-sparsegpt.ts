/**
 * SparseGPT (Frantar & Alistarh 2023): layer-wise Optimal Brain Surgeon with weight reconstruction.
 * For a layer y = W·x (W rows = outputs, columns = inputs) and calibration inputs X (N × in),
 * the layer-wise loss ‖W·Xᵀ − Ŵ·Xᵀ‖² has Hessian H = XᵀX (+ λ·mean(diag H)·I for stability).
 * Columns are visited left to right; with U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), pruning
 * or keeping column j's entries leaves an error e = (w_j − q_j)/U_jj that is spread over the later
 * columns: W[:, k] −= e·U_jk (k > j). Masks are chosen in blocks of `blockSize` columns by the OBS
 * saliency w²/U_jj² (exactly round(s·rows·block) per block), or N:M along the input axis.
 * Unlike a criterion it changes the kept weights too, so it returns new weights with the mask.
 * The registered `sparsegpt` criterion is its saliency alone, w²/[H⁻¹]_jj, for use by the plan.
 */
import type { Criterion } from './criteria.js';
import { SculptError } from './errors.js';
import { Mask } from './mask.js';
import { missingCalibration } from './criteria-obd.js';
import { calibrationIndex } from './criteria-wanda.js';
import { choleskyLower, inverseFromCholesky } from './linalg.js';

export interface SparseGptOptions {
  /** Fraction of each block's weights to prune (unstructured); ignored with `nm`. */
  readonly sparsity: number;
  /** Keep n of every m consecutive inputs in each row (2:4: n = 2, m = 4). */
  readonly nm?: { readonly n: number; readonly m: number };
  /** Columns per mask-selection block (SparseGPT: 128). */
  readonly blockSize?: number;
  /** Dampening λ as a fraction of the mean of diag(H) (SparseGPT: 0.01). */
  readonly dampening?: number;
}

/** Cholesky factor of a calibration Hessian; a failure names the layer and what to change. */
export function hessianCholesky(h: Float64Array, n: number, what = 'the layer'): Float64Array {
  return choleskyLower(h, n, (j) => `sparsegpt: calibration Hessian of ${what} is not positive definite (pivot ${j}); use more calibration samples or raise the dampening`);
}

/** H + λ·mean(diag H)·I, with dead inputs (zero diagonal) set to 1 so H stays invertible. */
export function dampedHessian(h: Float64Array, n: number, dampening = 0.01): { h: Float64Array; dead: Uint8Array } {
  const out = Float64Array.from(h);
  const dead = new Uint8Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (out[i * n + i] === 0) { dead[i] = 1; out[i * n + i] = 1; }
    mean += out[i * n + i];
  }
  mean /= n;
  for (let i = 0; i < n; i++) out[i * n + i] += dampening * mean;
  return { h: out, dead };
}

/** diag((H + λ·mean(diag H)·I)⁻¹): the denominator of the OBS saliency w²/[H⁻¹]_jj per input. */
export function inverseHessianDiagonal(h: Float64Array, n: number, dampening = 0.01): Float32Array {
  const inv = inverseFromCholesky(hessianCholesky(dampedHessian(h, n, dampening).h, n), n);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = inv[i * n + i];
  return d;
}

/**
 * Prunes the rows×cols matrix `w` (rows = outputs, row-major) given H = XᵀX (cols×cols). Returns
 * the reconstructed weights (pruned entries exactly 0) and the mask in the same layout.
 */
export function sparseGptLayer(w: Float32Array, rows: number, cols: number, hessian: Float64Array, o: SparseGptOptions): { weights: Float32Array; mask: Mask } {
  if (w.length !== rows * cols) throw new SculptError(`sparsegpt: weight has ${w.length} values, expected ${rows}×${cols}`);
  if (hessian.length !== cols * cols) throw new SculptError(`sparsegpt: Hessian has ${hessian.length} values, expected ${cols}×${cols}`);
  if (!(o.sparsity >= 0 && o.sparsity <= 1)) throw new SculptError(`sparsegpt: --sparsity must be in [0, 1], got ${o.sparsity}`);
  const { h, dead } = dampedHessian(hessian, cols, o.dampening ?? 0.01);
  // U = upper Cholesky factor of H⁻¹, stored as its transpose's lower factor: H⁻¹ = L·Lᵀ, U = Lᵀ.
  const hinvL = hessianCholesky(inverseFromCholesky(hessianCholesky(h, cols), cols), cols);
  const U = (j: number, k: number): number => hinvL[k * cols + j];
  const W = Float64Array.from(w);
  for (let j = 0; j < cols; j++) if (dead[j]) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
  const pruned = new Uint8Array(rows * cols);
  const bs = o.blockSize ?? 128;
  const nm = o.nm;
  if (nm !== undefined && (nm.n < 1 || nm.n > nm.m || cols % nm.m !== 0)) {
    throw new SculptError(`sparsegpt: pattern ${nm.n}:${nm.m} needs the input size ${cols} to be a multiple of ${nm.m}`);
  }
  const err = new Float64Array(rows);
  for (let j = 0; j < cols; j++) {
    if (nm === undefined && j % bs === 0) {
      const end = Math.min(cols, j + bs);
      const count = Math.round(o.sparsity * rows * (end - j));
      if (count > 0) {
        const keys: { s: number; i: number }[] = [];
        for (let r = 0; r < rows; r++) {
          for (let c = j; c < end; c++) {
            const d = U(c, c);
            keys.push({ s: (W[r * cols + c] ** 2) / (d * d), i: r * cols + c });
          }
        }
        keys.sort((a, b) => a.s - b.s || a.i - b.i);
        for (let t = 0; t < count; t++) pruned[keys[t].i] = 1;
      }
    }
    if (nm !== undefined && j % nm.m === 0) {
      const sal = new Float64Array(nm.m);
      const order = Array.from({ length: nm.m }, (_, t) => t);
      for (let r = 0; r < rows; r++) {
        for (let t = 0; t < nm.m; t++) { const d = U(j + t, j + t); sal[t] = (W[r * cols + j + t] ** 2) / (d * d); }
        order.sort((a, b) => sal[a] - sal[b] || a - b);
        for (let t = 0; t < nm.m - nm.n; t++) pruned[r * cols + j + order[t]] = 1;
      }
    }
    const d = U(j, j);
    for (let r = 0; r < rows; r++) {
      const v = W[r * cols + j];
      const q = pruned[r * cols + j] ? 0 : v;
      err[r] = (v - q) / d;
      W[r * cols + j] = q;
    }
    for (let k = j + 1; k < cols; k++) {
      const u = U(j, k);
      if (u === 0) continue;
      for (let r = 0; r < rows; r++) if (err[r] !== 0) W[r * cols + k] -= err[r] * u;
    }
  }
  const out = new Float32Array(rows * cols);
  const mask = new Mask(rows * cols);
  for (let i = 0; i < out.length; i++) {
    if (pruned[i]) continue;
    out[i] = W[i];
    mask.words[i >>> 5] |= 1 << (i & 31);
  }
  return { weights: out, mask };
}

/** w²/[H⁻¹]_jj per element: the OBS saliency SparseGPT selects by, usable by the plan's scopes. */
export const sparseGptCriterion: Criterion = {
  name: 'sparsegpt',
  needsData: true,
  scoreInto(tensor, values, out, ctx) {
    const d = ctx.calibration?.inverseHessianDiag?.get(tensor.name);
    if (d === undefined) throw missingCalibration('sparsegpt', 'the inverse Hessian diagonal', tensor.name);
    const at = calibrationIndex(tensor, values.length, d.length, 'inverse Hessian diagonal');
    for (let i = 0; i < values.length; i++) out[i] = (values[i] * values[i]) / d[at(i)];
  },
};
