// The shape arithmetic exporters write around a Reshape (Shape → Gather → Unsqueeze → Concat)
// depends on the inputs' dims only: the executor keeps its values from the last run with the same
// dims and does not compute them again (executor shapeOnly). Checked against onnxruntime with the
// dims changing between runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { GraphNode } from '../../src/core/graph.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { encodeOnnx } from '../../src/formats/onnx-build.js';
import { SparseExecutor } from '../../src/sparse/executor.js';

const int64 = (name: string, values: number[], dims = [values.length]) => ({ name, dims, data: BigInt64Array.from(values.map(BigInt)) });

// x [B, S, 8] → heads [B, S, 2, 4] by a shape computed from x's; plus a ConstantOfShape too large
// to keep, and a graph output that is x's shape.
const bytes = encodeOnnx({
  opset: 17,
  inputs: [{ name: 'x', dims: ['b', 's', 8] }],
  outputs: [{ name: 'y' }, { name: 'z' }, { name: 'shape', elemType: 7 }],
  initializers: [int64('i0', [0], []), int64('i1', [1], []), int64('axes', [0]), int64('heads', [2, 4]), int64('big', [64, 80])],
  nodes: [
    { op: 'Shape', inputs: ['x'], outputs: ['s'] },
    { op: 'Gather', inputs: ['s', 'i0'], outputs: ['b'], attrs: { axis: { int: 0 } } },
    { op: 'Gather', inputs: ['s', 'i1'], outputs: ['n'], attrs: { axis: { int: 0 } } },
    { op: 'Unsqueeze', inputs: ['b', 'axes'], outputs: ['b1'] },
    { op: 'Unsqueeze', inputs: ['n', 'axes'], outputs: ['n1'] },
    { op: 'Concat', inputs: ['b1', 'n1', 'heads'], outputs: ['target'], attrs: { axis: { int: 0 } } },
    { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
    { op: 'ConstantOfShape', inputs: ['big'], outputs: ['c'], attrs: { value: { tensor: { name: 'v', dims: [1], data: Float32Array.of(0.5) } } } },
    { op: 'ReduceSum', inputs: ['c'], outputs: ['z'], attrs: { keepdims: { int: 0 } } },
    { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
  ],
});

test('shape arithmetic (Shape, Gather, Unsqueeze, Concat) runs once per input dims: kept while they stay, computed again when they change; large values and graph outputs are not kept; onnxruntime agrees', async () => {
  const graph = new OnnxModel('shapes.onnx', bytes).graph();
  const ex = new SparseExecutor(graph, {});
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const ran = (timings: Map<GraphNode, number>) => graph.nodes.filter((n) => timings.has(n)).map((n) => n.outputs[0]);
  const shapeNodes = ['s', 'b', 'n', 'b1', 'n1', 'target'];
  try {
    for (const [i, dims] of [[2, 3, 8], [2, 3, 8], [1, 5, 8], [1, 5, 8], [2, 3, 8]].entries()) {
      const data = Float32Array.from({ length: dims[0] * dims[1] * 8 }, (_, j) => j * 0.25 - i);
      const timings = new Map<GraphNode, number>();
      const out = ex.run({ x: { dtype: 'float32', dims, data } }, { timings });
      const ref = await session.run({ x: new ort.Tensor('float32', data, dims) });
      assert.deepEqual(out.y.dims, [...ref.y.dims], `run ${i}`);
      assert.deepEqual(out.y.data, ref.y.data, `run ${i}`);
      assert.equal(out.z.data[0], (ref.z.data as Float32Array)[0]);
      assert.deepEqual(Array.from(out.shape.data), Array.from(ref.shape.data as BigInt64Array, Number));
      // The first run with these dims computes the shape nodes; the next one keeps them. The
      // Reshape (it reads x), the 5120-element ConstantOfShape and the graph output run each time.
      const fresh = i === 0 || i === 2 || i === 4;
      assert.deepEqual(ran(timings), fresh ? [...shapeNodes, 'y', 'c', 'z', 'shape'] : ['y', 'c', 'z', 'shape'], `run ${i}`);
      // A caller changing an output changes nothing the next run reads.
      out.shape.data.fill(0);
    }
  } finally {
    await session.release();
  }
});

test('a feed the graph does not take is refused in one line: an initializer listed as an input (IR < 4 lists each), a name the model lacks', () => {
  const model = encodeOnnx({
    opset: 17,
    inputs: [{ name: 'x', dims: [2, 3] }, { name: 'pad', dims: [1], elemType: 7 }],
    outputs: [{ name: 'z' }],
    initializers: [int64('pad', [1])],
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Add', inputs: ['s', 'pad'], outputs: ['t'] },
      { op: 'ConstantOfShape', inputs: ['t'], outputs: ['c'], attrs: { value: { tensor: { name: 'v', dims: [1], data: Float32Array.of(1) } } } },
      { op: 'ReduceSum', inputs: ['c'], outputs: ['z'], attrs: { keepdims: { int: 0 } } },
    ],
  });
  const ex = new SparseExecutor(new OnnxModel('pad.onnx', model).graph(), {});
  const x = { dtype: 'float32' as const, dims: [2, 3], data: new Float32Array(6) };
  // (2 + 1) · (3 + 1) ones: the initializer's value.
  assert.equal(ex.run({ x }).z.data[0], 12);
  const pad = { dtype: 'int64' as const, dims: [1], data: Float64Array.of(2) };
  assert.throws(() => ex.run({ x, pad }), /^SculptError: sparse executor: pad is an initializer of the model, fixed when it is loaded: sculpt takes no value for it \(the model's inputs: x\)$/);
  assert.throws(() => ex.run({ x, y: x }), /^SculptError: sparse executor: the model has no input y \(its inputs: x\)$/);
});
