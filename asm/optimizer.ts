// sculpt's fused optimizer steps (train/optimizer.ts) in WebAssembly SIMD, float32 as tfjs's and
// PyTorch's optimizers compute: one pass per weight over its moments, weight, gradient and mask.
// `mask` (0: none) holds 1 for a kept entry and 0 for a pruned one, whose weight and state become
// +0 (the arithmetic is done for every lane and the pruned lanes cleared after). Every pointer is a
// byte offset into the module's memory; train/optimizer.ts lays it out. Each reads the weights at
// `w` and writes the new ones at `out`: the same array, or a fresh one (the wasm backend's heap,
// where XNNPACK caches packed weights by tensor, so a weight's values must not change in place).

/** Lanes kept by the mask: all ones where mask ≠ 0 (every lane without a mask). */
@inline function kept(mask: usize, o: usize): v128 {
  return mask ? f32x4.ne(v128.load(mask + o), f32x4.splat(0)) : i32x4.splat(-1);
}

/** Adam: m = b1·m + (1 − b1)·g; v = b2·v + (1 − b2)·g²; w −= stepSize·m / (√v·invSqrtC2 + eps). */
export function adam(n: i32, m: usize, v: usize, w: usize, out: usize, g: usize, mask: usize, b1: f32, b2: f32, stepSize: f32, invSqrtC2: f32, eps: f32): void {
  const B1 = f32x4.splat(b1), B2 = f32x4.splat(b2), G1 = f32x4.splat(1 - b1), G2 = f32x4.splat(1 - b2);
  const S = f32x4.splat(stepSize), C = f32x4.splat(invSqrtC2), E = f32x4.splat(eps);
  const body = n & ~3;
  let i = 0;
  for (; i < body; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const keep = kept(mask, o);
    const mi = f32x4.add(f32x4.mul(B1, v128.load(m + o)), f32x4.mul(G1, gi));
    const vi = f32x4.add(f32x4.mul(B2, v128.load(v + o)), f32x4.mul(f32x4.mul(G2, gi), gi));
    const wi = f32x4.sub(v128.load(w + o), f32x4.div(f32x4.mul(S, mi), f32x4.add(f32x4.mul(f32x4.sqrt(vi), C), E)));
    v128.store(m + o, v128.and(mi, keep));
    v128.store(v + o, v128.and(vi, keep));
    v128.store(out + o, v128.and(wi, keep));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    if (mask && load<f32>(mask + o) == 0) {
      store<f32>(m + o, 0); store<f32>(v + o, 0); store<f32>(out + o, 0);
      continue;
    }
    const gi = load<f32>(g + o);
    const mi = b1 * load<f32>(m + o) + (1 - b1) * gi;
    const vi = b2 * load<f32>(v + o) + (1 - b2) * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(out + o, load<f32>(w + o) - (stepSize * mi) / (Mathf.sqrt(vi) * invSqrtC2 + eps));
  }
}

/** SGD with momentum: m = mu·m + g; w −= lr·m. */
export function momentum(n: i32, m: usize, w: usize, out: usize, g: usize, mask: usize, mu: f32, lr: f32): void {
  const MU = f32x4.splat(mu), LR = f32x4.splat(lr);
  const body = n & ~3;
  let i = 0;
  for (; i < body; i += 4) {
    const o = <usize>i << 2;
    const keep = kept(mask, o);
    const mi = f32x4.add(f32x4.mul(MU, v128.load(m + o)), v128.load(g + o));
    v128.store(m + o, v128.and(mi, keep));
    v128.store(out + o, v128.and(f32x4.sub(v128.load(w + o), f32x4.mul(LR, mi)), keep));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    if (mask && load<f32>(mask + o) == 0) {
      store<f32>(m + o, 0); store<f32>(out + o, 0);
      continue;
    }
    const mi = mu * load<f32>(m + o) + load<f32>(g + o);
    store<f32>(m + o, mi);
    store<f32>(out + o, load<f32>(w + o) - lr * mi);
  }
}

/** Plain SGD: w −= lr·g. */
export function sgd(n: i32, w: usize, out: usize, g: usize, mask: usize, lr: f32): void {
  const LR = f32x4.splat(lr);
  const body = n & ~3;
  let i = 0;
  for (; i < body; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, v128.and(f32x4.sub(v128.load(w + o), f32x4.mul(LR, v128.load(g + o))), kept(mask, o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, mask && load<f32>(mask + o) == 0 ? 0 : load<f32>(w + o) - lr * load<f32>(g + o));
  }
}
