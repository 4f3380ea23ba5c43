/**
 * SparseGPT's weight reconstruction for a mask chosen beforehand (by the plan's saliency ranking,
 * so `--scope global` and exact counts still hold): columns are visited left to right and each
 * one's pruning error is spread over the later columns through the upper Cholesky factor U of
 * H⁻¹ (H = XᵀX + λ·mean(diag)·I), W[:, k] −= (w_j − q_j)/U_jj · U_jk — the update of
 * `sparseGptLayer`, without its block-wise re-selection of the mask.
 */
import { dampedHessian, hessianCholesky } from '../core/criteria-sparsegpt.js';
import { inverseFromCholesky } from '../core/linalg.js';
import type { MaskLike } from '../formats/onnx.js';

/**
 * Reconstructs the rows×cols matrix `w` (rows = outputs, row-major) whose pruned entries are given
 * by `mask` (same layout), from H = XᵀX (cols×cols). Pruned entries come out exactly 0.
 */
export function reconstructWithMask(w: Float32Array, rows: number, cols: number, hessian: Float64Array, mask: MaskLike, what: string, dampening = 0.01): Float32Array {
  const { h } = dampedHessian(hessian, cols, dampening);
  const hinvL = hessianCholesky(inverseFromCholesky(hessianCholesky(h, cols, what), cols), cols, what);
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
