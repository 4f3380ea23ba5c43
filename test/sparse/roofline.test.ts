import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseKernel, crossoverDensity, measureMachine, predictLayer, predictNode, rateAt, speedupCurve, type MachineProfile } from '../../src/sparse/roofline.js';

const machine: MachineProfile = {
  bandwidth: 10e9, cacheBandwidth: 100e9, cacheBytes: 512 * 1024,
  denseFlops: { vector: 10e9, batch: 40e9 }, sparseFlops: { vector: 5e9, batch: 20e9 },
};

test('predictLayer counts flops and bytes and takes the larger of the two limits', () => {
  const p = predictLayer({ rows: 4096, cols: 4096, batch: 1 }, 1_677_722, machine);
  assert.equal(p.dense.flops, 2 * 4096 * 4096);
  assert.equal(p.dense.bytes, 4 * 4096 * 4096 + 4 * 8192);
  assert.equal(p.sparse.flops, 2 * 1_677_722);
  assert.equal(p.sparse.bytes, 1_677_722 * 6 + 4 * 4097 + 4 * 8192);
  // Dense: 67.1 MB at 10 GB/s = 6.7 ms against 33.6 MFLOP at 10 GFLOP/s = 3.4 ms.
  assert.equal(p.dense.bound, 'memory');
  assert.ok(Math.abs(p.dense.seconds - p.dense.bytes / 10e9) < 1e-12);
  assert.equal(p.sparse.bound, 'memory');
  assert.ok(Math.abs(p.speedup - p.dense.bytes / p.sparse.bytes) < 1e-9);
  assert.ok(Math.abs(p.flopSpeedup - (4096 * 4096) / 1_677_722) < 1e-9);
  // A small layer stays in cache: charged at cache bandwidth, so compute-bound.
  const small = predictLayer({ rows: 64, cols: 64, batch: 1 }, 2048, machine);
  assert.equal(small.dense.bound, 'compute');
});

test('predictNode: activation products by multiply-adds at the dense rate for their columns, vector ops by flops per element on the register roof, the rest by bytes, shape ops free', () => {
  const roofed: MachineProfile = { ...machine, denseFlops: { vector: 10e9, batch: 40e9, wide: 50e9 }, roofFlops: { registers: 60e9, loaded: 50e9 } };
  // Attention's Q·Kᵀ: [12, 128, 64] · [12, 64, 128], 2 · 12 · 128 · 128 · 64 flops at the 128-column rate, 1.5 MB (not cached).
  const bytes = 4 * (2 * 12 * 128 * 64 + 12 * 128 * 128);
  const qk = predictNode('MatMul', [[12, 128, 64], [12, 64, 128]], [[12, 128, 128]], { inputs: [4 * 12 * 128 * 64, 4 * 12 * 128 * 64], outputs: [4 * 12 * 128 * 128] }, roofed);
  assert.equal(qk.class, 'activation product');
  assert.equal(qk.flops, 2 * 12 * 128 * 128 * 64);
  assert.equal(qk.seconds, Math.max(qk.flops / 50e9, bytes / 10e9));
  // P·V at 64 columns: between the batch and wide rates, log-linear (rateAt).
  const pv = predictNode('MatMul', [[12, 128, 128], [12, 128, 64]], [[12, 128, 64]], { inputs: [400, 400], outputs: [200] }, roofed);
  assert.equal(pv.flops, 2 * 12 * 128 * 64 * 128);
  assert.equal(pv.seconds, pv.flops / rateAt(roofed.denseFlops, 64));
  // GELU over 128 × 3072: 55 flops an element at the register roof (3 MB read and written, at 10 GB/s 0.31 ms, below 0.35 ms).
  const gelu = predictNode('Gelu', [[128, 3072]], [[128, 3072]], { inputs: [4 * 128 * 3072], outputs: [4 * 128 * 3072] }, roofed);
  assert.equal(gelu.class, 'vector op');
  assert.equal(gelu.flops, 55 * 128 * 3072);
  assert.equal(gelu.bound, 'compute');
  assert.equal(gelu.seconds, (55 * 128 * 3072) / 60e9);
  // Without a register roof (older profiles): the dense kernel's batch rate.
  assert.equal(predictNode('Softmax', [[4, 8]], [[4, 8]], { inputs: [128], outputs: [128] }, machine).seconds, (30 * 32) / 40e9);
  // An addition: bytes only, at cache bandwidth while it fits 512 KiB, else at memory bandwidth.
  const add = predictNode('Add', [[128, 768], [128, 768]], [[128, 768]], { inputs: [4 * 128 * 768, 4 * 128 * 768], outputs: [4 * 128 * 768] }, roofed);
  assert.equal(add.class, 'memory op');
  assert.equal(add.seconds, (3 * 4 * 128 * 768) / 10e9);
  assert.equal(predictNode('Add', [[16], [16]], [[16]], { inputs: [64, 64], outputs: [64] }, roofed).seconds, 192 / 100e9);
  // An embedding's Gather reads the 128 rows it writes and its indices, not the 94 MB table: 2 · 393 KB + 1 KB, over 512 KiB.
  const gather = predictNode('Gather', [[30522, 768], [1, 128]], [[1, 128, 768]], { inputs: [4 * 30522 * 768, 8 * 128], outputs: [4 * 128 * 768] }, roofed);
  assert.equal(gather.bytes, 2 * 4 * 128 * 768 + 8 * 128);
  assert.equal(gather.seconds, gather.bytes / 10e9);
  const slice = predictNode('Slice', [[512, 768], [1], [1]], [[128, 768]], { inputs: [4 * 512 * 768, 8, 8], outputs: [4 * 128 * 768] }, roofed);
  assert.equal(slice.bytes, 2 * 4 * 128 * 768);
  for (const op of ['Shape', 'Reshape', 'Unsqueeze', 'Identity']) {
    const p = predictNode(op, [[128, 768]], [[1, 128, 768]], { inputs: [4 * 128 * 768], outputs: [4 * 128 * 768] }, roofed);
    assert.deepEqual([p.class, p.seconds], ['shape op', 0]);
  }
});

test('crossover density: sparse wins below it and loses above it; batching moves it', () => {
  for (const batch of [1, 16]) {
    const shape = { rows: 4096, cols: 4096, batch };
    const d = crossoverDensity(shape, machine);
    assert.ok(d > 0 && d < 1);
    const n = 4096 * 4096;
    const below = predictLayer(shape, (d - 0.01) * n, machine);
    const above = predictLayer(shape, (d + 0.01) * n, machine);
    assert.ok(below.sparse.seconds < below.dense.seconds && above.sparse.seconds > above.dense.seconds);
  }
  // Memory-bound at batch 1: 6 bytes per nonzero against 4 per weight → crossover near 2/3.
  assert.ok(Math.abs(crossoverDensity({ rows: 4096, cols: 4096, batch: 1 }, machine) - 0.666) < 0.01);
  // Compute-bound at batch 16 with half the dense rate → crossover near 1/2.
  assert.ok(Math.abs(crossoverDensity({ rows: 4096, cols: 4096, batch: 16 }, machine) - 0.5) < 0.01);
});

test('chooseKernel keeps dense unless sparse is predicted to win by the margin', () => {
  const shape = { rows: 4096, cols: 4096, batch: 1 };
  const n = 4096 * 4096;
  assert.equal(chooseKernel(shape, 0.1 * n, machine), 'csr');
  assert.equal(chooseKernel(shape, 0.6 * n, machine), 'dense'); // predicted 1.1× faster: within the margin
  assert.equal(chooseKernel(shape, 0.6 * n, machine, 1), 'csr');
});

test('rateAt: batch 1 the vector rate, up to 16 the batch rate, from 128 the wide rate, log-linear between; no wide rate: the batch rate', () => {
  const r = { vector: 1, batch: 10, wide: 40 };
  assert.equal(rateAt(r, 1), 1);
  assert.equal(rateAt(r, 2), 10);
  assert.equal(rateAt(r, 16), 10);
  assert.equal(rateAt(r, 32), 20); // a third of the way from 16 to 128 in log2
  assert.equal(rateAt(r, 64), 30);
  assert.equal(rateAt(r, 128), 40);
  assert.equal(rateAt(r, 3136), 40);
  assert.equal(rateAt({ vector: 1, batch: 10 }, 128), 10);
  // A CSR kernel 1.6× faster at 128 columns than at 16 flips the choice for a layer at 80%.
  const wide: MachineProfile = { ...machine, denseFlops: { vector: 10e9, batch: 40e9, wide: 40e9 }, sparseFlops: { vector: 5e9, batch: 10e9, wide: 16e9 } };
  const shape = { rows: 768, cols: 768, batch: 128 };
  assert.equal(chooseKernel(shape, 0.2 * 768 * 768, { ...wide, sparseFlops: { vector: 5e9, batch: 10e9 } }), 'dense'); // 1.25× predicted: within the margin
  assert.equal(chooseKernel(shape, 0.2 * 768 * 768, wide), 'csr'); // 2×
});

test('measureMachine returns positive finite rates', () => {
  const m = measureMachine({ streamBytes: 8 * 2 ** 20, repeats: 3 });
  for (const v of [m.bandwidth, m.cacheBandwidth, m.denseFlops.vector, m.denseFlops.batch, m.denseFlops.wide, m.sparseFlops.vector, m.sparseFlops.batch, m.sparseFlops.wide, m.roofFlops?.registers, m.roofFlops?.loaded]) {
    assert.ok(v !== undefined && Number.isFinite(v) && v > 0, String(v));
  }
});

test('speedupCurve rises with sparsity, stays under the FLOP line, and floors at 1 (dense fallback)', () => {
  const curve = speedupCurve({ rows: 4096, cols: 4096, batch: 1 }, machine);
  assert.equal(curve[0].predictedSpeedup, 1);
  assert.ok(curve[0].sparseSpeedup < 1);
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i].sparseSpeedup > curve[i - 1].sparseSpeedup);
  for (const p of curve) assert.ok(p.sparseSpeedup < p.flopSpeedup);
  const at90 = curve.find((p) => p.sparsity === 0.9)!;
  assert.ok(Math.abs(at90.flopSpeedup - 10) < 1e-4);
  assert.ok(at90.predictedSpeedup > 6 && at90.predictedSpeedup < 7); // 4 bytes per weight against 0.6
});

test('the compute roofs: peakMadd iterates a = a·m + c on 48 lanes, peakLoadMadd sums loaded products, in both builds', async () => {
  const { Kernels, relaxedSimdAvailable } = await import('../../src/sparse/kernels.js');
  for (const build of relaxedSimdAvailable() ? (['simd', 'relaxed'] as const) : (['simd'] as const)) {
    const k = new Kernels(build);
    // Every intermediate is an integer below 2^24, so fused and unfused rounding agree exactly.
    assert.equal(k.exports.peakMadd(1000, 1, 1), 48 * 1001, build);
    assert.equal(k.exports.peakMadd(10, 2, 1), 48 * (2 ** 11 - 1), build);
    assert.equal(k.exports.peakMadd(0, 2, 1), 48, build);
    // peakLoadMadd over a buffer of 0.5s: 32 lanes gain 0.5·0.5 a round.
    const buf = k.alloc(4096);
    k.f32(buf, 1024).fill(0.5);
    assert.equal(k.exports.peakLoadMadd(1000, buf), 32 * 0.25 * 1000, build);
  }
});

test('ceilingSpeedup: the peer time over the kept multiply-adds at the compute roof', async () => {
  const { ceilingSpeedup } = await import('../../src/sparse/roofline.js');
  // 1e9 multiply-adds = 2 GFLOP; at 40 GFLOP/s that is 50 ms; a peer taking 100 ms → 2×.
  assert.equal(ceilingSpeedup(100, 1e9, 40e9), 2);
  assert.equal(ceilingSpeedup(25, 1e9, 40e9), 0.5);
});

test('modelSplit (bench/lib): attention\'s products by their multiply-adds, apart from the weight layers and the other ops', async () => {
  const { readOnnx } = await import('../../src/formats/onnx.js');
  const { SparseExecutor } = await import('../../src/sparse/executor.js');
  const { readNpy } = await import('../fixtures/npy.js');
  // @ts-expect-error: a JavaScript module of the benchmarks, without types
  const { modelSplit } = await import('../../bench/lib/engines.mjs');
  const fix = new URL('../fixtures/', import.meta.url).pathname;
  const graph = readOnnx(`${fix}transformer.onnx`).graph();
  const ex = new SparseExecutor(graph, { engine: 'sparse' });
  const x = readNpy(`${fix}transformer.input.npy`);
  const split = await modelSplit(ex, { input: { dtype: 'float32', dims: x.shape, data: x.data } }, 2);
  // The fixture (README): batch 2, sequence 8, d_model 32 in 2 heads of 16, the layer applied twice;
  // each head multiplies Q·Kᵀ (8 × 8 outputs over 16) and the weights by V (8 × 16 over 8).
  assert.equal(split.activationMultiplyAdds, 2 * 2 * 2 * (8 * 8 * 16 + 8 * 16 * 8));
  for (const k of ['weightMs', 'activationMs', 'otherMs']) assert.ok(split[k] > 0 && Number.isFinite(split[k]), k);
});
