// Weight products that feed one another run as one chain (executor chainLinear, kernels
// applyLinears): the values between them stay in the kernels' transposed layout. Checked bit for
// bit against the same graph with those values as graph outputs (which keeps the products apart),
// on one and two threads, and against onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/rng.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { encodeOnnx } from '../../src/formats/onnx-build.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { threadedKernels } from '../../src/sparse/threads.js';

// At batch 64 the first two products are large enough to split between 2 threads (kernels SPLIT_WORK).
const N = 256, H = 384, O = 40;

/** x → MatMul + bias + exact GELU (decomposed as PyTorch exports it) → MatMul + bias + Relu → MatMul + bias. */
function mlp(apart: boolean, op: 'MatMul' | 'Gemm' = 'MatMul'): Uint8Array {
  const rng = new Rng(31);
  const weight = (name: string, rows: number, cols: number) => ({ name, dims: op === 'Gemm' ? [cols, rows] : [rows, cols], data: Float32Array.from({ length: rows * cols }, () => (rng.next() < 0.6 ? 0 : rng.next() - 0.5)) });
  const bias = (name: string, n: number) => ({ name, dims: [n], data: Float32Array.from({ length: n }, () => rng.next() - 0.5) });
  const scalar = (name: string, v: number) => ({ name, dims: [], data: Float32Array.of(v) });
  const product = (x: string, w: string, b: string, y: string) => op === 'Gemm'
    ? [{ op: 'Gemm', inputs: [x, w, b], outputs: [y], attrs: { transB: { int: 1 } } }]
    : [{ op: 'MatMul', inputs: [x, w], outputs: [`${y}m`] }, { op: 'Add', inputs: [`${y}m`, b], outputs: [y] }];
  return encodeOnnx({
    opset: 17,
    // No declared shape for the Gemms: a wrong rank reaches them.
    inputs: [{ name: 'x', ...(op === 'MatMul' && { dims: ['m', N] }) }],
    outputs: [{ name: 'y' }, ...(apart ? [{ name: 'g' }, { name: 'r' }] : [])],
    initializers: [weight('w1', N, H), bias('b1', H), weight('w2', H, H), bias('b2', H), weight('w3', H, O), bias('b3', O), scalar('sqrt2', Math.SQRT2), scalar('one', 1), scalar('half', 0.5)],
    nodes: [
      ...product('x', 'w1', 'b1', 'h'),
      { op: 'Div', inputs: ['h', 'sqrt2'], outputs: ['d'] },
      { op: 'Erf', inputs: ['d'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['e1'] },
      { op: 'Mul', inputs: ['h', 'e1'], outputs: ['he'] },
      { op: 'Mul', inputs: ['he', 'half'], outputs: ['g'] },
      ...product('g', 'w2', 'b2', 'h2'),
      { op: 'Relu', inputs: ['h2'], outputs: ['r'] },
      ...product('r', 'w3', 'b3', 'y'),
    ],
  });
}

const input = (m: number) => { const g = new Rng(40 + m); return Float32Array.from({ length: m * N }, () => g.next() * 4 - 2); };

test('weight products feeding one another (MatMul + GELU → MatMul + Relu → MatMul) run as one chain: bit for bit the products run apart, batch 1, 6 and 64, CSR and dense kernels, 1 and 2 threads; onnxruntime within 1e-5', async () => {
  const chained = new OnnxModel('chain.onnx', mlp(false)).graph();
  const apart = new OnnxModel('apart.onnx', mlp(true)).graph();
  const k2 = threadedKernels(2);
  await k2.pool!.ready;
  const session = await ort.InferenceSession.create(mlp(false), { intraOpNumThreads: 1 });
  try {
    for (const engine of ['sparse', 'dense'] as const) {
      const ex = new SparseExecutor(chained, { engine });
      const ex2 = new SparseExecutor(chained, { engine, kernels: k2 });
      const ref = new SparseExecutor(apart, { engine });
      const last = chained.nodes.find((n) => n.outputs[0] === 'ym')!;
      assert.deepEqual(ex.fusions().filter((f) => f.op === 'Chain').map((f) => [f.node, f.nodes]), [[last.name, 3]]);
      assert.deepEqual(ref.fusions().filter((f) => f.op === 'Chain'), []);
      assert.equal(ex.runsAs(last), 'MatMul + Gelu → MatMul → MatMul (chained)');
      assert.deepEqual(ex.layers.map((l) => l.kind), engine === 'sparse' ? ['csr', 'csr', 'csr'] : ['dense', 'dense', 'dense']);
      for (const m of [1, 6, 64]) {
        const feeds = { x: { dtype: 'float32' as const, dims: [m, N], data: input(m) } };
        const want = ref.run(feeds).y;
        const got = ex.run(feeds).y;
        assert.deepEqual(got.dims, [m, O]);
        assert.deepEqual(got.data, want.data, `${engine}, batch ${m}`);
        for (let i = 0; i < 2; i++) assert.deepEqual(ex2.run(feeds).y.data, want.data, `${engine}, batch ${m}, 2 threads, run ${i}`);
        const o = (await session.run({ x: new ort.Tensor('float32', feeds.x.data, [m, N]) })).y.data as Float32Array;
        let err = 0, top = 0;
        for (let i = 0; i < o.length; i++) { err = Math.max(err, Math.abs(got.data[i] - o[i])); top = Math.max(top, Math.abs(o[i])); }
        assert.ok(err <= 1e-5 * top, `${engine}, batch ${m}: max difference ${err} of ${top}`);
      }
    }
  } finally {
    await session.release();
  }
});

test('Gemm chains too (each Gemm its bias in the kernel); a value between products that is also a graph output keeps them apart', () => {
  const ex = new SparseExecutor(new OnnxModel('gemm.onnx', mlp(false, 'Gemm')).graph(), { engine: 'sparse' });
  assert.deepEqual(ex.fusions().filter((f) => f.op === 'Chain').map((f) => f.nodes), [3]);
  const ref = new SparseExecutor(new OnnxModel('gemm-apart.onnx', mlp(true, 'Gemm')).graph(), { engine: 'sparse' });
  assert.deepEqual(ref.fusions().filter((f) => f.op === 'Chain'), []);
  const feeds = { x: { dtype: 'float32' as const, dims: [5, N], data: input(5) } };
  assert.deepEqual(ex.run(feeds).y.data, ref.run(feeds).y.data);
  // A Gemm takes a matrix: the chain refuses another rank in one line, as the Gemm would.
  assert.throws(() => ex.run({ x: { dtype: 'float32', dims: [1, 5, N], data: input(5) } }), /input has dims \[1, 5, 256\]/);
});
