/**
 * Quantized ONNX weights, as onnxruntime's quantizers write them: an int8/uint8 initializer read
 * through `DequantizeLinear` (QDQ models), or the weight input of `QLinearMatMul`/`QLinearConv`
 * (QOperator models) or of `MatMulInteger`/`ConvInteger` (dynamic quantization). sculpt prunes them
 * in the quantized domain: values are ranked and counted dequantized, `(q − zero_point)·scale`, and
 * a pruned weight is stored as its zero point, which dequantizes to exactly 0.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode, GraphTensor } from '../core/graph.js';
import { shapeText } from '../core/limits.js';
import { numel } from '../core/types.js';
import { printable } from './printable.js';

export interface QuantParams {
  /** Per-tensor (length 1) or per-channel scales along `axis`. */
  readonly scale: Float32Array;
  /** Zero points, as many as scales (0 when the model gives none). */
  readonly zeroPoint: Int32Array;
  /** Axis of per-channel parameters (ignored when per-tensor). */
  readonly axis: number;
  readonly signed: boolean;
  /** Which node reads the weight, for messages and `inspect`. */
  readonly via: string;
  /**
   * MatMulInteger/ConvInteger carry no weight scale (it is multiplied in after the op): values are
   * then codes minus zero point, comparable within the tensor but not with other tensors.
   */
  readonly unscaled: boolean;
}

const INT8 = 3;
const UINT8 = 2;

/** Input positions of the weight, its scale and its zero point, per consuming op. */
const WEIGHT_INPUTS: Readonly<Record<string, { weight: number; scale: number | undefined; zeroPoint: number; channelAxis: (rank: number) => number }>> = {
  DequantizeLinear: { weight: 0, scale: 1, zeroPoint: 2, channelAxis: () => 1 },
  QLinearMatMul: { weight: 3, scale: 4, zeroPoint: 5, channelAxis: (rank) => rank - 1 },
  QLinearConv: { weight: 3, scale: 4, zeroPoint: 5, channelAxis: () => 0 },
  MatMulInteger: { weight: 1, scale: undefined, zeroPoint: 3, channelAxis: (rank) => rank - 1 },
  ConvInteger: { weight: 1, scale: undefined, zeroPoint: 3, channelAxis: () => 0 },
};

/** Whether `node` reads input `index` as a quantized weight whose parameters it names. */
export function isQuantizedWeightInput(node: GraphNode, index: number): boolean {
  const spec = WEIGHT_INPUTS[node.opType];
  return spec !== undefined && (node.domain === '' || node.domain === 'ai.onnx' || node.domain === 'com.microsoft') && spec.weight === index;
}

/**
 * Quantization parameters of every int8/uint8 stored tensor read as a quantized weight.
 * `constant(name)` gives a stored tensor's values (initializer or Constant node), if it is one.
 */
export function quantizedWeights(
  nodes: readonly GraphNode[],
  tensors: readonly { readonly name: string; readonly dataType: number; readonly dims: readonly number[] }[],
  constant: (name: string) => GraphTensor | undefined,
  file: string,
): Map<string, QuantParams> {
  const candidates = new Map(tensors.filter((t) => t.dataType === INT8 || t.dataType === UINT8).map((t) => [t.name, t]));
  const out = new Map<string, QuantParams>();
  if (candidates.size === 0) return out;
  for (const node of nodes) {
    const spec = WEIGHT_INPUTS[node.opType];
    if (!spec) continue;
    const t = candidates.get(node.inputs[spec.weight] ?? '');
    if (!t || out.has(t.name)) continue;
    const rank = t.dims.length;
    const scaleT = spec.scale === undefined ? undefined : constant(node.inputs[spec.scale] ?? '');
    if (spec.scale !== undefined && !scaleT) continue; // a scale computed at run time: not a stored weight's
    const zpName = node.inputs[spec.zeroPoint] ?? '';
    const zpT = zpName === '' ? undefined : constant(zpName);
    if (zpName !== '' && !zpT) continue;
    const scale = scaleT ? Float32Array.from(scaleT.data as Float32Array) : Float32Array.of(1);
    const channels = Math.max(scale.length, zpT ? numel(zpT.dims) : 1);
    const zeroPoint = new Int32Array(channels);
    if (zpT) for (let i = 0; i < channels; i++) zeroPoint[i] = Number((zpT.data as Int8Array)[zpT.data.length === 1 ? 0 : i]);
    const attrAxis = node.attributes.get('axis');
    let axis = node.opType === 'DequantizeLinear' && typeof attrAxis === 'number' ? attrAxis : spec.channelAxis(rank);
    if (axis < 0) axis += rank;
    if (node.attributes.get('block_size') !== undefined && node.attributes.get('block_size') !== 0) {
      throw new SculptError(`${file}: weight ${t.name} is block-quantized (DequantizeLinear block_size), which sculpt cannot prune yet; exclude it with --exclude ${t.name}`);
    }
    if (channels > 1 && (axis >= rank || t.dims[axis] !== channels || (scale.length !== 1 && scale.length !== channels))) {
      throw new SculptError(`${file}: weight ${printable(t.name)} has ${channels} quantization channels, which do not match axis ${axis} of its shape ${shapeText(t.dims)}; the model is malformed`);
    }
    for (let i = 0; i < scale.length; i++) {
      if (!(scale[i] > 0) || !Number.isFinite(scale[i])) {
        throw new SculptError(`${file}: weight ${t.name} has quantization scale ${scale[i]} (channel ${i}); scales must be positive and finite`);
      }
    }
    out.set(t.name, { scale, zeroPoint, axis, signed: t.dataType === INT8, via: node.opType, unscaled: spec.scale === undefined });
  }
  return out;
}

/** Per-element channel index function for a tensor of shape `dims` quantized along `axis`. */
function channelOf(dims: readonly number[], q: QuantParams): (i: number) => number {
  const channels = Math.max(q.scale.length, q.zeroPoint.length);
  if (channels === 1) return () => 0;
  let inner = 1;
  for (let d = q.axis + 1; d < dims.length; d++) inner *= dims[d];
  const n = dims[q.axis];
  return (i) => Math.floor(i / inner) % n;
}

/** Dequantized values `(q − zp)·scale` of integer codes. */
export function dequantize(codes: Int8Array | Uint8Array, dims: readonly number[], q: QuantParams): Float32Array {
  const out = new Float32Array(codes.length);
  const ch = channelOf(dims, q);
  const oneScale = q.scale.length === 1;
  const oneZp = q.zeroPoint.length === 1;
  for (let i = 0; i < codes.length; i++) {
    const c = ch(i);
    out[i] = (codes[i] - q.zeroPoint[oneZp ? 0 : c]) * q.scale[oneScale ? 0 : c];
  }
  return out;
}

/**
 * New codes for `values`: elements whose value is unchanged keep their code, a zero becomes the
 * zero point exactly, anything else is rounded to the nearest code (clamped to the type's range).
 * Returns the largest absolute difference between a requested value and what the new code means.
 */
export function requantize(values: Float32Array, codes: Int8Array | Uint8Array, dims: readonly number[], q: QuantParams): number {
  const old = dequantize(codes, dims, q);
  const ch = channelOf(dims, q);
  const lo = q.signed ? -128 : 0;
  const hi = q.signed ? 127 : 255;
  let maxError = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Object.is(old[i], v)) continue;
    const c = ch(i);
    const zp = q.zeroPoint[q.zeroPoint.length === 1 ? 0 : c];
    const s = q.scale[q.scale.length === 1 ? 0 : c];
    const code = v === 0 ? zp : Math.min(hi, Math.max(lo, Math.round(v / s) + zp));
    codes[i] = code;
    maxError = Math.max(maxError, Math.abs((code - zp) * s - v));
  }
  return maxError;
}
