import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/rng.js';
import { SculptError } from '../../src/core/errors.js';
import { OnnxModel } from '../../src/formats/onnx.js';
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
async function check(what: string, nodes: NodeSpec[], inputs: Record<string, number[]>, initializers: TensorSpec[] = [], opset = 17): Promise<void> {
  const feeds: Record<string, ort.Tensor> = {};
  const ours: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> = {};
  for (const [name, dims] of Object.entries(inputs)) {
    const data = randn(dims.reduce((a, b) => a * b, 1));
    feeds[name] = new ort.Tensor('float32', data, dims);
    ours[name] = { dtype: 'float32', dims, data };
  }
  const spec: ModelSpec = {
    nodes, initializers, opset,
    inputs: Object.entries(inputs).map(([name, dims]) => ({ name, dims })),
    outputs: [{ name: 'y' }],
  };
  const bytes = writeOnnx(spec);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const ref = (await session.run(feeds)).y;
  await session.release();
  const graph = new OnnxModel(`${what}.onnx`, bytes).graph();
  for (const engine of ['sparse', 'dense'] as const) {
    const y = new SparseExecutor(graph, { engine }).run(ours).y;
    assert.deepEqual([...y.dims], [...ref.dims], `${what} (${engine}): dims`);
    const r = ref.data as ArrayLike<number | bigint>;
    let d = 0, m = 0;
    for (let i = 0; i < r.length; i++) {
      const e = Number(r[i]);
      d = Math.max(d, Math.abs(y.data[i] - e));
      m = Math.max(m, Math.abs(e));
    }
    assert.ok(d <= 1e-4 * Math.max(m, 1e-6), `${what} (${engine}): max difference ${d}, max |ref| ${m}`);
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

test('an unsupported operator is a SculptError naming it and suggesting onnxruntime', () => {
  const bytes = writeOnnx({
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'Unique', inputs: ['r'], outputs: ['y'], name: 'uniq' }],
    initializers: [],
    inputs: [{ name: 'x', dims: [4] }],
    outputs: [{ name: 'y', dims: [1] }],
  });
  const graph = new OnnxModel('unique.onnx', bytes).graph();
  // One line: the node, its op, the run command to use instead, and what bench can do.
  assert.throws(() => new SparseExecutor(graph, { engine: 'dense' }), (e: unknown) => e instanceof SculptError && !e.message.includes('\n')
    && /node uniq \(Unique\)/.test(e.message) && /sculpt run --engine onnxruntime/.test(e.message) && /sculpt bench/.test(e.message));
  const sneaky = new OnnxModel('tostring.onnx', writeOnnx({ nodes: [{ op: 'toString', inputs: ['x'], outputs: ['y'] }], initializers: [], inputs: [{ name: 'x', dims: [1] }], outputs: [{ name: 'y' }] })).graph();
  assert.throws(() => new SparseExecutor(sneaky, { engine: 'dense' }), (e: unknown) => e instanceof SculptError && /toString/.test(e.message));
  assert.ok(supportedOps().includes('Conv') && supportedOps().includes('Softmax') && !supportedOps().includes('Unique'));
});

test('erf matches tabulated values to 1e-12 on both sides of the series/continued-fraction switch', () => {
  const table: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [4, 0.9999999845827421], [-1.5, -0.9661051464753108]];
  for (const [x, v] of table) assert.ok(Math.abs(erf(x) - v) < 1e-12, `erf(${x}) = ${erf(x)}, expected ${v}`);
  assert.ok(Math.abs(erf(2.9999999) - erf(3.0000001)) < 1e-9);
});
