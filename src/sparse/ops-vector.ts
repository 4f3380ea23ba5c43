/**
 * The hot non-weight ops of a transformer (Softmax over the last axis, LayerNorm, GELU, Exp, and
 * float32 + − × ÷ over rows) in WebAssembly SIMD: the operands are copied into one shared kernel
 * instance's scratch memory, computed four lanes at a time, and copied out — or, when they live in
 * the running executor's kernel memory (its arena), read and written there in place. Measured
 * about 5–30× faster per element than the same loops in JavaScript (bench:transformer's profile),
 * copies included.
 */
import { Kernels, splitRows } from './kernels.js';
import { uninitF32 } from './tensor.js';
import type { SplitFunction } from './threads.js';

let shared: Kernels | undefined;
/** The running executor's kernels, when they have worker threads. */
let active: Kernels | undefined;

/**
 * The kernels for an op over `elements` floats: the running executor's threaded ones when it is
 * worth splitting, else an instance of our own in unshared memory (copies into and out of shared
 * memory are slower, and only a split makes up for that).
 */
function kernels(rows = 1, n = 0, fn?: SplitFunction): Kernels {
  return splits(rows, n, fn) ? (active as Kernels) : localKernels();
}

/** Whether an op over `rows` rows of n floats (`fn`, when known) is split between the running executor's worker threads. */
function splits(rows: number, n: number, fn?: SplitFunction): boolean {
  return active?.pool !== undefined && rows > 1 && rows * n >= (fn && MEMORY_BOUND.has(fn) ? MEMORY_BOUND_SPLIT : ROWS_SPLIT);
}

/** This module's own kernels (unshared memory, one thread). */
export function localKernels(): Kernels {
  shared ??= new Kernels();
  return shared;
}

/** Runs `f` with the ops here on `k` where they are large: an executor's kernels, so that its worker threads split their rows. */
export function withOpKernels<T>(k: Kernels, f: () => T): T {
  const before = active;
  active = k;
  try {
    return f();
  } finally {
    active = before;
  }
}

/** Elements from which a row-wise op is split between worker threads (~0.1 ms of work: well above a split's ~30 µs). */
const ROWS_SPLIT = 1 << 16;
/**
 * The ops that do little per element (0.3–0.5 ns on one thread here, where Softmax and GELU take
 * 0.9 and 1.4): split from 4× as many. BERT's LayerNorm, residual additions and head transposes
 * (128 × 768 floats, 35–45 µs each) took twice as long split on 2 threads as on one.
 */
const MEMORY_BOUND: ReadonlySet<SplitFunction> = new Set(['layerNormRows', 'binaryRows', 'transposeMany', 'copyRows']);
const MEMORY_BOUND_SPLIT = 1 << 18;

/**
 * Runs `fn` over `rows` rows of n elements: on the calling thread, or split into bands of rows
 * between the kernels' worker threads; `args(r0, r1)` are the call's arguments for rows [r0, r1).
 */
function byRows(k: Kernels, fn: SplitFunction, rows: number, n: number, args: (r0: number, r1: number) => number[]): void {
  const pool = k.pool;
  if (pool && k === active && splits(rows, n, fn)) pool.split(fn, splitRows(rows, pool.threads, undefined, 1).map(([r0, r1]) => args(r0, r1)));
  else (k.exports[fn] as (...a: number[]) => void)(...args(0, rows));
}

/**
 * The kernels for an op with these operands and output: the running executor's when any of them
 * lives in its memory (its arena: read and written in place, no copies), else as `kernels`.
 */
function kernelsFor(arrays: readonly (Float32Array | undefined)[], out: Float32Array, rows: number, n: number, fn?: SplitFunction): Kernels {
  if (active && (active.addressOf(out) !== undefined || arrays.some((a) => a && active!.addressOf(a) !== undefined))) return active;
  return kernels(rows, n, fn);
}

/**
 * Runs `f` with the arrays in kernel memory (copied into scratch unless they live there) and `out`
 * floats for its output, and returns the output (from the executor's pool while it runs).
 */
function withScratch(arrays: readonly (Float32Array | undefined)[], out: number, f: (k: Kernels, ptrs: number[], y: number) => void, rows = 1, fn?: SplitFunction): Float32Array {
  const result = uninitF32(out);
  const k = kernelsFor(arrays, result, rows, out / rows, fn);
  const mark = k.mark();
  try {
    const ptrs = arrays.map((a) => (a ? (k.addressOf(a) ?? k.upload(a)) : 0));
    const home = k.addressOf(result);
    const y = home ?? k.reserve(out * 4);
    f(k, ptrs, y);
    if (home === undefined) result.set(k.f32(y, out));
    return result;
  } finally {
    k.release(mark);
  }
}

/** Softmax of each row of n floats. */
export function softmaxRows(x: Float32Array, rows: number, n: number): Float32Array {
  return withScratch([x], rows * n, (k, [p], y) => byRows(k, 'softmaxRows', rows, n, (r0, r1) => [p + r0 * n * 4, r1 - r0, n, y + r0 * n * 4]), rows, 'softmaxRows');
}

/**
 * Softmax of each row of x / divisor + mask, row r adding mask row ⌊r / every⌋ mod maskRows
 * (`mask`: maskRows rows of n floats; the kernels' softmaxScaledRows).
 */
export function softmaxScaledRows(x: Float32Array, rows: number, n: number, divisor: number, mask: Float32Array, every: number, maskRows: number): Float32Array {
  return withScratch([x, mask], rows * n, (k, [p, m], y) => byRows(k, 'softmaxScaledRows', rows, n, (r0, r1) => [p + r0 * n * 4, r1 - r0, n, divisor, m, r0, every, maskRows, y + r0 * n * 4]), rows, 'softmaxScaledRows');
}

/** LayerNorm of each row of n floats with per-element γ and β (n floats each, or none). */
export function layerNormRows(x: Float32Array, rows: number, n: number, gamma: Float32Array | undefined, beta: Float32Array | undefined, eps: number): Float32Array {
  return withScratch([x, gamma, beta], rows * n, (k, [p, g, b], y) => byRows(k, 'layerNormRows', rows, n, (r0, r1) => [p + r0 * n * 4, r1 - r0, n, g, b, eps, y + r0 * n * 4]), rows, 'layerNormRows');
}

/** Exact GELU of x (+ a bias of n floats per row of n, when given). */
export function geluRows(x: Float32Array, n: number, bias?: Float32Array): Float32Array {
  const rows = n === 0 ? 0 : x.length / n;
  return withScratch([x, bias], x.length, (k, [p, b], y) => byRows(k, 'geluRows', rows, n, (r0, r1) => [p + r0 * n * 4, r1 - r0, n, b, y + r0 * n * 4]), rows, 'geluRows');
}

/** e^x of every element. */
export function expArray(x: Float32Array): Float32Array {
  return withScratch([x], x.length, (k, [p], y) => k.exports.expN(p, x.length, y));
}

/** max(x, 0) of every element (a NaN gives 0). */
export function reluArray(x: Float32Array): Float32Array {
  return withScratch([x], x.length, (k, [p], y) => k.exports.reluN(p, x.length, y));
}

/** min(max(x, lo), hi) of every element (a NaN stays NaN). */
export function clampArray(x: Float32Array, lo: number, hi: number): Float32Array {
  return withScratch([x], x.length, (k, [p], y) => k.exports.clampN(p, x.length, lo, hi, y));
}

/** How an operand of a row-wise binary op spans [rows, n]. */
export type RowOperand = 'full' | 'col' | 'row' | 'scalar';
const KIND: Record<RowOperand, number> = { full: 0, col: 1, row: 2, scalar: 3 };
const OP = { Add: 0, Sub: 1, Mul: 2, Div: 3 } as const;

/** y [rows, n] = a op b, each operand full, one vector of n for every row ('col'), one value per row, or a scalar. */
export function binaryRows(op: keyof typeof OP, a: Float32Array, ka: RowOperand, b: Float32Array, kb: RowOperand, rows: number, n: number): Float32Array {
  // Split between the threads by bands of rows when large (from MEMORY_BOUND_SPLIT floats): from
  // an executor's second run its operands live in the threads'
  // memory, with no copies in or out. A 'col' or scalar operand is the same for every band.
  const band = (p: number, kind: RowOperand, r0: number) => (kind === 'full' ? p + r0 * n * 4 : kind === 'row' ? p + r0 * 4 : p);
  return withScratch([a, b], rows * n, (k, [pa, pb], y) =>
    byRows(k, 'binaryRows', rows, n, (r0, r1) => [OP[op], KIND[ka], band(pa, ka, r0), KIND[kb], band(pb, kb, r0), r1 - r0, n, y + r0 * n * 4]), rows, 'binaryRows');
}

/** The transpose of a row-major [rows, cols] matrix, [cols, rows], by the kernels' 4×4 blocks. */
export function transpose2d(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = uninitF32(rows * cols);
  const k = kernelsFor([x], out, 1, 0);
  const mark = k.mark();
  try {
    const ld = Math.ceil(rows / 4) * 4;
    const src = k.addressOf(x) ?? k.upload(x);
    const home = ld === rows ? k.addressOf(out) : undefined;
    const y = home ?? k.reserve(cols * ld * 4);
    k.exports.transposeIn(src, rows, cols, y, ld, cols);
    if (home !== undefined) return out;
    const t = k.f32(y, cols * ld);
    if (ld === rows) out.set(t);
    else for (let c = 0; c < cols; c++) out.set(t.subarray(c * ld, c * ld + rows), c * rows);
    return out;
  } finally {
    k.release(mark);
  }
}

/**
 * [a, b, c] permuted by `perm` in the kernels: [1, 0, 2] by block copies, [0, 2, 1] by a
 * transpose per outer index (when b is whole SIMD vectors); split between the running executor's
 * worker threads when large. Undefined otherwise ([2, 1, 0]; any other rank-3 permutation
 * collapses to fewer axes: ops-shape.ts's collapsePermutation), and the caller moves it itself.
 */
export function permute3(x: Float32Array, dims: readonly number[], perm: readonly number[]): Float32Array | undefined {
  const [a, b, c] = dims;
  const p = perm.join(',');
  let fn: SplitFunction, count: number, args: (src: number, y: number, t0: number, t1: number) => number[];
  if (p === '1,0,2') {
    fn = 'copyRows';
    count = b;
    args = (src, y, t0, t1) => [t1 - t0, src + t0 * c * 4, c, a, c, b * c, y + t0 * a * c * 4, a * c];
  } else if (p === '0,2,1' && b % 4 === 0) {
    fn = 'transposeMany';
    count = a;
    args = (src, y, t0, t1) => [t1 - t0, src + t0 * b * c * 4, b * c, b, c, c, y + t0 * b * c * 4, b * c, b];
  } else return undefined;
  return withScratch([x], a * b * c, (k, [src], y) => byRows(k, fn, count, (a * b * c) / count, (t0, t1) => args(src, y, t0, t1)), count, fn);
}

/** 2-D max pooling of `planes` planes [h, w] into [oh, ow] (window, strides, dilations, begin pads per axis). */
export function maxPool2d(x: Float32Array, planes: number, sp: readonly number[], outSp: readonly number[], kernel: readonly number[], st: readonly number[], dil: readonly number[], begin: readonly number[]): Float32Array {
  const [h, w] = sp, [oh, ow] = outSp;
  return withScratch([x], planes * oh * ow, (k, [p], y) => {
    // One row of w floats between −∞ borders.
    const tmp = k.reserve((w + 2 * k.exports.maxPoolBorder(w, ow, kernel[1], st[1], dil[1], begin[1])) * 4);
    k.exports.maxPool2d(p, planes, h, w, kernel[0], kernel[1], st[0], st[1], dil[0], dil[1], begin[0], begin[1], oh, ow, tmp, y);
  });
}
