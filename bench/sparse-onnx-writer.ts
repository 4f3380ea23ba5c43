/**
 * A tiny ONNX (protobuf) writer for benchmark and test graphs: nodes with int/float/ints/floats/
 * string attributes, float32 and int64 initializers, and typed inputs/outputs. Pure TypeScript, so
 * benchmarks can build their models anywhere without Python.
 */

type Chunk = Uint8Array;

function varint(value: number | bigint): Chunk {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function concat(chunks: Chunk[]): Chunk {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const utf8 = new TextEncoder();

function fieldVarint(field: number, value: number | bigint): Chunk {
  return concat([varint(field << 3), varint(value)]);
}

function fieldBytes(field: number, bytes: Chunk): Chunk {
  return concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function fieldString(field: number, s: string): Chunk {
  return fieldBytes(field, utf8.encode(s));
}

function fieldFloat(field: number, f: number): Chunk {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, f, true);
  return concat([varint((field << 3) | 5), b]);
}

export type AttrValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly tensor: TensorSpec };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attrs?: Readonly<Record<string, AttrValue>>;
}

export interface TensorSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

export interface ValueSpec {
  readonly name: string;
  /** Dimensions; a string is a symbolic dimension; omitted: shape unknown. */
  readonly dims?: readonly (number | string)[];
  /** ONNX element type: 1 float32 (default), 7 int64. */
  readonly elemType?: number;
}

export interface ModelSpec {
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly TensorSpec[];
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly opset?: number;
}

function tensorProto(t: TensorSpec): Chunk {
  const parts: Chunk[] = t.dims.map((d) => fieldVarint(1, d));
  parts.push(fieldVarint(2, t.data instanceof Float32Array ? 1 : 7));
  parts.push(fieldString(8, t.name));
  parts.push(fieldBytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
  return concat(parts);
}

function attributeProto(name: string, a: AttrValue): Chunk {
  const parts: Chunk[] = [fieldString(1, name)];
  if ('int' in a) parts.push(fieldVarint(3, a.int), fieldVarint(20, 2));
  else if ('float' in a) parts.push(fieldFloat(2, a.float), fieldVarint(20, 1));
  else if ('ints' in a) parts.push(...a.ints.map((v) => fieldVarint(8, v)), fieldVarint(20, 7));
  else if ('floats' in a) parts.push(...a.floats.map((v) => fieldFloat(7, v)), fieldVarint(20, 6));
  else if ('string' in a) parts.push(fieldString(4, a.string), fieldVarint(20, 3));
  else parts.push(fieldBytes(5, tensorProto(a.tensor)), fieldVarint(20, 4));
  return concat(parts);
}

function nodeProto(n: NodeSpec, index: number): Chunk {
  const parts: Chunk[] = [];
  for (const i of n.inputs) parts.push(fieldString(1, i));
  for (const o of n.outputs) parts.push(fieldString(2, o));
  parts.push(fieldString(3, n.name ?? `${n.op}_${index}`), fieldString(4, n.op));
  for (const [k, v] of Object.entries(n.attrs ?? {})) parts.push(fieldBytes(5, attributeProto(k, v)));
  return concat(parts);
}

function valueInfoProto(v: ValueSpec): Chunk {
  const parts = [fieldVarint(1, v.elemType ?? 1)];
  if (v.dims) parts.push(fieldBytes(2, concat(v.dims.map((d) => fieldBytes(1, typeof d === 'number' ? fieldVarint(1, d) : fieldString(2, d))))));
  const tensorType = concat(parts);
  return concat([fieldString(1, v.name), fieldBytes(2, fieldBytes(1, tensorType))]);
}

/** Serialises a model to ONNX bytes (IR version 8, default-domain opset `opset`, default 17). */
export function writeOnnx(spec: ModelSpec): Uint8Array {
  const graph = concat([
    ...spec.nodes.map((n, i) => fieldBytes(1, nodeProto(n, i))),
    fieldString(2, 'sculpt'),
    ...spec.initializers.map((t) => fieldBytes(5, tensorProto(t))),
    ...spec.inputs.map((v) => fieldBytes(11, valueInfoProto(v))),
    ...spec.outputs.map((v) => fieldBytes(12, valueInfoProto(v))),
  ]);
  return concat([
    fieldVarint(1, 8),
    fieldString(2, 'sculpt-bench'),
    fieldBytes(7, graph),
    fieldBytes(8, concat([fieldString(1, ''), fieldVarint(2, spec.opset ?? 17)])),
  ]);
}

/**
 * An MLP as Gemm (transB = 1, weights [out, in]) or MatMul (weights [in, out]) + Add, with Relu
 * between layers and none after the last; input "x" [N, sizes[0]], output "y".
 */
export function mlpModel(sizes: readonly number[], weights: readonly Float32Array[], biases: readonly Float32Array[], style: 'gemm' | 'matmul'): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [];
  let prev = 'x';
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inF = sizes[l], outF = sizes[l + 1];
    const last = l + 2 === sizes.length;
    const out = last ? 'y' : `h${l}`;
    const pre = last ? out : `${out}_pre`;
    if (style === 'gemm') {
      initializers.push({ name: `w${l}`, dims: [outF, inF], data: weights[l] }, { name: `b${l}`, dims: [outF], data: biases[l] });
      nodes.push({ op: 'Gemm', inputs: [prev, `w${l}`, `b${l}`], outputs: [pre], attrs: { transB: { int: 1 } } });
    } else {
      const wt = new Float32Array(inF * outF);
      const w = weights[l];
      for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) wt[i * outF + o] = w[o * inF + i];
      initializers.push({ name: `w${l}`, dims: [inF, outF], data: wt }, { name: `b${l}`, dims: [outF], data: biases[l] });
      nodes.push({ op: 'MatMul', inputs: [prev, `w${l}`], outputs: [`${out}_mm`] });
      nodes.push({ op: 'Add', inputs: [`${out}_mm`, `b${l}`], outputs: [pre] });
    }
    if (!last) nodes.push({ op: 'Relu', inputs: [pre], outputs: [out] });
    prev = out;
  }
  return writeOnnx({
    nodes,
    initializers,
    inputs: [{ name: 'x', dims: ['N', sizes[0]] }],
    outputs: [{ name: 'y', dims: ['N', sizes[sizes.length - 1]] }],
  });
}
