/**
 * The executor's runtime values: float32 tensors, integer tensors (int64 and friends, held as
 * exact integers in a Float64Array: shapes and indices never approach 2^53) and booleans.
 */
import { SculptError } from '../core/errors.js';
import { formatBytes } from '../core/limits.js';
import type { GraphTensor, GraphValue } from '../core/graph.js';

export type DType = 'float32' | 'int64' | 'bool';

/** The ONNX integer types an int64-held tensor may stand for (uint64 exact only below 2^53). */
export type IntType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'uint64';

/** Smallest and largest value of each integer type (uint64's top is past 2^53, so not exact). */
export const INT_RANGE: Readonly<Record<IntType, readonly [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1], uint64: [0, 2 ** 64 - 1],
};

export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Uint8Array;
  /**
   * For int64-held tensors, the ONNX integer type they came as, where it matters (the range a
   * QuantizeLinear saturates to follows its zero point's type). Absent: int64.
   */
  readonly intType?: IntType;
  /** Set only on an ONNX sequence value (SequenceConstruct, SplitToSequence, …): its tensors, in order. */
  readonly items?: readonly Tensor[];
  /** An ONNX optional value: `items` holds its one value, or nothing when empty. */
  readonly optional?: true;
}

/** An optional value holding `v`, or an empty one. */
export function optionalOf(v: Tensor | undefined): Tensor {
  return { dtype: 'float32', dims: [], data: new Float32Array(0), items: v ? [v] : [], optional: true };
}

/** A sequence value: no data of its own, its tensors in `items`. */
export function sequence(items: readonly Tensor[]): Tensor {
  return { dtype: 'float32', dims: [items.length], data: new Float32Array(0), items };
}

export function isSequence(t: Tensor | undefined): boolean {
  return t !== undefined && t.items !== undefined;
}

export function size(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * Largest tensor the executor allocates: shapes come from data (Expand, Tile, ConstantOfShape,
 * Range, Resize, pads), so a few hostile bytes must not claim gigabytes. 512 MiB is far above any
 * activation of the models sculpt runs (a GPT-2 batch of 1024 tokens' logits is 206 MB).
 */
export const MAX_TENSOR_BYTES = 512 * 2 ** 20;

let budget = MAX_TENSOR_BYTES;

/** Bytes one tensor may take now: MAX_TENSOR_BYTES, or less while an executor with `maxTensorBytes` runs. */
export function tensorBudget(): number {
  return budget;
}

/** Runs `f` with at most `bytes` per tensor (a budget never rises above the one in force). */
export function withTensorBudget<T>(bytes: number | undefined, f: () => T): T {
  const before = budget;
  if (bytes !== undefined) budget = Math.min(before, bytes);
  try {
    return f();
  } finally {
    budget = before;
  }
}

/**
 * Element count of a shape an operator computed, refusing negative, fractional or absurd sizes.
 * `what` (e.g. `sparse executor: node 'conv1' (Conv) output`) names the node in the message.
 */
export function checkedSize(dims: readonly number[], bytesPerElement = 4, what = 'sparse executor: a computed shape'): number {
  const n = size(dims);
  const shape = `[${dims.slice(0, 8).join(', ')}${dims.length > 8 ? ', …' : ''}]`;
  if (!dims.every((d) => Number.isInteger(d) && d >= 0) || !Number.isSafeInteger(n)) {
    throw new SculptError(`${what} ${shape} is not a valid tensor shape; the model's shape arithmetic does not fit these inputs`);
  }
  if (n * bytesPerElement > budget) {
    throw new SculptError(`${what} ${shape} needs ${formatBytes(n * bytesPerElement)}, over the ${formatBytes(budget)} one tensor may take; check the inputs' shapes, or run the model with \`sculpt run --engine onnxruntime\``);
  }
  return n;
}

export function floatTensor(dims: readonly number[], data?: Float32Array): Tensor {
  return { dtype: 'float32', dims: [...dims], data: data ?? new Float32Array(checkedSize(dims)) };
}

export function intTensor(dims: readonly number[], values: ArrayLike<number>): Tensor {
  return { dtype: 'int64', dims: [...dims], data: Float64Array.from(values) };
}

export function allocLike(dtype: DType, dims: readonly number[], what?: string): Tensor {
  const n = checkedSize(dims, dtype === 'float32' ? 4 : dtype === 'int64' ? 8 : 1, what);
  const data = dtype === 'float32' ? new Float32Array(n) : dtype === 'int64' ? new Float64Array(n) : new Uint8Array(n);
  return { dtype, dims: [...dims], data };
}

export function fromGraphTensor(t: GraphTensor): Tensor {
  const dims = [...t.dims];
  switch (t.dtype) {
    case 'float32':
    case 'float16':
    case 'float64':
      return { dtype: 'float32', dims, data: t.data as Float32Array };
    case 'bool':
      return { dtype: 'bool', dims, data: Uint8Array.from(t.data as Uint8Array) };
    default: {
      const src = t.data;
      const out = new Float64Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return t.dtype === 'int64' ? { dtype: 'int64', dims, data: out } : { dtype: 'int64', dims, data: out, intType: t.dtype };
    }
  }
}

/** A tensor, sequence or optional value (as the ONNX test suites store them) as an executor value. */
export function fromGraphValue(v: GraphValue): Tensor {
  if (v.kind === 'tensor') return fromGraphTensor(v.tensor);
  if (v.kind === 'sequence') return sequence(v.items.map(fromGraphValue));
  return optionalOf(v.value && fromGraphValue(v.value));
}

/** Integer values of a small int64 tensor (shapes, axes, indices). */
export function intValues(t: Tensor, what: string): number[] {
  if (t.dtype === 'float32') throw new SculptError(`sparse executor: ${what} must be an integer tensor, got float32`);
  return Array.from(t.data as Float64Array | Uint8Array);
}

export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new SculptError(`sparse executor: ${what} axis ${axis} is out of range for rank ${rank}`);
  return a;
}
