import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/rng.js';
import { SculptError } from '../../src/core/errors.js';
import { OnnxModel, readOnnx } from '../../src/formats/onnx.js';
import type { Tensor } from '../../src/sparse/tensor.js';
import { SparseExecutor, supportedOps } from '../../src/sparse/executor.js';
import { erf } from '../../src/sparse/ops.js';
import { writeOnnx, type ModelSpec, type NodeSpec, type TensorSpec } from '../../bench/sparse-onnx-writer.js';

let seed = 1;
function randn(n: number, zeroFraction = 0): Float32Array {
  const rng = new Rng(seed++);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.nextUint32() / 2 ** 32;
    out[i] = u < zeroFraction ? 0 : (rng.nextUint32() / 2 ** 32) * 4 - 2;
  }
  return out;
}

const f32 = (name: string, dims: number[], zeroFraction = 0): TensorSpec => ({ name, dims, data: randn(dims.reduce((a, b) => a * b, 1), zeroFraction) });
const i64 = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

/**
 * Runs one graph on onnxruntime and on the executor (sparse and dense weight kernels) and checks
 * dims and values: max |difference| ≤ 1e-4 · max |onnxruntime|.
 */
async function check(what: string, nodes: NodeSpec[], inputs: Record<string, number[]>, initializers: TensorSpec[] = [], opset = 17, outputs = ['y']): Promise<void> {
  const spec: ModelSpec = {
    nodes, initializers, opset,
    inputs: Object.entries(inputs).map(([name, dims]) => ({ name, dims })),
    outputs: outputs.map((name) => ({ name })),
  };
  await checkModel(what, writeOnnx(spec), inputs, outputs);
}

/** As `check`, for a model's bytes; an input is its dims (random values) or given values. */
async function checkModel(what: string, bytes: Uint8Array, inputs: Record<string, number[] | { dims: number[]; data: Float32Array }>, outputs = ['y']): Promise<void> {
  const feeds: Record<string, ort.Tensor> = {};
  const ours: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> = {};
  for (const [name, v] of Object.entries(inputs)) {
    const dims = Array.isArray(v) ? v : v.dims;
    const data = Array.isArray(v) ? randn(dims.reduce((a, b) => a * b, 1)) : v.data;
    feeds[name] = new ort.Tensor('float32', data, dims);
    ours[name] = { dtype: 'float32', dims, data };
  }
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const refs = await session.run(feeds);
  await session.release();
  const graph = new OnnxModel(`${what}.onnx`, bytes).graph();
  for (const engine of ['sparse', 'dense'] as const) {
    const got = new SparseExecutor(graph, { engine }).run(ours);
    for (const name of outputs) {
      const y = got[name], ref = refs[name];
      assert.deepEqual([...y.dims], [...ref.dims], `${what} (${engine}) ${name}: dims`);
      const r = ref.data as ArrayLike<number | bigint>;
      let d = 0, m = 0;
      for (let i = 0; i < r.length; i++) {
        const e = Number(r[i]);
        d = Math.max(d, Math.abs(y.data[i] - e));
        m = Math.max(m, Math.abs(e));
      }
      assert.ok(d <= 1e-4 * Math.max(m, 1e-6), `${what} (${engine}) ${name}: max difference ${d}, max |ref| ${m}`);
    }
  }
}

test('Gemm: transA, transB = 0, alpha, beta, bias [1, N] and a full [M, N] bias; sparse weights', async () => {
  await check('gemm-bias-row', [{ op: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['y'], attrs: { transB: { int: 1 }, alpha: { float: 0.5 }, beta: { float: 2 } } }],
    { x: [3, 20] }, [f32('w', [7, 20], 0.8), f32('c', [1, 7])]);
  await check('gemm-transA', [{ op: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['y'], attrs: { transA: { int: 1 } } }],
    { x: [20, 5] }, [f32('w', [20, 7], 0.5), f32('c', [5, 7])]);
  await check('gemm-no-bias', [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'] }], { x: [1, 9] }, [f32('w', [9, 4], 0.9)]);
  await check('gemm-two-inputs', [{ op: 'Gemm', inputs: ['x', 'b', 'c'], outputs: ['y'], attrs: { transB: { int: 1 }, beta: { float: 0.25 } } }],
    { x: [4, 6], b: [3, 6] }, [f32('c', [3])]);
});

test('MatMul: 3-D input against a sparse weight, and batched broadcasting between two inputs', async () => {
  await check('matmul-3d', [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }], { x: [2, 5, 33] }, [f32('w', [33, 17], 0.9)]);
  await check('matmul-batched', [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], { a: [2, 3, 4, 5], b: [3, 5, 6] });
  await check('matmul-vector', [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], { a: [5], b: [2, 5, 3] });
});

test('Conv: stride, padding, dilation, groups, depthwise, SAME_UPPER, no bias', async () => {
  await check('conv-basic', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: { ints: [1, 1, 1, 1] } } }],
    { x: [2, 3, 9, 8] }, [f32('w', [5, 3, 3, 3], 0.7), f32('b', [5])]);
  await check('conv-strided', [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [2, 3] }, pads: { ints: [0, 1, 2, 1] }, dilations: { ints: [2, 1] } } }],
    { x: [1, 4, 11, 10] }, [f32('w', [6, 4, 3, 2], 0.5)]);
  await check('conv-groups', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { group: { int: 2 } } }],
    { x: [1, 4, 6, 6] }, [f32('w', [6, 2, 3, 3], 0.5), f32('b', [6])]);
  await check('conv-depthwise-same', [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: { int: 3 }, auto_pad: { string: 'SAME_UPPER' }, strides: { ints: [2, 2] } } }],
    { x: [1, 3, 7, 7] }, [f32('w', [3, 1, 3, 3])]);
});

test('elementwise maths with broadcasting, activations and softmax', async () => {
  const chain: NodeSpec[] = [
    { op: 'Add', inputs: ['a', 'b'], outputs: ['s'] },
    { op: 'Mul', inputs: ['s', 'c'], outputs: ['m'] },
    { op: 'Sub', inputs: ['m', 'a'], outputs: ['d'] },
    { op: 'Abs', inputs: ['d'], outputs: ['ab'] },
    { op: 'Sqrt', inputs: ['ab'], outputs: ['q'] },
    { op: 'Div', inputs: ['q', 'two'], outputs: ['dv'] },
    { op: 'Pow', inputs: ['dv', 'two'], outputs: ['p'] },
    { op: 'Erf', inputs: ['p'], outputs: ['e'] },
    { op: 'Sigmoid', inputs: ['d'], outputs: ['sg'] },
    { op: 'Tanh', inputs: ['d'], outputs: ['th'] },
    { op: 'Add', inputs: ['sg', 'th'], outputs: ['st'] },
    { op: 'Add', inputs: ['st', 'e'], outputs: ['y'] },
  ];
  await check('elementwise', chain, { a: [2, 3, 4], b: [4], c: [3, 1] }, [{ name: 'two', dims: [], data: Float32Array.of(2) }]);
  await check('relu-softmax', [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'Softmax', inputs: ['r'], outputs: ['y'], attrs: { axis: { int: 1 } } }], { x: [2, 5, 3] });
  await check('logsoftmax', [{ op: 'LogSoftmax', inputs: ['x'], outputs: ['y'] }], { x: [3, 7] });
  await check('gelu', [{ op: 'Gelu', inputs: ['x'], outputs: ['y'] }], { x: [4, 9] }, [], 20);
  await check('gelu-tanh', [{ op: 'Gelu', inputs: ['x'], outputs: ['y'], attrs: { approximate: { string: 'tanh' } } }], { x: [4, 9] }, [], 20);
});

test('pooling and normalisation', async () => {
  await check('maxpool-ceil', [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 0, 1, 0] }, ceil_mode: { int: 1 } } }], { x: [2, 3, 8, 9] });
  await check('avgpool-pad', [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 2] }, pads: { ints: [1, 1, 1, 1] } } }], { x: [1, 2, 5, 6] });
  await check('avgpool-include-pad', [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, count_include_pad: { int: 1 } } }], { x: [1, 2, 5, 6] });
  await check('global-avgpool', [{ op: 'GlobalAveragePool', inputs: ['x'], outputs: ['y'] }], { x: [2, 3, 4, 5] });
  await check('layernorm', [{ op: 'LayerNormalization', inputs: ['x', 'g', 'b'], outputs: ['y'], attrs: { epsilon: { float: 1e-5 } } }], { x: [2, 3, 8] }, [f32('g', [8]), f32('b', [8])]);
  const variance = { name: 'v', dims: [3], data: randn(3).map((v) => Math.abs(v) + 0.1) };
  await check('batchnorm', [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y'] }], { x: [2, 3, 4, 4] }, [f32('s', [3]), f32('b', [3]), f32('m', [3]), variance]);
  await check('reducemean', [{ op: 'ReduceMean', inputs: ['x'], outputs: ['y'], attrs: { axes: { ints: [1, -1] }, keepdims: { int: 0 } } }], { x: [2, 3, 4] });
});

test('shape operators as PyTorch exports them', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Shape', inputs: ['x'], outputs: ['shp'] },
    { op: 'Gather', inputs: ['shp', 'zero'], outputs: ['n'], attrs: { axis: { int: 0 } } },
    { op: 'Unsqueeze', inputs: ['n', 'axes0'], outputs: ['n1'] },
    { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['newshape'], attrs: { axis: { int: 0 } } },
    { op: 'Reshape', inputs: ['x', 'newshape'], outputs: ['flat'] },
    { op: 'Cast', inputs: ['n'], outputs: ['nf'], attrs: { to: { int: 1 } } },
    { op: 'Mul', inputs: ['flat', 'nf'], outputs: ['scaled'] },
    { op: 'Slice', inputs: ['scaled', 'starts', 'ends', 'axes1', 'steps'], outputs: ['sl'] },
    { op: 'Transpose', inputs: ['sl'], outputs: ['y'], attrs: { perm: { ints: [1, 0] } } },
  ];
  await check('shape-chain', nodes, { x: [3, 4, 5] }, [
    i64('zero', [0]).dims.length ? { name: 'zero', dims: [], data: BigInt64Array.of(0n) } : i64('zero', [0]),
    i64('axes0', [0]), i64('minus1', [-1]), i64('starts', [-2]), i64('ends', [-100]), i64('axes1', [1]), i64('steps', [-3]),
  ]);
  await check('flatten-gather-concat', [
    { op: 'Flatten', inputs: ['x'], outputs: ['f'], attrs: { axis: { int: 2 } } },
    { op: 'Gather', inputs: ['f', 'idx'], outputs: ['g'], attrs: { axis: { int: 1 } } },
    { op: 'Concat', inputs: ['g', 'g'], outputs: ['y'], attrs: { axis: { int: -1 } } },
  ], { x: [2, 3, 2, 2] }, [{ name: 'idx', dims: [2, 2], data: BigInt64Array.from([2n, 0n, -1n, 1n]) }]);
  await check('squeeze-expand-where', [
    { op: 'Unsqueeze', inputs: ['x', 'ax'], outputs: ['u'] },
    { op: 'Squeeze', inputs: ['u', 'ax'], outputs: ['s'] },
    { op: 'Expand', inputs: ['s', 'shape'], outputs: ['e'] },
    { op: 'Greater', inputs: ['e', 'zero'], outputs: ['c'] },
    { op: 'Where', inputs: ['c', 'e', 'zero'], outputs: ['y'] },
  ], { x: [3, 1] }, [i64('ax', [1]), i64('shape', [2, 3, 4]), { name: 'zero', dims: [], data: Float32Array.of(0) }]);
  await check('constant-of-shape-range', [
    { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { tensor: { name: 'k', dims: [3], data: Float32Array.of(1, 2, 3) } } } },
    { op: 'ConstantOfShape', inputs: ['shape'], outputs: ['z'], attrs: { value: { tensor: { name: 'v', dims: [1], data: Float32Array.of(0.5) } } } },
    { op: 'Range', inputs: ['r0', 'r1', 'r2'], outputs: ['r'] },
    { op: 'Add', inputs: ['z', 'k'], outputs: ['zk'] },
    { op: 'Add', inputs: ['zk', 'r'], outputs: ['zr'] },
    { op: 'Add', inputs: ['zr', 'x'], outputs: ['y'] },
  ], { x: [2, 3] }, [i64('shape', [2, 3]), { name: 'r0', dims: [], data: Float32Array.of(1) }, { name: 'r1', dims: [], data: Float32Array.of(2.5) }, { name: 'r2', dims: [], data: Float32Array.of(0.5) }]);
});

test('more activations, variadic and logical operators', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Elu', inputs: ['x'], outputs: ['e'], attrs: { alpha: { float: 0.7 } } },
    { op: 'Selu', inputs: ['x'], outputs: ['se'] },
    { op: 'Softplus', inputs: ['x'], outputs: ['sp'] },
    { op: 'Softsign', inputs: ['x'], outputs: ['ss'] },
    { op: 'HardSigmoid', inputs: ['x'], outputs: ['hs'] },
    { op: 'HardSwish', inputs: ['x'], outputs: ['hw'] },
    { op: 'PRelu', inputs: ['x', 'slope'], outputs: ['pr'] },
    { op: 'Sum', inputs: ['e', 'se', 'sp'], outputs: ['s1'] },
    { op: 'Mean', inputs: ['ss', 'hs', 'hw', 'pr'], outputs: ['s2'] },
    { op: 'Max', inputs: ['s1', 's2', 'x'], outputs: ['mx'] },
    { op: 'Min', inputs: ['s1', 's2'], outputs: ['mn'] },
    { op: 'Floor', inputs: ['mx'], outputs: ['fl'] },
    { op: 'Round', inputs: ['mn'], outputs: ['rd'] },
    { op: 'Sin', inputs: ['x'], outputs: ['sn'] },
    { op: 'Cos', inputs: ['x'], outputs: ['cs'] },
    { op: 'Mod', inputs: ['sn', 'cs'], outputs: ['md'], attrs: { fmod: { int: 1 } } },
    { op: 'Greater', inputs: ['x', 'zero'], outputs: ['g'] },
    { op: 'Less', inputs: ['x', 'zero'], outputs: ['l'] },
    { op: 'Or', inputs: ['g', 'l'], outputs: ['o'] },
    { op: 'Not', inputs: ['o'], outputs: ['n'] },
    { op: 'And', inputs: ['g', 'o'], outputs: ['a'] },
    { op: 'Where', inputs: ['a', 'fl', 'rd'], outputs: ['w1'] },
    { op: 'Where', inputs: ['n', 'md', 'w1'], outputs: ['w2'] },
    { op: 'Sign', inputs: ['x'], outputs: ['sg'] },
    { op: 'Add', inputs: ['w2', 'sg'], outputs: ['y'] },
  ];
  await check('activations', nodes, { x: [3, 5] }, [f32('slope', [5]), { name: 'zero', dims: [], data: Float32Array.of(0) }]);
});

test('Split, Pad (constant, reflect, edge), Tile and ArgMax', async () => {
  await check('split', [
    { op: 'Split', inputs: ['x', 'sizes'], outputs: ['a', 'b', 'c'], attrs: { axis: { int: 1 } } },
    { op: 'Concat', inputs: ['c', 'a', 'b'], outputs: ['y'], attrs: { axis: { int: 1 } } },
  ], { x: [2, 7, 3] }, [i64('sizes', [2, 4, 1])]);
  await check('split-even', [
    { op: 'Split', inputs: ['x'], outputs: ['a', 'b'], attrs: { axis: { int: -1 } } },
    { op: 'Sub', inputs: ['a', 'b'], outputs: ['y'] },
  ], { x: [3, 8] });
  for (const mode of ['constant', 'reflect', 'edge']) {
    await check(`pad-${mode}`, [{ op: 'Pad', inputs: ['x', 'pads', 'v'], outputs: ['y'], attrs: { mode: { string: mode } } }],
      { x: [2, 3, 4] }, [i64('pads', [0, 1, 2, 0, 2, 1]), { name: 'v', dims: [], data: Float32Array.of(1.5) }]);
  }
  // Reflect across an axis of length 1 repeats its value (NumPy; onnxruntime refuses it), and wide pads reflect back and forth.
  const reflect = new OnnxModel('reflect.onnx', writeOnnx({
    nodes: [{ op: 'Pad', inputs: ['x', 'pads'], outputs: ['y'], attrs: { mode: { string: 'reflect' } } }],
    initializers: [i64('pads', [1, 5, 1, 0])], inputs: [{ name: 'x', dims: [1, 3] }], outputs: [{ name: 'y' }],
  })).graph();
  const padded = new SparseExecutor(reflect, { engine: 'dense' }).run({ x: { dtype: 'float32', dims: [1, 3], data: Float32Array.of(1, 2, 3) } }).y;
  assert.deepEqual([...padded.dims], [3, 8]);
  assert.deepEqual(Array.from(padded.data), [2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3]);
  await check('tile', [{ op: 'Tile', inputs: ['x', 'reps'], outputs: ['y'] }], { x: [2, 3] }, [i64('reps', [2, 3])]);
  await check('argmax', [
    { op: 'ArgMax', inputs: ['x'], outputs: ['i'], attrs: { axis: { int: 1 }, keepdims: { int: 0 } } },
    { op: 'Cast', inputs: ['i'], outputs: ['y'], attrs: { to: { int: 1 } } },
  ], { x: [4, 6, 2] });
});

test('the remaining unary, reduction and utility operators', async () => {
  await check('unary-rest', [
    { op: 'Exp', inputs: ['x'], outputs: ['e'] },
    { op: 'Abs', inputs: ['x'], outputs: ['a'] },
    { op: 'Add', inputs: ['a', 'one'], outputs: ['a1'] },
    { op: 'Log', inputs: ['a1'], outputs: ['l'] },
    { op: 'Neg', inputs: ['l'], outputs: ['n'] },
    { op: 'Reciprocal', inputs: ['a1'], outputs: ['r'] },
    { op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['c'] },
    { op: 'LeakyRelu', inputs: ['x'], outputs: ['lr'], attrs: { alpha: { float: 0.2 } } },
    { op: 'Dropout', inputs: ['lr'], outputs: ['d'] },
    { op: 'Identity', inputs: ['d'], outputs: ['i'] },
    { op: 'Equal', inputs: ['c', 'x'], outputs: ['eq'] },
    { op: 'Cast', inputs: ['eq'], outputs: ['eqf'], attrs: { to: { int: 1 } } },
    { op: 'Sum', inputs: ['e', 'n', 'r', 'c', 'i', 'eqf'], outputs: ['y'] },
  ], { x: [4, 5] }, [
    { name: 'one', dims: [], data: Float32Array.of(1) }, { name: 'lo', dims: [], data: Float32Array.of(-0.5) }, { name: 'hi', dims: [], data: Float32Array.of(0.75) },
  ]);
  for (const op of ['ReduceMax', 'ReduceMin', 'ReduceMean']) {
    await check(op, [{ op, inputs: ['x'], outputs: ['y'], attrs: { axes: { ints: [0, 2] }, keepdims: { int: 1 } } }], { x: [3, 4, 5] });
    await check(`${op}-all`, [{ op, inputs: ['x'], outputs: ['y'], attrs: { keepdims: { int: 0 } } }], { x: [3, 4] });
  }
  // ReduceSum takes its axes as an input from opset 13 on.
  await check('ReduceSum', [{ op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['y'], attrs: { keepdims: { int: 0 } } }], { x: [3, 4, 5] }, [i64('axes', [-1, 0])]);
  await check('ReduceSum-all', [{ op: 'ReduceSum', inputs: ['x'], outputs: ['y'] }], { x: [3, 4] });
});

test('Conv on 1-D and 3-D inputs (sparse weights, groups, dilation, SAME padding) and ConvTranspose in 1, 2 and 3 dimensions', async () => {
  await check('conv1d', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: { ints: [2, 1] }, dilations: { ints: [2] }, strides: { ints: [2] }, group: { int: 2 } } },
    { op: 'Relu', inputs: ['c'], outputs: ['y'] }], { x: [2, 4, 19] }, [f32('w', [6, 2, 3], 0.6), f32('b', [6])]);
  await check('conv1d-same', [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { auto_pad: { string: 'SAME_LOWER' }, strides: { ints: [3] } } }], { x: [1, 3, 10] }, [f32('w', [5, 3, 4])]);
  await check('conv3d', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: { ints: [1, 0, 1, 1, 0, 1] }, strides: { ints: [2, 1, 2] }, dilations: { ints: [1, 2, 1] }, group: { int: 3 } } }],
    { x: [1, 3, 5, 6, 7] }, [f32('w', [6, 1, 3, 2, 3], 0.5), f32('b', [6])]);
  await check('convtranspose2d', [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { strides: { ints: [2, 3] }, pads: { ints: [1, 0, 0, 2] }, output_padding: { ints: [1, 1] }, dilations: { ints: [1, 2] }, group: { int: 2 } } }],
    { x: [2, 4, 5, 4] }, [f32('w', [4, 3, 3, 2], 0.7), f32('b', [6])]);
  // A constant ConvTranspose weight runs on the kernels: one [M/g·Πk, C/g] matrix per group (rows summed over groups).
  const ct = new OnnxModel('ct.onnx', writeOnnx({
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: { int: 2 } } }],
    initializers: [f32('w', [4, 3, 3, 2], 0.7)], inputs: [{ name: 'x', dims: [1, 4, 5, 4] }], outputs: [{ name: 'y' }],
  })).graph();
  const layers = new SparseExecutor(ct, { engine: 'sparse' }).layers;
  assert.deepEqual(layers.map((l) => [l.op, l.rows, l.cols, l.kind]), [['ConvTranspose', 2 * 18, 2, 'csr']]);
  await check('convtranspose1d', [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [2] } } }], { x: [1, 3, 7] }, [f32('w', [3, 2, 4])]);
  await check('convtranspose3d', [{ op: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { strides: { ints: [2, 1, 2] }, pads: { ints: [1, 0, 0, 0, 1, 1] } } }],
    { x: [1, 2, 3, 4, 3] }, [f32('w', [2, 3, 3, 2, 3]), f32('b', [3])]);
  await check('convtranspose-same', [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [2, 2] }, auto_pad: { string: 'SAME_UPPER' } } }], { x: [1, 2, 4, 5] }, [f32('w', [2, 3, 3, 3])]);
  await check('convtranspose-output-shape', [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [3, 2] }, output_shape: { ints: [8, 7] } } }], { x: [1, 2, 3, 4] }, [f32('w', [2, 2, 3, 3])]);
});

test('Conv and ConvTranspose on inputs too big for one im2col pass run in passes with the same values', async () => {
  // 18 taps × 1.1 M output positions and 64 rows × 0.49 M input positions: over the 64 MiB a pass may take.
  await check('conv-passes', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: { ints: [1, 0, 1, 2] } } }], { x: [1, 2, 1100, 1000] }, [f32('w', [3, 2, 3, 3], 0.5), f32('b', [3])]);
  await check('convtranspose-passes', [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: { ints: [1, 0, 2, 1] } } }], { x: [1, 2, 700, 700] }, [f32('w', [2, 4, 4, 4], 0.5)]);
});

test('pooling in 1-D and 3-D: max with indices, average with and without pads, Lp, global max', async () => {
  await check('maxpool1d', [{ op: 'MaxPool', inputs: ['x'], outputs: ['y', 'i'], attrs: { kernel_shape: { ints: [3] }, strides: { ints: [2] }, pads: { ints: [1, 1] }, ceil_mode: { int: 1 } } }], { x: [2, 3, 10] });
  await check('maxpool3d-indices', [
    { op: 'MaxPool', inputs: ['x'], outputs: ['m', 'idx'], attrs: { kernel_shape: { ints: [2, 3, 2] }, strides: { ints: [1, 2, 2] }, dilations: { ints: [2, 1, 1] } } },
    { op: 'Cast', inputs: ['idx'], outputs: ['y'], attrs: { to: { int: 1 } } },
  ], { x: [1, 2, 5, 6, 5] });
  await check('avgpool3d-pad', [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3, 3] }, pads: { ints: [1, 1, 0, 1, 0, 1] }, strides: { ints: [2, 2, 2] } } }], { x: [1, 2, 5, 5, 6] });
  await check('avgpool1d-include-pad', [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [4] }, pads: { ints: [2, 1] }, count_include_pad: { int: 1 } } }], { x: [2, 2, 9] });
  await check('lppool', [{ op: 'LpPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [2, 2] }, p: { int: 3 } } }], { x: [1, 2, 5, 4] });
  await check('globalmaxpool', [{ op: 'GlobalMaxPool', inputs: ['x'], outputs: ['y'] }], { x: [2, 3, 4, 5, 2] });
  await check('globallppool', [{ op: 'GlobalLpPool', inputs: ['x'], outputs: ['y'], attrs: { p: { int: 3 } } }], { x: [2, 3, 4, 5] });
});

const i32 = (name: string, from: string): NodeSpec => ({ op: 'Cast', inputs: [from], outputs: [name], attrs: { to: { int: 6 } } });

test('LSTM, GRU and RNN: bidirectional, reverse, sequence lengths, initial states, peepholes, clip, linear_before_reset', async () => {
  const [seq, batch, inp, h] = [5, 3, 4, 6];
  await check('lstm-bidirectional', [
    i32('lens', 'lens64'),
    { op: 'LSTM', inputs: ['x', 'w', 'r', 'b', 'lens', 'h0', 'c0', 'p'], outputs: ['y', 'yh', 'yc'], attrs: { hidden_size: { int: h }, direction: { string: 'bidirectional' }, clip: { float: 2.5 } } },
  ], { x: [seq, batch, inp] }, [f32('w', [2, 4 * h, inp]), f32('r', [2, 4 * h, h]), f32('b', [2, 8 * h]), i64('lens64', [5, 2, 4]), f32('h0', [2, batch, h]), f32('c0', [2, batch, h]), f32('p', [2, 3 * h])], 17, ['y', 'yh', 'yc']);
  // onnxruntime has no layout 1 (batch first); the conformance case lstm_batchwise covers it.
  await check('lstm-input-forget', [
    { op: 'LSTM', inputs: ['x', 'w', 'r'], outputs: ['y', 'yh'], attrs: { hidden_size: { int: h }, input_forget: { int: 1 } } },
  ], { x: [seq, batch, inp] }, [f32('w', [1, 4 * h, inp]), f32('r', [1, 4 * h, h])], 17, ['y', 'yh']);
  await check('gru-reverse-lbr', [
    i32('lens', 'lens64'),
    { op: 'GRU', inputs: ['x', 'w', 'r', 'b', 'lens', 'h0'], outputs: ['y', 'yh'], attrs: { hidden_size: { int: h }, direction: { string: 'reverse' }, linear_before_reset: { int: 1 } } },
  ], { x: [seq, batch, inp] }, [f32('w', [1, 3 * h, inp]), f32('r', [1, 3 * h, h]), f32('b', [1, 6 * h]), i64('lens64', [3, 5, 1]), f32('h0', [1, batch, h])], 17, ['y', 'yh']);
  await check('gru-bidirectional', [
    { op: 'GRU', inputs: ['x', 'w', 'r', 'b'], outputs: ['y', 'yh'], attrs: { hidden_size: { int: h }, direction: { string: 'bidirectional' } } },
  ], { x: [seq, batch, inp] }, [f32('w', [2, 3 * h, inp]), f32('r', [2, 3 * h, h]), f32('b', [2, 6 * h])], 17, ['y', 'yh']);
  await check('rnn-bidirectional', [
    i32('lens', 'lens64'),
    { op: 'RNN', inputs: ['x', 'w', 'r', 'b', 'lens'], outputs: ['y', 'yh'], attrs: { hidden_size: { int: h }, direction: { string: 'bidirectional' } } },
  ], { x: [seq, batch, inp] }, [f32('w', [2, h, inp]), f32('r', [2, h, h]), f32('b', [2, 2 * h]), i64('lens64', [1, 5, 3])], 17, ['y', 'yh']);
});

test('Resize (linear, nearest, cubic; sizes and scales; several coordinate modes) and opset-9 Upsample', async () => {
  const scalesF = (name: string, v: number[]): TensorSpec => ({ name, dims: [v.length], data: Float32Array.from(v) });
  const none: TensorSpec = { name: 'none', dims: [0], data: new Float32Array(0) };
  await check('resize-linear-sizes', [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { mode: { string: 'linear' } } }], { x: [1, 2, 4, 5] }, [i64('sizes', [1, 2, 7, 12])]);
  await check('resize-linear-align', [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'align_corners' } } }], { x: [1, 1, 4, 4] }, [scalesF('scales', [1, 1, 2, 1.5])]);
  await check('resize-nearest-asym', [{ op: 'Resize', inputs: ['x', 'none', 'scales'], outputs: ['y'], attrs: { coordinate_transformation_mode: { string: 'asymmetric' }, nearest_mode: { string: 'floor' } } }], { x: [2, 3, 3, 4] }, [none, scalesF('scales', [1, 1, 2, 2])]);
  await check('resize-nearest-down', [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { nearest_mode: { string: 'round_prefer_ceil' } } }], { x: [1, 2, 9, 7] }, [i64('sizes', [1, 2, 4, 3])]);
  await check('resize-cubic', [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: { string: 'cubic' } } }], { x: [1, 1, 5, 6] }, [scalesF('scales', [1, 1, 2, 2])]);
  await check('resize-linear-3d', [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'pytorch_half_pixel' } } }], { x: [1, 2, 3, 8] }, [i64('sizes', [1, 2, 6, 16])]);
  await check('resize18-axes', [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: { string: 'linear' }, axes: { ints: [3, 2] } } }], { x: [1, 2, 4, 5] }, [scalesF('scales', [1.5, 2])], 18);
  for (const policy of ['not_larger', 'not_smaller']) {
    await check(`resize18-${policy}`, [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], outputs: ['y'], attrs: { axes: { ints: [2, 3] }, keep_aspect_ratio_policy: { string: policy } } }], { x: [1, 2, 4, 6] }, [i64('sizes', [7, 8])], 18);
  }
  await check('upsample9', [{ op: 'Upsample', inputs: ['x', 'scales'], outputs: ['y'] }], { x: [1, 2, 3, 3] }, [scalesF('scales', [1, 1, 2, 3])], 9);
  await check('upsample9-linear', [{ op: 'Upsample', inputs: ['x', 'scales'], outputs: ['y'], attrs: { mode: { string: 'linear' } } }], { x: [1, 2, 3, 3] }, [scalesF('scales', [1, 1, 2, 2])], 9);
  await check('resize10', [{ op: 'Resize', inputs: ['x', 'scales'], outputs: ['y'] }], { x: [1, 2, 3, 3] }, [scalesF('scales', [1, 1, 2, 3])], 10);
});

test('old-opset forms: Slice, Pad, Clip, Split, Squeeze/Unsqueeze, ReduceSum, Softmax, TopK, Upsample, Dropout attributes; opset-7 BatchNormalization, opset-11 Resize with roi', async () => {
  await check('slice9', [{ op: 'Slice', inputs: ['x'], outputs: ['y'], attrs: { starts: { ints: [1, -3] }, ends: { ints: [100, -1] }, axes: { ints: [0, 2] } } }], { x: [3, 4, 6] }, [], 9);
  await check('pad10', [{ op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: { ints: [0, 1, 2, 0, 0, 1] }, value: { float: 0.5 } } }], { x: [2, 3, 4] }, [], 10);
  await check('pad10-reflect', [{ op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: { ints: [0, 0, 1, 2, 0, 0, 2, 1] }, mode: { string: 'reflect' } } }], { x: [1, 2, 4, 5] }, [], 10);
  await check('clip10', [{ op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: { float: -0.5 }, max: { float: 1 } } }], { x: [3, 4] }, [], 10);
  await check('split11', [
    { op: 'Split', inputs: ['x'], outputs: ['a', 'b'], attrs: { axis: { int: 1 }, split: { ints: [1, 3] } } },
    { op: 'Squeeze', inputs: ['a'], outputs: ['s'], attrs: { axes: { ints: [1] } } },
    { op: 'Unsqueeze', inputs: ['s'], outputs: ['u'], attrs: { axes: { ints: [-1] } } },
    { op: 'ReduceSum', inputs: ['b'], outputs: ['r'], attrs: { axes: { ints: [1] }, keepdims: { int: 0 } } },
    { op: 'Unsqueeze', inputs: ['r'], outputs: ['r1'], attrs: { axes: { ints: [2] } } },
    { op: 'Add', inputs: ['u', 'r1'], outputs: ['y'] },
  ], { x: [2, 4, 3] }, [], 11);
  await check('softmax11', [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: { int: 1 } } }], { x: [2, 3, 4] }, [], 11);
  await check('logsoftmax11-default', [{ op: 'LogSoftmax', inputs: ['x'], outputs: ['y'] }], { x: [2, 3, 4] }, [], 11);
  await check('topk9', [{ op: 'TopK', inputs: ['x'], outputs: ['y', 'i'], attrs: { k: { int: 3 }, axis: { int: 1 } } }], { x: [2, 7] }, [], 9);
  // Through float16 and bfloat16 and back: exactly the values those types hold (one scale per check, so the tolerance is relative to it).
  const big: NodeSpec = { op: 'Mul', inputs: ['x', 'k'], outputs: ['xk'] };
  for (const [to, scales] of [[10, [1e-6, 0.37, 1000, 30000]], [16, [1e-6, 0.37, 1000, 1e30]]] as const) {
    for (const k of scales) {
      await check(`cast-${to}-${k}`, [big, { op: 'Cast', inputs: ['xk'], outputs: ['h'], attrs: { to: { int: to } } }, { op: 'Cast', inputs: ['h'], outputs: ['y'], attrs: { to: { int: 1 } } }],
        { x: [4, 50] }, [{ name: 'k', dims: [], data: Float32Array.of(k) }]);
    }
  }
  await check('upsample7', [{ op: 'Upsample', inputs: ['x'], outputs: ['y'], attrs: { scales: { floats: [1, 1, 2, 3] }, mode: { string: 'nearest' } } }], { x: [1, 2, 3, 3] }, [], 7);
  await check('dropout7-batchnorm7', [
    { op: 'Dropout', inputs: ['x'], outputs: ['d'], attrs: { ratio: { float: 0.3 } } },
    { op: 'BatchNormalization', inputs: ['d', 's', 'b', 'm', 'v'], outputs: ['y'], attrs: { spatial: { int: 1 }, epsilon: { float: 1e-3 } } },
  ], { x: [2, 3, 4, 4] }, [f32('s', [3]), f32('b', [3]), f32('m', [3]), { name: 'v', dims: [3], data: Float32Array.of(0.5, 1, 2) }], 7);
  await check('resize11-roi', [{ op: 'Resize', inputs: ['x', 'roi', 'scales'], outputs: ['y'], attrs: { mode: { string: 'linear' } } }],
    { x: [1, 2, 3, 4] }, [{ name: 'roi', dims: [0], data: new Float32Array(0) }, { name: 'scales', dims: [4], data: Float32Array.of(1, 1, 2, 2) }], 11);
  await check('reducesum8', [{ op: 'ReduceSum', inputs: ['x'], outputs: ['y'], attrs: { axes: { ints: [1] } } }], { x: [2, 3] }, [], 8);
});

test('Einsum, InstanceNormalization, LayerNormalization on an inner axis with its statistics, per-channel PRelu, DepthToSpace', async () => {
  await check('einsum-batch', [{ op: 'Einsum', inputs: ['a', 'b'], outputs: ['y'], attrs: { equation: { string: 'bij,bkj->bik' } } }], { a: [2, 3, 4], b: [2, 5, 4] });
  await check('einsum-ellipsis', [{ op: 'Einsum', inputs: ['a', 'b'], outputs: ['y'], attrs: { equation: { string: '...ij,jk->...ki' } } }], { a: [2, 3, 4, 5], b: [5, 2] });
  await check('einsum-implicit', [{ op: 'Einsum', inputs: ['a', 'b', 'c'], outputs: ['y'], attrs: { equation: { string: 'ij,jk,k' } } }], { a: [3, 4], b: [4, 5], c: [5] });
  await check('instancenorm', [{ op: 'InstanceNormalization', inputs: ['x', 's', 'b'], outputs: ['y'], attrs: { epsilon: { float: 1e-3 } } }], { x: [2, 3, 4, 5] }, [f32('s', [3]), f32('b', [3])]);
  await check('layernorm-axis1', [{ op: 'LayerNormalization', inputs: ['x', 's', 'b'], outputs: ['y', 'mean', 'inv'], attrs: { axis: { int: 1 } } }],
    { x: [2, 3, 4] }, [f32('s', [3, 4]), f32('b', [4])], 17, ['y', 'mean', 'inv']);
  await check('prelu-channels', [{ op: 'PRelu', inputs: ['x', 'slope'], outputs: ['y'] }], { x: [2, 3, 4, 5] }, [f32('slope', [3, 1, 1])]);
  await check('depth-to-space', [
    { op: 'DepthToSpace', inputs: ['x'], outputs: ['d'], attrs: { blocksize: { int: 2 }, mode: { string: 'CRD' } } },
    { op: 'SpaceToDepth', inputs: ['d'], outputs: ['s'], attrs: { blocksize: { int: 2 } } },
    { op: 'DepthToSpace', inputs: ['s'], outputs: ['y'], attrs: { blocksize: { int: 2 } } },
  ], { x: [1, 8, 2, 3] });
});

test('quantized inference: Quantize/DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv', async () => {
  const scalar = (name: string, v: number): TensorSpec => ({ name, dims: [], data: Float32Array.of(v) });
  // uint8 tensors and zero points come from QuantizeLinear of float values (the writer stores float32/int64 only).
  const q = (out: string, from: string, scale: string): NodeSpec => ({ op: 'QuantizeLinear', inputs: [from, scale], outputs: [out] });
  const consts = [scalar('s', 0.02), scalar('one', 1), scalar('zf', 128), scalar('zf2', 100), scalar('sy', 0.05), f32('wf', [4, 3, 3, 3])];
  await check('quant-dequant', [q('qx', 'x', 's'), { op: 'DequantizeLinear', inputs: ['qx', 's'], outputs: ['y'] }], { x: [3, 5] }, consts);
  await check('dynamic-matmulinteger', [
    { op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['qx', 'sx', 'zx'] },
    q('qw', 'wm', 's'), q('zw', 'zf2', 'one'),
    { op: 'MatMulInteger', inputs: ['qx', 'qw', 'zx', 'zw'], outputs: ['acc'] },
    { op: 'Cast', inputs: ['acc'], outputs: ['y'], attrs: { to: { int: 1 } } },
  ], { x: [2, 3, 6], wm: [6, 4] }, consts);
  await check('qlinearmatmul', [
    q('qa', 'a', 's'), q('qb', 'b', 's'), q('za', 'zf', 'one'), q('zb', 'zf2', 'one'), q('zy', 'zf', 'one'),
    { op: 'QLinearMatMul', inputs: ['qa', 's', 'za', 'qb', 's', 'zb', 'sy', 'zy'], outputs: ['qy'] },
    { op: 'DequantizeLinear', inputs: ['qy', 'sy', 'zy'], outputs: ['y'] },
  ], { a: [3, 7], b: [7, 5] }, consts);
  await check('convinteger-qlinearconv', [
    q('qx', 'x', 's'), q('qw', 'wf', 's'), q('zx', 'zf', 'one'), q('zw', 'zf2', 'one'), q('zy', 'zf', 'one'),
    { op: 'ConvInteger', inputs: ['qx', 'qw', 'zx', 'zw'], outputs: ['ci'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
    { op: 'Cast', inputs: ['ci'], outputs: ['cif'], attrs: { to: { int: 1 } } },
    { op: 'QLinearConv', inputs: ['qx', 's', 'zx', 'qw', 's', 'zw', 'sy', 'zy'], outputs: ['qc'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
    { op: 'DequantizeLinear', inputs: ['qc', 'sy', 'zy'], outputs: ['y'] },
  ], { x: [1, 3, 5, 5] }, consts, 17, ['y', 'cif']);
});

test('detector tails: NonMaxSuppression (corner and center boxes), RoiAlign, GridSample', async () => {
  const scalar = (name: string, v: number): TensorSpec => ({ name, dims: [], data: Float32Array.of(v) });
  const abs: NodeSpec = { op: 'Abs', inputs: ['boxes'], outputs: ['b'] };
  for (const center of [0, 1]) {
    await check(`nms-${center}`, [abs,
      { op: 'NonMaxSuppression', inputs: ['b', 'scores', 'k', 'iou', 'min'], outputs: ['sel'], attrs: { center_point_box: { int: center } } },
      { op: 'Cast', inputs: ['sel'], outputs: ['y'], attrs: { to: { int: 1 } } },
    ], { boxes: [2, 12, 4], scores: [2, 3, 12] }, [i64('k', [4]), scalar('iou', 0.3), scalar('min', -0.5)], 17);
  }
  await check('roialign', [
    { op: 'Abs', inputs: ['r'], outputs: ['ra'] },
    { op: 'Mul', inputs: ['ra', 'four'], outputs: ['rois'] },
    { op: 'RoiAlign', inputs: ['x', 'rois', 'bi'], outputs: ['y'], attrs: { output_height: { int: 3 }, output_width: { int: 2 }, sampling_ratio: { int: 2 }, spatial_scale: { float: 0.5 } } },
  ], { x: [2, 3, 8, 9], r: [4, 4] }, [scalar('four', 4), i64('bi', [0, 1, 1, 0])], 16);
  for (const [mode, padding, align] of [['bilinear', 'zeros', 0], ['nearest', 'border', 1], ['bilinear', 'reflection', 0], ['bicubic', 'border', 0]] as const) {
    await check(`gridsample-${mode}-${padding}`, [{ op: 'GridSample', inputs: ['x', 'g'], outputs: ['y'], attrs: { mode: { string: mode }, padding_mode: { string: padding }, align_corners: { int: align } } }],
      { x: [1, 2, 4, 5], g: [1, 3, 6, 2] }, [], 16);
  }
});

test('exports no sculpt code made: paddle2onnx OCR classifier (opset 9, Constant-node weights) and Silero VAD (If, LSTM) match onnxruntime', async () => {
  const dir = new URL('../fixtures/third-party/', import.meta.url).pathname;
  const wave = (n: number) => Float32Array.from({ length: n }, (_, k) => Math.sin(k * 0.37) * 0.5);
  const cases: [string, Record<string, Tensor>, number][] = [
    ['ch_ppocr_mobile_v2.0_cls_infer.onnx', { x: { dtype: 'float32', dims: [1, 3, 48, 192], data: wave(3 * 48 * 192) } }, 54],
    ['silero_vad_v5.onnx', {
      input: { dtype: 'float32', dims: [1, 512], data: wave(512) },
      state: { dtype: 'float32', dims: [2, 1, 128], data: wave(256).map((v) => v / 4) },
      sr: { dtype: 'int64', dims: [], data: Float64Array.of(16000) },
    }, 12],
  ];
  for (const [file, inputs, weightLayers] of cases) {
    const model = readOnnx(dir + file);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) {
      feeds[name] = t.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), [...t.dims]) : new ort.Tensor('float32', t.data as Float32Array, [...t.dims]);
    }
    const session = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: 1 });
    const refs = await session.run(feeds);
    await session.release();
    const ex = new SparseExecutor(model.graph(), { engine: 'sparse' });
    // Weights held in Constant nodes get kernels like initializers, inside If branches too (the VAD's 1-D Convs, 6 per branch).
    assert.equal(ex.layers.length, weightLayers, `${file}: weight layers`);
    const got = ex.run(inputs);
    for (const o of model.graph().outputs) {
      const r = refs[o.name].data as Float32Array, y = got[o.name].data;
      assert.deepEqual([...got[o.name].dims], [...refs[o.name].dims], `${file} ${o.name}: dims`);
      let d = 0, m = 0;
      for (let i = 0; i < r.length; i++) { d = Math.max(d, Math.abs(y[i] - r[i])); m = Math.max(m, Math.abs(r[i])); }
      assert.ok(d <= 1e-5 * Math.max(m, 1), `${file} ${o.name}: max difference ${d}, max |ref| ${m}`);
    }
  }
});

test('opset 18–20 operators: GroupNormalization, CenterCropPad, Mish, Pad wrap, Bitwise*, DFT with axis input, AffineGrid into GridSample', async () => {
  await check('groupnorm18', [{ op: 'GroupNormalization', inputs: ['x', 's', 'b'], outputs: ['y'], attrs: { num_groups: { int: 2 }, epsilon: { float: 1e-3 } } }], { x: [2, 6, 3, 4] }, [f32('s', [2]), f32('b', [2])], 18);
  await check('groupnorm21', [{ op: 'GroupNormalization', inputs: ['x', 's', 'b'], outputs: ['y'], attrs: { num_groups: { int: 3 } } }], { x: [2, 6, 5] }, [f32('s', [6]), f32('b', [6])], 21);
  await check('centercroppad', [{ op: 'CenterCropPad', inputs: ['x', 'shape'], outputs: ['y'], attrs: { axes: { ints: [1, 2] } } }], { x: [2, 5, 4] }, [i64('shape', [2, 7])], 18);
  await check('mish-wrap', [{ op: 'Mish', inputs: ['x'], outputs: ['m'] }, { op: 'Pad', inputs: ['m', 'pads'], outputs: ['y'], attrs: { mode: { string: 'wrap' } } }], { x: [2, 3, 4] }, [i64('pads', [0, 2, 1, 0, 1, 3])], 19);
  await check('bitwise', [
    { op: 'Cast', inputs: ['a'], outputs: ['ai'], attrs: { to: { int: 7 } } },
    { op: 'Mul', inputs: ['ai', 'k'], outputs: ['ak'] },
    { op: 'Cast', inputs: ['b'], outputs: ['bi'], attrs: { to: { int: 7 } } },
    { op: 'BitwiseAnd', inputs: ['ak', 'bi'], outputs: ['and'] },
    { op: 'BitwiseOr', inputs: ['and', 'bi'], outputs: ['or'] },
    { op: 'BitwiseXor', inputs: ['or', 'ak'], outputs: ['xor'] },
    { op: 'BitwiseNot', inputs: ['xor'], outputs: ['not'] },
    { op: 'Cast', inputs: ['not'], outputs: ['y'], attrs: { to: { int: 1 } } },
  ], { a: [3, 4], b: [3, 4] }, [i64('k', [1 << 20])], 18);
  await check('dft20', [
    { op: 'Unsqueeze', inputs: ['x', 'last'], outputs: ['xr'] },
    { op: 'DFT', inputs: ['xr', '', 'axis'], outputs: ['y'], attrs: { onesided: { int: 1 } } },
  ], { x: [2, 8, 3] }, [i64('last', [-1]), { name: 'axis', dims: [], data: BigInt64Array.of(-3n) }], 20);
  await check('affinegrid-gridsample', [
    { op: 'AffineGrid', inputs: ['theta', 'size'], outputs: ['g'], attrs: { align_corners: { int: 0 } } },
    { op: 'GridSample', inputs: ['x', 'g'], outputs: ['y'], attrs: { mode: { string: 'linear' } } },
  ], { theta: [2, 2, 3], x: [2, 3, 5, 6] }, [i64('size', [2, 3, 4, 7])], 20);
});

/** Models with subgraphs, made with onnx's Python helpers (test/sparse has no subgraph writer); see each test for what they hold. */
const SUBGRAPH_MODELS: Record<string, string> = {
  if:
    'CAgSC3NjdWxwdC10ZXN0OqwDCiMKAXgSAnN4IglSZWR1Y2VTdW0qDwoIa2VlcGRpbXMYAKABAgoWCgJzeAoEemVybxIBYyIH' +
    'R3JlYXRlcgrzAQoBYxIBeSICSWYqSAoLZWxzZV9icmFuY2gyNgoZCgF4CgJzMAoCczEKAnMyEgFlIgVTbGljZRIEZWxzZWIT' +
    'CgFlEg4KDAgBEggKAggCCgIIA6ABBSqcAQoLdGhlbl9icmFuY2gyiQEKWBICY3ciCENvbnN0YW50KkgKBXZhbHVlKjwIBAgD' +
    'EAFCAmN3SjAAAIC/XXRRv7roIr8vuui+6aKLvowuur2MLro96aKLPi+66D666CI/XXRRPwAAgD+gAQQKEgoBeAoCY3cSAXQi' +
    'Bk1hdE11bBIEdGhlbmITCgF0Eg4KDAgBEggKAggCCgIIA6ABBRIBZyoOEAFCBHplcm9KBAAAAAAqEggBEAdCAnMwSggBAAAA' +
    'AAAAACoSCAEQB0ICczFKCAQAAAAAAAAAKhIIARAHQgJzMkoIAQAAAAAAAABaEwoBeBIOCgwIARIICgIIAgoCCARiEwoBeRIO' +
    'CgwIARIICgIIAgoCCANCBAoAEBE=',
  loop:
    'CAgSC3NjdWxwdC10ZXN0OvkDCrQCCgV0cmlwcwoEY29uZAoCYTASBWZpbmFsEgVzY2FucyIETG9vcCqMAgoEYm9keTKAAgoY' +
    'CgFpEgJmaSIEQ2FzdCoJCgJ0bxgBoAECChAKAXgKAmZpEgJ4aSIDTXVsChQKA2FjYwoCeGkSBGFjYzIiA0FkZAolCgRhY2My' +
    'EgFtIglSZWR1Y2VNYXgqDwoIa2VlcGRpbXMYAKABAgoUCgFtCgVsaW1pdBICYzIiBExlc3MKFgoEYWNjMhIEc2NhbiIISWRl' +
    'bnRpdHkSBGJvZHlaCwoBaRIGCgQIBxIAWgsKAWMSBgoECAkSAFoRCgNhY2MSCgoICAESBAoCCANiDAoCYzISBgoECAkSAGIS' +
    'CgRhY2MyEgoKCAgBEgQKAggDYhIKBHNjYW4SCgoICAESBAoCCAOgAQUKLAoFc2NhbnMKA2F4MBICc3MiCVJlZHVjZVN1bSoP' +
    'CghrZWVwZGltcxgAoAECChMKBWZpbmFsCgJzcxIBeSIDQWRkEgFnKhMQB0IFdHJpcHNKCAYAAAAAAAAAKgsQCUIEY29uZEoB' +
    'ASoPEAFCBWxpbWl0SgQAAABBKhMIARAHQgNheDBKCAAAAAAAAAAAWg8KAXgSCgoICAESBAoCCANaEAoCYTASCgoICAESBAoC' +
    'CANiDwoBeRIKCggIARIECgIIA0IECgAQEQ==',
  scan:
    'CAgSC3NjdWxwdC10ZXN0OqoDCvcBCgJzMAoBeBICc04SAnlzIgRTY2FuKnkKBGJvZHkybgoQCgFzCgJ4dBICczIiA0FkZAoQ' +
    'CgJzMgoCeHQSAW8iA011bBICc2JaDwoBcxIKCggIARIECgIIAloQCgJ4dBIKCggIARIECgIIAmIQCgJzMhIKCggIARIECgII' +
    'AmIPCgFvEgoKCAgBEgQKAggCoAEFKhYKD251bV9zY2FuX2lucHV0cxgBoAECKhYKD3NjYW5faW5wdXRfYXhlc0ABoAEHKhwK' +
    'FXNjYW5faW5wdXRfZGlyZWN0aW9uc0ABoAEHKhcKEHNjYW5fb3V0cHV0X2F4ZXNAAaABBwogCgJ5cxIEeXNmMCIHRmxhdHRl' +
    'bioLCgRheGlzGACgAQIKGQoEeXNmMAoDYXgwEgN5c2YiB1NxdWVlemUKIQoCc04KA3lzZhIBeSIGQ29uY2F0KgsKBGF4aXMY' +
    'AKABAhIBZyoTCAEQB0IDYXgwSggAAAAAAAAAAFoQCgJzMBIKCggIARIECgIIAloTCgF4Eg4KDAgBEggKAggCCgIIBWIPCgF5' +
    'EgoKCAgBEgQKAggMQgQKABAR',
  map:
    'CAgSC3NjdWxwdC10ZXN0OosDCiYKAXgSA3NlcSIPU3BsaXRUb1NlcXVlbmNlKgsKBGF4aXMYAKABAgqNAQoDc2VxCgFrEgZt' +
    'YXBwZWQiC1NlcXVlbmNlTWFwKm4KBGJvZHkyYwoRCgRpdGVtCgFrEgFwIgNNdWwKDAoBcBIBciIEUmVsdRICbWJaFgoEaXRl' +
    'bRIOCgwIARIICgIIAQoCCARaDwoBaxIKCggIARIECgIIBGITCgFyEg4KDAgBEggKAggBCgIIBKABBQogCgZtYXBwZWQKA29u' +
    'ZRICZXIiDVNlcXVlbmNlRXJhc2UKHQoCZXIKAmsyEgNpbnMiDlNlcXVlbmNlSW5zZXJ0CikKA2lucxIBeSISQ29uY2F0RnJv' +
    'bVNlcXVlbmNlKgsKBGF4aXMYAKABAhIBZyoREAdCA29uZUoIAQAAAAAAAABaEwoBeBIOCgwIARIICgIIAwoCCARaDwoBaxIK' +
    'CggIARIECgIIBFoUCgJrMhIOCgwIARIICgIIAQoCCARiEwoBeRIOCgwIARIICgIIAwoCCARCBAoAEBE=',
  fold:
    'CAg68gIKEQoBeAoBdxIBbSIGTWF0TXVsCgwKAW0SAXIiBFJlbHUKIwoBeBICc3giCVJlZHVjZVN1bSoPCghrZWVwZGltcxgA' +
    'oAECChYKAnN4CgR6ZXJvEgFjIgdHcmVhdGVyCocBCgFjEgFiIgJJZio/CgtlbHNlX2JyYW5jaDItChAKAW0SAWUiCElkZW50' +
    'aXR5EgRlbHNlYhMKAWUSDgoMCAESCAoCCAIKAggDoAEFKjoKC3RoZW5fYnJhbmNoMigKCwoBbRIBdCIDTmVnEgR0aGVuYhMK' +
    'AXQSDgoMCAESCAoCCAIKAggDoAEFCg4KAXIKAWISAXkiA0FkZBIBZyo7CAQIAxABQgF3SjAAAIC/XXRRv7roIr8vuui+6aKL' +
    'vowuur2MLro96aKLPi+66D666CI/XXRRPwAAgD8qDhABQgR6ZXJvSgQAAAAAWhMKAXgSDgoMCAESCAoCCAIKAggEYhMKAXkS' +
    'DgoMCAESCAoCCAIKAggDQgQKABAR',
  optional:
    'CAg6mQIKEQoBeBICb3giCE9wdGlvbmFsCisSBG5vbmUiCE9wdGlvbmFsKhkKBHR5cGVyDgoMCAESCAoCCAIKAggDoAENChwK' +
    'Am94EgJoMSIST3B0aW9uYWxIYXNFbGVtZW50Ch4KBG5vbmUSAmgyIhJPcHRpb25hbEhhc0VsZW1lbnQKGwoCb3gSAXYiEk9w' +
    'dGlvbmFsR2V0RWxlbWVudAoOCgJoMhIDbmgyIgNOb3QKFAoCaDEKA25oMhIEYm90aCIDQW5kChkKBGJvdGgKAXYKBHplcm8S' +
    'AXkiBVdoZXJlEgFnKg4QAUIEemVyb0oEAADgwFoTCgF4Eg4KDAgBEggKAggCCgIIA2ITCgF5Eg4KDAgBEggKAggCCgIIA0IE' +
    'CgAQEg==',
};
const model64 = (name: string) => Uint8Array.from(atob(SUBGRAPH_MODELS[name]), (ch) => ch.charCodeAt(0));

test('control flow, sequences and optionals against onnxruntime: If reading outer values (both branches), Loop with early exit and scan output, reverse Scan, SequenceMap, Optional*', async () => {
  // If: sum(x) > 0 ? x·W (W a Constant inside the branch) : x[:, 1:4].
  const x = Float32Array.from({ length: 8 }, (_, i) => i - 2);
  await checkModel('if-then', model64('if'), { x: { dims: [2, 4], data: x } });
  await checkModel('if-else', model64('if'), { x: { dims: [2, 4], data: x.map((v) => -v - 1) } });
  // Loop: acc += x·i for up to 6 trips, leaving once max(acc) ≥ 8; y = final acc + the sum of the per-trip accs.
  await checkModel('loop', model64('loop'), { x: { dims: [3], data: Float32Array.of(0.5, 1, 1.5) }, a0: [3] });
  // Scan: s += x[:, t] read from the end, emitting s·x[:, t] stacked on axis 1.
  await checkModel('scan', model64('scan'), { s0: [2], x: [2, 5] });
  // SplitToSequence → SequenceMap(relu(item·k)) → SequenceErase(1) → SequenceInsert(k2) → ConcatFromSequence.
  await checkModel('sequence-map', model64('map'), { x: [3, 4], k: [4], k2: [1, 4] });
  // Optional(x) has an element, an empty Optional has none: y = x where both hold, else −7.
  await checkModel('optional', model64('optional'), { x: [2, 3] });
  // m = x·W feeds a Relu and an If branch (outer scope): the Relu must not be folded into the
  // MatMul's kernel, or the branch would read relu(m).
  // This x sums below 0 (the else branch, Identity) and makes m negative in places.
  await checkModel('no-fold-past-subgraph', model64('fold'), { x: { dims: [2, 4], data: Float32Array.of(3, -1, 2, -4, -2, 1, -3, 0) } });
});

test('TfIdfVectorizer on integer tokens: TF, IDF and TFIDF with weights, unigrams and skip-bigrams', async () => {
  for (const mode of ['TF', 'IDF', 'TFIDF']) {
    await check(`tfidf-${mode}`, [
      { op: 'Mul', inputs: ['x', 'two'], outputs: ['x2'] },
      { op: 'Cast', inputs: ['x2'], outputs: ['tokens'], attrs: { to: { int: 7 } } },
      { op: 'TfIdfVectorizer', inputs: ['tokens'], outputs: ['y'], attrs: {
        mode: { string: mode }, min_gram_length: { int: 1 }, max_gram_length: { int: 2 }, max_skip_count: { int: 2 },
        ngram_counts: { ints: [0, 4] }, ngram_indexes: { ints: [0, 1, 2, 3, 4, 5, 6] }, pool_int64s: { ints: [0, 1, -1, 3, 0, 1, 1, -1, -2, 0] },
        weights: { floats: [0.5, 1, 2, 3, 0.25, 4, 1.5] },
      } },
    ], { x: [3, 12] }, [{ name: 'two', dims: [], data: Float32Array.of(2) }]);
  }
});

test('an unsupported operator is a SculptError naming it and suggesting onnxruntime', () => {
  const bytes = writeOnnx({
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'Bernoulli', inputs: ['r'], outputs: ['y'], name: 'coin' }],
    initializers: [],
    inputs: [{ name: 'x', dims: [4] }],
    outputs: [{ name: 'y', dims: [1] }],
  });
  const graph = new OnnxModel('bernoulli.onnx', bytes).graph();
  // One line: the node, its op, the run command to use instead, and what bench can do.
  assert.throws(() => new SparseExecutor(graph, { engine: 'dense' }), (e: unknown) => e instanceof SculptError && !e.message.includes('\n')
    && /node coin \(Bernoulli\)/.test(e.message) && /sculpt run --engine onnxruntime/.test(e.message) && /sculpt bench/.test(e.message));
  const sneaky = new OnnxModel('tostring.onnx', writeOnnx({ nodes: [{ op: 'toString', inputs: ['x'], outputs: ['y'] }], initializers: [], inputs: [{ name: 'x', dims: [1] }], outputs: [{ name: 'y' }] })).graph();
  assert.throws(() => new SparseExecutor(sneaky, { engine: 'dense' }), (e: unknown) => e instanceof SculptError && /toString/.test(e.message));
  assert.ok(supportedOps().includes('Conv') && supportedOps().includes('Softmax') && !supportedOps().includes('Bernoulli'));
});

test('runaway sizes are refused before allocating, in one line naming the node: pooling work, ConvTranspose pads, Upsample, maxTensorBytes', () => {
  const refuses = (spec: { nodes: NodeSpec[]; initializers?: TensorSpec[] }, dims: number[], pattern: RegExp, options = {}) => {
    const graph = new OnnxModel('m.onnx', writeOnnx({ nodes: spec.nodes, initializers: spec.initializers ?? [], inputs: [{ name: 'x', dims }], outputs: [{ name: 'y' }] })).graph();
    const x: Tensor = { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
    assert.throws(() => new SparseExecutor(graph, { engine: 'sparse', ...options }).run({ x }), (e: unknown) => e instanceof SculptError && !e.message.includes('\n') && pattern.test(e.message), pattern.source);
  };
  // 1 × 8 × 4 × 32769 outputs, each visiting 2 × 20000 taps: 4·10^10, over the 2^31 allowed.
  refuses({ nodes: [{ op: 'MaxPool', name: 'pool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [2, 20000] }, strides: { ints: [2, 2] } } }] }, [1, 8, 8, 85536], /node pool \(MaxPool\) would visit 4\.\d+e\+10 window taps/);
  // A pad larger than the output: a negative output size, refused (was a RangeError).
  refuses({ nodes: [{ op: 'ConvTranspose', name: 'up', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: { ints: [0, 9, 0, 9] } } }], initializers: [f32('w', [2, 2, 3, 3])] }, [1, 2, 4, 4], /node up \(ConvTranspose\) output would be \[6, -12\]/);
  refuses({ nodes: [{ op: 'ConvTranspose', name: 'up', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [0, 1] } } }], initializers: [f32('w', [2, 2, 3, 3])] }, [1, 2, 4, 4], /node up \(ConvTranspose\) has strides \[0, 1\]/);
  // 40000× upsampling to [1, 2, 160000, 160000]: over 512 MiB, refused before the taps are built.
  refuses({ nodes: [{ op: 'Upsample', name: 'big', inputs: ['x'], outputs: ['y'], attrs: { scales: { floats: [1, 1, 40000, 40000] } } }] }, [1, 2, 4, 4], /node big \(Upsample\) output \[1, 2, 160000, 160000\] needs 190\.7 GiB, over the 512\.0 MiB/);
  // A caller's lower budget: a 2 MiB Conv output is refused at 1 MiB.
  refuses({ nodes: [{ op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['y'] }], initializers: [f32('w', [8, 1, 1, 1])] }, [1, 1, 256, 256], /node c \(Conv\) output \[1, 8, 256, 256\] needs 2\.0 MiB, over the 1\.0 MiB/, { maxTensorBytes: 2 ** 20 });
});

test('erf matches tabulated values to 1e-12 on both sides of the series/continued-fraction switch', () => {
  const table: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [4, 0.9999999845827421], [-1.5, -0.9661051464753108]];
  for (const [x, v] of table) assert.ok(Math.abs(erf(x) - v) < 1e-12, `erf(${x}) = ${erf(x)}, expected ${v}`);
  assert.ok(Math.abs(erf(2.9999999) - erf(3.0000001)) < 1e-9);
});

test('unsigned integers keep their type and width through BitShift, BitwiseNot and Max (uint8/uint16/uint32 wrap on a left shift)', async () => {
  const { OPS } = await import('../../src/sparse/ops.js');
  const node = (opType: string, direction?: string) => ({ name: 'n', opType, inputs: ['x', 'y'], outputs: ['z'], domain: '', attributes: new Map(direction ? [['direction', direction]] : []) });
  const u = (intType: Tensor['intType'], values: number[]): Tensor => ({ dtype: 'int64', dims: [values.length], data: Float64Array.from(values), intType });
  const shift = (intType: Tensor['intType'], x: number[], y: number[], direction = 'LEFT') => {
    const n = node('BitShift', direction);
    const [z] = OPS.BitShift([u(intType, x), u(intType, y)], n.attributes, n);
    return [z.intType, ...Array.from(z.data)];
  };
  assert.deepEqual(shift('uint8', [200, 1, 3], [1, 7, 8]), ['uint8', 144, 128, 0]);
  assert.deepEqual(shift('uint16', [0xffff, 1], [4, 15]), ['uint16', 0xfff0, 0x8000]);
  assert.deepEqual(shift('uint32', [0x80000001, 16], [1, 2]), ['uint32', 2, 64]);
  assert.deepEqual(shift('uint64', [2 ** 52, 3], [1, 62]), ['uint64', 2 ** 53, 2 ** 63 + 2 ** 62]);
  assert.deepEqual(shift('uint16', [0xffff, 5], [4, 1], 'RIGHT'), ['uint16', 0x0fff, 2]);
  const not = node('BitwiseNot');
  assert.deepEqual(Array.from(OPS.BitwiseNot([u('uint16', [0, 1])], not.attributes, not)[0].data), [65535, 65534]);
  const max = node('Max');
  const [m] = OPS.Max([u('uint32', [4294967295, 1]), u('uint32', [3, 2])], max.attributes, max);
  assert.deepEqual([m.intType, ...Array.from(m.data)], ['uint32', 4294967295, 2]);
});

test('Add, Sub, Mul and Div by rows, columns, scalars and general broadcasts equal onnxruntime (both operand orders)', async () => {
  // [R, L]-structured broadcasts take sculpt's monomorphic loops; [3, 1] against [1, 4] and a
  // middle-axis [1, 3, 1] take the general path: all must agree with onnxruntime.
  const shapes: [number[], number[]][] = [
    [[2, 3, 5], [2, 3, 5]], [[2, 3, 5], [5]], [[2, 3, 5], [1, 1, 5]], [[2, 3, 5], [2, 3, 1]], [[2, 3, 5], [3, 1]],
    [[2, 3, 5], [1]], [[2, 3, 5], []], [[3, 1], [1, 4]], [[2, 3, 5], [1, 3, 1]], [[1, 1], [1, 1]], [[4, 0], [1]],
  ];
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const [p, q] of shapes) {
      for (const [da, db] of [[p, q], [q, p]]) {
        await check(`${op} ${JSON.stringify(da)} ${JSON.stringify(db)}`, [{ op, inputs: ['a', 'b'], outputs: ['y'] }], { a: da, b: db });
      }
    }
  }
});

test('erf32 (the Erf and Gelu kernels) is within 2e-7 relative of the double-precision erf on a grid over [-8, 8] and tiny arguments', async () => {
  const { erf32 } = await import('../../src/core/erf.js');
  let worst = 0;
  const xs = [...Array.from({ length: 16001 }, (_, i) => -8 + i * 1e-3), 1e-30, -1e-20, 1e-10, 3e-8, 0.4999999, 0.5, 0.5000001];
  for (const x of xs) {
    const ref = erf(x);
    const rel = ref === 0 ? Math.abs(erf32(x)) : Math.abs(erf32(x) - ref) / Math.abs(ref);
    worst = Math.max(worst, rel);
  }
  assert.ok(worst < 2e-7, `worst relative error ${worst}`);
  assert.equal(erf32(0), 0);
  assert.equal(erf32(-2), -erf32(2));
});

test('MatMul of two activations (attention\'s Q·Kᵀ and P·V shapes, broadcast batches, widths not a multiple of 4) equals onnxruntime', async () => {
  // Blocks of at least 4096 multiply-adds run on the WebAssembly kernel, smaller ones in JavaScript.
  const shapes: [number[], number[]][] = [
    [[1, 4, 32, 16], [1, 4, 16, 32]], [[2, 3, 20, 17], [2, 3, 17, 30]], [[1, 3, 16, 33], [2, 1, 33, 7]],
    [[40, 64], [64, 13]], [[3, 5], [5, 2]], [[2, 64, 64], [64, 1]],
  ];
  for (const [da, db] of shapes) {
    await check(`MatMul ${JSON.stringify(da)} ${JSON.stringify(db)}`, [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], { a: da, b: db });
  }
});

test('Conv and pooling at image sizes (column tiles, windows at the borders and inside, strides 1 and 2) equal onnxruntime; auto records each Conv\'s positions', async () => {
  // 288 taps × 4480 positions: X^T (5.2 MB) spans several column tiles (kernels.ts TILE_BYTES, DENSE_TILE_BYTES).
  await check('conv-image', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: { ints: [1, 1, 1, 1] } } }],
    { x: [1, 32, 64, 70] }, [f32('w', [32, 32, 3, 3], 0.8), f32('b', [32])]);
  await check('conv-image-strided', [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [2, 2] }, dilations: { ints: [2, 1] }, pads: { ints: [2, 0, 1, 3] } } }],
    { x: [2, 8, 33, 30] }, [f32('w', [16, 8, 3, 3], 0.5)]);
  const pools: [string, Record<string, { ints: number[] } | { int: number }>, number[]][] = [
    ['maxpool-resnet', { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } }, [1, 8, 37, 41]],
    ['maxpool-stride1', { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } }, [1, 4, 20, 23]],
    ['maxpool-2x2', { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }, [2, 3, 16, 18]],
    ['maxpool-dilated-ceil', { kernel_shape: { ints: [2, 3] }, strides: { ints: [2, 3] }, dilations: { ints: [2, 2] }, ceil_mode: { int: 1 } }, [1, 3, 19, 29]],
    ['maxpool-stride3', { kernel_shape: { ints: [3, 3] }, strides: { ints: [3, 3] }, pads: { ints: [0, 2, 1, 0] } }, [1, 2, 25, 31]],
  ];
  for (const [name, attrs, dims] of pools) await check(name, [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs }], { x: dims });
  await check('avgpool-image', [{ op: 'AveragePool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, count_include_pad: { int: 1 } } }], { x: [1, 8, 37, 41] });
  // MobileNet's blocks: a depthwise Conv (one group per channel, merged into one block-diagonal
  // kernel under 'sparse'), strided, then ReLU6 as Clip(0, 6) with constant inputs (folded into the kernel).
  const six = [{ name: 'lo', dims: [], data: Float32Array.of(0) }, { name: 'hi', dims: [], data: Float32Array.of(6) }];
  await check('depthwise-relu6', [
    { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { group: { int: 12 }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } },
    { op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['y'] },
  ], { x: [1, 12, 29, 31] }, [f32('w', [12, 1, 3, 3], 0.6), f32('b', [12]), ...six]);
  await check('pointwise-relu6', [
    { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
    { op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['y'] },
  ], { x: [1, 16, 20, 20] }, [f32('w', [24, 16, 1, 1], 0.5), ...six]);
  await check('grouped-conv', [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { group: { int: 4 }, pads: { ints: [0, 1, 2, 0] }, dilations: { ints: [1, 2] } } }],
    { x: [2, 8, 17, 19] }, [f32('w', [12, 2, 3, 3], 0.7), f32('b', [12])]);
  // Under 'auto' a Conv's kernel is chosen at the first run, for its real output positions.
  const bytes = writeOnnx({
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: { ints: [1, 1, 1, 1] } } }],
    initializers: [f32('w', [32, 16, 3, 3], 0.9)], opset: 17, inputs: [{ name: 'x', dims: [2, 16, 40, 37] }], outputs: [{ name: 'y' }],
  });
  const ex = new SparseExecutor(new OnnxModel('conv-auto.onnx', bytes).graph(), { engine: 'auto' });
  assert.equal(ex.layers.length, 0);
  ex.run({ x: { dtype: 'float32', dims: [2, 16, 40, 37], data: randn(2 * 16 * 40 * 37) } });
  assert.deepEqual(ex.layers.map((l) => [l.rows, l.cols, l.columns, l.calls]), [[32, 144, 40 * 37, 2]]);
});
