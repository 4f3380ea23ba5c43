/** Dense symmetric positive definite algebra in float64, shared by SparseGPT and the analyses. */
import { SculptError } from './errors.js';

/**
 * Lower-triangular L with L·Lᵀ = A (A symmetric positive definite, n×n, row-major). A pivot that
 * is not positive throws a SculptError whose message `notPositive(pivot)` gives.
 */
export function choleskyLower(
  a: ArrayLike<number>,
  n: number,
  notPositive: (pivot: number) => string = (j) => `matrix is not positive definite at pivot ${j}; add damping`,
): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new SculptError(notPositive(j));
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

/** A⁻¹ from the lower Cholesky factor L of A (A = L·Lᵀ): L⁻¹ by forward substitution, then L⁻ᵀ·L⁻¹. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
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
