// The WebAssembly SIMD versions of the transformer's non-weight ops (ops-vector.ts, asm/kernels.ts)
// against double-precision references computed here, in both kernel builds (relaxed SIMD with
// fused multiply-add, and plain SIMD); + − × ÷ bit for bit against JavaScript's float32 results.
// Also the collapsed-axes Transpose against a per-element reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf } from '../../src/core/erf.js';
import { Kernels, relaxedSimdAvailable, type KernelBuild } from '../../src/sparse/kernels.js';
import { OPS } from '../../src/sparse/ops.js';
import { collapsePermutation, transposeTensor } from '../../src/sparse/ops-shape.js';
import { floatTensor, intTensor, strides } from '../../src/sparse/tensor.js';
import { Rng } from '../../src/core/rng.js';

/** A seeded stream of numbers in [0, 1). */
const uniform = (seed: number) => { const g = new Rng(seed); return () => g.next(); };

// Node 20 and Chromium have relaxed SIMD (kernels.ts switches it on in Node); both builds are tested.
const BUILDS: KernelBuild[] = ['relaxed', 'simd'];
assert.ok(relaxedSimdAvailable(), 'this runtime cannot compile the relaxed-SIMD kernels');

function run(k: Kernels, inputs: Float32Array[], out: number, f: (ptrs: number[], y: number) => void): Float32Array {
  const mark = k.mark();
  try {
    const ptrs = inputs.map((a) => k.upload(a));
    const y = k.alloc(out * 4);
    f(ptrs, y);
    return k.f32(y, out).slice();
  } finally {
    k.release(mark);
  }
}

/** Largest |got − want| / max(|want|, floor) over the elements. */
function maxRel(got: Float32Array, want: Float64Array | number[], floor: number): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), floor));
  return m;
}

function values(n: number, lo: number, hi: number, seed: number): Float32Array {
  const r = uniform(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/**
 * 1 + erf(z) in double without cancellation in the negative tail: erfc(|z|) there, by its
 * continued fraction beyond 3 (as src/core/erf.ts computes erf).
 */
function onePlusErf(z: number): number {
  if (z >= -3) return 1 + erf(z);
  const a = -z;
  let k = a;
  for (let n = 60; n >= 1; n--) k = a + n / 2 / k;
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / k;
}

/**
 * GELU within 1e-6 relative; in the negative tail Φ(x) ∝ e^(−x²/2), and float32's roundings of
 * z = |x|/√2 and z² (each relative 6e-8) are an error of about 3e-7·x²/2 in it: 2e-5 at x = −11,
 * where x·Φ(x) is 1e-27.
 */
function assertGelu(x: Float32Array, y: Float32Array, want: Float64Array): void {
  for (let i = 0; i < x.length; i++) {
    const tol = 1e-6 + (x[i] < 0 ? 3e-7 * x[i] * x[i] / 2 : 0);
    assert.ok(Math.abs(y[i] - want[i]) <= tol * Math.abs(want[i]) + 1e-38, `GELU(${x[i]}): ${y[i]} vs ${want[i]}`);
  }
}

for (const build of BUILDS) {
  const k = new Kernels(build);

  test(`${build} kernels: exp within 3e-7 relative over [−87, 88], 0 below float32's range, NaN kept`, () => {
    const x = values(40_003, -87, 88, 1);
    x.set([-87.5, -200, -Infinity, NaN, 0], 0);
    const y = run(k, [x], x.length, ([p], o) => k.exports.expN(p, x.length, o));
    assert.deepEqual([...y.subarray(0, 3)], [0, 0, 0]);
    assert.ok(Number.isNaN(y[3]));
    assert.equal(y[4], 1);
    const want = Float64Array.from(x.subarray(5), Math.exp);
    const rel = maxRel(y.subarray(5), want, 0);
    assert.ok(rel < 3e-7, `max relative error ${rel}`);
  });

  test(`${build} kernels: exact GELU within 1e-6 relative of x·Φ(x) in double, the negative tail within float32's rounding of x²/2`, () => {
    const x = values(50_001, -12, 12, 2);
    x.set([0, -0.5, 1e-30, -30], 0);
    const y = run(k, [x], x.length, ([p], o) => k.exports.geluRows(p, 1, x.length, 0, o));
    const want = Float64Array.from(x, (v) => 0.5 * v * onePlusErf(v / Math.SQRT2));
    assertGelu(x, y, want);
    // With a bias per column: GELU(x + b).
    const rows = 7, n = 301;
    const xs = values(rows * n, -4, 4, 3), b = values(n, -1, 1, 4);
    const yb = run(k, [xs, b], xs.length, ([p, q], o) => k.exports.geluRows(p, rows, n, q, o));
    const t = Float32Array.from(xs, (v, i) => v + b[i % n]);
    assertGelu(t, yb, Float64Array.from(t, (v) => 0.5 * v * onePlusErf(v / Math.SQRT2)));
  });

  test(`${build} kernels: Softmax rows within 1e-6 relative, rows of 128 and an odd length, masked scores 0`, () => {
    for (const [rows, n] of [[96, 128], [5, 1001]]) {
      const x = values(rows * n, -20, 20, rows);
      x[3] = -1e9; // a masked score
      const y = run(k, [x], x.length, ([p], o) => k.exports.softmaxRows(p, rows, n, o));
      const want = new Float64Array(x.length);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * n, (r + 1) * n);
        const m = Math.max(...row);
        let s = 0;
        for (const v of row) s += Math.exp(v - m);
        for (let j = 0; j < n; j++) want[r * n + j] = Math.exp(row[j] - m) / s;
      }
      assert.equal(y[3], 0);
      // float32 rounds x − max (relative 6e-8): e^(x − max) carries that error times |x − max|.
      for (let r = 0; r < rows; r++) {
        const m = Math.max(...x.subarray(r * n, (r + 1) * n));
        for (let j = 0; j < n; j++) {
          const i = r * n + j;
          if (want[i] < 1e-30) continue;
          const tol = 1e-6 + 1.2e-7 * Math.abs(x[i] - m);
          assert.ok(Math.abs(y[i] - want[i]) <= tol * want[i], `${rows}×${n} [${r}, ${j}]: ${y[i]} vs ${want[i]}`);
        }
      }
    }
  });

  test(`${build} kernels: LayerNorm rows within 1e-5 of the double result, with and without γ, β`, () => {
    for (const [rows, n] of [[64, 768], [3, 1023]]) {
      const x = values(rows * n, -3, 5, n), g = values(n, 0.5, 1.5, 7), b = values(n, -1, 1, 8);
      for (const affine of [true, false]) {
        const y = affine
          ? run(k, [x, g, b], x.length, ([p, gp, bp], o) => k.exports.layerNormRows(p, rows, n, gp, bp, 1e-5, o))
          : run(k, [x], x.length, ([p], o) => k.exports.layerNormRows(p, rows, n, 0, 0, 1e-5, o));
        const want = new Float64Array(x.length);
        for (let r = 0; r < rows; r++) {
          const row = x.subarray(r * n, (r + 1) * n);
          const mean = row.reduce((a, v) => a + v, 0) / n;
          const inv = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / n + 1e-5);
          for (let j = 0; j < n; j++) want[r * n + j] = (row[j] - mean) * inv * (affine ? g[j] : 1) + (affine ? b[j] : 0);
        }
        let err = 0;
        for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - want[i]));
        assert.ok(err < 1e-5, `${rows}×${n} affine ${affine}: max error ${err}`);
      }
    }
  });

  test(`${build} kernels: + − × ÷ over rows equal JavaScript's float32 results bit for bit, for every operand kind`, () => {
    const rows = 9, n = 131;
    const full = values(rows * n, -3, 3, 11), full2 = values(rows * n, 0.5, 3, 12);
    const col = values(n, 0.5, 2, 13), row = values(rows, 0.5, 2, 14), scalar = Float32Array.of(1.7);
    const kinds = [['full', full2, 0], ['col', col, 1], ['row', row, 2], ['scalar', scalar, 3]] as const;
    const read = (kind: number, arr: Float32Array, r: number, j: number) => (kind === 0 ? arr[r * n + j] : kind === 1 ? arr[j] : kind === 2 ? arr[r] : arr[0]);
    const fs = [(p: number, q: number) => p + q, (p: number, q: number) => p - q, (p: number, q: number) => p * q, (p: number, q: number) => p / q];
    for (let op = 0; op < 4; op++) {
      for (const [name, other, kind] of kinds) {
        for (const swap of [false, true]) {
          const [ka, a, kb, b] = swap ? [kind, other, 0, full] : [0, full, kind, other];
          const y = run(k, [a, b], rows * n, ([pa, pb], o) => k.exports.binaryRows(op, ka, pa, kb, pb, rows, n, o));
          const want = new Float32Array(rows * n);
          for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) want[r * n + j] = fs[op](read(ka, a, r, j), read(kb, b, r, j));
          assert.deepEqual(y, want, `op ${op} with ${name} ${swap ? 'first' : 'second'}`);
        }
      }
    }
  });
}

test('the 4×4-blocked transposes into and out of the kernels\' [cols, ld] layout move every element, tails and zeroed padding included', () => {
  const k = new Kernels();
  for (const rows of [1, 3, 4, 5, 8, 13]) {
    for (const cols of [1, 2, 4, 7, 12, 33]) {
      const ld = Math.ceil(rows / 4) * 4;
      const x = Float32Array.from({ length: rows * cols }, (_, i) => i + 1);
      const mark = k.mark();
      const src = k.upload(x);
      const xt = k.alloc(cols * ld * 4);
      k.f32(xt, cols * ld).fill(NaN); // the padding lanes must come out 0
      k.exports.transposeIn(src, rows, cols, xt, ld, cols);
      const t = k.f32(xt, cols * ld).slice();
      for (let c = 0; c < cols; c++) for (let r = 0; r < ld; r++) assert.equal(t[c * ld + r], r < rows ? x[r * cols + c] : 0, `in ${rows}×${cols} [${c}, ${r}]`);
      const back = k.alloc(rows * cols * 4);
      k.exports.transposeOut(xt, rows, cols, ld, back, cols);
      assert.deepEqual(k.f32(back, rows * cols).slice(), x, `out ${rows}×${cols}`);
      if (cols > 2) {
        // A band of columns [c0, cols), as the threads split them: rows of the source (and of the
        // destination) stay `cols` floats apart; nothing outside the band is written.
        const c0 = 2, w = cols - c0;
        const band = k.alloc(w * ld * 4);
        k.exports.transposeIn(src + c0 * 4, rows, w, band, ld, cols);
        assert.deepEqual(k.f32(band, w * ld).slice(), t.subarray(c0 * ld), `band in ${rows}×${cols}`);
        const out = k.alloc(rows * cols * 4);
        k.f32(out, rows * cols).fill(-1);
        k.exports.transposeOut(band, rows, w, ld, out + c0 * 4, cols);
        const o = k.f32(out, rows * cols);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) assert.equal(o[r * cols + c], c < c0 ? -1 : x[r * cols + c], `band out ${rows}×${cols} [${r}, ${c}]`);
      }
      k.release(mark);
    }
  }
});

test('the ops use the kernels from 4096 elements: Add with a bias row, Div by a scalar, Gelu, Softmax and LayerNorm agree with their small-tensor JavaScript paths', () => {
  const node = { name: 'n', opType: 'X', inputs: [], outputs: ['y'], attributes: new Map(), domain: '' };
  const S = 64, H = 96; // 6144 elements: the kernel path; each row also run alone (96 < 4096: JavaScript)
  const x = floatTensor([1, S, H], values(S * H, -4, 4, 21));
  const bias = floatTensor([H], values(H, -1, 1, 22));
  const cases: [string, (t: ReturnType<typeof floatTensor>) => unknown[], Map<string, unknown>, number][] = [
    ['Add', (t) => [t, bias], new Map(), 0],
    ['Div', (t) => [t, floatTensor([], Float32Array.of(8))], new Map(), 0],
    ['Gelu', (t) => [t], new Map(), 1e-6],
    ['Softmax', (t) => [t], new Map([['axis', -1]]), 1e-6],
    ['LayerNormalization', (t) => [t, floatTensor([H], values(H, 0.5, 1.5, 23)), bias], new Map([['axis', -1], ['epsilon', 1e-5]]), 2e-6],
  ];
  for (const [op, ins, attrs, tol] of cases) {
    const f = (OPS as Record<string, (i: unknown[], a: Map<string, unknown>, n: unknown, c: unknown) => { data: Float32Array }[]>)[op];
    const whole = f(ins(x), attrs, { ...node, opType: op }, { opset: 17 })[0].data;
    for (let r = 0; r < S; r++) {
      const part = f(ins(floatTensor([1, 1, H], x.data.slice(r * H, (r + 1) * H) as Float32Array)), attrs, { ...node, opType: op }, { opset: 17 })[0].data;
      for (let j = 0; j < H; j++) {
        const w = part[j], g = whole[r * H + j];
        assert.ok(Math.abs(g - w) <= tol * Math.max(Math.abs(w), 1), `${op} [${r}, ${j}]: ${g} vs ${w}`);
      }
    }
  }
});

test('Transpose over collapsed axes equals the per-element definition for random shapes and permutations, integers included', () => {
  const r = uniform(5);
  assert.deepEqual(collapsePermutation([1, 128, 12, 64], [0, 2, 1, 3]), { dims: [128, 12, 64], perm: [1, 0, 2] });
  assert.deepEqual(collapsePermutation([1, 128, 12, 64], [0, 2, 3, 1]), { dims: [128, 768], perm: [1, 0] });
  // Attention's head split and Kᵀ at sizes that take the kernels' path (≥ 4096 elements), an odd
  // row count included, then random small shapes.
  // Batched inner transposes ([a, b, c] by (0, 2, 1)) with b whole vectors or not, and the
  // [2, 1, 0] permutation, which stays in JavaScript.
  const fixed: [number[], number[]][] = [[[1, 128, 12, 64], [0, 2, 1, 3]], [[1, 128, 12, 64], [0, 2, 3, 1]], [[1, 37, 6, 40], [0, 2, 3, 1]], [[130, 97], [1, 0]],
    [[6, 36, 23], [0, 2, 1]], [[5, 37, 23], [0, 2, 1]], [[2, 33, 12, 17], [0, 2, 1, 3]], [[20, 9, 30], [2, 1, 0]]];
  for (let trial = 0; trial < 200 + fixed.length; trial++) {
    const rank = 1 + Math.floor(r() * 5);
    const dims = trial < fixed.length ? fixed[trial][0] : Array.from({ length: rank }, () => (r() < 0.25 ? 1 : 1 + Math.floor(r() * 6)));
    const perm = trial < fixed.length ? fixed[trial][1] : [...dims.keys()].sort(() => r() - 0.5);
    const n = dims.reduce((a, b) => a * b, 1);
    const t = trial % 3 === 0 ? intTensor(dims, Array.from({ length: n }, (_, i) => i * 3 - 7)) : floatTensor(dims, Float32Array.from({ length: n }, (_, i) => i + 0.5));
    const got = transposeTensor(t, perm);
    const outDims = perm.map((p) => dims[p]);
    assert.deepEqual(got.dims, outDims);
    const inStr = strides(dims), outStr = strides(outDims);
    for (let k = 0; k < n; k++) {
      // Output index k → its coordinates → the input element.
      let rest = k, src = 0;
      for (let d = 0; d < outDims.length; d++) {
        const c = Math.floor(rest / outStr[d]);
        rest -= c * outStr[d];
        src += c * inStr[perm[d]];
      }
      assert.equal(Number(got.data[k]), Number(t.data[src]), `dims ${dims} perm ${perm} at ${k}`);
    }
  }
});

test('worker threads split each product by rows: 1, 2 and 3 threads give bit-identical outputs of bert.onnx, run after run, equal to onnxruntime within 1e-5', async () => {
  const { readOnnx } = await import('../../src/formats/onnx.js');
  const { SparseExecutor } = await import('../../src/sparse/executor.js');
  const ort = await import('onnxruntime-node');
  const file = new URL('../fixtures/shrink/bert.onnx', import.meta.url).pathname;
  const S = 16;
  const ids = Float64Array.from({ length: 2 * S }, (_, i) => (i * 13) % 64), mask = Float64Array.from({ length: 2 * S }, (_, i) => (i % S < S - 3 ? 1 : 0));
  const feeds = { input_ids: { dtype: 'int64' as const, dims: [2, S], data: ids }, attention_mask: { dtype: 'int64' as const, dims: [2, S], data: mask } };
  const outs: Float32Array[] = [];
  for (const threads of [1, 2, 3]) {
    // engine 'sparse' and 'dense' both split; the dense one also through the attention's products.
    for (const engine of ['sparse', 'dense'] as const) {
      const { threadedKernels } = await import('../../src/sparse/threads.js');
      const ex = new SparseExecutor(readOnnx(file).graph(), { engine, kernels: threads > 1 ? threadedKernels(threads) : undefined });
      await ex.ready();
      assert.equal(ex.threads, threads);
      // The second run's values live in the threads' shared memory (the executor's arena).
      for (let run = 0; run < 2; run++) outs.push(ex.run(feeds).last_hidden_state.data as Float32Array);
    }
  }
  // outs[4·t + 2·engine + run]: each equal to the one-thread first run of its engine.
  for (let i = 1; i < outs.length; i++) assert.deepEqual(outs[i], outs[i & 2], `run ${i}`);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const ref = (await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [2, S]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask, (v) => BigInt(v)), [2, S]),
  })).last_hidden_state.data as Float32Array;
  await session.release();
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(outs[2][i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  assert.ok(d / m < 1e-5, `max relative error ${d / m}`);
});

test('the convolutions read and write the threads\' shared memory in place from the second run: cnn.onnx at 2 threads, CSR and dense, equals one thread bit for bit, run after run, and onnxruntime within 1e-5', async () => {
  const { readOnnx } = await import('../../src/formats/onnx.js');
  const { SparseExecutor } = await import('../../src/sparse/executor.js');
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { readNpy } = await import('../fixtures/npy.js');
  const ort = await import('onnxruntime-node');
  const file = new URL('../fixtures/cnn.onnx', import.meta.url).pathname;
  const graph = readOnnx(file).graph();
  const x = readNpy(new URL('../fixtures/cnn.input.npy', import.meta.url).pathname);
  const feeds = { [graph.inputs[0].name]: { dtype: 'float32' as const, dims: x.shape, data: x.data } };
  const output = graph.outputs[0].name;
  // CSR convolutions run straight from the padded input; dense ones through im2col.
  let want: Float32Array<ArrayBufferLike> = new Float32Array(0);
  for (const engine of ['sparse', 'dense'] as const) {
    want = new SparseExecutor(graph, { engine }).run(feeds)[output].data as Float32Array;
    const ex = new SparseExecutor(graph, { engine, kernels: threadedKernels(2) });
    await ex.ready();
    for (let run = 0; run < 3; run++) assert.deepEqual(ex.run(feeds)[output].data, want, `${engine} run ${run}`);
  }
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const ref = (await session.run({ [graph.inputs[0].name]: new ort.Tensor('float32', x.data, x.shape) }))[output].data as Float32Array;
  await session.release();
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(want[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  assert.ok(d / m < 1e-5, `max relative error ${d / m}`);
});

test('a product split between 2 and 3 worker threads equals the one-thread product bit for bit (CSR and dense, with bias and ReLU, and with GELU and the transposes in and back in each part)', async () => {
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { applyLinear, uploadCsr: csrKernel, uploadDense: denseKernel } = await import('../../src/sparse/kernels.js');
  const { denseToCsr } = await import('../../src/sparse/formats.js');
  const rows = 1030, cols = 700, ld = 64; // rows not a multiple of 4; 1030·700·0.2·64 multiply-adds: split
  const r = uniform(31);
  const w = Float32Array.from({ length: rows * cols }, () => (r() < 0.2 ? r() - 0.5 : 0));
  const bias = values(rows, -1, 1, 32);
  const x = values(cols * ld, -1, 1, 33);
  const wide = values(200 * cols, -1, 1, 34);
  const results = (k: Kernels) => {
    const out: Float32Array[] = [];
    for (const layer of [csrKernel(k, denseToCsr(w, rows, cols), bias), denseKernel(k, w, rows, cols, bias)]) {
      for (const relu of [false, true]) {
        const mark = k.mark();
        const xt = k.upload(x), yt = k.alloc(rows * ld * 4), y = k.alloc(rows * 4);
        layer.runBatch(xt, ld, yt, relu);
        layer.runVector(xt, y, relu);
        out.push(k.f32(yt, rows * ld).slice(), k.f32(y, rows).slice());
        k.release(mark);
        // The array-level product with its epilogue (GELU, the transpose back) split with it.
        out.push(applyLinear(k, layer, x, ld, relu, true));
        // 200 tokens (ld 200): each thread transposes X into its own copy of X^T before its rows.
        out.push(applyLinear(k, layer, wide, 200, relu));
      }
    }
    return out;
  };
  const one = results(new Kernels());
  for (const threads of [2, 3]) {
    const k = threadedKernels(threads);
    await k.pool!.ready;
    assert.deepEqual(results(k), one, `${threads} threads`);
  }
});

test("a batched MatMul of two activations (attention's heads) shared out whole between 2 and 3 threads equals the one-thread run bit for bit, and onnxruntime within 1e-5", async () => {
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { SparseExecutor } = await import('../../src/sparse/executor.js');
  const { OnnxModel } = await import('../../src/formats/onnx.js');
  const { writeOnnx } = await import('../../bench/sparse-onnx-writer.js');
  const ort = await import('onnxruntime-node');
  // 2·12 blocks of 128·64·98 multiply-adds (n padded to 100 in the kernel), B broadcast over the
  // batch: enough to be shared out, in more than one round of blocks at 2 threads.
  const [A, B] = [[2, 12, 128, 64], [1, 12, 64, 98]];
  const bytes = writeOnnx({ opset: 17, nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], initializers: [], inputs: [{ name: 'a', dims: A }, { name: 'b', dims: B }], outputs: [{ name: 'y' }] });
  const a = values(A.reduce((p, q) => p * q), -1, 1, 41), b = values(B.reduce((p, q) => p * q), -1, 1, 42);
  const feeds = { a: { dtype: 'float32' as const, dims: A, data: a }, b: { dtype: 'float32' as const, dims: B, data: b } };
  const outs: Float32Array[] = [];
  for (const threads of [1, 2, 3]) {
    const ex = new SparseExecutor(new OnnxModel('bmm.onnx', bytes).graph(), { kernels: threads > 1 ? threadedKernels(threads) : undefined });
    await ex.ready();
    outs.push(ex.run(feeds).y.data as Float32Array);
  }
  assert.deepEqual(outs[1], outs[0], '2 threads');
  assert.deepEqual(outs[2], outs[0], '3 threads');
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const ref = (await session.run({ a: new ort.Tensor('float32', a, A), b: new ort.Tensor('float32', b, B) })).y.data as Float32Array;
  await session.release();
  assert.equal(outs[0].length, ref.length);
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(outs[0][i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  assert.ok(d / m < 1e-5, `max relative error ${d / m}`);
});

test('splitRows: ranges cover every row once, in blocks of 4, balanced by nonzeros', async () => {
  const { splitRows } = await import('../../src/sparse/kernels.js');
  // Rows 0–9 hold 100 nonzeros each, rows 10–99 one each: two parts split near row 5.
  const rowPtr = new Uint32Array(101);
  for (let r = 0; r < 100; r++) rowPtr[r + 1] = rowPtr[r] + (r < 10 ? 100 : 1);
  const parts = splitRows(100, 2, rowPtr);
  assert.deepEqual(parts, [[0, 8], [8, 100]]);
  assert.deepEqual(splitRows(10, 3), [[0, 4], [4, 8], [8, 10]]);
  assert.deepEqual(splitRows(3, 4), [[0, 3]]);
  for (const [rows, n] of [[1, 2], [17, 3], [1000, 7]]) {
    const p = splitRows(rows, n);
    assert.equal(p[0][0], 0);
    assert.equal(p[p.length - 1][1], rows);
    for (let i = 1; i < p.length; i++) assert.equal(p[i][0], p[i - 1][1]);
  }
});

test('Relu from 4096 elements (the kernel) equals x > 0 ? x : 0 bit for bit: NaN, −0, ±∞ and a tail of 5', () => {
  const node = { name: 'n', opType: 'Relu', inputs: [], outputs: ['y'], attributes: new Map(), domain: '' };
  const n = 4096 + 8 * 3 + 5;
  const x = values(n, -3, 3, 31);
  x.set([Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, -1e-45], 100);
  x[n - 1] = Number.NaN;
  const y = OPS.Relu([floatTensor([n], x)], new Map(), node, { opset: 17 } as never)[0].data as Float32Array;
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  for (let i = 0; i < n; i++) assert.equal(bits(y[i]), bits(x[i] > 0 ? x[i] : 0), `element ${i}: ${x[i]} → ${y[i]}`);
});

test('MaxPool 2-D (the kernel) equals the per-window maximum: NaN anywhere in a window gives NaN, ±∞, borders, strides 1 and 2', () => {
  const node = { name: 'n', opType: 'MaxPool', inputs: [], outputs: ['y'], attributes: new Map(), domain: '' };
  const [c, h, w] = [3, 21, 23];
  const x = values(c * h * w, -3, 3, 51);
  for (const i of [0, 17, 200, 201, 640, c * h * w - 1]) x[i] = Number.NaN;
  x[300] = Number.POSITIVE_INFINITY; x[301] = Number.NEGATIVE_INFINITY; x[450] = -0;
  for (const [k, st, pad] of [[3, 2, 1], [3, 1, 1], [2, 2, 0]]) {
    const attrs = new Map<string, unknown>([['kernel_shape', [k, k]], ['strides', [st, st]], ['pads', [pad, pad, pad, pad]]]);
    const y = OPS.MaxPool([floatTensor([1, c, h, w], x)], attrs as never, node, { opset: 17 } as never)[0];
    const [oh, ow] = [Math.floor((h + 2 * pad - k) / st) + 1, Math.floor((w + 2 * pad - k) / st) + 1];
    assert.deepEqual(y.dims, [1, c, oh, ow]);
    for (let p = 0; p < c; p++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let m = Number.NEGATIVE_INFINITY, nan = false;
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              const [r, q] = [oy * st - pad + i, ox * st - pad + j];
              if (r < 0 || r >= h || q < 0 || q >= w) continue;
              const v = x[(p * h + r) * w + q];
              if (Number.isNaN(v)) nan = true; else if (v > m) m = v;
            }
          }
          const got = y.data[(p * oh + oy) * ow + ox];
          if (nan) assert.ok(Number.isNaN(got), `k${k} s${st} (${p}, ${oy}, ${ox}): ${got}, not NaN`);
          else assert.equal(got, m, `k${k} s${st} (${p}, ${oy}, ${ox})`);
        }
      }
    }
  }
});

test('Clip from 4096 elements (the kernel) equals Math.min(Math.max(x, lo), hi) bit for bit: ReLU6, one-sided, NaN and −0', () => {
  const node = { name: 'n', opType: 'Clip', inputs: [], outputs: ['y'], attributes: new Map(), domain: '' };
  const n = 4096 + 8 * 2 + 3;
  const x = values(n, -9, 9, 32);
  x.set([Number.NaN, -0, 0, 6, -6, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], 50);
  x[n - 2] = Number.NaN;
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  for (const [lo, hi] of [[0, 6], [-Infinity, 2.5], [-1.5, Infinity]]) {
    const ins = [floatTensor([n], x), ...(lo === -Infinity ? [undefined] : [floatTensor([], Float32Array.of(lo))]), ...(hi === Infinity ? [] : [floatTensor([], Float32Array.of(hi))])];
    const y = OPS.Clip(ins as never, new Map(), node, { opset: 13 } as never)[0].data as Float32Array;
    for (let i = 0; i < n; i++) assert.equal(bits(y[i]), bits(Math.fround(Math.min(Math.max(x[i], lo), hi))), `[${lo}, ${hi}] element ${i}: ${x[i]} → ${y[i]}`);
  }
});

test('columnTile: all columns when X^T fits the budget, else the whole blocks that fit (28 columns for CSR, 16 dense), at least one', async () => {
  const { columnTile, TILE_BYTES, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS } = await import('../../src/sparse/kernels.js');
  // The dense kernel's smaller budget: 256 KiB over 576 rows of 4-byte floats is 113 columns, 7 whole blocks of 16.
  assert.equal(DENSE_TILE_BYTES, 256 * 1024);
  assert.equal(columnTile(576, 3136, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS), 112);
  // CSR: 4 MiB over 4096 rows is 256 columns, 9 whole passes of 28; BERT's 3072-row X^T at 128 tokens (1.5 MiB) is not tiled.
  assert.equal(TILE_BYTES, 4 * 1024 * 1024);
  assert.equal(columnTile(4096, 512), 252);
  assert.equal(columnTile(3072, 128), 128);
  for (const [bytes, q] of [[TILE_BYTES, 28], [DENSE_TILE_BYTES, DENSE_TILE_COLUMNS]]) {
    for (const [cols, ld] of [[144, 4480], [3072, 128], [4608, 52], [64, 12544], [100000, 64], [576, 3136], [4608, 3136]]) {
      const t = q === 28 ? columnTile(cols, ld) : columnTile(cols, ld, bytes, q);
      if (cols * ld * 4 <= bytes) { assert.equal(t, ld); continue; }
      assert.ok(t % q === 0 || t === ld, `${cols}×${ld}: ${t}`);
      assert.ok(t >= Math.min(q, ld) && t <= ld);
      assert.ok(t === q || t === ld || t * cols * 4 <= bytes, `${cols}×${ld}: tile ${t} spans ${t * cols * 4} bytes`);
      assert.ok((t + q) * cols * 4 > bytes || t + q > ld, `${cols}×${ld}: tile ${t} could be wider`);
    }
  }
});

test('Softmax, LayerNorm, GELU, + − × ÷ and the head transposes split between 2 and 3 worker threads equal one thread bit for bit', async () => {
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { binaryRows, geluRows, layerNormRows, softmaxRows, withOpKernels } = await import('../../src/sparse/ops-vector.js');
  const rows = 601, n = 457; // 274,657 floats: split, the memory-bound ops too (from 2^18); rows and n not multiples of 4
  const x = values(rows * n, -4, 4, 41);
  const gamma = values(n, 0.5, 1.5, 42), beta = values(n, -1, 1, 43), bias = values(n, -1, 1, 44);
  // And attention's head transposes, as the kernels' block copies and batched transposes.
  const heads = floatTensor([1, 384, 12, 64], values(384 * 768, -1, 1, 45));
  const batched = floatTensor([12, 384, 64], values(384 * 768, -1, 1, 46));
  // The row-wise arithmetic with every operand kind: full, one row for all ('col'), one value per row, a scalar.
  const y = values(rows * n, 0.5, 2, 47), perRow = values(rows, 0.5, 2, 48), scalar = Float32Array.of(3);
  const all = () => [softmaxRows(x, rows, n), layerNormRows(x, rows, n, gamma, beta, 1e-5), geluRows(x, n, bias),
    transposeTensor(heads, [0, 2, 1, 3]).data, transposeTensor(batched, [0, 2, 1]).data,
    binaryRows('Add', x, 'full', y, 'full', rows, n), binaryRows('Sub', x, 'full', bias, 'col', rows, n),
    binaryRows('Mul', perRow, 'row', x, 'full', rows, n), binaryRows('Div', x, 'full', scalar, 'scalar', rows, n)];
  const one = all();
  // The arithmetic itself, against JavaScript's float32 results.
  const f = Math.fround;
  for (const i of [0, 1, n - 1, n, 5 * n + 7, rows * n - 1]) {
    const r = Math.floor(i / n), c = i % n;
    assert.equal(one[5][i], f(x[i] + y[i]));
    assert.equal(one[6][i], f(x[i] - bias[c]));
    assert.equal(one[7][i], f(perRow[r] * x[i]));
    assert.equal(one[8][i], f(x[i] / 3));
  }
  for (const threads of [2, 3]) {
    const k = threadedKernels(threads);
    await k.pool!.ready;
    assert.deepEqual(withOpKernels(k, all), one, `${threads} threads`);
  }
});

test("attention's Div by √d, Add of the mask and Softmax run as one ScaledMaskedSoftmax: bit for bit the three ops, on 1 and 2 threads, for a [2, 1, 1, T] mask (one pass; √d a power of two or not) and a [2, 1, S, T] one (the three ops), and onnxruntime within 1e-6", async () => {
  const { SparseExecutor } = await import('../../src/sparse/executor.js');
  const { OnnxModel } = await import('../../src/formats/onnx.js');
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { writeOnnx } = await import('../../bench/sparse-onnx-writer.js');
  const { maskRowsOf } = await import('../../src/sparse/ops.js');
  const ort = await import('onnxruntime-node');
  const [B, H, S, T] = [2, 12, 64, 128]; // 196,608 scores: the kernels' path, split on 2 threads
  const scores = values(B * H * S * T, -30, 30, 61);
  // √64 (a power of two: × 1/8 gives the quotient's bits) and √96 (divided); the [2, 1, S, T] mask as the ops.
  for (const [maskDims, c] of [[[B, 1, 1, T], 8], [[B, 1, 1, T], Math.fround(Math.sqrt(96))], [[B, 1, S, T], 8]] as const) {
    const mask = Float32Array.from(values(maskDims.reduce((a, b) => a * b), 0, 1, 62), (v) => (v < 0.2 ? -10000 : 0));
    const bytes = writeOnnx({
      opset: 14,
      nodes: [
        { op: 'Div', inputs: ['s', 'c'], outputs: ['q'] },
        { op: 'Add', inputs: ['q', 'm'], outputs: ['a'] },
        { op: 'Softmax', inputs: ['a'], outputs: ['y'], attrs: { axis: { int: -1 } } },
      ],
      initializers: [{ name: 'c', dims: [], data: Float32Array.of(c) }],
      inputs: [{ name: 's', dims: [B, H, S, T] }, { name: 'm', dims: [...maskDims] }],
      outputs: [{ name: 'y' }],
    });
    const feeds = { s: floatTensor([B, H, S, T], scores), m: floatTensor([...maskDims], mask) };
    // The three ops one after another.
    const [div, add, softmax] = new OnnxModel('attn.onnx', bytes).graph().nodes;
    const q = OPS.Div([feeds.s, floatTensor([], Float32Array.of(c))], div.attributes, div)[0];
    const want = OPS.Softmax([OPS.Add([q, feeds.m], add.attributes, add)[0]], softmax.attributes, softmax, { opset: 14 } as never)[0].data;
    for (const threads of [1, 2]) {
      const kernels = threads > 1 ? threadedKernels(threads) : undefined;
      await kernels?.pool?.ready;
      const ex = new SparseExecutor(new OnnxModel('attn.onnx', bytes).graph(), { kernels });
      assert.deepEqual(ex.fusions().map((f) => [f.op, f.nodes]), [['ScaledMaskedSoftmax', 3]]);
      for (let run = 0; run < 2; run++) assert.deepEqual(ex.run(feeds).y.data, want, `mask [${maskDims.join(', ')}], √d ${c}, ${threads} threads, run ${run}`);
    }
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const ref = (await session.run({ s: new ort.Tensor('float32', scores, [B, H, S, T]), m: new ort.Tensor('float32', mask, [...maskDims]) })).y.data as Float32Array;
    await session.release();
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs((want as Float32Array)[i] - ref[i]));
    assert.ok(d < 1e-6, `mask [${maskDims.join(', ')}]: max abs error ${d} against onnxruntime`);
  }
  // Which masks take the one-pass path: those that vary along x's leading axes only.
  assert.deepEqual(maskRowsOf([B, H, S, T], [B, 1, 1, T]), { every: H * S, maskRows: B });
  assert.deepEqual(maskRowsOf([B, H, S, T], [1, T]), { every: B * H * S, maskRows: 1 });
  assert.deepEqual(maskRowsOf([B, H, S, T], [B, H, 1, T]), { every: S, maskRows: B * H });
  assert.equal(maskRowsOf([B, H, S, T], [B, 1, S, T]), undefined);
  assert.equal(maskRowsOf([B, H, S, T], [B, 1, 1, 1]), undefined);
});
