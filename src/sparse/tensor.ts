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

/**
 * Memory that pooled arrays may live in instead of JavaScript's heap: the executor's shared
 * WebAssembly memory (kernels.ts's `Kernels.resident`), where the kernels read and write them in
 * place, with no copy in or out.
 */
export interface PoolArena {
  /** A view of n floats in memory of its own for good. */
  carve(n: number): Float32Array;
  /** Whether `buffer` is the arena's memory (a view of it may be one of `carve`'s regions). */
  holds(buffer: ArrayBufferLike): boolean;
}

/** Most bytes an arena takes: past this, further buffers stay in JavaScript's heap. */
const ARENA_MAX_BYTES = 1024 * 2 ** 20;

/**
 * Float32 buffers of values that died during a run, by length, handed out again for outputs of
 * that length (the executor gives them back: `SparseExecutor` counts which values hold each).
 * Fresh arrays cost page faults (~0.4 ms per MB here) and, as memory outside V8's heap, make it
 * collect garbage often: BERT-base's encoder allocated ~75 MB of activations per run.
 *
 * With an arena, `settle` moves the buffers a run gave back into it, so that the next runs' values
 * live where the kernels work on them. No value outlives a run there: the executor copies its
 * outputs out, and `settle` takes every region back.
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly made = new WeakSet<ArrayBufferLike>();
  /** The arena's regions, by address. */
  private readonly regions: Float32Array[] = [];
  private arenaBytes = 0;

  constructor(private readonly arena?: PoolArena) {}

  /** An array of n floats, recycled (old contents) or new (zeros). */
  take(n: number): { array: Float32Array; recycled: boolean } {
    const b = this.free.get(n)?.pop();
    if (b) return { array: b, recycled: true };
    const array = new Float32Array(n);
    this.made.add(array.buffer);
    return { array, recycled: false };
  }

  /**
   * What `take` handed out that `data` is, or is a view into: the key `give` takes back, or
   * undefined when `data` is not the pool's.
   */
  owner(data: Float32Array): object | undefined {
    if (this.made.has(data.buffer)) return data.buffer;
    if (this.regions.length === 0 || !this.arena?.holds(data.buffer)) return undefined;
    // The last region starting at or before data.
    let lo = 0, hi = this.regions.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.regions[mid].byteOffset <= data.byteOffset) lo = mid;
      else hi = mid - 1;
    }
    const r = this.regions[lo];
    return data.byteOffset >= r.byteOffset && data.byteOffset < r.byteOffset + r.byteLength ? r : undefined;
  }

  /** Whether `data` is a view of the arena's memory (then it must not outlive the run). */
  inArena(data: Float32Array): boolean {
    return this.arena?.holds(data.buffer) ?? false;
  }

  /** Takes back what `owner` returned, once no value holds it any more. */
  give(key: object): void {
    const home = key instanceof Float32Array ? key : new Float32Array(key as ArrayBuffer);
    let list = this.free.get(home.length);
    if (!list) this.free.set(home.length, (list = []));
    list.push(home);
  }

  /**
   * After a run, with an arena: the buffers it gave back move into the arena (up to
   * ARENA_MAX_BYTES), and every region is free again. Nothing may hold a region now.
   */
  settle(): void {
    const arena = this.arena;
    if (!arena) return;
    const kept: Float32Array[] = [];
    for (const list of this.free.values()) {
      for (const home of list) {
        if (!this.made.has(home.buffer)) continue; // a region: all are given back below
        if (this.arenaBytes + home.byteLength > ARENA_MAX_BYTES) kept.push(home);
        else {
          this.regions.push(arena.carve(home.length));
          this.arenaBytes += home.byteLength;
        }
      }
    }
    this.regions.sort((x, y) => x.byteOffset - y.byteOffset);
    this.free.clear();
    for (const h of [...this.regions, ...kept]) this.give(h);
  }
}

/** Arrays shorter than this are not pooled: small typed arrays live in V8's heap and cost little. */
const POOLED_MIN = 4096;
let pool: BufferPool | undefined;

/** Runs `f` with outputs drawn from `p` (`uninitF32`, `zeroF32`). */
export function withBufferPool<T>(p: BufferPool, f: () => T): T {
  const before = pool;
  pool = p;
  try {
    return f();
  } finally {
    pool = before;
  }
}

/** n floats whose contents are unspecified: the caller writes every one. From the pool while an executor runs. */
export function uninitF32(n: number): Float32Array {
  return pool && n >= POOLED_MIN ? pool.take(n).array : new Float32Array(n);
}

/** n zeros (from the pool while an executor runs, cleared). */
export function zeroF32(n: number): Float32Array {
  if (!pool || n < POOLED_MIN) return new Float32Array(n);
  const { array, recycled } = pool.take(n);
  if (recycled) array.fill(0);
  return array;
}

export function floatTensor(dims: readonly number[], data?: Float32Array): Tensor {
  return { dtype: 'float32', dims: [...dims], data: data ?? new Float32Array(checkedSize(dims)) };
}

export function intTensor(dims: readonly number[], values: ArrayLike<number>): Tensor {
  return { dtype: 'int64', dims: [...dims], data: Float64Array.from(values) };
}

/** As `allocLike`, but a float32 tensor's contents are unspecified: the caller writes every element. */
export function allocUninit(dtype: DType, dims: readonly number[], what?: string): Tensor {
  if (dtype !== 'float32') return allocLike(dtype, dims, what);
  return { dtype, dims: [...dims], data: uninitF32(checkedSize(dims, 4, what)) };
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
