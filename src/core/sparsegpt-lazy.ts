/**
 * SparseGPT as its reference code runs it (Frantar & Alistarh 2023, `sparsegpt.py`), for one layer
 * W (rows = outputs, cols = inputs, row-major) and H = XᵀX over the calibration rows:
 *
 * - dampening: inputs never seen (H_jj = 0) get H_jj = 1 and their weights 0; then
 *   H += λ·mean(diag H)·I with λ = 0.01;
 * - U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), from one Cholesky factorisation of the
 *   reversed H and one triangular inverse (no explicit H⁻¹);
 * - columns in blocks of `blockSize` (128). Unstructured: at the start of each block the
 *   round(s·rows·cols) weights to prune are apportioned to the blocks by cumulative rounding (the
 *   total is exact) and chosen within the block by the OBS saliency w²/U_jj², smallest first,
 *   ties by position. N:M: at every M-th column the M−N smallest of each row's next M saliencies;
 * - column j's error e = (w_j − q_j)/U_jj is spread over the block's later columns at once and
 *   over the columns after the block in one lazy batch update W[:, after] −= E·U[block, after].
 */
import { roundHalfEven } from './counting.js';
import { SculptError } from './errors.js';
import { choleskyLowerInPlace, lowerInverseInPlace, matMulJs, type MatMul } from './linalg.js';
import { Mask } from './mask.js';

export interface SparseGptLazyOptions {
  /** Fraction of the layer's weights to prune (unstructured); ignored with `nm`. */
  readonly sparsity: number;
  /** Keep n of every m consecutive inputs of each row (2:4: n = 2, m = 4). */
  readonly nm?: { readonly n: number; readonly m: number };
  /** Columns per block (SparseGPT: 128). */
  readonly blockSize?: number;
  /** λ as a fraction of mean(diag H) (SparseGPT: 0.01). */
  readonly dampening?: number;
  /** Names the layer in errors. */
  readonly what?: string;
  /**
   * The dense products (factorisation, triangular inverse, lazy batch updates): sculpt's JavaScript
   * loop by default; the command line passes onnxruntime's GEMM when it is installed.
   */
  readonly matmul?: MatMul;
}

/** U with H⁻¹ = UᵀU (upper, row-major) for the damped H; also which inputs were dead. */
export async function inverseHessianUpper(hessian: Float64Array, n: number, dampening = 0.01, what = 'the layer', mm: MatMul = matMulJs): Promise<{ u: Float64Array; dead: Uint8Array }> {
  const dead = new Uint8Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const d = hessian[i * n + i];
    if (d === 0) dead[i] = 1;
    mean += d === 0 ? 1 : d;
  }
  mean /= n;
  // P·H·P (P reverses the order) = L·Lᵀ, so H = R·Rᵀ with R = P·L·P upper, and H⁻¹ = UᵀU, U = R⁻¹ = P·L⁻¹·P.
  // One n×n buffer: the reversed H, then L, then L⁻¹, then U.
  const buf = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = (n - 1 - i) * n;
    for (let j = 0; j < n; j++) buf[i * n + j] = hessian[ri + (n - 1 - j)];
    const d = n - 1 - i;
    buf[i * n + i] = (dead[d] ? 1 : buf[i * n + i]) + dampening * mean;
  }
  await choleskyLowerInPlace(buf, n, mm, (j) => `sparsegpt: calibration Hessian of ${what} is not positive definite (pivot ${j}); use more calibration samples or raise the dampening`);
  await lowerInverseInPlace(buf, n, mm);
  // U = P·L⁻¹·P: element (i, j) is L⁻¹'s (n−1−i, n−1−j), i.e. the whole array reversed.
  const u = buf.reverse();
  return { u, dead };
}

/** Prunes and reconstructs `w` (rows × cols, rows = outputs). Pruned entries come out exactly 0. */
export async function sparseGptLazy(w: Float32Array, rows: number, cols: number, hessian: Float64Array, o: SparseGptLazyOptions): Promise<{ weights: Float32Array; mask: Mask; pruned: number }> {
  const what = o.what ?? 'the layer';
  if (w.length !== rows * cols) throw new SculptError(`sparsegpt: ${what} has ${w.length} values, expected ${rows}×${cols}`);
  if (hessian.length !== cols * cols) throw new SculptError(`sparsegpt: Hessian of ${what} has ${hessian.length} values, expected ${cols}×${cols}`);
  if (!(o.sparsity >= 0 && o.sparsity < 1)) throw new SculptError(`sparsegpt: sparsity of ${what} must be in [0, 1), got ${o.sparsity}`);
  const nm = o.nm;
  if (nm !== undefined && (nm.n < 1 || nm.n > nm.m || cols % nm.m !== 0)) {
    throw new SculptError(`sparsegpt: pattern ${nm?.n}:${nm?.m} needs the input size ${cols} of ${what} to be a multiple of ${nm?.m}`);
  }
  const mm = o.matmul ?? matMulJs;
  const { u, dead } = await inverseHessianUpper(hessian, cols, o.dampening ?? 0.01, what, mm);
  const W = Float64Array.from(w);
  for (let j = 0; j < cols; j++) if (dead[j]) for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
  const prunedBits = new Uint8Array(rows * cols);
  const bs = Math.max(1, o.blockSize ?? 128);
  const total = nm ? 0 : roundHalfEven(o.sparsity * rows * cols);
  const err = new Float64Array(rows * bs);
  let prunedSoFar = 0;
  for (let b0 = 0; b0 < cols; b0 += bs) {
    const b1 = Math.min(cols, b0 + bs);
    const width = b1 - b0;
    if (!nm) {
      // Cumulative rounding: blocks up to b1 hold round(total · b1/cols) of the pruned weights.
      const upTo = cols === b1 ? total : roundHalfEven((total * b1) / cols);
      const count = upTo - prunedSoFar;
      prunedSoFar = upTo;
      if (count > 0) selectInBlock(W, rows, cols, b0, width, u, count, prunedBits);
    }
    err.fill(0);
    for (let j = b0; j < b1; j++) {
      if (nm && (j - b0) % nm.m === 0) selectNm(W, rows, cols, j, nm, u, prunedBits);
      const d = u[j * cols + j];
      const t = j - b0;
      for (let r = 0; r < rows; r++) {
        const i = r * cols + j;
        if (!prunedBits[i]) continue;
        const e = W[i] / d;
        err[r * bs + t] = e;
        W[i] = 0;
        // Within the block: the later columns take the error now (the next selections see them).
        const uj = j * cols;
        const ri = r * cols;
        for (let k = j + 1; k < b1; k++) W[ri + k] -= e * u[uj + k];
      }
    }
    // Lazy batch update of every column after the block: W[:, b1:] −= E · U[b0:b1, b1:].
    if (b1 < cols) {
      // Only the last block can be narrower than bs, and nothing follows it: here width = bs.
      const rest = cols - b1;
      const p = await mm(err, blockRows(u, cols, b0, b1, b1), rows, width, rest);
      for (let r = 0; r < rows; r++) {
        const ri = r * cols + b1;
        const rp = r * rest;
        for (let k = 0; k < rest; k++) W[ri + k] -= p[rp + k];
      }
    }
  }
  const out = new Float32Array(rows * cols);
  const mask = new Mask(rows * cols);
  let pruned = 0;
  for (let i = 0; i < out.length; i++) {
    if (prunedBits[i]) { pruned++; continue; }
    out[i] = W[i];
    mask.words[i >>> 5] |= 1 << (i & 31);
  }
  return { weights: out, mask, pruned };
}

/** Rows [r0, r1) of the n-column `a` from column c0 on, contiguous. */
function blockRows(a: Float64Array, n: number, r0: number, r1: number, c0: number): Float64Array {
  const w = n - c0;
  const out = new Float64Array((r1 - r0) * w);
  for (let r = r0; r < r1; r++) out.set(a.subarray(r * n + c0, (r + 1) * n), (r - r0) * w);
  return out;
}

/** Marks the `count` smallest w²/U_jj² of columns [b0, b0+width) (ties by position). */
function selectInBlock(W: Float64Array, rows: number, cols: number, b0: number, width: number, u: Float64Array, count: number, out: Uint8Array): void {
  const scores = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < width; t++) {
      const j = b0 + t;
      const d = u[j * cols + j];
      const v = W[r * cols + j];
      scores[r * width + t] = (v * v) / (d * d);
    }
  }
  // The count-th smallest score is the threshold: everything below it is pruned, and of the scores
  // equal to it the first ones in position order (the scores are laid out in position order).
  const threshold = Float64Array.from(scores).sort()[count - 1];
  let left = count;
  for (let i = 0; i < scores.length && left > 0; i++) if (scores[i] < threshold) left--;
  for (let i = 0; i < scores.length; i++) {
    const sc = scores[i];
    if (sc < threshold || (sc === threshold && left-- > 0)) out[Math.floor(i / width) * cols + b0 + (i % width)] = 1;
  }
}

/** N:M at column j: in each row, prune the m − n smallest saliencies of columns j..j+m−1 (ties: lower column first). */
function selectNm(W: Float64Array, rows: number, cols: number, j: number, nm: { n: number; m: number }, u: Float64Array, out: Uint8Array): void {
  const m = nm.m;
  const sal = new Float64Array(m);
  const order = Array.from({ length: m }, (_, t) => t);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < m; t++) {
      const d = u[(j + t) * cols + j + t];
      sal[t] = (W[r * cols + j + t] ** 2) / (d * d);
    }
    order.sort((a, b) => sal[a] - sal[b] || a - b);
    for (let t = 0; t < m - nm.n; t++) out[r * cols + j + order[t]] = 1;
  }
}

/** ‖(W − Ŵ)·Xᵀ‖² = Σ_rows (w − ŵ)ᵀ H (w − ŵ): the layer's reconstruction error on the calibration rows. */
export function reconstructionError(w: Float32Array, wHat: Float32Array, rows: number, cols: number, hessian: Float64Array): number {
  let total = 0;
  const d = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) d[j] = w[r * cols + j] - wHat[r * cols + j];
    for (let i = 0; i < cols; i++) {
      if (d[i] === 0) continue;
      let s = 0;
      const hi = i * cols;
      for (let j = 0; j < cols; j++) s += hessian[hi + j] * d[j];
      total += d[i] * s;
    }
  }
  return total;
}
