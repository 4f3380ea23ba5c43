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

/**
 * C = A·B for row-major float64 matrices, A [m, k] and B [k, n]. The blocked factorisations below
 * spend nearly all their arithmetic here, so callers pass a fast engine when they have one
 * (onnxruntime's MLAS GEMM in the api layer); `matMulJs` is the portable loop.
 */
export type MatMul = (a: Float64Array, b: Float64Array, m: number, k: number, n: number) => Promise<Float64Array>;

/** C = A·B in plain JavaScript (i-k-j order: every inner loop runs over contiguous rows). */
export const matMulJs: MatMul = (a, b, m, k, n) => {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      if (v === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += v * b[bp + j];
    }
  }
  return Promise.resolve(c);
};

/** Rows [r0, r1) × columns [c0, c1) of the n-column matrix `a`, as a contiguous array. */
function blockOf(a: Float64Array, n: number, r0: number, r1: number, c0: number, c1: number): Float64Array {
  const w = c1 - c0;
  const out = new Float64Array((r1 - r0) * w);
  for (let r = r0; r < r1; r++) out.set(a.subarray(r * n + c0, r * n + c1), (r - r0) * w);
  return out;
}

/** Its transpose: columns [c0, c1) × rows [r0, r1). */
function blockTransposed(a: Float64Array, n: number, r0: number, r1: number, c0: number, c1: number): Float64Array {
  const h = r1 - r0;
  const out = new Float64Array((c1 - c0) * h);
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[(c - c0) * h + (r - r0)] = a[r * n + c];
  return out;
}

/** Inverse of the lower-triangular b×b block of `a` at (o, o), as a contiguous lower-triangular b×b array. */
function smallLowerInverse(a: Float64Array, n: number, o: number, b: number): Float64Array {
  const t = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    const ri = (o + i) * n + o;
    for (let k = 0; k < i; k++) {
      const v = a[ri + k];
      if (v === 0) continue;
      for (let j = 0; j <= k; j++) t[i * b + j] -= v * t[k * b + j];
    }
    const d = a[ri + i];
    for (let j = 0; j < i; j++) t[i * b + j] /= d;
    t[i * b + i] = 1 / d;
  }
  return t;
}

/** Rows of the trailing updates per product: bounds the temporaries to `CHUNK`·n values. */
const CHUNK = 512;

/**
 * In place: the lower triangle of `a` (n×n, symmetric positive definite, row-major) becomes L with
 * L·Lᵀ = A and the upper triangle becomes 0. Right-looking and blocked: each `block`-wide diagonal
 * block is factored in JavaScript, the panel below it is A21·L11⁻ᵀ and the trailing lower triangle
 * takes −L21·L21ᵀ, both through `mm`, so for large n almost all of the n³/3 multiply-adds run there.
 */
export async function choleskyLowerInPlace(
  a: Float64Array,
  n: number,
  mm: MatMul = matMulJs,
  notPositive: (pivot: number) => string = (j) => `matrix is not positive definite at pivot ${j}; add damping`,
  block = 256,
): Promise<void> {
  for (let k0 = 0; k0 < n; k0 += block) {
    const k1 = Math.min(n, k0 + block);
    const b = k1 - k0;
    // Diagonal block: unblocked Cholesky on the values the earlier trailing updates left.
    for (let j = k0; j < k1; j++) {
      const rj = j * n;
      let d = a[rj + j];
      for (let k = k0; k < j; k++) d -= a[rj + k] * a[rj + k];
      if (!(d > 0)) throw new SculptError(notPositive(j));
      const ljj = Math.sqrt(d);
      a[rj + j] = ljj;
      for (let i = j + 1; i < k1; i++) {
        const ri = i * n;
        let s = a[ri + j];
        for (let k = k0; k < j; k++) s -= a[ri + k] * a[rj + k];
        a[ri + j] = s / ljj;
      }
    }
    if (k1 === n) break;
    // Panel: L21 = A21 · L11⁻ᵀ.
    const t = smallLowerInverse(a, n, k0, b);
    const tt = new Float64Array(b * b);
    for (let i = 0; i < b; i++) for (let j = 0; j <= i; j++) tt[j * b + i] = t[i * b + j];
    const l21 = await mm(blockOf(a, n, k1, n, k0, k1), tt, n - k1, b, b);
    for (let r = k1; r < n; r++) a.set(l21.subarray((r - k1) * b, (r - k1 + 1) * b), r * n + k0);
    // Trailing lower triangle, by row chunks: A[r0:r1, k1:r1] −= L21[r0:r1] · L21[k1:r1]ᵀ.
    for (let r0 = k1; r0 < n; r0 += CHUNK) {
      const r1 = Math.min(n, r0 + CHUNK);
      const w = r1 - k1;
      const p = await mm(l21.subarray((r0 - k1) * b, (r1 - k1) * b), blockTransposed(l21, b, 0, w, 0, b), r1 - r0, b, w);
      for (let r = r0; r < r1; r++) {
        const ra = r * n + k1;
        const rp = (r - r0) * w;
        for (let c = 0; c <= r - k1; c++) a[ra + c] -= p[rp + c];
      }
    }
  }
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
}

/**
 * In place: the lower-triangular L (n×n, row-major, upper triangle 0) becomes L⁻¹. Blocked forward
 * substitution of L·X = I by block rows: X[I, :i1] = L_II⁻¹·R[I, :i1], then every later row's
 * right-hand side R takes −L[later, I]·X[I, :i1] through `mm` (about n³/6 multiply-adds there).
 * R lives where L was: the columns of block I of a later row hold L[row, I] until that update reads
 * them, and from then on its right-hand side (which starts at 0 there).
 */
export async function lowerInverseInPlace(l: Float64Array, n: number, mm: MatMul = matMulJs, block = 256): Promise<void> {
  for (let i0 = 0; i0 < n; i0 += block) {
    const i1 = Math.min(n, i0 + block);
    const b = i1 - i0;
    const rhs = blockOf(l, n, i0, i1, 0, i1);
    // Block I's own columns: the identity (L_II is consumed by its inverse below).
    for (let r = 0; r < b; r++) {
      rhs.fill(0, r * i1 + i0, (r + 1) * i1);
      rhs[r * i1 + i0 + r] = 1;
    }
    const xi = await mm(smallLowerInverse(l, n, i0, b), rhs, b, b, i1);
    for (let r = i0; r < i1; r++) l.set(xi.subarray((r - i0) * i1, (r - i0 + 1) * i1), r * n);
    if (i1 === n) break;
    for (let r0 = i1; r0 < n; r0 += CHUNK) {
      const r1 = Math.min(n, r0 + CHUNK);
      const p = await mm(blockOf(l, n, r0, r1, i0, i1), xi, r1 - r0, b, i1);
      for (let r = r0; r < r1; r++) {
        const rx = r * n;
        const rp = (r - r0) * i1;
        for (let c = 0; c < i0; c++) l[rx + c] -= p[rp + c];
        for (let c = i0; c < i1; c++) l[rx + c] = -p[rp + c];
      }
    }
  }
}

/** L⁻¹ of a lower-triangular L, into a new array (`lowerInverseInPlace` on a copy). */
export async function lowerInverse(l: Float64Array, n: number, mm: MatMul = matMulJs, block = 256): Promise<Float64Array> {
  const x = Float64Array.from(l);
  await lowerInverseInPlace(x, n, mm, block);
  return x;
}
