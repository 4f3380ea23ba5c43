/**
 * The executor's operators other than the weight-carrying MatMul/Gemm/Conv (executor.ts), by ONNX
 * op type, one file per concern: elementwise maths (ops-elementwise), softmax and window geometry
 * (ops-nn), reductions (ops-reduce), normalisation (ops-norm), pooling (ops-pool), ConvTranspose
 * and im2col (ops-conv), Resize (ops-resize), recurrent cells (ops-recurrent), control flow
 * (ops-control), Einsum (ops-einsum), indexing (ops-index), shape operators (ops-shape), losses
 * (ops-loss), quantized ops (ops-quant), detector tails (ops-detect), signal processing
 * (ops-signal), sequences and optionals (ops-sequence) and TfIdfVectorizer (ops-text). Each is
 * a function of inputs, attributes and the opset/subgraph context.
 */
import { attrFloat, attrInt, type OpFn } from './ops-common.js';
import { ifOp, loop, scan } from './ops-control.js';
import { convTranspose } from './ops-conv.js';
import { affineGrid, gridSample, nonMaxSuppression, roiAlign } from './ops-detect.js';
import { einsum } from './ops-einsum.js';
import { arithmetic, binary, bitShift, bitwise, bitwiseNot, clip, exp, gelu, identity, leakyRelu, logicalNot, prelu, relu, test, unary, variadic, withAttrs, erfOp, vectorSized } from './ops-elementwise.js';
import {
  compress, depthToSpace, det, eyeLike, gatherElements, gatherND, nonZero, oneHot, reverseSequence, scatterElements, scatterND, sizeOp, spaceToDepth, topK, trilu, unique,
} from './ops-index.js';
import { negativeLogLikelihoodLoss, softmaxCrossEntropyLoss } from './ops-loss.js';
import { softmax } from './ops-nn.js';
import { batchNorm, groupNorm, instanceNorm, layerNorm, lrn, meanVarianceNorm } from './ops-norm.js';
import { globalPool, maxUnpool, pool } from './ops-pool.js';
import { convInteger, dequantizeLinear, dynamicQuantizeLinear, matMulInteger, qlinearConv, qlinearMatMul, quantizeLinear } from './ops-quant.js';
import { gru, lstm, rnn } from './ops-recurrent.js';
import { resize, upsample } from './ops-resize.js';
import { concatFromSequence, optional, optionalGetElement, optionalHasElement, sequenceAt, sequenceConstruct, sequenceEmpty, sequenceErase, sequenceInsert, sequenceLength, sequenceMap, splitToSequence } from './ops-sequence.js';
import { tfIdfVectorizer } from './ops-text.js';
import { softmaxScaledRows } from './ops-vector.js';
import { floatTensor, size } from './tensor.js';
import { blackmanWindow, dft, hammingWindow, hannWindow, melWeightMatrix, stft } from './ops-signal.js';
import { argExtreme, cumSum, hardmax, reduce } from './ops-reduce.js';
import {
  cast, castLike, centerCropPad, concat, constant, constantOfShape, dropout, expand, flatten, gather, pad, range, reshape, shape, slice, split, squeeze, tile, transpose, unsqueeze, where,
} from './ops-shape.js';

export { at, attrFloat, attrInt, attrInts, need, nodeLabel, type Attrs, type OpContext, type OpFn } from './ops-common.js';
export { broadcastDims, erf } from './ops-elementwise.js';
export { resolvePads, spatialOut } from './ops-nn.js';
export { transposeTensor } from './ops-shape.js';

export const OPS: Readonly<Record<string, OpFn>> = {
  Add: arithmetic('add'),
  Xor: binary((x, y) => (!x !== !y ? 1 : 0), undefined, true),
  BitShift: bitShift,
  GreaterOrEqual: binary((x, y) => (x >= y ? 1 : 0), undefined, true),
  LessOrEqual: binary((x, y) => (x <= y ? 1 : 0), undefined, true),
  Sub: arithmetic('sub'),
  Mul: arithmetic('mul'),
  Div: arithmetic('div', (x, y) => Math.trunc(x / y)),
  Pow: binary((x, y) => Math.pow(x, y), undefined, false, true),
  Max: variadic((x, y) => Math.max(x, y)),
  Min: variadic((x, y) => Math.min(x, y)),
  Equal: binary((x, y) => (x === y ? 1 : 0), undefined, true),
  Less: binary((x, y) => (x < y ? 1 : 0), undefined, true),
  Greater: binary((x, y) => (x > y ? 1 : 0), undefined, true),
  Relu: relu,
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary(Math.tanh),
  Erf: erfOp,
  Exp: exp,
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt),
  Neg: unary((x) => -x, true),
  Abs: unary(Math.abs, true),
  Tan: unary(Math.tan),
  Asin: unary(Math.asin),
  Acos: unary(Math.acos),
  Atan: unary(Math.atan),
  Sinh: unary(Math.sinh),
  Cosh: unary(Math.cosh),
  Asinh: unary(Math.asinh),
  Acosh: unary(Math.acosh),
  Atanh: unary(Math.atanh),
  IsNaN: test(Number.isNaN),
  IsInf: test(() => false, (a) => {
    const pos = attrInt(a, 'detect_positive', 1) === 1, neg = attrInt(a, 'detect_negative', 1) === 1;
    return (x) => (x === Infinity && pos) || (x === -Infinity && neg);
  }),
  Celu: withAttrs((a) => { const alpha = attrFloat(a, 'alpha', 1); return (x) => Math.max(0, x) + Math.min(0, alpha * (Math.exp(x / alpha) - 1)); }),
  ThresholdedRelu: withAttrs((a) => { const alpha = attrFloat(a, 'alpha', 1); return (x) => (x > alpha ? x : 0); }),
  Shrink: (inputs, attrs, node) => {
    const bias = attrFloat(attrs, 'bias', 0), lambd = attrFloat(attrs, 'lambd', 0.5);
    return unary((x) => (x < -lambd ? x + bias : x > lambd ? x - bias : 0), true)(inputs, attrs, node);
  },
  Reciprocal: unary((x) => 1 / x),
  Gelu: gelu,
  LeakyRelu: leakyRelu,
  Clip: clip,
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  Hardmax: hardmax,
  ReduceMean: reduce('mean'),
  ReduceSum: reduce('sum'),
  ReduceMax: reduce('max'),
  ReduceMin: reduce('min'),
  ReduceProd: reduce('prod'),
  ReduceL1: reduce('l1'),
  ReduceL2: reduce('l2'),
  ReduceLogSum: reduce('logsum'),
  ReduceLogSumExp: reduce('logsumexp'),
  ReduceSumSquare: reduce('sumsquare'),
  ArgMax: argExtreme(true),
  ArgMin: argExtreme(false),
  CumSum: cumSum,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LRN: lrn,
  MeanVarianceNormalization: meanVarianceNorm,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  LpPool: pool('lp'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  GlobalLpPool: globalPool('lp'),
  MaxUnpool: maxUnpool,
  NegativeLogLikelihoodLoss: negativeLogLikelihoodLoss,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropyLoss,
  GatherElements: gatherElements,
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  ScatterND: scatterND,
  GatherND: gatherND,
  OneHot: oneHot,
  Trilu: trilu,
  Compress: compress,
  NonZero: nonZero,
  TopK: topK,
  EyeLike: eyeLike,
  ReverseSequence: reverseSequence,
  Size: sizeOp,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  CastLike: castLike,
  ConvTranspose: convTranspose,
  Resize: resize,
  SequenceEmpty: sequenceEmpty,
  SequenceConstruct: sequenceConstruct,
  SequenceInsert: sequenceInsert,
  SequenceAt: sequenceAt,
  SequenceErase: sequenceErase,
  SequenceLength: sequenceLength,
  SplitToSequence: splitToSequence,
  ConcatFromSequence: concatFromSequence,
  SequenceMap: sequenceMap,
  TfIdfVectorizer: tfIdfVectorizer,
  Optional: optional,
  OptionalHasElement: optionalHasElement,
  OptionalGetElement: optionalGetElement,
  GroupNormalization: groupNorm,
  CenterCropPad: centerCropPad,
  Mish: unary((x) => x * Math.tanh(x > 20 ? x : Math.log1p(Math.exp(x)))),
  BitwiseAnd: binary(bitwise((x, y) => x & y, (x, y) => x & y)),
  BitwiseOr: binary(bitwise((x, y) => x | y, (x, y) => x | y)),
  BitwiseXor: binary(bitwise((x, y) => x ^ y, (x, y) => x ^ y)),
  BitwiseNot: bitwiseNot,
  HannWindow: hannWindow,
  HammingWindow: hammingWindow,
  BlackmanWindow: blackmanWindow,
  DFT: dft,
  STFT: stft,
  MelWeightMatrix: melWeightMatrix,
  NonMaxSuppression: nonMaxSuppression,
  RoiAlign: roiAlign,
  GridSample: gridSample,
  AffineGrid: affineGrid,
  Unique: unique,
  Det: det,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  ConvInteger: convInteger,
  QLinearMatMul: qlinearMatMul,
  QLinearConv: qlinearConv,
  If: ifOp,
  Loop: loop,
  Scan: scan,
  Einsum: einsum,
  LSTM: lstm,
  GRU: gru,
  RNN: rnn,
  Upsample: upsample,
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
  Dropout: dropout,
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
  Sign: unary(Math.sign, true),
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
};


/**
 * Where each flat row r of x (dims `xd`, rows along the last axis) finds its row of a mask of dims
 * `md` broadcast to it: mask row ⌊r / every⌋ (of maskRows), when the mask varies only along x's
 * leading axes (BERT's [batch, 1, 1, tokens] for scores [batch, heads, tokens, tokens]).
 * Undefined for any other broadcast (a causal mask [batch, 1, tokens, tokens], say).
 */
export function maskRowsOf(xd: readonly number[], md: readonly number[]): { every: number; maskRows: number } | undefined {
  const rank = xd.length;
  if (rank === 0 || md.length > rank || md[md.length - 1] !== xd[rank - 1]) return undefined;
  const m = [...new Array<number>(rank - md.length).fill(1), ...md];
  let lead = rank - 1;
  while (lead > 0 && m[lead - 1] === 1) lead--;
  for (let i = 0; i < lead; i++) if (m[i] !== xd[i]) return undefined;
  return { every: size(xd.slice(lead, rank - 1)), maskRows: size(m.slice(0, lead)) };
}

/**
 * Ops the executor fuses graph patterns into (executor.ts), by name. ScaledMaskedSoftmax
 * [x, divisor, mask]: Softmax over the last axis of x / divisor + mask, attention's scores as
 * exporters write them (Div by √d, Add of the mask, Softmax), in one pass when large and the mask
 * varies along x's leading axes only (maskRowsOf); else the three ops one after another. Each
 * float32 step as the ops take it: the same bits either way.
 */
export const FUSED_OPS: Readonly<Record<string, OpFn>> = {
  ScaledMaskedSoftmax: (inputs, attrs, node, ctx) => {
    const [x, d, mask] = inputs;
    const layout = x && mask ? maskRowsOf(x.dims, mask.dims) : undefined;
    if (x && d && mask && layout && x.dtype === 'float32' && mask.dtype === 'float32' && d.dtype === 'float32' && d.data.length === 1 && vectorSized(x.data.length)) {
      const n = x.dims[x.dims.length - 1];
      return [floatTensor(x.dims, softmaxScaledRows(x.data as Float32Array, x.data.length / n, n, d.data[0], mask.data as Float32Array, layout.every, layout.maskRows))];
    }
    const q = OPS.Div([x, d], new Map(), node, ctx)[0];
    const s = OPS.Add([q, mask], new Map(), node, ctx)[0];
    return OPS.Softmax([s], attrs, node, ctx);
  },
};
