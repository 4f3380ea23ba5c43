// sculpt's selection passes over float32 bit patterns ("keys", sign bit ignored), compiled to
// WebAssembly with 128-bit SIMD. They run over the memory a checkpoint's chunks are read into
// (core/select-arena.ts), in place: the same results as the JavaScript loops in core/select.ts and
// formats/safetensors.ts (zeroPruned), which the tests compare them with. Every pointer is a byte
// offset into the imported memory; the module has no data of its own.

const ABS: i32 = 0x7fffffff;

/** hist[(key & ABS) >>> 16] += 1 for n keys at `keys` (hist: 65536 uint32). */
export function histHigh(keys: usize, n: i32, hist: usize): void {
  const mask = i32x4.splat(ABS);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = keys + (<usize>i << 2);
    const a = i32x4.shr_u(v128.and(v128.load(p), mask), 14);
    const b = i32x4.shr_u(v128.and(v128.load(p, 16), mask), 14);
    // Bin offsets in bytes: (key >>> 16) << 2, the low two bits cleared.
    const m = i32x4.splat(~3);
    const oa = v128.and(a, m);
    const ob = v128.and(b, m);
    let q = hist + <usize>i32x4.extract_lane(oa, 0); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(oa, 1); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(oa, 2); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(oa, 3); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(ob, 0); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(ob, 1); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(ob, 2); store<u32>(q, load<u32>(q) + 1);
    q = hist + <usize>i32x4.extract_lane(ob, 3); store<u32>(q, load<u32>(q) + 1);
  }
  for (; i < n; i++) {
    const q = hist + ((<usize>((load<u32>(keys + (<usize>i << 2)) & ABS) >>> 16)) << 2);
    store<u32>(q, load<u32>(q) + 1);
  }
}

/** hist[key & 0xffff] += 1 for the keys whose high 16 bits (sign ignored) equal `high`. */
export function histLow(keys: usize, n: i32, high: i32, hist: usize): void {
  const mask = i32x4.splat(ABS);
  const h = i32x4.splat(high);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = keys + (<usize>i << 2);
    const e0 = i32x4.eq(i32x4.shr_u(v128.and(v128.load(p), mask), 16), h);
    const e1 = i32x4.eq(i32x4.shr_u(v128.and(v128.load(p, 16), mask), 16), h);
    const e2 = i32x4.eq(i32x4.shr_u(v128.and(v128.load(p, 32), mask), 16), h);
    const e3 = i32x4.eq(i32x4.shr_u(v128.and(v128.load(p, 48), mask), 16), h);
    if (v128.any_true(v128.or(v128.or(e0, e1), v128.or(e2, e3)))) lowScalar(keys, i, i + 16, high, hist);
  }
  lowScalar(keys, i, n, high, hist);
}

@inline function lowScalar(keys: usize, i0: i32, i1: i32, high: i32, hist: usize): void {
  for (let i = i0; i < i1; i++) {
    const k = load<u32>(keys + (<usize>i << 2)) & ABS;
    if (<i32>(k >>> 16) == high) {
      const q = hist + (<usize>(k & 0xffff) << 2);
      store<u32>(q, load<u32>(q) + 1);
    }
  }
}

/** The kept bits of 32 keys at p (kept = key > above, sign ignored) as one word. */
@inline function word32(p: usize, mask: v128, above: v128): i32 {
  let w = i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p), mask), above));
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 16), mask), above)) << 4;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 32), mask), above)) << 8;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 48), mask), above)) << 12;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 64), mask), above)) << 16;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 80), mask), above)) << 20;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 96), mask), above)) << 24;
  w |= i32x4.bitmask(i32x4.gt_s(v128.and(v128.load(p, 112), mask), above)) << 28;
  return w;
}

/** Lanes of 32 keys at p equal to `v` (sign ignored), as a lane count subtracted from `acc`. */
@inline function countEq32(p: usize, mask: v128, v: v128, acc: v128): v128 {
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 16), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 32), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 48), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 64), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 80), mask), v));
  acc = i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 96), mask), v));
  return i32x4.add(acc, i32x4.eq(v128.and(v128.load(p, 112), mask), v));
}

@inline function lanes(acc: v128): i32 {
  return -(i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3));
}

/**
 * Kept bits (key > above, sign ignored; above in [0, ABS]) of n keys into `words`; returns how many
 * keys are 0 (already pruned).
 */
export function markAbove(keys: usize, n: i32, above: i32, words: usize): i32 {
  const mask = i32x4.splat(ABS);
  const a = i32x4.splat(above);
  const zero = i32x4.splat(0);
  let acc = zero;
  const full = n & ~31;
  let i = 0;
  for (; i < full; i += 32) {
    const p = keys + (<usize>i << 2);
    store<i32>(words + (<usize>(i >>> 5) << 2), word32(p, mask, a));
    acc = countEq32(p, mask, zero, acc);
  }
  let zeros = lanes(acc);
  if (i < n) {
    let w = 0;
    for (let j = 0; i < n; i++, j++) {
      const k = load<u32>(keys + (<usize>i << 2)) & ABS;
      if (<i32>k > above) w |= 1 << j;
      if (k == 0) zeros++;
    }
    store<i32>(words + (<usize>(full >>> 5) << 2), w);
  }
  return zeros;
}

/**
 * Kept bits of n keys into `words`: kept = key > `key`, or key == `key` (non-zero) once `ties`
 * equal keys have been pruned, earliest first. Returns the key-0 count; stores the ties it pruned
 * at `out`.
 */
export function markKept(keys: usize, n: i32, key: i32, ties: i32, words: usize, out: usize): i32 {
  const mask = i32x4.splat(ABS);
  const kv = i32x4.splat(key);
  const zero = i32x4.splat(0);
  let acc = zero;
  let left = ties;
  const full = n & ~31;
  let i = 0;
  for (; i < full; i += 32) {
    const p = keys + (<usize>i << 2);
    let w = word32(p, mask, kv);
    acc = countEq32(p, mask, zero, acc);
    if (key != 0 && lanes(countEq32(p, mask, kv, zero)) != 0) {
      for (let j = 0; j < 32; j++) {
        if (<i32>(load<u32>(p + (<usize>j << 2)) & ABS) == key) {
          if (left > 0) left--;
          else w |= 1 << j;
        }
      }
    }
    store<i32>(words + (<usize>(i >>> 5) << 2), w);
  }
  let zeros = lanes(acc);
  if (i < n) {
    let w = 0;
    for (let j = 0; i < n; i++, j++) {
      const k = <i32>(load<u32>(keys + (<usize>i << 2)) & ABS);
      if (k > key) w |= 1 << j;
      if (k == 0) zeros++;
      if (k == key && k != 0) {
        if (left > 0) left--;
        else w |= 1 << j;
      }
    }
    store<i32>(words + (<usize>(full >>> 5) << 2), w);
  }
  store<i32>(out, ties - left);
  return zeros;
}

/** Lane masks of four kept bits: all ones where bit j of `bits` is set. */
@inline function laneMask(bits: i32): v128 {
  return i32x4.ne(v128.and(i32x4.splat(bits), i32x4(1, 2, 4, 8)), i32x4.splat(0));
}

/** Zeroes the 32-bit units of n elements whose bit in `words` is clear. */
export function zeroPruned32(units: usize, n: i32, words: usize): void {
  const full = n & ~31;
  const zero = i32x4.splat(0);
  let i = 0;
  for (; i < full; i += 32) {
    const w = load<i32>(words + (<usize>(i >>> 5) << 2));
    if (w == -1) continue;
    const p = units + (<usize>i << 2);
    if (w == 0) {
      v128.store(p, zero); v128.store(p, zero, 16); v128.store(p, zero, 32); v128.store(p, zero, 48);
      v128.store(p, zero, 64); v128.store(p, zero, 80); v128.store(p, zero, 96); v128.store(p, zero, 112);
      continue;
    }
    v128.store(p, v128.and(v128.load(p), laneMask(w)));
    v128.store(p, v128.and(v128.load(p, 16), laneMask(w >>> 4)), 16);
    v128.store(p, v128.and(v128.load(p, 32), laneMask(w >>> 8)), 32);
    v128.store(p, v128.and(v128.load(p, 48), laneMask(w >>> 12)), 48);
    v128.store(p, v128.and(v128.load(p, 64), laneMask(w >>> 16)), 64);
    v128.store(p, v128.and(v128.load(p, 80), laneMask(w >>> 20)), 80);
    v128.store(p, v128.and(v128.load(p, 96), laneMask(w >>> 24)), 96);
    v128.store(p, v128.and(v128.load(p, 112), laneMask(w >>> 28)), 112);
  }
  if (i < n) {
    const w = load<i32>(words + (<usize>(i >>> 5) << 2));
    for (let j = 0; i < n; i++, j++) if (((w >>> j) & 1) == 0) store<u32>(units + (<usize>i << 2), 0);
  }
}
