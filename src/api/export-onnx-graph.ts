/**
 * The ONNX graph `sculpt export` builds while walking a TF.js layers model: nodes, initializers and
 * the layout of every value. TF.js keeps images channels-last (NHWC); ONNX Conv and pooling want
 * channels-first (NCHW). A value is stored in whichever layout its producer made, and converted with
 * one Transpose (made once, then reused) only when a consumer needs the other layout, so a Dense-only
 * model has no Transpose at all and a conv net has one after its input and one before Flatten.
 */
import { SculptError } from '../core/errors.js';
import type { AttrValue, NodeSpec, TensorSpec } from '../formats/onnx-build.js';

/** A dimension of a Keras shape: a number, or null when unknown (always the batch). */
export type Dim = number | null;

/** A value of the graph. `shape` is the Keras shape (channels-last, batch first) whatever the storage. */
export interface Val {
  readonly name: string;
  readonly shape: readonly Dim[];
  /** Stored channels-first (N, C, spatial...): only for rank ≥ 3. */
  readonly cf: boolean;
}

/** Channels-last → channels-first permutation for rank `r`: [0, r-1, 1, ..., r-2]. */
export function toCfPerm(r: number): number[] {
  return [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
}

/** Channels-first → channels-last: [0, 2, ..., r-1, 1]. */
export function toClPerm(r: number): number[] {
  return [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
}

/** Where Keras axis `axis` (of a rank-`r` channels-last shape, may be negative) sits in `v`'s storage. */
export function storedAxis(v: Val, axis: number): number {
  const r = v.shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) throw new SculptError(`axis ${axis} is out of range for a rank-${r} value`);
  if (!v.cf || a === 0) return a;
  return a === r - 1 ? 1 : a + 1;
}

/** `data` of `shape` with its axes permuted: out axis i is input axis perm[i]. */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(r);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strides = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let k = r - 1; k >= 0; k--) {
      idx[k]++;
      src += strides[k];
      if (idx[k] < outShape[k]) break;
      src -= strides[k] * outShape[k];
      idx[k] = 0;
    }
  }
  return out;
}

function equalBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export class OnnxGraph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly used = new Set<string>();
  private readonly converted = new Map<string, Val>();
  private readonly renamed = new Map<string, string>();
  private readonly floats = new Map<string, TensorSpec[]>();
  /** NHWC ↔ NCHW Transposes made so far. */
  layoutTransposes = 0;

  /** A name not used yet: `base`, else `base_1`, `base_2`, ... */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  /** Adds a node with one output named after `hint`; returns the output's name. */
  node(op: string, inputs: readonly string[], hint: string, attrs?: Record<string, AttrValue>): string {
    const out = this.unique(hint);
    this.nodes.push({ op, inputs, outputs: [out], name: out, ...(attrs ? { attrs } : {}) });
    return out;
  }

  /**
   * Adds a float32 initializer; returns its (unique) name. The same values under the same name
   * (a shared layer called again) reuse the first one.
   */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    const same = this.floats.get(name)?.find((t) => t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]) && equalBits(t.data as Float32Array, data));
    if (same) return same.name;
    const n = this.unique(name);
    const t = { name: n, dims, data };
    this.initializers.push(t);
    this.floats.set(name, [...(this.floats.get(name) ?? []), t]);
    return n;
  }

  /** Adds an int64 initializer (shapes, pads, axes); returns its name. */
  int64(name: string, values: readonly number[]): string {
    const n = this.unique(name);
    this.initializers.push({ name: n, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    return n;
  }

  scalar(name: string, value: number): string {
    const n = this.unique(name);
    this.initializers.push({ name: n, dims: [], data: Float32Array.of(value) });
    return n;
  }

  /** `v` stored channels-last (a Transpose if it was channels-first). */
  cl(v: Val): Val {
    if (!v.cf) return v;
    return this.convert(v, false);
  }

  /** `v` stored channels-first (a Transpose if it was channels-last); rank ≥ 3 only. */
  cf(v: Val): Val {
    if (v.cf || v.shape.length < 3) return v;
    return this.convert(v, true);
  }

  private convert(v: Val, cf: boolean): Val {
    const key = `${v.name}\u0000${cf}`;
    const done = this.converted.get(key);
    if (done) return done;
    const r = v.shape.length;
    this.layoutTransposes++;
    const name = this.node('Transpose', [v.name], `${v.name}/${cf ? 'nchw' : 'nhwc'}`, { perm: { ints: cf ? toCfPerm(r) : toClPerm(r) } });
    const out: Val = { name, shape: v.shape, cf };
    this.converted.set(key, out);
    this.converted.set(`${name}\u0000${!cf}`, v);
    return out;
  }

  /** Renames value `from` to `to` wherever it appears (node outputs and inputs). */
  rename(from: string, to: string): void {
    const swapVal = (v: Val): Val => (v.name === from ? { ...v, name: to } : v);
    for (const [key, v] of [...this.converted]) {
      const [name, cf] = key.split('\u0000');
      this.converted.delete(key);
      this.converted.set(`${name === from ? to : name}\u0000${cf}`, swapVal(v));
    }
    for (let i = 0; i < this.nodes.length; i++) {
      const n = this.nodes[i];
      if (!n.inputs.includes(from) && !n.outputs.includes(from)) continue;
      const swap = (x: string) => (x === from ? to : x);
      this.nodes[i] = { ...n, inputs: n.inputs.map(swap), outputs: n.outputs.map(swap), name: n.name === from ? to : n.name };
    }
    this.used.add(to);
    this.renamed.set(from, to);
  }

  /** `v` under its current name (after renames). */
  current(v: Val): Val {
    let name = v.name;
    for (let to = this.renamed.get(name); to !== undefined; to = this.renamed.get(name)) name = to;
    return name === v.name ? v : { ...v, name };
  }

  producer(name: string): NodeSpec | undefined {
    return this.nodes.find((n) => n.outputs.includes(name));
  }
}

export interface LayerWeight {
  readonly name: string;
  readonly shape: readonly number[];
  /** A fresh copy of the values. */
  readonly data: Float32Array;
}

/** One call of a layer (a node of the Keras graph). */
export interface LayerCall {
  readonly name: string;
  readonly className: string;
  readonly config: Readonly<Record<string, any>>;
  readonly inputs: readonly Val[];
  readonly g: OnnxGraph;
  /** The layer's weight `short` (kernel, bias, gamma, ...), or undefined when the model has none. */
  weight(short: string): LayerWeight | undefined;
  /** Fails naming the layer and its class: `why` says what is not supported. */
  fail(why: string): never;
}

export type LayerConverter = (c: LayerCall) => Val;

export function required(c: LayerCall, short: string): LayerWeight {
  return c.weight(short) ?? c.fail(`weight ${c.name}/${short} is missing from the weights manifest`);
}
