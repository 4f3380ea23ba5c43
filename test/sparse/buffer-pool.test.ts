// The executor hands the buffers of dead values to later outputs (tensor.ts's BufferPool): a
// buffer still held by a live alias (a Reshape of it, here a graph output) must not be reused, and
// the outputs of one run must survive the next. Checked against onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/rng.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { BufferPool, uninitF32, withBufferPool, zeroF32 } from '../../src/sparse/tensor.js';
import { encodeOnnx } from '../../src/formats/onnx-build.js';

test('BufferPool: a buffer given back is handed out again for its length only; zeroF32 clears it; small arrays are not pooled', () => {
  const pool = new BufferPool();
  const a = withBufferPool(pool, () => uninitF32(8192));
  a.fill(7);
  assert.equal(pool.owner(a), a.buffer);
  assert.equal(pool.owner(new Float32Array(8192)), undefined);
  pool.give(a.buffer);
  withBufferPool(pool, () => {
    assert.notEqual(uninitF32(4096).buffer, a.buffer); // another length
    const b = uninitF32(8192);
    assert.equal(b.buffer, a.buffer);
    assert.equal(b[0], 7); // old contents: the caller writes every element
    pool.give(b.buffer);
    const z = zeroF32(8192);
    assert.equal(z.buffer, a.buffer);
    assert.ok(z.every((v) => v === 0));
    assert.equal(pool.owner(uninitF32(100)), undefined);
  });
  assert.equal(pool.owner(uninitF32(8192)), undefined); // no pool outside a run
});

test('executor: a graph output aliasing a dead value keeps its buffer; outputs of one run survive the next', async () => {
  const M = 64, N = 128; // 8192 floats: pooled
  const bytes = encodeOnnx({
    opset: 17,
    inputs: [{ name: 'x', dims: [M, N] }],
    outputs: [{ name: 'r' }, { name: 'w' }],
    initializers: [{ name: 'flat', dims: [1], data: BigInt64Array.from([BigInt(M * N)]) }],
    nodes: [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'] },
      { op: 'Reshape', inputs: ['t', 'flat'], outputs: ['r'] }, // r aliases t's buffer
      { op: 'Softmax', inputs: ['t'], outputs: ['s'] }, // t's last reader: t dies here, r holds on
      { op: 'Add', inputs: ['s', 's'], outputs: ['u'] }, // same length as t: the pool's candidate
      { op: 'Transpose', inputs: ['u'], outputs: ['v'] },
      { op: 'Mul', inputs: ['v', 'x'], outputs: ['w'] },
    ],
  });
  const rng = new Rng(3);
  const inputs = [0, 1].map(() => Float32Array.from({ length: M * N }, () => rng.next() * 4 - 2));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const refs = [];
  for (const x of inputs) refs.push(await session.run({ x: new ort.Tensor('float32', x, [M, N]) }));
  await session.release();
  const ex = new SparseExecutor(new OnnxModel('pool.onnx', bytes).graph(), { engine: 'sparse' });
  const outs = inputs.map((x) => ex.run({ x: { dtype: 'float32', dims: [M, N], data: x } }));
  // The first run's outputs, read after the second run has reused its dead buffers.
  for (let i = 0; i < 2; i++) {
    for (const name of ['r', 'w']) {
      const got = outs[i][name].data as Float32Array, ref = refs[i][name].data as Float32Array;
      let d = 0;
      for (let j = 0; j < ref.length; j++) d = Math.max(d, Math.abs(got[j] - ref[j]));
      assert.ok(d <= 1e-5, `run ${i} ${name}: max difference ${d}`);
    }
  }
  assert.notEqual(outs[0].r.data.buffer, outs[1].r.data.buffer);
});

test('executor: values folded into a weight kernel (bias Add, Relu) give their buffers back: a second run takes a new buffer only for its output', async () => {
  const M = 64, N = 128; // 8192 floats: pooled
  const rng = new Rng(5);
  const weight = (name: string) => ({ name, dims: [N, N], data: Float32Array.from({ length: N * N }, () => (rng.next() < 0.5 ? 0 : rng.next() - 0.5)) });
  const bias = (name: string) => ({ name, dims: [N], data: Float32Array.from({ length: N }, () => rng.next() - 0.5) });
  const bytes = encodeOnnx({
    opset: 17,
    inputs: [{ name: 'x', dims: [M, N] }],
    outputs: [{ name: 'y' }],
    initializers: [weight('w1'), bias('b1'), weight('w2'), bias('b2')],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] },
      { op: 'Add', inputs: ['h', 'b1'], outputs: ['hb'] }, // folded: the kernel adds the bias
      { op: 'Relu', inputs: ['hb'], outputs: ['r'] }, // folded: the kernel clamps
      // Between the products (else they run as one chain, h never leaving the kernels' memory).
      { op: 'Sigmoid', inputs: ['r'], outputs: ['s'] },
      { op: 'MatMul', inputs: ['s', 'w2'], outputs: ['z'] },
      { op: 'Add', inputs: ['z', 'b2'], outputs: ['y'] },
    ],
  });
  const x = Float32Array.from({ length: M * N }, () => rng.next() * 2 - 1);
  const ex = new SparseExecutor(new OnnxModel('folded.onnx', bytes).graph(), { engine: 'sparse' });
  const fresh: number[] = [];
  const take = BufferPool.prototype.take;
  BufferPool.prototype.take = function (n: number) {
    const got = take.call(this, n);
    if (!got.recycled) fresh[fresh.length - 1]++;
    return got;
  };
  const outs: Float32Array[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      fresh.push(0);
      outs.push(ex.run({ x: { dtype: 'float32', dims: [M, N], data: x } }).y.data as Float32Array);
    }
    // Each run makes h's buffer and z takes it again (given back once Sigmoid has read r, h's alias;
    // Sigmoid's output is not pooled): one new buffer a run, the output's.
    assert.deepEqual(fresh, [1, 1, 1]);
    assert.deepEqual(outs[2], outs[0]);
  } finally {
    BufferPool.prototype.take = take;
  }
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const ref = (await session.run({ x: new ort.Tensor('float32', x, [M, N]) })).y.data as Float32Array;
  await session.release();
  let d = 0;
  for (let j = 0; j < ref.length; j++) d = Math.max(d, Math.abs(outs[0][j] - ref[j]));
  assert.ok(d <= 1e-4, `max difference ${d}`);
});

test('executor with worker threads: from the second run its values live in the shared kernel memory, read and written in place; outputs are copied out and survive later runs; bit-identical to one thread and within 1e-4 of onnxruntime', async () => {
  const { threadedKernels } = await import('../../src/sparse/threads.js');
  const { Kernels } = await import('../../src/sparse/kernels.js');
  const M = 64, N = 128, H = 4; // 8192 floats a value: pooled
  const rng = new Rng(9);
  const bytes = encodeOnnx({
    opset: 17,
    inputs: [{ name: 'x', dims: [M, N] }],
    outputs: [{ name: 'z' }, { name: 'y' }],
    initializers: [
      { name: 'w', dims: [N, N], data: Float32Array.from({ length: N * N }, () => (rng.next() < 0.5 ? 0 : rng.next() - 0.5)) },
      { name: 'b', dims: [N], data: Float32Array.from({ length: N }, () => rng.next() - 0.5) },
      { name: 'g', dims: [N], data: Float32Array.from({ length: N }, () => rng.next() + 0.5) },
      { name: 'beta', dims: [N], data: Float32Array.from({ length: N }, () => rng.next() - 0.5) },
      { name: 'heads', dims: [3], data: BigInt64Array.from([M, H, N / H].map(BigInt)) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] }, // the CSR kernel
      { op: 'Add', inputs: ['h', 'b'], outputs: ['hb'] }, // folded into it
      { op: 'Relu', inputs: ['hb'], outputs: ['r'] }, // folded into it
      { op: 'LayerNormalization', inputs: ['r', 'g', 'beta'], outputs: ['z'], attrs: { epsilon: { float: 1e-5 } } },
      { op: 'Reshape', inputs: ['z', 'heads'], outputs: ['zs'] },
      { op: 'Transpose', inputs: ['zs'], outputs: ['q'], attrs: { perm: { ints: [1, 0, 2] } } }, // [H, M, N/H]: block copies
      { op: 'Transpose', inputs: ['q'], outputs: ['qt'], attrs: { perm: { ints: [0, 2, 1] } } }, // [H, N/H, M]: batched transposes
      { op: 'MatMul', inputs: ['q', 'qt'], outputs: ['s'] }, // two activations: the dense kernel
      { op: 'Softmax', inputs: ['s'], outputs: ['y'] },
    ],
  });
  const inputs = [0, 1, 0].map((seed) => { const g = new Rng(20 + seed); return Float32Array.from({ length: M * N }, () => g.next() * 2 - 1); });
  const graph = new OnnxModel('arena.onnx', bytes).graph();
  const one = new SparseExecutor(graph, { engine: 'sparse' });
  const want = inputs.map((x) => one.run({ x: { dtype: 'float32', dims: [M, N], data: x } }));
  const k = threadedKernels(2);
  await k.pool!.ready;
  const ex = new SparseExecutor(graph, { engine: 'sparse', kernels: k });
  // Copies of 16 KB or more into any kernel memory, per run.
  const uploads: number[] = [];
  const upload = Kernels.prototype.upload;
  Kernels.prototype.upload = function (this: InstanceType<typeof Kernels>, data) {
    if (data.byteLength >= 16384) uploads[uploads.length - 1]++;
    return upload.call(this, data);
  };
  const outs = [];
  try {
    for (const x of inputs) {
      uploads.push(0);
      outs.push(ex.run({ x: { dtype: 'float32', dims: [M, N], data: x } }));
    }
  } finally {
    Kernels.prototype.upload = upload;
  }
  // The first run copies each op's operands in; later runs only the caller's input.
  assert.ok(uploads[0] >= 4, `first run: ${uploads[0]} uploads`);
  assert.deepEqual(uploads.slice(1), [1, 1]);
  for (let i = 0; i < inputs.length; i++) {
    for (const name of ['z', 'y']) {
      const got = outs[i][name].data as Float32Array;
      assert.ok(!(got.buffer instanceof SharedArrayBuffer), `run ${i} ${name} is a view of the kernels' memory`);
      assert.deepEqual(got, want[i][name].data, `run ${i} ${name}`);
    }
  }
  assert.notDeepEqual(outs[1].y.data, outs[0].y.data);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const ref = await session.run({ x: new ort.Tensor('float32', inputs[0], [M, N]) });
  await session.release();
  for (const name of ['z', 'y']) {
    const got = outs[0][name].data as Float32Array, r = ref[name].data as Float32Array;
    let d = 0, top = 0;
    for (let j = 0; j < r.length; j++) { d = Math.max(d, Math.abs(got[j] - r[j])); top = Math.max(top, Math.abs(r[j])); }
    assert.ok(d <= 1e-4 * top, `${name}: max difference ${d} of ${top}`);
  }
});
