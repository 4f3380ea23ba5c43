/**
 * The executor's operators other than the weight-carrying MatMul/Gemm/Conv (executor.ts), by ONNX
 * op type: elementwise maths (ops-elementwise.ts), reductions, normalisation and pooling
 * (ops-nn.ts) and shape operators (ops-shape.ts). Each is a pure function of inputs and attributes.
 */
import { attrFloat, attrInt, type OpFn } from './ops-common.js';
import { binary, clip, gelu, identity, leakyRelu, logicalNot, prelu, unary, variadic, withAttrs, erf } from './ops-elementwise.js';
import { batchNorm, globalAveragePool, layerNorm, pool, reduce, softmax } from './ops-nn.js';
import {
  argMax, cast, concat, constant, constantOfShape, expand, flatten, gather, pad, range, reshape, shape, slice, split, squeeze, tile, transpose, unsqueeze, where,
} from './ops-shape.js';

export { attrFloat, attrInt, attrInts, need, type Attrs, type OpFn } from './ops-common.js';
export { broadcastDims, erf } from './ops-elementwise.js';
export { resolvePads, spatialOut } from './ops-nn.js';
export { transposeTensor } from './ops-shape.js';

export const OPS: Readonly<Record<string, OpFn>> = {
  Add: binary((x, y) => x + y),
  Sub: binary((x, y) => x - y),
  Mul: binary((x, y) => x * y),
  Div: binary((x, y) => x / y, (x, y) => Math.trunc(x / y)),
  Pow: binary((x, y) => Math.pow(x, y)),
  Max: variadic((x, y) => Math.max(x, y)),
  Min: variadic((x, y) => Math.min(x, y)),
  Equal: binary((x, y) => (x === y ? 1 : 0), undefined, true),
  Less: binary((x, y) => (x < y ? 1 : 0), undefined, true),
  Greater: binary((x, y) => (x > y ? 1 : 0), undefined, true),
  Relu: unary((x) => (x > 0 ? x : 0)),
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Reciprocal: unary((x) => 1 / x),
  Gelu: gelu,
  LeakyRelu: leakyRelu,
  Clip: clip,
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  ReduceMean: (i, a, n) => reduce(i, a, n, 'mean'),
  ReduceSum: (i, a, n) => reduce(i, a, n, 'sum'),
  ReduceMax: (i, a, n) => reduce(i, a, n, 'max'),
  ReduceMin: (i, a, n) => reduce(i, a, n, 'min'),
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalAveragePool,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Concat: concat,
  Gather: gather,
  Slice: slice,
  Expand: expand,
  Where: where,
  Cast: cast,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
  Shape: shape,
  Identity: identity,
  Dropout: identity,
  Elu: withAttrs((a) => { const alpha = attrFloat(a, 'alpha', 1); return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1)); }),
  Selu: withAttrs((a) => {
    const alpha = attrFloat(a, 'alpha', 1.6732632423543772), gamma = attrFloat(a, 'gamma', 1.0507009873554805);
    return (x) => gamma * (x > 0 ? x : alpha * (Math.exp(x) - 1));
  }),
  Softplus: unary((x) => (x > 20 ? x : Math.log1p(Math.exp(x)))),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  HardSigmoid: withAttrs((a) => { const al = attrFloat(a, 'alpha', 0.2), be = attrFloat(a, 'beta', 0.5); return (x) => Math.max(0, Math.min(1, al * x + be)); }),
  HardSwish: unary((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary((x) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r; }),
  Sign: unary(Math.sign),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  PRelu: prelu,
  Mod: (inputs, attrs, node) => (attrInt(attrs, 'fmod', 0) === 1 ? binary((x, y) => x % y) : binary((x, y) => x - Math.floor(x / y) * y))(inputs, attrs, node),
  Sum: variadic((x, y) => x + y),
  Mean: variadic((x, y) => x + y, true),
  And: binary((x, y) => (x && y ? 1 : 0), undefined, true),
  Or: binary((x, y) => (x || y ? 1 : 0), undefined, true),
  Not: logicalNot,
  Split: split,
  Pad: pad,
  Tile: tile,
  ArgMax: argMax,
};

