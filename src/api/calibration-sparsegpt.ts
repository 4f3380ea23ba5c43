/**
 * SparseGPT's weight reconstruction for a mask chosen beforehand (by the plan's saliency ranking,
 * so `--scope global` and exact counts still hold): columns are visited left to right and each
 * one's pruning error is spread over the later columns through the upper Cholesky factor U of
 * H⁻¹ (H = XᵀX + λ·mean(diag)·I), W[:, k] −= (w_j − q_j)/U_jj · U_jk — the update of
 * `sparseGptLayer`, without its block-wise re-selection of the mask.
 */
import { dampedHessian } from '../core/criteria-sparsegpt.js';
import { SculptError } from '../core/errors.js';
import type { MaskLike } from '../formats/onnx.js';

function choleskyLower(a: Float64Array, n: number, what: string): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new SculptError(`sparsegpt: calibration Hessian of ${what} is not positive definite (pivot ${j}); use more --calibration-samples`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** H⁻¹ from the lower Cholesky factor L of H. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    li[c * n + c] = 1 / l[c * n + c];
    for (let i = c + 1; i < n; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * li[k * n + c];
      li[i * n + c] = s / l[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i] * li[k * n + j];
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/**
 * Reconstructs the rows×cols matrix `w` (rows = outputs, row-major) whose pruned entries are given
 * by `mask` (same layout), from H = XᵀX (cols×cols). Pruned entries come out exactly 0.
 */
export function reconstructWithMask(w: Float32Array, rows: number, cols: number, hessian: Float64Array, mask: MaskLike, what: string, dampening = 0.01): Float32Array {
  const { h } = dampedHessian(hessian, cols, dampening);
  const hinvL = choleskyLower(inverseFromCholesky(choleskyLower(h, cols, what), cols), cols, what);
  // U = Lᵀ where H⁻¹ = L·Lᵀ: U(j, k) = L(k, j).
  const W = Float64Array.from(w);
  const err = new Float64Array(rows);
  for (let j = 0; j < cols; j++) {
    const d = hinvL[j * cols + j];
    let any = false;
    for (let r = 0; r < rows; r++) {
      const i = r * cols + j;
      if (mask.get(i)) { err[r] = 0; continue; }
      err[r] = W[i] / d;
      W[i] = 0;
      any = true;
    }
    if (!any) continue;
    for (let k = j + 1; k < cols; k++) {
      const u = hinvL[k * cols + j];
      if (u === 0) continue;
      for (let r = 0; r < rows; r++) if (err[r] !== 0) W[r * cols + k] -= err[r] * u;
    }
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = mask.get(i) ? W[i] : 0;
  return out;
}
