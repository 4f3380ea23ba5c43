/**
 * Dense linear algebra on small row-major Float64Array matrices: the exact references the
 * analyses are checked against (Jacobi eigenvalues) and the factorizations they need (Cholesky).
 */
import { choleskyLower, inverseFromCholesky } from '../core/linalg.js';

/** Aᵀ·A of a row-major rows×cols matrix, as a cols×cols Float64Array. */
export function gram(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let i = 0; i < cols; i++) {
      const ai = a[o + i];
      if (ai === 0) continue;
      for (let j = i; j < cols; j++) g[i * cols + j] += ai * a[o + j];
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) g[i * cols + j] = g[j * cols + i];
  return g;
}

/**
 * Eigenvalues of a symmetric n×n matrix by cyclic Jacobi rotations (exact to rounding; O(n³) per
 * sweep, meant for n up to a few hundred). Returned in descending order.
 */
export function jacobiEigenvalues(sym: ArrayLike<number>, n: number, maxSweeps = 100): Float64Array {
  const a = Float64Array.from(sym as ArrayLike<number>);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p] * a[p * n + p];
      for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const ev = new Float64Array(n);
  for (let i = 0; i < n; i++) ev[i] = a[i * n + i];
  return ev.sort().reverse();
}

/** Lower-triangular L with L·Lᵀ = A (A symmetric positive definite, n×n); throws if it is not. */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  return choleskyLower(a, n);
}

/** A⁻¹ of a symmetric positive definite n×n matrix through its Cholesky factor. */
export function spdInverse(a: ArrayLike<number>, n: number): Float64Array {
  return inverseFromCholesky(choleskyLower(a, n), n);
}

/** Trace of a square n×n matrix. */
export function trace(a: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}
