// The WebAssembly selection passes (asm/select.ts) against the JavaScript loops they replace:
// the same arrays once in an attached shared memory (the kernels run) and once in plain memory
// (the loops run), every result compared exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramHigh, histogramLow, markAbove, markKept } from '../../src/core/select.js';
import { attachSelectKernels, kernelsHolding, noteGrown } from '../../src/core/select-kernels.js';
import { zeroPruned } from '../../src/formats/safetensors.js';
import { Mask } from '../../src/core/mask.js';
import { Rng } from '../../src/core/rng.js';

const PAGE = 65536;
const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
let used = 0;
function reserve(bytes: number): number {
  const size = Math.ceil(bytes / PAGE) * PAGE;
  const have = memory.buffer.byteLength;
  if (used + size > have) {
    memory.grow(Math.ceil((used + size - have) / PAGE));
    noteGrown(memory);
  }
  const at = used;
  used += size;
  return at;
}
assert.equal(attachSelectKernels(memory, reserve), true);

/** `a` copied into the attached memory at a 4-byte (not 16-byte) offset, so the kernels' unaligned loads are exercised. */
function inMemory(a: Uint32Array): Uint32Array {
  const at = reserve(a.byteLength + 64) + 4;
  const v = new Uint32Array(memory.buffer, at, a.length);
  v.set(a);
  return v;
}

/** Keys of n float32 weights: Gaussian magnitudes of both signs, with zeros and runs of equal values. */
function keys(n: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    f[i] = u < 0.05 ? 0 : u < 0.1 ? -0.015625 : u < 0.12 ? 0.015625 : (rng.next() - 0.5) * 0.1;
  }
  return new Uint32Array(f.buffer);
}

const N = 200_003; // not a multiple of 32: the tails run too

test('select kernels: the arrays in the attached memory take the kernels, others the loops', () => {
  const k = keys(N, 1);
  assert.ok(kernelsHolding(inMemory(k)));
  assert.equal(kernelsHolding(k), undefined);
  assert.equal(kernelsHolding(inMemory(k.subarray(0, 1000))), undefined); // too short to be worth it
});

test('select kernels: histograms of the high and low 16 bits equal the loops, counts accumulating', () => {
  const a = keys(N, 2);
  const b = keys(N + 17, 3);
  const js = new Uint32Array(65536);
  const wasm = new Uint32Array(65536);
  histogramHigh(a, js);
  histogramHigh(b, js);
  histogramHigh(inMemory(a), wasm);
  histogramHigh(inMemory(b), wasm);
  assert.deepEqual(wasm, js);
  assert.equal(js.reduce((s, v) => s + v, 0), 2 * N + 17);
  const high = (0x3c800000 >>> 16) & 0x7fff; // the bin of ±0.015625
  const lowJs = new Uint32Array(65536);
  const lowWasm = new Uint32Array(65536);
  histogramLow(a, high, lowJs);
  histogramLow(inMemory(a), high, lowWasm);
  assert.deepEqual(lowWasm, lowJs);
  assert.ok(lowJs[0] > 0.05 * N); // the equal values landed in their bin
});

test('select kernels: kept bits and zero counts equal markAbove and markKept', () => {
  const a = keys(N, 4);
  const words = (n: number) => new Uint32Array((n + 31) >>> 5);
  for (const above of [0, 0x3c800000, 0x3c7fffff, 0x3d000000, 0x7fffffff]) {
    const js = words(N);
    const wasm = words(N);
    assert.equal(markAbove(inMemory(a), above, wasm), markAbove(a, above, js), `zeros, above ${above}`);
    assert.deepEqual(wasm, js, `words, above ${above}`);
  }
  const key = 0x3c800000; // ±0.015625: about 7% of the keys are equal to it
  for (const ties of [0, 1, 5000, 13_000, N]) {
    const js = words(N);
    const wasm = words(N);
    const r = markKept(a, key, ties, js);
    assert.deepEqual(markKept(inMemory(a), key, ties, wasm), r, `result, ties ${ties}`);
    assert.deepEqual(wasm, js, `words, ties ${ties}`);
  }
});

test('select kernels: zeroPruned on float32 bytes in the attached memory equals the loop', () => {
  const a = keys(N, 5);
  const rng = new Rng(6);
  for (const density of [0, 0.1, 0.97, 1]) {
    const mask = new Mask(N);
    for (let i = 0; i < N; i++) if (rng.next() >= density) mask.set(i, false);
    const plain = new Uint8Array(a.slice().buffer);
    const v = inMemory(a);
    const shared = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    zeroPruned(plain, 'F32', N, mask, 't', 'f');
    zeroPruned(shared, 'F32', N, mask, 't', 'f');
    assert.deepEqual(shared, plain, `density ${density}`);
    let zeros = 0;
    for (let i = 0; i < N; i++) if (new Float32Array(plain.buffer)[i] === 0) zeros++;
    assert.ok(zeros >= N - mask.keptCount(), `density ${density}`);
  }
});
