// sculpt's sparse and dense matrix kernels, compiled to WebAssembly with 128-bit SIMD.
// Every pointer is a byte offset into the module's memory; the TypeScript side lays memory out.
// Layouts: W is [rows, cols] row-major (y = W·x). Batched inputs are transposed, X^T [cols, ld],
// so each nonzero W[r, c] multiplies the contiguous row X^T[c, :]; outputs are Y^T [rows, ld].
// ld is a multiple of 4 (padding lanes hold garbage-free zeros if the caller zeroes them).
// `bias` (0 = none) is added and `relu` (1 = ReLU, 2 = ReLU6) applied as the results are stored.

/** First free byte after the module's own data. */
export function heapBase(): usize {
  return __heap_base;
}

@inline function finish(s: f32, bias: usize, r: usize, relu: i32): f32 {
  if (bias) s += load<f32>(bias + (r << 2));
  if (relu && !(s > 0)) s = 0;
  if (relu == 2 && s > 6) s = 6;
  return s;
}

/** relu: 0 none, 1 max(s, 0), 2 min(max(s, 0), 6) (ReLU6: Clip(0, 6)). */
@inline function finish4(s: v128, bias: usize, r: usize, relu: i32): v128 {
  if (bias) s = f32x4.add(s, f32x4.splat(load<f32>(bias + (r << 2))));
  // pmax/pmin (one instruction each on x64; max/min take eight for IEEE NaN and signed-zero rules):
  // a NaN sum stays NaN, as f32x4.max kept it.
  if (relu) s = f32x4.pmax(s, f32x4.splat(0));
  if (relu == 2) s = f32x4.pmin(s, f32x4.splat(6));
  return s;
}

/** a·b + c: fused (one rounding) where the runtime has relaxed SIMD, else a product then a sum. */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline function hsum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

// ---- CSR × vector --------------------------------------------------------------------------

// The gather of x[col] is scalar in wasm SIMD: load32_zero/load32_lane fill a vector straight
// from memory (measured twice as fast as extract_lane + replace_lane). `wide`: 32-bit column
// indices, else 16-bit (a constant once inlined).

/** x at the column indices of four nonzeros from `ip` on. */
@inline function gather4(ip: usize, wide: i32, x: usize): v128 {
  if (wide) {
    let g = v128.load32_zero(x + (<usize>load<u32>(ip) << 2));
    g = v128.load32_lane(x + (<usize>load<u32>(ip, 4) << 2), g, 1);
    g = v128.load32_lane(x + (<usize>load<u32>(ip, 8) << 2), g, 2);
    return v128.load32_lane(x + (<usize>load<u32>(ip, 12) << 2), g, 3);
  }
  let g = v128.load32_zero(x + (<usize>load<u16>(ip) << 2));
  g = v128.load32_lane(x + (<usize>load<u16>(ip, 2) << 2), g, 1);
  g = v128.load32_lane(x + (<usize>load<u16>(ip, 4) << 2), g, 2);
  return v128.load32_lane(x + (<usize>load<u16>(ip, 6) << 2), g, 3);
}

/**
 * The rest of a row from nonzero k to e, onto accumulators a (nonzeros 8j…8j+3 of the row's
 * steps) and b (8j+4…8j+7): steps of 8, then the last few scalar; returns the row's sum.
 */
@inline function rowRest(k: usize, e: usize, colIdx: usize, wide: i32, values: usize, x: usize, a: v128, b: v128): f32 {
  const shift: usize = wide ? 2 : 1;
  for (; k + 8 <= e; k += 8) {
    const ip = colIdx + (k << shift);
    const vp = values + (k << 2);
    a = madd(v128.load(vp), gather4(ip, wide, x), a);
    b = madd(v128.load(vp, 16), gather4(ip + (4 << shift), wide, x), b);
  }
  let s = hsum(f32x4.add(a, b));
  for (; k < e; k++) {
    const c = wide ? <usize>load<u32>(colIdx + (k << 2)) : <usize>load<u16>(colIdx + (k << 1));
    s += load<f32>(values + (k << 2)) * load<f32>(x + (c << 2));
  }
  return s;
}

/**
 * y = W·x for CSR W. Four rows a quarter of the matrix apart run at once: their indices and values
 * are four pairs of streams far apart in memory, which a core's prefetchers fetch in parallel where
 * one row after another is a single pair. Measured on 4096 × 4096 matrices streamed from memory
 * (Intel Xeon, one thread), 12 against 7.6 GB/s for rows one at a time; as fast or faster when the
 * matrix is cached. The rows take their common length in steps of 8 nonzeros together, then each
 * its rest alone; every row sums its nonzeros in the same order as alone, so the result is the same
 * to the bit.
 */
@inline function spmvCsr(rows: i32, rowPtr: usize, colIdx: usize, wide: i32, values: usize, x: usize, y: usize, bias: usize, relu: i32): void {
  const shift: usize = wide ? 2 : 1;
  const q = rows >> 2;
  const zero = f32x4.splat(0);
  for (let r0 = 0; r0 < q; r0++) {
    const r1 = r0 + q, r2 = r1 + q, r3 = r2 + q;
    const k0 = <usize>load<u32>(rowPtr + (<usize>r0 << 2)), e0 = <usize>load<u32>(rowPtr + (<usize>r0 << 2), 4);
    const k1 = <usize>load<u32>(rowPtr + (<usize>r1 << 2)), e1 = <usize>load<u32>(rowPtr + (<usize>r1 << 2), 4);
    const k2 = <usize>load<u32>(rowPtr + (<usize>r2 << 2)), e2 = <usize>load<u32>(rowPtr + (<usize>r2 << 2), 4);
    const k3 = <usize>load<u32>(rowPtr + (<usize>r3 << 2)), e3 = <usize>load<u32>(rowPtr + (<usize>r3 << 2), 4);
    const n = min(min(e0 - k0, e1 - k1), min(e2 - k2, e3 - k3)) & ~(<usize>7);
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero;
    let i0 = colIdx + (k0 << shift), i1 = colIdx + (k1 << shift), i2 = colIdx + (k2 << shift), i3 = colIdx + (k3 << shift);
    let v0 = values + (k0 << 2), v1 = values + (k1 << 2), v2 = values + (k2 << 2), v3 = values + (k3 << 2);
    const step = 8 << shift;
    const half = 4 << shift;
    for (const end = v0 + (n << 2); v0 < end; v0 += 32, v1 += 32, v2 += 32, v3 += 32, i0 += step, i1 += step, i2 += step, i3 += step) {
      a0 = madd(v128.load(v0), gather4(i0, wide, x), a0); b0 = madd(v128.load(v0, 16), gather4(i0 + half, wide, x), b0);
      a1 = madd(v128.load(v1), gather4(i1, wide, x), a1); b1 = madd(v128.load(v1, 16), gather4(i1 + half, wide, x), b1);
      a2 = madd(v128.load(v2), gather4(i2, wide, x), a2); b2 = madd(v128.load(v2, 16), gather4(i2 + half, wide, x), b2);
      a3 = madd(v128.load(v3), gather4(i3, wide, x), a3); b3 = madd(v128.load(v3, 16), gather4(i3 + half, wide, x), b3);
    }
    store<f32>(y + (<usize>r0 << 2), finish(rowRest(k0 + n, e0, colIdx, wide, values, x, a0, b0), bias, r0, relu));
    store<f32>(y + (<usize>r1 << 2), finish(rowRest(k1 + n, e1, colIdx, wide, values, x, a1, b1), bias, r1, relu));
    store<f32>(y + (<usize>r2 << 2), finish(rowRest(k2 + n, e2, colIdx, wide, values, x, a2, b2), bias, r2, relu));
    store<f32>(y + (<usize>r3 << 2), finish(rowRest(k3 + n, e3, colIdx, wide, values, x, a3, b3), bias, r3, relu));
  }
  for (let r = q << 2; r < rows; r++) {
    const k = <usize>load<u32>(rowPtr + (<usize>r << 2)), e = <usize>load<u32>(rowPtr + (<usize>r << 2), 4);
    store<f32>(y + (<usize>r << 2), finish(rowRest(k, e, colIdx, wide, values, x, zero, zero), bias, r, relu));
  }
}

/** y = W·x for CSR W with 16-bit column indices. */
export function spmvCsr16(rows: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, bias: usize, relu: i32): void {
  spmvCsr(rows, rowPtr, colIdx, 0, values, x, y, bias, relu);
}

/** y = W·x for CSR W with 32-bit column indices. */
export function spmvCsr32(rows: i32, rowPtr: usize, colIdx: usize, values: usize, x: usize, y: usize, bias: usize, relu: i32): void {
  spmvCsr(rows, rowPtr, colIdx, 1, values, x, y, bias, relu);
}

// ---- CSR × transposed batch ----------------------------------------------------------------

/**
 * One pass of a CSR row over `width` (1–7, a constant once inlined) vectors of X^T's columns:
 * each nonzero's weight broadcast once and multiplied into `width` accumulators, one 16-byte load
 * of X^T each. The row of X^T a nonzero reads is at `base` plus its byte offset: index k's
 * colIdx[k] · xStride (mode 0: 16-bit indices, 1: 32-bit) or, mode 2, offsets[k] itself (the
 * indices pre-scaled, see spmmCsr). Seven accumulators plus the weight and the loads they take
 * fill the 15 vector registers V8 allocates on x64; wider blocks spill (measured). Passes of 1–3
 * vectors multiply, then add, in the relaxed build too: with fused multiply-adds a 4096 × 4096
 * CSR matrix at 10% times 4 columns took 1.62 ms, with a product and a sum 0.98 ms (measured on an
 * Intel Xeon model 167; from 4 vectors on, fused is faster: 2.08 against 2.22 ms at 16 columns).
 */
@inline function csrPass(k0: usize, k1: usize, idx: usize, mode: i32, values: usize, base: usize, xStride: usize, q: usize, width: i32, bias: usize, r: usize, relu: i32, acc: bool = false, fin: bool = true): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
  if (acc) {
    a0 = v128.load(q);
    if (width > 1) a1 = v128.load(q, 16);
    if (width > 2) a2 = v128.load(q, 32);
    if (width > 3) a3 = v128.load(q, 48);
    if (width > 4) a4 = v128.load(q, 64);
    if (width > 5) a5 = v128.load(q, 80);
    if (width > 6) a6 = v128.load(q, 96);
  }
  let pv = values + (k0 << 2);
  const pe = values + (k1 << 2);
  let pi = idx + (mode == 0 ? k0 << 1 : k0 << 2);
  for (; pv < pe; pv += 4) {
    let p: usize;
    if (mode == 2) {
      p = base + <usize>load<u32>(pi);
      pi += 4;
    } else if (mode == 1) {
      p = base + <usize>load<u32>(pi) * xStride;
      pi += 4;
    } else {
      p = base + <usize>load<u16>(pi) * xStride;
      pi += 2;
    }
    const w = v128.load32_splat(pv);
    if (width < 4) {
      a0 = f32x4.add(f32x4.mul(w, v128.load(p)), a0);
      if (width > 1) a1 = f32x4.add(f32x4.mul(w, v128.load(p, 16)), a1);
      if (width > 2) a2 = f32x4.add(f32x4.mul(w, v128.load(p, 32)), a2);
      continue;
    }
    a0 = madd(w, v128.load(p), a0);
    a1 = madd(w, v128.load(p, 16), a1);
    a2 = madd(w, v128.load(p, 32), a2);
    a3 = madd(w, v128.load(p, 48), a3);
    if (width > 4) a4 = madd(w, v128.load(p, 64), a4);
    if (width > 5) a5 = madd(w, v128.load(p, 80), a5);
    if (width > 6) a6 = madd(w, v128.load(p, 96), a6);
  }
  if (!fin) {
    v128.store(q, a0);
    if (width > 1) v128.store(q, a1, 16);
    if (width > 2) v128.store(q, a2, 32);
    if (width > 3) v128.store(q, a3, 48);
    if (width > 4) v128.store(q, a4, 64);
    if (width > 5) v128.store(q, a5, 80);
    if (width > 6) v128.store(q, a6, 96);
    return;
  }
  v128.store(q, finish4(a0, bias, r, relu));
  if (width > 1) v128.store(q, finish4(a1, bias, r, relu), 16);
  if (width > 2) v128.store(q, finish4(a2, bias, r, relu), 32);
  if (width > 3) v128.store(q, finish4(a3, bias, r, relu), 48);
  if (width > 4) v128.store(q, finish4(a4, bias, r, relu), 64);
  if (width > 5) v128.store(q, finish4(a5, bias, r, relu), 80);
  if (width > 6) v128.store(q, finish4(a6, bias, r, relu), 96);
}

/** One pass of `width` (1–7) vectors: csrPass with the width a constant in each branch. */
@inline function csrPassOf(width: i32, k0: usize, k1: usize, idx: usize, mode: i32, values: usize, base: usize, xStride: usize, q: usize, bias: usize, r: usize, relu: i32, acc: bool = false, fin: bool = true): void {
  switch (width) {
    case 7: csrPass(k0, k1, idx, mode, values, base, xStride, q, 7, bias, r, relu, acc, fin); break;
    case 6: csrPass(k0, k1, idx, mode, values, base, xStride, q, 6, bias, r, relu, acc, fin); break;
    case 5: csrPass(k0, k1, idx, mode, values, base, xStride, q, 5, bias, r, relu, acc, fin); break;
    case 4: csrPass(k0, k1, idx, mode, values, base, xStride, q, 4, bias, r, relu, acc, fin); break;
    case 3: csrPass(k0, k1, idx, mode, values, base, xStride, q, 3, bias, r, relu, acc, fin); break;
    case 2: csrPass(k0, k1, idx, mode, values, base, xStride, q, 2, bias, r, relu, acc, fin); break;
    default: csrPass(k0, k1, idx, mode, values, base, xStride, q, 1, bias, r, relu, acc, fin);
  }
}

/**
 * Row r's nonzeros [k0, k1) times vectors [c0, c1) of X^T: passes of 7 vectors, and the rest in
 * one pass, or two of equal width where 8–10 vectors are left (4 + 4, not 7 + 1: every pass reads
 * the row's weights and indices again, and a narrow pass is slow, see csrPass).
 */
@inline function csrRowTimesBatch(k0: usize, k1: usize, idx: usize, mode: i32, values: usize, xt: usize, xStride: usize, yRow: usize, c0: i32, c1: i32, bias: usize, r: usize, relu: i32, acc: bool = false, fin: bool = true): void {
  let c = c0;
  for (; c1 - c > 10 || c1 - c == 7; c += 7) csrPass(k0, k1, idx, mode, values, xt + (<usize>c << 4), xStride, yRow + (<usize>c << 4), 7, bias, r, relu, acc, fin);
  if (c1 - c > 7) {
    const half = (c1 - c + 1) >> 1;
    csrPassOf(half, k0, k1, idx, mode, values, xt + (<usize>c << 4), xStride, yRow + (<usize>c << 4), bias, r, relu, acc, fin);
    c += half;
  }
  if (c < c1) csrPassOf(c1 - c, k0, k1, idx, mode, values, xt + (<usize>c << 4), xStride, yRow + (<usize>c << 4), bias, r, relu, acc, fin);
}

/**
 * Y^T = W·X^T for CSR W; X^T is [cols, ld], Y^T is [rows, ld], ld a multiple of 4. The columns run
 * in tiles of `tile` (a multiple of 4): every row takes one tile before the next, so the tile of
 * X^T stays in cache instead of the whole of X^T streaming once per row (an image's thousands of
 * pixels). When a row takes more than one pass (ld > 28) and `offsets` is not 0, the column
 * indices of these rows are first turned into byte offsets of X^T's rows there (nonzero k's at
 * offsets + 4k, as its index is at colIdx + 2k or 4k): every pass then adds an offset instead of
 * multiplying an index (measured 10–15% faster on BERT's shapes). The result is the same to the bit.
 */
export function spmmCsr(rows: i32, rowPtr: usize, colIdx: usize, wide: i32, values: usize, xt: usize, ld: i32, yt: usize, bias: usize, relu: i32, tile: i32, offsets: usize): void {
  const ldBytes = <usize>ld << 2;
  if (offsets && ld > 28) {
    const k1 = <usize>load<u32>(rowPtr + (<usize>rows << 2));
    for (let k = <usize>load<u32>(rowPtr); k < k1; k++) {
      const c = wide ? <usize>load<u32>(colIdx + (k << 2)) : <usize>load<u16>(colIdx + (k << 1));
      store<u32>(offsets + (k << 2), <u32>(c * ldBytes));
    }
    csrTiles(rows, rowPtr, offsets, 2, values, xt, 0, yt, ldBytes, ld >> 2, bias, relu, tile);
  } else if (wide) csrTiles(rows, rowPtr, colIdx, 1, values, xt, ldBytes, yt, ldBytes, ld >> 2, bias, relu, tile);
  else csrTiles(rows, rowPtr, colIdx, 0, values, xt, ldBytes, yt, ldBytes, ld >> 2, bias, relu, tile);
}

/**
 * Y^T = W·X^T as spmmCsr computes it (ld > 28: several passes over each row), in vertical strips of
 * W's columns: every row of W takes strip s before any takes strip s + 1, so the rows of X^T a
 * strip reads stay cached while all of W's rows pass over them, where spmmCsr's rows each read all
 * of X^T. `starts` [strips + 1, stride] (the rows of columns in each row sorted): row r's nonzeros
 * in strip s are [starts[s·stride + r], starts[(s + 1)·stride + r]), the last strip's end being the
 * row's. The indices are first turned into byte offsets at `offsets`, as spmmCsr's are. The first
 * strip writes its sums, the others add to them, and the last adds the bias and applies the
 * activation: each sum runs in spmmCsr's order, so the result is the same to the bit. BERT's
 * 768 × 3072 product at 10% times 128 columns took 2.67 ms in spmmCsr and 1.73 ms in strips of 256
 * columns; 768 × 768, 0.47 and 0.40 ms (Intel Xeon model 167, 2 MiB L2).
 */
export function spmmCsrStrips(strips: i32, rows: i32, starts: usize, stride: i32, colIdx: usize, wide: i32, offsets: usize, values: usize, xt: usize, ld: i32, yt: usize, bias: usize, relu: i32): void {
  if (rows <= 0) return;
  const ldBytes = <usize>ld << 2;
  const strideBytes = <usize>stride << 2;
  const kEnd = <usize>load<u32>(starts + <usize>strips * strideBytes + (<usize>(rows - 1) << 2));
  for (let k = <usize>load<u32>(starts); k < kEnd; k++) {
    const c = wide ? <usize>load<u32>(colIdx + (k << 2)) : <usize>load<u16>(colIdx + (k << 1));
    store<u32>(offsets + (k << 2), <u32>(c * ldBytes));
  }
  const cols4 = ld >> 2;
  for (let s = 0; s < strips; s++) {
    const first = s == 0, last = s == strips - 1;
    const p0 = starts + <usize>s * strideBytes;
    for (let r = 0; r < rows; r++) {
      const k0 = <usize>load<u32>(p0 + (<usize>r << 2));
      const k1 = <usize>load<u32>(p0 + strideBytes + (<usize>r << 2));
      const yRow = yt + <usize>r * ldBytes;
      // A middle strip with none of the row's nonzeros leaves its sums as they are.
      if (first || last || k1 > k0) csrRowTimesBatch(k0, k1, offsets, 2, values, xt, 0, yRow, 0, cols4, bias, r, relu, !first, last);
    }
  }
}

/**
 * The tiled CSR product both spmmCsr and convCsr run: for each tile of `tile` columns (of cols4
 * vectors), every row r; nonzero k reads the row of X^T its index gives (csrPass's `mode`).
 */
@inline function csrTiles(rows: i32, rowPtr: usize, idx: usize, mode: i32, values: usize, xt: usize, xStride: usize, yt: usize, ldBytes: usize, cols4: i32, bias: usize, relu: i32, tile: i32): void {
  const tile4 = max(1, tile >> 2);
  for (let t0 = 0; t0 < cols4; t0 += tile4) {
    const t1 = min(cols4, t0 + tile4);
    for (let r = 0; r < rows; r++) {
      const k0 = <usize>load<u32>(rowPtr + (<usize>r << 2));
      const k1 = <usize>load<u32>(rowPtr + (<usize>(r + 1) << 2));
      csrRowTimesBatch(k0, k1, idx, mode, values, xt, xStride, yt + <usize>r * ldBytes, t0, t1, bias, r, relu);
    }
  }
}

// ---- dense ---------------------------------------------------------------------------------

@inline function dotRow(wr: usize, x: usize, cols: i32): f32 {
  let a0 = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= cols; c += 4) a0 = madd(v128.load(wr + (<usize>c << 2)), v128.load(x + (<usize>c << 2)), a0);
  let s = hsum(a0);
  for (; c < cols; c++) s += load<f32>(wr + (<usize>c << 2)) * load<f32>(x + (<usize>c << 2));
  return s;
}

/**
 * y = W·x for dense row-major W [rows, cols]. Four rows at a time: four weight streams in flight
 * and each x vector loaded once for all four (measured 1.5× faster than one row at a time).
 */
export function gemv(rows: i32, cols: i32, w: usize, x: usize, y: usize, bias: usize, relu: i32): void {
  const rowBytes = <usize>cols << 2;
  const body = cols & ~7;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0); let b1 = f32x4.splat(0); let b2 = f32x4.splat(0); let b3 = f32x4.splat(0);
    for (let c = 0; c < body; c += 8) {
      const o = <usize>c << 2;
      const x0 = v128.load(x + o);
      const x1 = v128.load(x + o, 16);
      a0 = madd(v128.load(w0 + o), x0, a0); b0 = madd(v128.load(w0 + o, 16), x1, b0);
      a1 = madd(v128.load(w1 + o), x0, a1); b1 = madd(v128.load(w1 + o, 16), x1, b1);
      a2 = madd(v128.load(w2 + o), x0, a2); b2 = madd(v128.load(w2 + o, 16), x1, b2);
      a3 = madd(v128.load(w3 + o), x0, a3); b3 = madd(v128.load(w3 + o, 16), x1, b3);
    }
    const tail = <usize>body << 2;
    const n = cols - body;
    store<f32>(y + (<usize>r << 2), finish(hsum(f32x4.add(a0, b0)) + dotRow(w0 + tail, x + tail, n), bias, r, relu));
    store<f32>(y + (<usize>(r + 1) << 2), finish(hsum(f32x4.add(a1, b1)) + dotRow(w1 + tail, x + tail, n), bias, r + 1, relu));
    store<f32>(y + (<usize>(r + 2) << 2), finish(hsum(f32x4.add(a2, b2)) + dotRow(w2 + tail, x + tail, n), bias, r + 2, relu));
    store<f32>(y + (<usize>(r + 3) << 2), finish(hsum(f32x4.add(a3, b3)) + dotRow(w3 + tail, x + tail, n), bias, r + 3, relu));
  }
  for (; r < rows; r++) store<f32>(y + (<usize>r << 2), finish(dotRow(w + <usize>r * rowBytes, x, cols), bias, r, relu));
}

/**
 * Y^T = W·X^T for dense W [rows, cols]; X^T is [cols, ld], Y^T is [rows, ld], ld a multiple of 4;
 * columns in tiles of `tile` as spmmCsr's.
 */
export function gemm(rows: i32, cols: i32, w: usize, xt: usize, ld: i32, yt: usize, bias: usize, relu: i32, tile: i32): void {
  const ld4 = ld >> 2;
  const tile4 = max(1, tile >> 2);
  for (let t0 = 0; t0 < ld4; t0 += tile4) gemmTile(rows, cols, w, xt, ld, yt, bias, relu, t0, min(ld4, t0 + tile4));
}

@inline function gemmTile(rows: i32, cols: i32, w: usize, xt: usize, ld: i32, yt: usize, bias: usize, relu: i32, c0: i32, c1: i32): void {
  const ldBytes = <usize>ld << 2;
  const rowBytes = <usize>cols << 2;
  let r = 0;
  // Two rows × 16 columns: each X^T segment loaded once serves both rows.
  for (; r + 2 <= rows; r += 2) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const off = <usize>c << 4;
      let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0); let b1 = f32x4.splat(0); let b2 = f32x4.splat(0); let b3 = f32x4.splat(0);
      let p = xt + off;
      for (let k = 0; k < cols; k++) {
        const u = v128.load32_splat(w0 + (<usize>k << 2));
        const v = v128.load32_splat(w1 + (<usize>k << 2));
        const x0 = v128.load(p); const x1 = v128.load(p, 16); const x2 = v128.load(p, 32); const x3 = v128.load(p, 48);
        a0 = madd(u, x0, a0); a1 = madd(u, x1, a1);
        a2 = madd(u, x2, a2); a3 = madd(u, x3, a3);
        b0 = madd(v, x0, b0); b1 = madd(v, x1, b1);
        b2 = madd(v, x2, b2); b3 = madd(v, x3, b3);
        p += ldBytes;
      }
      const q = yt + <usize>r * ldBytes + off;
      v128.store(q, finish4(a0, bias, r, relu)); v128.store(q, finish4(a1, bias, r, relu), 16);
      v128.store(q, finish4(a2, bias, r, relu), 32); v128.store(q, finish4(a3, bias, r, relu), 48);
      const q1 = q + ldBytes;
      v128.store(q1, finish4(b0, bias, r + 1, relu)); v128.store(q1, finish4(b1, bias, r + 1, relu), 16);
      v128.store(q1, finish4(b2, bias, r + 1, relu), 32); v128.store(q1, finish4(b3, bias, r + 1, relu), 48);
    }
    for (; c < c1; c++) {
      const off = <usize>c << 4;
      let a0 = f32x4.splat(0); let b0 = f32x4.splat(0);
      let p = xt + off;
      for (let k = 0; k < cols; k++) {
        const x0 = v128.load(p);
        a0 = madd(v128.load32_splat(w0 + (<usize>k << 2)), x0, a0);
        b0 = madd(v128.load32_splat(w1 + (<usize>k << 2)), x0, b0);
        p += ldBytes;
      }
      v128.store(yt + <usize>r * ldBytes + off, finish4(a0, bias, r, relu));
      v128.store(yt + <usize>(r + 1) * ldBytes + off, finish4(b0, bias, r + 1, relu));
    }
  }
  for (; r < rows; r++) {
    const w0 = w + <usize>r * rowBytes;
    for (let c = c0; c < c1; c++) {
      const off = <usize>c << 4;
      let a0 = f32x4.splat(0);
      let p = xt + off;
      for (let k = 0; k < cols; k++) {
        a0 = madd(v128.load32_splat(w0 + (<usize>k << 2)), v128.load(p), a0);
        p += ldBytes;
      }
      v128.store(yt + <usize>r * ldBytes + off, finish4(a0, bias, r, relu));
    }
  }
}

// ---- convolution ---------------------------------------------------------------------------

/**
 * im2col for a 2-D convolution, straight into the kernels' transposed layout: row (ci, i, j) of
 * dst (stride ld floats) holds tap (i, j) of channel ci for output positions q0 to q1, zeros where
 * the window reaches into the padding and in the lanes from q1 − q0 to ld. x holds `cg` planes of
 * h × w floats. Each output row's valid span is found once, then copied (stride 1) or gathered.
 */
export function im2col2d(x: usize, cg: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, ow: i32, q0: i32, q1: i32, dst: usize, ld: i32): void {
  const n = q1 - q0;
  const ldBytes = <usize>ld << 2;
  const y0 = q0 / ow;
  const y1 = (q1 + ow - 1) / ow;
  let row = dst;
  for (let ci = 0; ci < cg; ci++) {
    const plane = x + ((<usize>ci * <usize>h * <usize>w) << 2);
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        // Output columns whose tap lands inside the row: xx·sw − pl + j·dw in [0, w).
        const off = j * dw - pl;
        let lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        let hi = (w - 1 - off) < 0 ? 0 : (w - 1 - off) / sw + 1;
        if (hi > ow) hi = ow;
        for (let y = y0; y < y1; y++) {
          const xa = max(0, q0 - y * ow), xb = min(ow, q1 - y * ow);
          const d = row + (<usize>(y * ow + xa - q0) << 2);
          const iy = y * sh - pt + i * dh;
          if (iy < 0 || iy >= h) { memory.fill(d, 0, <usize>(xb - xa) << 2); continue; }
          const a = max(xa, lo), b = min(xb, hi);
          if (a >= b) { memory.fill(d, 0, <usize>(xb - xa) << 2); continue; }
          if (a > xa) memory.fill(d, 0, <usize>(a - xa) << 2);
          const src = plane + ((<usize>iy * <usize>w + <usize>(a * sw + off)) << 2);
          const to = d + (<usize>(a - xa) << 2);
          if (sw == 1) memory.copy(to, src, <usize>(b - a) << 2);
          else for (let xx = 0; xx < b - a; xx++) store<f32>(to + (<usize>xx << 2), load<f32>(src + (<usize>(xx * sw) << 2)));
          if (xb > b) memory.fill(to + (<usize>(b - a) << 2), 0, <usize>(xb - b) << 2);
        }
        if (ld > n) memory.fill(row + (<usize>n << 2), 0, <usize>(ld - n) << 2);
        row += ldBytes;
      }
    }
  }
}

/**
 * 2-D max pooling of `planes` planes of h × w floats into oh × ow, rows first: for each output row,
 * the maxima over its window's input rows (tmp, one row of w floats between −∞ borders of
 * `maxPoolBorder` floats), then the maxima of those over each window's columns, four outputs at a
 * time for strides 1 and 2 (a stride-2 vector is the even lanes of two loads). Taps outside the
 * input are skipped; a window with none gives −∞. NaN propagates, as PyTorch's max_pool2d does:
 * a plane with a NaN in it runs with f32x4.max (eight instructions on x64), every other with pmax
 * (one). Measured on ResNet-18's 64 × 112² MaxPool: 1.03 ms with the NaNs tracked per tap and
 * the columns first, over every input row.
 */
export function maxPool2d(x: usize, planes: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, tmp: usize, y: usize): void {
  const border = maxPoolBorder(w, ow, kw, sw, dw, pl);
  // tmp[border + c] holds column c: the borders stay −∞ (set here), every window's taps inside.
  const inf = <f32>-Infinity;
  for (let i = 0; i < border; i++) {
    store<f32>(tmp + (<usize>i << 2), inf);
    store<f32>(tmp + (<usize>(border + w + i) << 2), inf);
  }
  for (let p = 0; p < planes; p++) {
    const plane = x + ((<usize>p * <usize>h * <usize>w) << 2);
    const out = y + ((<usize>p * <usize>oh * <usize>ow) << 2);
    if (hasNaN(plane, h * w)) poolPlane(plane, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, tmp, border, out, true);
    else poolPlane(plane, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, tmp, border, out, false);
  }
}

/**
 * The −∞ floats maxPool2d's tmp row has on each side of its w floats (a multiple of 4): every tap of
 * a window, and every lane of the eight floats a stride-2 vector loads, inside.
 */
export function maxPoolBorder(w: i32, ow: i32, kw: i32, sw: i32, dw: i32, pl: i32): i32 {
  return (max(pl, (ow - 1) * sw - pl + (kw - 1) * dw + 8 - w) + 3) & ~3;
}

@inline function hasNaN(p: usize, n: i32): bool {
  let nan = i32x4.splat(0);
  const e = p + (<usize>(n & ~3) << 2);
  for (let q = p; q < e; q += 16) {
    const v = v128.load(q);
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  for (let i = n & ~3; i < n; i++) { const v = load<f32>(p + (<usize>i << 2)); if (v != v) return true; }
  return v128.any_true(nan);
}

@inline function vmax(a: v128, b: v128, exact: bool): v128 {
  return exact ? f32x4.max(a, b) : f32x4.pmax(a, b);
}

@inline function smax(a: f32, b: f32, exact: bool): f32 {
  return exact ? max(a, b) : (a < b ? b : a);
}

@inline function poolPlane(plane: usize, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, oh: i32, ow: i32, tmp: usize, border: i32, out: usize, exact: bool): void {
  const rowBytes = <usize>w << 2, stepBytes = <usize>dh * rowBytes;
  const t = tmp + (<usize>border << 2);
  const w4 = w & ~3, ow4 = ow & ~3;
  const inf = <f32>-Infinity;
  for (let oy = 0; oy < oh; oy++) {
    // The window's rows inside the input: y0 + i·dh for i in [i0, i1).
    const y0 = oy * sh - pt;
    const i0 = y0 >= 0 ? 0 : (-y0 + dh - 1) / dh;
    const i1 = min(kh, y0 >= h ? 0 : (h - 1 - y0) / dh + 1);
    if (i0 >= i1) {
      for (let c = 0; c < w; c++) store<f32>(t + (<usize>c << 2), inf);
    } else {
      const first = plane + <usize>(y0 + i0 * dh) * rowBytes;
      const taps = i1 - i0;
      let c: usize = 0;
      for (; c < <usize>w4 << 2; c += 16) {
        let q = first + c;
        let m = v128.load(q);
        for (let i = 1; i < taps; i++) { q += stepBytes; m = vmax(m, v128.load(q), exact); }
        v128.store(t + c, m);
      }
      for (; c < rowBytes; c += 4) {
        let q = first + c;
        let m = load<f32>(q);
        for (let i = 1; i < taps; i++) { q += stepBytes; m = smax(m, load<f32>(q), exact); }
        store<f32>(t + c, m);
      }
    }
    // Output ox's taps are t[ox·sw − pl + j·dw], all inside tmp's borders.
    const t0 = t - (<usize>pl << 2);
    const o = out + ((<usize>oy * <usize>ow) << 2);
    let ox = 0;
    if (sw == 1) {
      for (; ox < ow4; ox += 4) {
        let q = t0 + (<usize>ox << 2);
        let m = v128.load(q);
        for (let j = 1; j < kw; j++) { q += <usize>dw << 2; m = vmax(m, v128.load(q), exact); }
        v128.store(o + (<usize>ox << 2), m);
      }
    } else if (sw == 2) {
      for (; ox < ow4; ox += 4) {
        let q = t0 + (<usize>ox << 3);
        let m = v128.shuffle<f32>(v128.load(q), v128.load(q, 16), 0, 2, 4, 6);
        for (let j = 1; j < kw; j++) { q += <usize>dw << 2; m = vmax(m, v128.shuffle<f32>(v128.load(q), v128.load(q, 16), 0, 2, 4, 6), exact); }
        v128.store(o + (<usize>ox << 2), m);
      }
    }
    for (; ox < ow; ox++) {
      let q = t0 + (<usize>(ox * sw) << 2);
      let m = load<f32>(q);
      for (let j = 1; j < kw; j++) { q += <usize>dw << 2; m = smax(m, load<f32>(q), exact); }
      store<f32>(o + (<usize>ox << 2), m);
    }
  }
}

/**
 * Direct sparse convolution, without im2col. x holds the zero-padded input split into stride
 * phases (padPlanes): plane (ci, py, px) of hq × wq floats holds padded rows py, py + sh, … and
 * columns px, px + sw, …. Output position (oy, ox) is flat column q = oy·wq + ox, and tap
 * (ci, i, j) of its window lies at q + offsets[k] / 4 (convOffsets, in bytes) — one shift of x per
 * nonzero. So y[r, q] = Σ_k values[k]·x[offsets[k] / 4 + q] for q in [0, n): the CSR product's loop with each
 * nonzero's row of X^T replaced by x shifted, in tiles of `tile` columns. The columns q with
 * q mod wq ≥ the output width are computed and dropped by the caller; x needs wq + 8 floats of
 * slack after its planes.
 */
export function convCsr(rows: i32, rowPtr: usize, offsets: usize, values: usize, x: usize, n: i32, y: usize, ld: i32, bias: usize, relu: i32, tile: i32): void {
  // X^T with a row stride of one float is x shifted; the shifts are in bytes already.
  csrTiles(rows, rowPtr, offsets, 2, values, x, 0, y, <usize>ld << 2, (n + 3) >> 2, bias, relu, tile);
}

/**
 * The shifts convCsr reads, in bytes, for CSR column indices c = (ci·kh + i)·kw + j (16-bit when wide = 0):
 * tap (i, j) reads padded row oy·sh + i·dh, column ox·sw + j·dw, which is phase
 * ((i·dh) mod sh, (j·dw) mod sw) at (oy + ⌊i·dh/sh⌋, ox + ⌊j·dw/sw⌋).
 */
export function convOffsets(nnz: i32, colIdx: usize, wide: i32, kh: i32, kw: i32, dh: i32, dw: i32, sh: i32, sw: i32, hq: i32, wq: i32, dst: usize): void {
  const taps = kh * kw;
  const plane = hq * wq;
  for (let k = 0; k < nnz; k++) {
    const c = wide ? <i32>load<u32>(colIdx + (<usize>k << 2)) : <i32>load<u16>(colIdx + (<usize>k << 1));
    const ci = c / taps, t = c - ci * taps, i = t / kw, j = t - i * kw;
    const ry = i * dh, rx = j * dw;
    const phase = (ci * sh + ry % sh) * sw + rx % sw;
    store<u32>(dst + (<usize>k << 2), <u32>(phase * plane + (ry / sh) * wq + rx / sw) << 2);
  }
}

/**
 * c planes of h × w into convCsr's layout: padded (the input at row pt, column pl) and split
 * into sh × sw phase planes of hq × wq each, per channel; zeros elsewhere and in `slack` floats after.
 * Each row of dst is written once, in order: its zeros left of the input, the input's columns of
 * its phase (contiguous for stride 1, the even lanes of two loads for stride 2), the zeros right
 * of them, whose last vector may run into the next row (written after). Measured on ResNet-18's
 * 64 × 56² stride-1 input: 0.36 ms filling the whole of dst with zeros first, then copying.
 */
export function padPlanes(x: usize, c: i32, h: i32, w: i32, pt: i32, pl: i32, sh: i32, sw: i32, hq: i32, wq: i32, dst: usize, slack: i32): void {
  const zero = f32x4.splat(0);
  const rowBytes = <usize>wq << 2;
  let d = dst;
  for (let ci = 0; ci < c; ci++) {
    const src = x + ((<usize>ci * <usize>h * <usize>w) << 2);
    for (let py = 0; py < sh; py++) {
      for (let px = 0; px < sw; px++) {
        // Columns [qa, qb) of this phase's rows hold input columns xa, xa + sw, ….
        const qa = min(wq, pl > px ? (pl - px + sw - 1) / sw : 0);
        const qb = max(qa, min(wq, w - 1 + pl - px < 0 ? 0 : (w - 1 + pl - px) / sw + 1));
        const xa = qa * sw + px - pl, count = qb - qa;
        const left = <usize>qa << 2, right = <usize>qb << 2;
        for (let qy = 0; qy < hq; qy++, d += rowBytes) {
          const yy = qy * sh + py - pt;
          if (yy < 0 || yy >= h || count == 0) {
            for (let i: usize = 0; i < rowBytes; i += 16) v128.store(d + i, zero);
            continue;
          }
          for (let i: usize = 0; i < left; i += 16) v128.store(d + i, zero);
          const from = src + ((<usize>yy * <usize>w + <usize>xa) << 2);
          const to = d + left;
          let k = 0;
          if (sw == 1) {
            for (; k + 4 <= count; k += 4) v128.store(to + (<usize>k << 2), v128.load(from + (<usize>k << 2)));
          } else if (sw == 2) {
            // The last pair of loads stays inside the row.
            for (; k + 4 <= count && xa + 2 * k + 8 <= w; k += 4) {
              const p = from + (<usize>k << 3);
              v128.store(to + (<usize>k << 2), v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6));
            }
          }
          for (; k < count; k++) store<f32>(to + (<usize>k << 2), load<f32>(from + (<usize>(k * sw) << 2)));
          for (let i = right; i < rowBytes; i += 16) v128.store(d + i, zero);
        }
      }
    }
  }
  // The slack (the last row's spill included), ending at its end.
  const end = <usize>slack << 2;
  let i: usize = 0;
  for (; i + 16 <= end; i += 16) v128.store(d + i, zero);
  for (; i < end; i += 4) store<f32>(d + i, 0);
}

// ---- helpers -------------------------------------------------------------------------------

/** Columns a transpose takes at a time (see transposeIn, transposeOut): 256 bytes of each row. */
const TRANSPOSE_BAND = 64;

// 4×4 blocks transposed in registers (eight shuffles): a, b, c, d are four rows of four floats.
@inline function store4x4(a: v128, b: v128, c: v128, d: v128, dst: usize, strideBytes: usize): void {
  const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + strideBytes, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * strideBytes, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * strideBytes, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * dst [cols, ld] = transpose of src [rows, cols] (rows ≤ ld); padding lanes set to 0. Rows of src
 * are `srcStride` floats apart (cols for a whole matrix; more for a band of its columns).
 */
export function transposeIn(src: usize, rows: i32, cols: i32, dst: usize, ld: i32, srcStride: i32): void {
  const ldBytes = <usize>ld << 2;
  const rowBytes = <usize>srcStride << 2;
  const rows4 = rows & ~3, cols4 = cols & ~3;
  // In bands of TRANSPOSE_BAND columns: a band's lines of dst stay in L1 while every row of src
  // passes (dst's rows are ld floats apart; a whole one's lines would not).
  for (let c0 = 0; c0 < cols4; c0 += TRANSPOSE_BAND) {
    const c1 = min(cols4, c0 + TRANSPOSE_BAND);
    for (let r = 0; r < rows4; r += 4) {
      const s0 = src + <usize>r * rowBytes;
      for (let c = c0; c < c1; c += 4) {
        const o = <usize>c << 2;
        store4x4(v128.load(s0 + o), v128.load(s0 + rowBytes + o), v128.load(s0 + 2 * rowBytes + o), v128.load(s0 + 3 * rowBytes + o),
          dst + <usize>c * ldBytes + (<usize>r << 2), ldBytes);
      }
    }
  }
  for (let r = 0; r < rows4; r += 4) {
    const s0 = src + <usize>r * rowBytes;
    for (let c = cols4; c < cols; c++) {
      for (let i = 0; i < 4; i++) store<f32>(dst + <usize>c * ldBytes + (<usize>(r + i) << 2), load<f32>(s0 + <usize>i * rowBytes + (<usize>c << 2)));
    }
  }
  for (let c = 0; c < cols; c++) {
    const d = dst + <usize>c * ldBytes;
    for (let r = rows4; r < rows; r++) store<f32>(d + (<usize>r << 2), load<f32>(src + ((<usize>r * <usize>srcStride + <usize>c) << 2)));
    for (let r = rows; r < ld; r++) store<f32>(d + (<usize>r << 2), 0);
  }
}

/**
 * dst [rows, cols] = transpose of src [cols, ld] (only the first `rows` lanes of each row). Rows of
 * dst are `dstStride` floats apart (cols for a whole matrix; more for a band of its columns).
 */
export function transposeOut(src: usize, rows: i32, cols: i32, ld: i32, dst: usize, dstStride: i32): void {
  const ldBytes = <usize>ld << 2;
  const rowBytes = <usize>dstStride << 2;
  const rows4 = rows & ~3, cols4 = cols & ~3;
  // In bands of TRANSPOSE_BAND columns of dst, every row of dst taking its part of the band in turn:
  // each of dst's lines is written whole at once. A column at a time, with dst's rows 12 KiB apart
  // (3072 outputs), 128 rows' lines fell in one L1 set and evicted each other before they filled.
  for (let c0 = 0; c0 < cols4; c0 += TRANSPOSE_BAND) {
    const c1 = min(cols4, c0 + TRANSPOSE_BAND);
    for (let r = 0; r < rows4; r += 4) {
      const o = <usize>r << 2;
      for (let c = c0; c < c1; c += 4) {
        const s0 = src + <usize>c * ldBytes;
        store4x4(v128.load(s0 + o), v128.load(s0 + ldBytes + o), v128.load(s0 + 2 * ldBytes + o), v128.load(s0 + 3 * ldBytes + o),
          dst + <usize>r * rowBytes + (<usize>c << 2), rowBytes);
      }
    }
  }
  for (let c = 0; c < cols4; c += 4) {
    const s0 = src + <usize>c * ldBytes;
    for (let r = rows4; r < rows; r++) {
      for (let i = 0; i < 4; i++) store<f32>(dst + <usize>r * rowBytes + (<usize>(c + i) << 2), load<f32>(s0 + <usize>i * ldBytes + (<usize>r << 2)));
    }
  }
  for (let c = cols4; c < cols; c++) {
    const s = src + <usize>c * ldBytes;
    for (let r = 0; r < rows; r++) store<f32>(dst + ((<usize>r * <usize>dstStride + <usize>c) << 2), load<f32>(s + (<usize>r << 2)));
  }
}

/**
 * `count` transposes as transposeIn, the t-th reading src [rows, cols] (rows srcStride floats
 * apart) at src + t·srcStep floats and writing dst [cols, ld] at dst + t·dstStep floats: a
 * permutation of a tensor's inner axes, one matrix per outer index (attention's heads).
 */
export function transposeMany(count: i32, src: usize, srcStep: i32, rows: i32, cols: i32, srcStride: i32, dst: usize, dstStep: i32, ld: i32): void {
  for (let t = 0; t < count; t++) transposeIn(src + (<usize>t * <usize>srcStep << 2), rows, cols, dst + (<usize>t * <usize>dstStep << 2), ld, srcStride);
}

/**
 * `count` blocks, the t-th `rows` rows of `cols` floats read srcStride floats apart from
 * src + t·srcStep floats, written one after another at dst + t·dstStep floats: swapping a
 * tensor's two outer axes ([a, b, c] to [b, a, c], one block per new outer index).
 */
export function copyRows(count: i32, src: usize, srcStep: i32, rows: i32, cols: i32, srcStride: i32, dst: usize, dstStep: i32): void {
  const rowBytes = <usize>srcStride << 2;
  const n = <usize>cols << 2, n16 = n & ~15;
  for (let t = 0; t < count; t++) {
    let s = src + (<usize>t * <usize>srcStep << 2);
    let d = dst + (<usize>t * <usize>dstStep << 2);
    for (let r = 0; r < rows; r++, s += rowBytes, d += n) {
      let i: usize = 0;
      for (; i < n16; i += 16) v128.store(d + i, v128.load(s + i));
      for (; i < n; i += 4) store<f32>(d + i, load<f32>(s + i));
    }
  }
}

/** Sum of n floats (n a multiple of 16): a streaming read to measure memory bandwidth. */
export function streamSum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0);
  const e = p + (<usize>n << 2);
  for (; p < e; p += 64) {
    a0 = f32x4.add(a0, v128.load(p)); a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32)); a3 = f32x4.add(a3, v128.load(p, 48));
  }
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
}

/**
 * n rounds of a = a·m + c on 12 independent vectors held in registers (48 lanes, 96 flops a round,
 * no memory traffic): the compute roof of 128-bit SIMD on this runtime and CPU, which no kernel
 * that loads its operands can pass. Returns the sum of all lanes (1 + n·c per lane when m = 1).
 */
export function peakMadd(n: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m); const vc = f32x4.splat(c);
  let a0 = f32x4.splat(1); let a1 = a0; let a2 = a0; let a3 = a0; let a4 = a0; let a5 = a0;
  let a6 = a0; let a7 = a0; let a8 = a0; let a9 = a0; let a10 = a0; let a11 = a0;
  for (let i = 0; i < n; i++) {
    a0 = madd(a0, vm, vc); a1 = madd(a1, vm, vc); a2 = madd(a2, vm, vc); a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc); a5 = madd(a5, vm, vc); a6 = madd(a6, vm, vc); a7 = madd(a7, vm, vc);
    a8 = madd(a8, vm, vc); a9 = madd(a9, vm, vc); a10 = madd(a10, vm, vc); a11 = madd(a11, vm, vc);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return hsum(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
}

/**
 * The roof of a product that loads its operands: n rounds of one weight broadcast and eight
 * 16-byte loads from `buf` (4 KiB, so the L1 cache holds it), each load feeding one of eight
 * independent fused multiply-adds (64 flops a round). An unstructured sparse product does at least
 * this much per nonzero (each nonzero meets its own row of X^T; there are too few registers to keep
 * rows for reuse) plus its index load. Returns the sum of the accumulators' lanes.
 */
export function peakLoadMadd(n: i32, buf: usize): f32 {
  let a0 = f32x4.splat(0); let a1 = a0; let a2 = a0; let a3 = a0; let a4 = a0; let a5 = a0; let a6 = a0; let a7 = a0;
  for (let i = 0; i < n; i++) {
    const p = buf + ((<usize>i & 31) << 7);
    const w = v128.load32_splat(buf + ((<usize>i & 1023) << 2));
    a0 = madd(w, v128.load(p), a0); a1 = madd(w, v128.load(p, 16), a1);
    a2 = madd(w, v128.load(p, 32), a2); a3 = madd(w, v128.load(p, 48), a3);
    a4 = madd(w, v128.load(p, 64), a4); a5 = madd(w, v128.load(p, 80), a5);
    a6 = madd(w, v128.load(p, 96), a6); a7 = madd(w, v128.load(p, 112), a7);
  }
  return hsum(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))));
}

// ---- the transformer's non-weight ops -------------------------------------------------------
// Rows of n floats, contiguous; n need not be a multiple of 4 (tails run scalar).

@inline function splat(v: f32): v128 {
  return f32x4.splat(v);
}

/**
 * e^x for four floats: x = k·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), e^r by
 * Cephes' degree-7 polynomial (relative error about 1e-7), 2^k built in the exponent bits.
 * Below −87.3 the result is 0 (float32 underflows there); NaN stays NaN.
 */
@inline function exp4(x: v128): v128 {
  const under = f32x4.lt(x, splat(-87.33654));
  // pmax/pmin: one instruction each on x64 (max/min take eight); a NaN x passes through both.
  const c = f32x4.pmin(f32x4.pmax(x, splat(-87.33654)), splat(88.37626));
  // k = round(x / ln2) by adding 1.5·2^23: the sum's low mantissa bits hold k (no float-to-int
  // conversion, which x64 lacks in a saturating SIMD form).
  const kf = madd(c, splat(1.44269504088896341), splat(12582912.0));
  const k = f32x4.sub(kf, splat(12582912.0));
  let r = f32x4.sub(c, f32x4.mul(k, splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(k, splat(-2.12194440e-4)));
  const z = f32x4.mul(r, r);
  let p = madd(splat(1.9875691500e-4), r, splat(1.3981999507e-3));
  p = madd(p, r, splat(8.3334519073e-3));
  p = madd(p, r, splat(4.1665795894e-2));
  p = madd(p, r, splat(1.6666665459e-1));
  p = madd(p, r, splat(5.0000001201e-1));
  p = f32x4.add(madd(p, z, r), splat(1));
  // 2^k: (bits(kf) + 127) << 23, the 1.5·2^23 bits shifted out.
  const scale = i32x4.shl(i32x4.add(kf, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(p, scale), under);
}

@inline function expScalar(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

@inline function softmaxRow(xr: usize, n: i32, yr: usize): void {
  const body = n & ~3;
  let m4 = splat(-Infinity), n4 = m4, o4 = m4, p4 = m4;
  let j = 0;
  // pmax skips a NaN element (m4 < NaN is false); the row's outputs are NaN all the same, through
  // its e^(NaN − m). Four maxima apart, so that four pmax chains overlap (the maximum is the same).
  for (; j + 16 <= body; j += 16) {
    const o = <usize>j << 2;
    m4 = f32x4.pmax(m4, v128.load(xr + o));
    n4 = f32x4.pmax(n4, v128.load(xr + o, 16));
    o4 = f32x4.pmax(o4, v128.load(xr + o, 32));
    p4 = f32x4.pmax(p4, v128.load(xr + o, 48));
  }
  for (; j < body; j += 4) m4 = f32x4.pmax(m4, v128.load(xr + (<usize>j << 2)));
  m4 = f32x4.pmax(f32x4.pmax(m4, n4), f32x4.pmax(o4, p4));
  let m = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  for (; j < n; j++) m = max(m, load<f32>(xr + (<usize>j << 2)));
  const mv = splat(m);
  // Two vectors a step, summed apart: the two exps' chains overlap.
  let s4 = splat(0), t4 = splat(0);
  for (j = 0; j + 8 <= body; j += 8) {
    const o = <usize>j << 2;
    const e = exp4(f32x4.sub(v128.load(xr + o), mv));
    const f = exp4(f32x4.sub(v128.load(xr + o, 16), mv));
    v128.store(yr + o, e);
    v128.store(yr + o, f, 16);
    s4 = f32x4.add(s4, e);
    t4 = f32x4.add(t4, f);
  }
  for (; j < body; j += 4) {
    const e = exp4(f32x4.sub(v128.load(xr + (<usize>j << 2)), mv));
    v128.store(yr + (<usize>j << 2), e);
    s4 = f32x4.add(s4, e);
  }
  let s = hsum(f32x4.add(s4, t4));
  for (; j < n; j++) {
    const e = expScalar(load<f32>(xr + (<usize>j << 2)) - m);
    store<f32>(yr + (<usize>j << 2), e);
    s += e;
  }
  const inv = splat(<f32>1 / s);
  for (j = 0; j < body; j += 4) v128.store(yr + (<usize>j << 2), f32x4.mul(v128.load(yr + (<usize>j << 2)), inv));
  for (; j < n; j++) store<f32>(yr + (<usize>j << 2), load<f32>(yr + (<usize>j << 2)) / s);
}

/** Softmax of each of `rows` rows of n floats: y = e^(x − max) / Σ. */
export function softmaxRows(x: usize, rows: i32, n: i32, y: usize): void {
  for (let r = 0; r < rows; r++) softmaxRow(x + ((<usize>r * <usize>n) << 2), n, y + ((<usize>r * <usize>n) << 2));
}

/**
 * Softmax of each row of x / divisor + mask, attention's scores as exporters write them (Div by
 * √d, Add of the mask, Softmax): row r adds mask row ⌊(row0 + r) / every⌋ mod maskRows (n floats
 * each; row0: where a part split off the whole starts). The row's x / divisor + mask is written to
 * y first, each in float32 as the Div and Add would (the same bits), then y's row goes through
 * softmaxRows' steps in place.
 */
export function softmaxScaledRows(x: usize, rows: i32, n: i32, divisor: f32, mask: usize, row0: i32, every: i32, maskRows: i32, y: usize): void {
  const body = n & ~3;
  const d = splat(divisor);
  // A power of two (√64 = 8): × its reciprocal, exact, gives the quotient's bits without a division.
  const bits = reinterpret<u32>(divisor) & 0x7fffffff;
  const exact = (bits & 0x7fffff) == 0 && bits >= 0x00800000 && bits < 0x7f000000;
  const inv = splat(<f32>1 / divisor);
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>n) << 2);
    const yr = y + ((<usize>r * <usize>n) << 2);
    const mr = mask + ((<usize>(((row0 + r) / every) % maskRows) * <usize>n) << 2);
    let j = 0;
    if (exact) {
      for (; j < body; j += 4) {
        const o = <usize>j << 2;
        v128.store(yr + o, f32x4.add(f32x4.mul(v128.load(xr + o), inv), v128.load(mr + o)));
      }
    }
    for (; j < body; j += 4) {
      const o = <usize>j << 2;
      v128.store(yr + o, f32x4.add(f32x4.div(v128.load(xr + o), d), v128.load(mr + o)));
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      store<f32>(yr + o, load<f32>(xr + o) / divisor + load<f32>(mr + o));
    }
    softmaxRow(yr, n, yr);
  }
}

/**
 * LayerNorm of each of `rows` rows of n floats: (x − mean) / √(var + eps) · γ + β, γ and β of n
 * floats (0: none). Mean and variance in two passes, summed in four vectors of four float32 lanes.
 */
export function layerNormRows(x: usize, rows: i32, n: i32, gamma: usize, beta: usize, eps: f32, y: usize): void {
  const body = n & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>n) << 2);
    const yr = y + ((<usize>r * <usize>n) << 2);
    // Sums in four vectors of four lanes, 16 floats a step: four addition chains overlap.
    let s4 = splat(0), s5 = s4, s6 = s4, s7 = s4;
    let j = 0;
    for (; j + 16 <= body; j += 16) {
      const o = <usize>j << 2;
      s4 = f32x4.add(s4, v128.load(xr + o));
      s5 = f32x4.add(s5, v128.load(xr + o, 16));
      s6 = f32x4.add(s6, v128.load(xr + o, 32));
      s7 = f32x4.add(s7, v128.load(xr + o, 48));
    }
    for (; j < body; j += 4) s4 = f32x4.add(s4, v128.load(xr + (<usize>j << 2)));
    let s = hsum(f32x4.add(f32x4.add(s4, s5), f32x4.add(s6, s7)));
    for (; j < n; j++) s += load<f32>(xr + (<usize>j << 2));
    const mean = s / <f32>n;
    const mv = splat(mean);
    let v4 = splat(0), v5 = v4, v6 = v4, v7 = v4;
    for (j = 0; j + 16 <= body; j += 16) {
      const o = <usize>j << 2;
      const d0 = f32x4.sub(v128.load(xr + o), mv), d1 = f32x4.sub(v128.load(xr + o, 16), mv);
      const d2 = f32x4.sub(v128.load(xr + o, 32), mv), d3 = f32x4.sub(v128.load(xr + o, 48), mv);
      v4 = madd(d0, d0, v4);
      v5 = madd(d1, d1, v5);
      v6 = madd(d2, d2, v6);
      v7 = madd(d3, d3, v7);
    }
    for (; j < body; j += 4) {
      const d = f32x4.sub(v128.load(xr + (<usize>j << 2)), mv);
      v4 = madd(d, d, v4);
    }
    let v = hsum(f32x4.add(f32x4.add(v4, v5), f32x4.add(v6, v7)));
    for (; j < n; j++) {
      const d = load<f32>(xr + (<usize>j << 2)) - mean;
      v += d * d;
    }
    const inv = <f32>1 / Mathf.sqrt(v / <f32>n + eps);
    const iv = splat(inv);
    for (j = 0; j < body; j += 4) {
      const o = <usize>j << 2;
      let t = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), iv);
      if (gamma) t = f32x4.mul(t, v128.load(gamma + o));
      if (beta) t = f32x4.add(t, v128.load(beta + o));
      v128.store(yr + o, t);
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      let t = (load<f32>(xr + o) - mean) * inv;
      if (gamma) t *= load<f32>(gamma + o);
      if (beta) t += load<f32>(beta + o);
      store<f32>(yr + o, t);
    }
  }
}

/**
 * Exact GELU, x·Φ(x) = x/2 · (1 + erf(x/√2)), of four floats. With z = |x|/√2, 1 + erf is
 * 2 − erfc(z) for x ≥ 0 and erfc(z) for x < 0, erfc by Numerical Recipes' Chebyshev fit
 * (fractional error below 1.2e-7): relative accuracy near float32's for every x, the negative
 * tail included, where 1 + erf(x) itself would cancel.
 */
@inline function gelu4(x: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), splat(0.70710678118654752));
  const t = f32x4.div(splat(1), madd(z, splat(0.5), splat(1)));
  // The fit's degree-9 polynomial in t by Estrin's scheme (pairs, then powers t², t⁴, t⁸): four
  // multiply-adds deep instead of Horner's nine, so the vectors of a step overlap more.
  const t2 = f32x4.mul(t, t);
  const t4 = f32x4.mul(t2, t2);
  const p01 = madd(t, splat(1.00002368), splat(-1.26551223));
  const p23 = madd(t, splat(0.09678418), splat(0.37409196));
  const p45 = madd(t, splat(0.27886807), splat(-0.18628806));
  const p67 = madd(t, splat(1.48851587), splat(-1.13520398));
  const p89 = madd(t, splat(0.17087277), splat(-0.82215223));
  const p07 = madd(madd(p67, t2, p45), t4, madd(p23, t2, p01));
  const p = madd(p89, f32x4.mul(t4, t4), p07);
  const erfc = f32x4.mul(t, exp4(f32x4.sub(p, f32x4.mul(z, z))));
  const negative = f32x4.lt(x, splat(0));
  const onePlusErf = v128.bitselect(erfc, f32x4.sub(splat(2), erfc), negative);
  return f32x4.mul(f32x4.mul(x, splat(0.5)), onePlusErf);
}

/** y = GELU(x + bias) for `rows` rows of n floats; bias of n floats (0: none). */
export function geluRows(x: usize, rows: i32, n: i32, bias: usize, y: usize): void {
  const body = n & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>n) << 2);
    const yr = y + ((<usize>r * <usize>n) << 2);
    let j = 0;
    // Four independent vectors per step: their long dependency chains (division, polynomial, exp)
    // overlap, which the CPU's scheduler does not manage on its own across steps (measured here:
    // 0.69 ms for 393,216 floats against 0.94 with two vectors a step).
    for (; j + 16 <= body; j += 16) {
      const o = <usize>j << 2;
      let a = v128.load(xr + o), b = v128.load(xr + o, 16), c = v128.load(xr + o, 32), d = v128.load(xr + o, 48);
      if (bias) {
        a = f32x4.add(a, v128.load(bias + o));
        b = f32x4.add(b, v128.load(bias + o, 16));
        c = f32x4.add(c, v128.load(bias + o, 32));
        d = f32x4.add(d, v128.load(bias + o, 48));
      }
      v128.store(yr + o, gelu4(a));
      v128.store(yr + o, gelu4(b), 16);
      v128.store(yr + o, gelu4(c), 32);
      v128.store(yr + o, gelu4(d), 48);
    }
    for (; j < body; j += 4) {
      const o = <usize>j << 2;
      let v = v128.load(xr + o);
      if (bias) v = f32x4.add(v, v128.load(bias + o));
      v128.store(yr + o, gelu4(v));
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(xr + o);
      if (bias) v += load<f32>(bias + o);
      store<f32>(yr + o, f32x4.extract_lane(gelu4(f32x4.splat(v)), 0));
    }
  }
}

/** e^x of n floats. */
export function expN(x: usize, n: i32, y: usize): void {
  let j = 0;
  // Two vectors a step: their chains overlap (0.26 ms for 393,216 floats against 0.36–0.5 with one).
  for (; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    const a = v128.load(x + o), b = v128.load(x + o, 16);
    v128.store(y + o, exp4(a));
    v128.store(y + o, exp4(b), 16);
  }
  for (; j + 4 <= n; j += 4) v128.store(y + (<usize>j << 2), exp4(v128.load(x + (<usize>j << 2))));
  for (; j < n; j++) store<f32>(y + (<usize>j << 2), expScalar(load<f32>(x + (<usize>j << 2))));
}

/** max(x, 0) of n floats, a NaN giving 0 (as `x > 0 ? x : 0`): the lanes above zero kept, the rest cleared. */
export function reluN(x: usize, n: i32, y: usize): void {
  const zero = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const p = x + (<usize>j << 2), q = y + (<usize>j << 2);
    const a = v128.load(p), b = v128.load(p, 16);
    v128.store(q, v128.and(a, f32x4.gt(a, zero)));
    v128.store(q, v128.and(b, f32x4.gt(b, zero)), 16);
  }
  for (; j < n; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    store<f32>(y + (<usize>j << 2), v > 0 ? v : 0);
  }
}

/** min(max(x, lo), hi) of n floats (Clip; a NaN stays NaN, as Math.min(Math.max(…)) keeps it). */
export function clampN(x: usize, n: i32, lo: f32, hi: f32, y: usize): void {
  const l = f32x4.splat(lo), h = f32x4.splat(hi);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const p = x + (<usize>j << 2), q = y + (<usize>j << 2);
    v128.store(q, f32x4.min(f32x4.max(v128.load(p), l), h));
    v128.store(q, f32x4.min(f32x4.max(v128.load(p, 16), l), h), 16);
  }
  for (; j < n; j++) store<f32>(y + (<usize>j << 2), min(max(load<f32>(x + (<usize>j << 2)), lo), hi));
}

@inline function op4(op: i32, a: v128, b: v128): v128 {
  if (op == 0) return f32x4.add(a, b);
  if (op == 1) return f32x4.sub(a, b);
  if (op == 2) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

@inline function op1(op: i32, a: f32, b: f32): f32 {
  if (op == 0) return a + b;
  if (op == 1) return a - b;
  if (op == 2) return a * b;
  return a / b;
}

// Operand kinds: 0 a full [rows, n] array, 1 one vector of n shared by every row, 2 one value per
// row, 3 one scalar.
@inline function operand4(kind: i32, p: usize, r: usize, n: usize, j: usize): v128 {
  if (kind == 0) return v128.load(p + ((r * n + j) << 2));
  if (kind == 1) return v128.load(p + (j << 2));
  if (kind == 2) return v128.load32_splat(p + (r << 2));
  return v128.load32_splat(p);
}

@inline function operand1(kind: i32, p: usize, r: usize, n: usize, j: usize): f32 {
  if (kind == 0) return load<f32>(p + ((r * n + j) << 2));
  if (kind == 1) return load<f32>(p + (j << 2));
  if (kind == 2) return load<f32>(p + (r << 2));
  return load<f32>(p);
}

@inline function binaryOp(op: i32, ka: i32, kb: i32, a: usize, b: usize, rows: i32, n: i32, y: usize): void {
  const body = n & ~3;
  for (let r = 0; r < rows; r++) {
    const yr = y + ((<usize>r * <usize>n) << 2);
    let j = 0;
    for (; j < body; j += 4) v128.store(yr + (<usize>j << 2), op4(op, operand4(ka, a, r, n, j), operand4(kb, b, r, n, j)));
    for (; j < n; j++) store<f32>(yr + (<usize>j << 2), op1(op, operand1(ka, a, r, n, j), operand1(kb, b, r, n, j)));
  }
}

@inline function binaryKinds(op: i32, ka: i32, kb: i32, a: usize, b: usize, rows: i32, n: i32, y: usize): void {
  // Each (a, b) kind pair its own loop, the kinds constants in it.
  if (ka == 0) {
    if (kb == 0) binaryOp(op, 0, 0, a, b, rows, n, y);
    else if (kb == 1) binaryOp(op, 0, 1, a, b, rows, n, y);
    else if (kb == 2) binaryOp(op, 0, 2, a, b, rows, n, y);
    else binaryOp(op, 0, 3, a, b, rows, n, y);
  } else if (kb == 0) {
    if (ka == 1) binaryOp(op, 1, 0, a, b, rows, n, y);
    else if (ka == 2) binaryOp(op, 2, 0, a, b, rows, n, y);
    else binaryOp(op, 3, 0, a, b, rows, n, y);
  } else binaryOp(op, ka, kb, a, b, rows, n, y);
}

/** y [rows, n] = a op b (op 0 +, 1 −, 2 ×, 3 ÷), each operand of the kind its code says. */
export function binaryRows(op: i32, ka: i32, a: usize, kb: i32, b: usize, rows: i32, n: i32, y: usize): void {
  if (op == 0) binaryKinds(0, ka, kb, a, b, rows, n, y);
  else if (op == 1) binaryKinds(1, ka, kb, a, b, rows, n, y);
  else if (op == 2) binaryKinds(2, ka, kb, a, b, rows, n, y);
  else binaryKinds(3, ka, kb, a, b, rows, n, y);
}
