/**
 * ONNX ModelProto decoded at the wire level: the graph's nodes, inputs and outputs as values, and
 * every initializer with the byte offsets of its payload, so a writer can change those bytes and
 * nothing else. Field numbers follow onnx/onnx.proto (checked against ONNX 1.12).
 */
import { SculptError } from '../core/errors.js';
import type { AttributeValue, GraphDType, GraphNode, GraphTensor, GraphValueInfo } from '../core/graph.js';
import { numel } from '../core/types.js';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader, type LenPrefix, type WireField } from './protobuf.js';
import { decodeFloats, type FloatDType } from './safetensors-dtypes.js';

// ModelProto
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
// OperatorSetIdProto
const OPSET_DOMAIN = 1;
const OPSET_VERSION = 2;
// GraphProto
const GRAPH_NODE = 1;
const GRAPH_NAME = 2;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_SPARSE_INITIALIZER = 15;
// NodeProto
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
// AttributeProto
const ATTR_NAME = 1;
const ATTR_F = 2;
const ATTR_I = 3;
const ATTR_S = 4;
const ATTR_T = 5;
const ATTR_G = 6;
const ATTR_FLOATS = 7;
const ATTR_INTS = 8;
const ATTR_STRINGS = 9;
const ATTR_TYPE = 20;
// TensorProto
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_INT32_DATA = 5;
const TENSOR_INT64_DATA = 7;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DOUBLE_DATA = 10;
const TENSOR_UINT64_DATA = 11;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
// StringStringEntryProto
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
// ValueInfoProto / TypeProto / TensorShapeProto
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TYPE_TENSOR_ELEM_TYPE = 1;
const TYPE_TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;

/** TensorProto.DataType values sculpt knows by name. */
export const ONNX_DTYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** Floating data types that go into a WeightSet, by their ONNX number. */
export const ONNX_FLOAT_DTYPE: ReadonlyMap<number, FloatDType> = new Map<number, FloatDType>([
  [ONNX_DTYPE.FLOAT, 'F32'], [ONNX_DTYPE.FLOAT16, 'F16'], [ONNX_DTYPE.DOUBLE, 'F64'], [ONNX_DTYPE.BFLOAT16, 'BF16'],
]);

const GRAPH_DTYPE: ReadonlyMap<number, GraphDType> = new Map<number, GraphDType>([
  [ONNX_DTYPE.FLOAT, 'float32'], [ONNX_DTYPE.FLOAT16, 'float16'], [ONNX_DTYPE.DOUBLE, 'float64'],
  [ONNX_DTYPE.BFLOAT16, 'float32'], [ONNX_DTYPE.INT64, 'int64'], [ONNX_DTYPE.INT32, 'int32'],
  [ONNX_DTYPE.INT8, 'int8'], [ONNX_DTYPE.UINT8, 'uint8'], [ONNX_DTYPE.BOOL, 'bool'],
]);

const ELEMENT_BYTES: ReadonlyMap<number, number> = new Map([
  [1, 4], [2, 1], [3, 1], [4, 2], [5, 2], [6, 4], [7, 8], [9, 1], [10, 2], [11, 8], [12, 4], [13, 8], [16, 2],
]);

/** Where an initializer's values live. Offsets are absolute positions in the model bytes. */
export type OnnxStorage =
  | { readonly kind: 'raw'; readonly start: number; readonly end: number }
  /** float_data (4-byte) or double_data (8-byte) elements: contiguous runs of fixed-width values. */
  | { readonly kind: 'fixed'; readonly width: 4 | 8; readonly runs: readonly { readonly start: number; readonly count: number }[] }
  /** int32_data / int64_data / uint64_data: varints (float16 bits live here when not raw). */
  | { readonly kind: 'varint'; readonly fields: readonly WireField[] }
  | {
      readonly kind: 'external';
      /** Path relative to the model's folder, as written in the file. */
      readonly location: string;
      readonly offset: number;
      /** Byte length (numel × element size when the file gives none). */
      readonly length: number;
      /** The `value` field of the `location` entry and every message around it, for renaming. */
      readonly locationValue: LenPrefix;
      readonly enclosing: readonly LenPrefix[];
    }
  | { readonly kind: 'empty' };

export interface OnnxInitializer {
  readonly name: string;
  /** TensorProto.DataType number. */
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly storage: OnnxStorage;
  /** Position in the graph's initializer list (the file order). */
  readonly index: number;
  /** The graph field and the TensorProto field around this tensor, for splicing. */
  readonly enclosing: readonly LenPrefix[];
}

export interface DecodedOnnx {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly graphName: string;
  readonly nodes: GraphNode[];
  readonly initializers: OnnxInitializer[];
  readonly inputs: GraphValueInfo[];
  readonly outputs: GraphValueInfo[];
  readonly sparseInitializerCount: number;
}

export function failer(file: string): (offset: number, why: string) => never {
  return (offset, why) => {
    const detail = why === 'truncated' ? `truncated at byte ${offset}` : `${why} at byte ${offset}`;
    throw new SculptError(`${file}: not a valid ONNX model (${detail}); re-export or re-download it`);
  };
}

/** Decodes the model structure; tensor values stay where they are (see `OnnxStorage`). */
export function decodeOnnx(bytes: Uint8Array, file: string): DecodedOnnx {
  const fail = failer(file);
  const r = new WireReader(bytes, fail);
  const model = r.fields(0, bytes.length);
  let irVersion = 0;
  let opsetVersion = 0;
  let graphField: WireField | undefined;
  for (const f of model) {
    if (f.field === MODEL_IR_VERSION) {
      r.expect(f, WIRE_VARINT);
      irVersion = f.value;
    } else if (f.field === MODEL_OPSET_IMPORT) {
      r.expect(f, WIRE_LEN);
      let domain = '';
      let version = 0;
      for (const g of r.fields(f.start, f.end)) {
        if (g.field === OPSET_DOMAIN) domain = r.string(g);
        else if (g.field === OPSET_VERSION) version = g.value;
      }
      if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
    } else if (f.field === MODEL_GRAPH) {
      r.expect(f, WIRE_LEN);
      graphField = f;
    }
  }
  if (!graphField) throw new SculptError(`${file}: not a valid ONNX model (no graph found); is this really an .onnx file?`);
  if (irVersion <= 0 || irVersion > 100) throw new SculptError(`${file}: not a valid ONNX model (ir_version ${irVersion}); is this really an .onnx file?`);
  const graphPrefix: LenPrefix = { lenStart: graphField.lenStart, start: graphField.start, end: graphField.end };

  const nodes: GraphNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const inputs: GraphValueInfo[] = [];
  const outputs: GraphValueInfo[] = [];
  let graphName = '';
  let sparseInitializerCount = 0;
  for (const f of r.fields(graphField.start, graphField.end)) {
    switch (f.field) {
      case GRAPH_NODE:
        r.expect(f, WIRE_LEN);
        nodes.push(decodeNode(r, f, file));
        break;
      case GRAPH_NAME:
        graphName = r.string(f);
        break;
      case GRAPH_INITIALIZER: {
        r.expect(f, WIRE_LEN);
        const enclosing = [graphPrefix, { lenStart: f.lenStart, start: f.start, end: f.end }];
        initializers.push(decodeTensorProto(r, f, file, enclosing, initializers.length));
        break;
      }
      case GRAPH_INPUT:
        r.expect(f, WIRE_LEN);
        inputs.push(decodeValueInfo(r, f));
        break;
      case GRAPH_OUTPUT:
        r.expect(f, WIRE_LEN);
        outputs.push(decodeValueInfo(r, f));
        break;
      case GRAPH_SPARSE_INITIALIZER:
        sparseInitializerCount++;
        break;
    }
  }
  // Before IR 4 initializers were also listed as inputs; the IR keeps only the real inputs.
  const initNames = new Set(initializers.map((t) => t.name));
  const realInputs = inputs.filter((i) => !initNames.has(i.name));
  return { irVersion, opsetVersion, graphName, nodes, initializers, inputs: realInputs, outputs, sparseInitializerCount };
}

function decodeNode(r: WireReader, f: WireField, file: string): GraphNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes = new Map<string, AttributeValue>();
  let name = '';
  let opType = '';
  let domain = '';
  for (const g of r.fields(f.start, f.end)) {
    switch (g.field) {
      case NODE_INPUT: inputs.push(r.string(g)); break;
      case NODE_OUTPUT: outputs.push(r.string(g)); break;
      case NODE_NAME: name = r.string(g); break;
      case NODE_OP_TYPE: opType = r.string(g); break;
      case NODE_DOMAIN: domain = r.string(g); break;
      case NODE_ATTRIBUTE: {
        r.expect(g, WIRE_LEN);
        const a = decodeAttribute(r, g, file);
        if (a) attributes.set(a[0], a[1]);
        break;
      }
    }
  }
  return { name, opType, inputs, outputs, attributes, domain };
}

/** Returns [name, value], or undefined for attributes the IR cannot hold (subgraphs). */
function decodeAttribute(r: WireReader, f: WireField, file: string): [string, AttributeValue] | undefined {
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let int: number | undefined;
  let s: string | undefined;
  let t: GraphTensor | undefined;
  let hasGraph = false;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  for (const g of r.fields(f.start, f.end)) {
    switch (g.field) {
      case ATTR_NAME: name = r.string(g); break;
      case ATTR_TYPE: type = g.value; break;
      case ATTR_F: f32 = r.float32(g); break;
      case ATTR_I: r.expect(g, WIRE_VARINT); int = g.value; break;
      case ATTR_S: s = r.string(g); break;
      case ATTR_T: {
        r.expect(g, WIRE_LEN);
        const init = decodeTensorProto(r, g, file, [], -1);
        t = graphTensor(init, r.bytes, file, undefined);
        break;
      }
      case ATTR_G: hasGraph = true; break;
      case ATTR_FLOATS:
        if (g.wireType === WIRE_FIXED32) floats.push(r.float32(g));
        else {
          r.expect(g, WIRE_LEN);
          const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset + g.start, g.end - g.start);
          for (let p = 0; p + 4 <= g.end - g.start; p += 4) floats.push(dv.getFloat32(p, true));
        }
        break;
      case ATTR_INTS: ints.push(...r.varints(g)); break;
      case ATTR_STRINGS: strings.push(r.string(g)); break;
    }
  }
  switch (type) {
    case 1: return [name, f32 ?? 0];
    case 2: return [name, int ?? 0];
    case 3: return [name, s ?? ''];
    case 4: return t ? [name, t] : undefined;
    case 5: return undefined;
    case 6: return [name, Float32Array.from(floats)];
    case 7: return [name, ints];
    case 8: return [name, strings];
  }
  // IR 1 had no type field: go by what is present.
  if (hasGraph) return undefined;
  if (f32 !== undefined) return [name, f32];
  if (int !== undefined) return [name, int];
  if (s !== undefined) return [name, s];
  if (t) return [name, t];
  if (floats.length) return [name, Float32Array.from(floats)];
  if (strings.length) return [name, strings];
  return [name, ints];
}

function decodeValueInfo(r: WireReader, f: WireField): GraphValueInfo {
  let name = '';
  let elemType = 0;
  const dims: number[] = [];
  for (const g of r.fields(f.start, f.end)) {
    if (g.field === VALUE_INFO_NAME) name = r.string(g);
    else if (g.field === VALUE_INFO_TYPE && g.wireType === WIRE_LEN) {
      for (const tt of r.fields(g.start, g.end)) {
        if (tt.field !== TYPE_TENSOR || tt.wireType !== WIRE_LEN) continue;
        for (const x of r.fields(tt.start, tt.end)) {
          if (x.field === TYPE_TENSOR_ELEM_TYPE) elemType = x.value;
          else if (x.field === TYPE_TENSOR_SHAPE && x.wireType === WIRE_LEN) {
            for (const d of r.fields(x.start, x.end)) {
              if (d.field !== SHAPE_DIM || d.wireType !== WIRE_LEN) continue;
              let value = -1;
              for (const dv of r.fields(d.start, d.end)) if (dv.field === DIM_VALUE && dv.wireType === WIRE_VARINT) value = dv.value;
              dims.push(value);
            }
          }
        }
      }
    }
  }
  return { name, dtype: GRAPH_DTYPE.get(elemType) ?? 'float32', dims };
}

function decodeTensorProto(r: WireReader, f: WireField, file: string, enclosing: LenPrefix[], index: number): OnnxInitializer {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: WireField | undefined;
  const fixedRuns: { start: number; count: number }[] = [];
  let fixedWidth: 4 | 8 = 4;
  const varintFields: WireField[] = [];
  let external = false;
  const entries: { key: string; value: string; entry: WireField; valueField: WireField | undefined }[] = [];
  for (const g of r.fields(f.start, f.end)) {
    switch (g.field) {
      case TENSOR_DIMS: dims.push(...r.varints(g)); break;
      case TENSOR_DATA_TYPE: dataType = g.value; break;
      case TENSOR_NAME: name = r.string(g); break;
      case TENSOR_RAW_DATA: r.expect(g, WIRE_LEN); raw = g; break;
      case TENSOR_FLOAT_DATA:
      case TENSOR_DOUBLE_DATA: {
        const width = g.field === TENSOR_FLOAT_DATA ? 4 : 8;
        fixedWidth = width;
        if (g.wireType === WIRE_LEN) {
          if ((g.end - g.start) % width !== 0) r.fail(g.start, `packed data of ${width}-byte values has ${g.end - g.start} bytes`);
          fixedRuns.push({ start: g.start, count: (g.end - g.start) / width });
        } else {
          r.expect(g, width === 4 ? WIRE_FIXED32 : WIRE_FIXED64);
          fixedRuns.push({ start: g.start, count: 1 });
        }
        break;
      }
      case TENSOR_INT32_DATA:
      case TENSOR_INT64_DATA:
      case TENSOR_UINT64_DATA:
        varintFields.push(g);
        break;
      case TENSOR_EXTERNAL_DATA: {
        r.expect(g, WIRE_LEN);
        let key = '';
        let value = '';
        let valueField: WireField | undefined;
        for (const e of r.fields(g.start, g.end)) {
          if (e.field === ENTRY_KEY) key = r.string(e);
          else if (e.field === ENTRY_VALUE) {
            value = r.string(e);
            valueField = e;
          }
        }
        entries.push({ key, value, entry: g, valueField });
        break;
      }
      case TENSOR_DATA_LOCATION: external = g.value === 1; break;
    }
  }
  const label = name || `#${index}`;
  for (const d of dims) {
    if (d < 0) throw new SculptError(`${file}: tensor ${label} has a negative dimension ${d}; the model is malformed`);
  }
  const count = numel(dims);
  const width = ELEMENT_BYTES.get(dataType);
  let storage: OnnxStorage;
  if (external) {
    const get = (k: string) => entries.find((e) => e.key === k);
    const loc = get('location');
    if (!loc || !loc.valueField || loc.value === '') {
      throw new SculptError(`${file}: tensor ${label} is stored externally but names no location; re-save the model with its data`);
    }
    const offset = Number(get('offset')?.value ?? 0);
    const lengthText = get('length')?.value;
    const length = lengthText !== undefined ? Number(lengthText) : count * (width ?? 0);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new SculptError(`${file}: tensor ${label} has an invalid external offset/length; re-save the model with its data`);
    }
    const vf = loc.valueField;
    storage = {
      kind: 'external',
      location: loc.value,
      offset,
      length,
      locationValue: { lenStart: vf.lenStart, start: vf.start, end: vf.end },
      enclosing: [...enclosing, { lenStart: loc.entry.lenStart, start: loc.entry.start, end: loc.entry.end }],
    };
  } else if (raw) storage = { kind: 'raw', start: raw.start, end: raw.end };
  else if (fixedRuns.length) storage = { kind: 'fixed', width: fixedWidth, runs: fixedRuns };
  else if (varintFields.length) storage = { kind: 'varint', fields: varintFields };
  else storage = { kind: 'empty' };

  // Sizes must agree with dtype × shape, or reading would run past the payload.
  if (width !== undefined) {
    const have =
      storage.kind === 'raw' ? (storage.end - storage.start) / width
      : storage.kind === 'external' ? storage.length / width
      : storage.kind === 'fixed' ? storage.runs.reduce((a, x) => a + x.count, 0)
      : storage.kind === 'varint' ? storage.fields.reduce((a, x) => a + varintCount(r.bytes, x), 0)
      : 0;
    if (have !== count) {
      throw new SculptError(`${file}: tensor ${label} holds ${have} values but its shape [${dims.join(', ')}] needs ${count}; the model is malformed`);
    }
  }
  return { name, dataType, dims, storage, index, enclosing };
}

/** Number of varints in a field: one if unpacked, else the bytes that end a varint. */
function varintCount(bytes: Uint8Array, f: WireField): number {
  if (f.wireType !== WIRE_LEN) return 1;
  let n = 0;
  for (let p = f.start; p < f.end; p++) if ((bytes[p] & 0x80) === 0) n++;
  return n;
}

/**
 * Reads an initializer's values: float32 for floating types, the natural typed array otherwise.
 * `readExternal(location, offset, length)` supplies external bytes.
 */
export function tensorValues(
  init: OnnxInitializer,
  bytes: Uint8Array,
  file: string,
  readExternal: ((location: string, offset: number, length: number, tensor: string) => Uint8Array) | undefined,
): GraphTensor['data'] | undefined {
  const n = numel(init.dims);
  const floatDType = ONNX_FLOAT_DTYPE.get(init.dataType);
  const s = init.storage;
  let payload: Uint8Array | undefined;
  if (s.kind === 'raw') payload = bytes.subarray(s.start, s.end);
  else if (s.kind === 'external') {
    if (!readExternal) throw new SculptError(`${file}: tensor ${init.name} is stored externally, which is not supported here`);
    payload = readExternal(s.location, s.offset, s.length, init.name);
  }
  if (floatDType) {
    const out = new Float32Array(n);
    if (payload) decodeFloats(payload, floatDType, out);
    else if (s.kind === 'fixed') {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let i = 0;
      for (const run of s.runs) {
        for (let k = 0; k < run.count; k++, i++) {
          out[i] = s.width === 4 ? dv.getFloat32(run.start + 4 * k, true) : dv.getFloat64(run.start + 8 * k, true);
        }
      }
    } else if (s.kind === 'varint') {
      const bits = varintValues(s.fields, bytes, file);
      if (bits.length !== n) throw new SculptError(`${file}: tensor ${init.name} holds ${bits.length} values but its shape needs ${n}; the model is malformed`);
      const u16 = new Uint16Array(bits.map((b) => b & 0xffff));
      decodeFloats(new Uint8Array(u16.buffer), floatDType, out);
    }
    return out;
  }
  const dtype = GRAPH_DTYPE.get(init.dataType);
  if (!dtype) return undefined;
  if (payload) {
    const copy = new Uint8Array(payload.length);
    copy.set(payload);
    switch (dtype) {
      case 'int64': return new BigInt64Array(copy.buffer, 0, n);
      case 'int32': return new Int32Array(copy.buffer, 0, n);
      case 'int8': return new Int8Array(copy.buffer, 0, n);
      default: return new Uint8Array(copy.buffer, 0, n);
    }
  }
  const values = s.kind === 'varint' ? varintValues(s.fields, bytes, file) : [];
  if (values.length !== n) throw new SculptError(`${file}: tensor ${init.name} holds ${values.length} values but its shape needs ${n}; the model is malformed`);
  switch (dtype) {
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32': return Int32Array.from(values);
    case 'int8': return Int8Array.from(values);
    default: return Uint8Array.from(values);
  }
}

function varintValues(fields: readonly WireField[], bytes: Uint8Array, file: string): number[] {
  const r = new WireReader(bytes, failer(file));
  const out: number[] = [];
  for (const f of fields) out.push(...r.varints(f));
  return out;
}

export function graphTensor(
  init: OnnxInitializer,
  bytes: Uint8Array,
  file: string,
  readExternal: Parameters<typeof tensorValues>[3],
): GraphTensor | undefined {
  const dtype = GRAPH_DTYPE.get(init.dataType);
  if (!dtype) return undefined;
  const data = tensorValues(init, bytes, file, readExternal);
  if (!data) return undefined;
  return { name: init.name, dtype, dims: init.dims, data };
}

/**
 * One serialized TensorProto (the `.pb` files of the ONNX test suites) as a graph tensor.
 * External data is not supported here.
 */
export function readTensorProto(bytes: Uint8Array, file: string): GraphTensor {
  const r = new WireReader(bytes, failer(file));
  const whole: WireField = { field: 0, wireType: WIRE_LEN, tagStart: 0, lenStart: 0, start: 0, end: bytes.length, value: bytes.length };
  const init = decodeTensorProto(r, whole, file, [], 0);
  const t = graphTensor(init, bytes, file, undefined);
  if (!t) throw new SculptError(`${file}: tensor ${init.name || '(unnamed)'} has ONNX data type ${init.dataType}, which sculpt does not read`);
  return t;
}
