/**
 * Builds ONNX models from scratch: a ModelSpec (nodes with int/float/ints/floats/string/tensor
 * attributes, float32 and int64 initializers stored as raw_data, typed inputs and outputs) encoded
 * as ModelProto bytes. Nested messages are kept as lists of chunks and joined once at the end, so
 * weight payloads are copied a single time however deep they sit.
 */
import { ONNX_DTYPE } from './onnx-decode.js';
import * as F from './onnx-fields.js';
import { encodeSignedVarint, encodeVarint, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT } from './protobuf.js';

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
  /** Default: `${op}_${index}`. */
  readonly name?: string;
  readonly attrs?: Readonly<Record<string, AttrValue>>;
}

export interface TensorSpec {
  readonly name: string;
  readonly dims: readonly number[];
  /** Float32Array → FLOAT, BigInt64Array → INT64; written as raw_data (little-endian). */
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
  /** Default-domain opset; default 17. */
  readonly opset?: number;
  /** Default 8. */
  readonly irVersion?: number;
  /** Default 'sculpt'. */
  readonly producer?: string;
  readonly producerVersion?: string;
  /** Default 'sculpt'. */
  readonly graphName?: string;
  readonly docString?: string;
  /** Written as ModelProto.metadata_props. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const utf8 = new TextEncoder();

/** A message under construction: chunks in order and their total length. */
class Message {
  readonly parts: Uint8Array[] = [];
  length = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  private tag(field: number, wire: number): void {
    this.push(encodeVarint(field * 8 + wire));
  }

  int(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeSignedVarint(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, payload: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(encodeVarint(payload.length));
    this.push(payload);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  message(field: number, m: Message): this {
    this.tag(field, WIRE_LEN);
    this.push(encodeVarint(m.length));
    for (const p of m.parts) this.parts.push(p);
    this.length += m.length;
    return this;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function tensorProto(t: TensorSpec): Message {
  const m = new Message();
  for (const d of t.dims) m.int(F.TENSOR_DIMS, d);
  m.int(F.TENSOR_DATA_TYPE, t.data instanceof Float32Array ? ONNX_DTYPE.FLOAT : ONNX_DTYPE.INT64);
  m.string(F.TENSOR_NAME, t.name);
  // raw_data is little-endian; typed arrays are in platform order, which is little-endian on every
  // platform Node supports.
  m.bytes(F.TENSOR_RAW_DATA, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return m;
}

function attributeProto(name: string, a: AttrValue): Message {
  const m = new Message().string(F.ATTR_NAME, name);
  const T = F.ATTR_TYPE_VALUE;
  if ('int' in a) m.int(F.ATTR_I, a.int).int(F.ATTR_TYPE, T.INT);
  else if ('float' in a) m.float(F.ATTR_F, a.float).int(F.ATTR_TYPE, T.FLOAT);
  else if ('ints' in a) {
    for (const v of a.ints) m.int(F.ATTR_INTS, v);
    m.int(F.ATTR_TYPE, T.INTS);
  } else if ('floats' in a) {
    for (const v of a.floats) m.float(F.ATTR_FLOATS, v);
    m.int(F.ATTR_TYPE, T.FLOATS);
  } else if ('string' in a) m.string(F.ATTR_S, a.string).int(F.ATTR_TYPE, T.STRING);
  else m.message(F.ATTR_T, tensorProto(a.tensor)).int(F.ATTR_TYPE, T.TENSOR);
  return m;
}

function nodeProto(n: NodeSpec, index: number): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(F.NODE_INPUT, i);
  for (const o of n.outputs) m.string(F.NODE_OUTPUT, o);
  m.string(F.NODE_NAME, n.name ?? `${n.op}_${index}`).string(F.NODE_OP_TYPE, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.message(F.NODE_ATTRIBUTE, attributeProto(k, v));
  return m;
}

function valueInfoProto(v: ValueSpec): Message {
  const tensorType = new Message().int(F.TYPE_TENSOR_ELEM_TYPE, v.elemType ?? ONNX_DTYPE.FLOAT);
  if (v.dims) {
    const shape = new Message();
    for (const d of v.dims) {
      const dim = typeof d === 'number' ? new Message().int(F.DIM_VALUE, d) : new Message().string(F.DIM_PARAM, d);
      shape.message(F.SHAPE_DIM, dim);
    }
    tensorType.message(F.TYPE_TENSOR_SHAPE, shape);
  }
  const type = new Message().message(F.TYPE_TENSOR, tensorType);
  return new Message().string(F.VALUE_INFO_NAME, v.name).message(F.VALUE_INFO_TYPE, type);
}

/** Serialises a model to ONNX bytes (IR version 8 and default-domain opset 17 unless the spec says). */
export function encodeOnnx(spec: ModelSpec): Uint8Array {
  const graph = new Message();
  spec.nodes.forEach((n, i) => graph.message(F.GRAPH_NODE, nodeProto(n, i)));
  graph.string(F.GRAPH_NAME, spec.graphName ?? 'sculpt');
  for (const t of spec.initializers) graph.message(F.GRAPH_INITIALIZER, tensorProto(t));
  for (const v of spec.inputs) graph.message(F.GRAPH_INPUT, valueInfoProto(v));
  for (const v of spec.outputs) graph.message(F.GRAPH_OUTPUT, valueInfoProto(v));
  const model = new Message().int(F.MODEL_IR_VERSION, spec.irVersion ?? 8).string(F.MODEL_PRODUCER_NAME, spec.producer ?? 'sculpt');
  if (spec.producerVersion !== undefined) model.string(F.MODEL_PRODUCER_VERSION, spec.producerVersion);
  if (spec.docString !== undefined) model.string(F.MODEL_DOC_STRING, spec.docString);
  model.message(F.MODEL_GRAPH, graph);
  model.message(F.MODEL_OPSET_IMPORT, new Message().string(F.OPSET_DOMAIN, '').int(F.OPSET_VERSION, spec.opset ?? 17));
  for (const [k, v] of Object.entries(spec.metadata ?? {})) {
    model.message(F.MODEL_METADATA_PROPS, new Message().string(F.ENTRY_KEY, k).string(F.ENTRY_VALUE, v));
  }
  return model.toBytes();
}

/** One TensorProto's bytes (float32 or int64 raw_data). */
export function encodeTensorProto(t: TensorSpec): Uint8Array {
  return tensorProto(t).toBytes();
}

/** One ValueInfoProto's bytes. */
export function encodeValueInfo(v: ValueSpec): Uint8Array {
  return valueInfoProto(v).toBytes();
}

/** A SparseTensorProto in ONNX's COO form: the non-zeros of `data` as float32 values [NNZ], int64 linear indices [NNZ], and the dense dims. */
export function encodeSparseTensorProto(name: string, dims: readonly number[], data: Float32Array): Uint8Array {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  const values = new Float32Array(nnz);
  const indices = new BigInt64Array(nnz);
  for (let i = 0, k = 0; i < data.length; i++) {
    if (data[i] !== 0) {
      values[k] = data[i];
      indices[k++] = BigInt(i);
    }
  }
  const m = new Message()
    .message(F.SPARSE_VALUES, tensorProto({ name, dims: [nnz], data: values }))
    .message(F.SPARSE_INDICES, tensorProto({ name: `${name}_indices`, dims: [nnz], data: indices }));
  for (const d of dims) m.int(F.SPARSE_DIMS, d);
  return m.toBytes();
}
