/**
 * ONNX ModelProto decoded at the wire level: the graph's nodes, inputs and outputs as values, and
 * every initializer with the byte offsets of its payload, so a writer can change those bytes and
 * nothing else. Field numbers follow onnx/onnx.proto (checked against ONNX 1.12).
 */
import { SculptError } from '../core/errors.js';
import type { AttributeValue, GraphDType, GraphNode, GraphTensor, GraphValue, GraphValueInfo, GraphValueKind } from '../core/graph.js';
import { checkExpansion, shapeText } from '../core/limits.js';
import { numel } from '../core/types.js';
import { printable } from './printable.js';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader, type LenPrefix, type WireField } from './protobuf.js';
import { decodeFloats, type FloatDType } from './safetensors-dtypes.js';
import {
  MODEL_IR_VERSION, MODEL_GRAPH, MODEL_OPSET_IMPORT, OPSET_DOMAIN, OPSET_VERSION, GRAPH_NODE, GRAPH_NAME, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT, GRAPH_SPARSE_INITIALIZER, NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN, ATTR_NAME, ATTR_F, ATTR_I, ATTR_S, ATTR_T, ATTR_G, ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS, ATTR_TYPE, TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_FLOAT_DATA, TENSOR_INT32_DATA, TENSOR_INT64_DATA, TENSOR_UINT64_DATA, TENSOR_NAME, TENSOR_RAW_DATA, TENSOR_DOUBLE_DATA, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION, ENTRY_KEY, ENTRY_VALUE, VALUE_INFO_NAME, VALUE_INFO_TYPE, TYPE_TENSOR, TYPE_SEQUENCE, TYPE_MAP, TYPE_OPTIONAL, TYPE_TENSOR_ELEM_TYPE, TYPE_TENSOR_SHAPE, SHAPE_DIM, DIM_VALUE,
} from './onnx-fields.js';

/** TensorProto.DataType values sculpt knows by name. */
export const ONNX_DTYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** ONNX element types by tensor type name, as onnxruntime reports them (and sculpt's dtypes). */
export const ELEM: Record<string, number> = {
  float32: ONNX_DTYPE.FLOAT, int64: ONNX_DTYPE.INT64, int32: ONNX_DTYPE.INT32, bool: ONNX_DTYPE.BOOL,
  uint8: ONNX_DTYPE.UINT8, int8: ONNX_DTYPE.INT8, float16: ONNX_DTYPE.FLOAT16, float64: ONNX_DTYPE.DOUBLE,
};

/** Floating data types that go into a WeightSet, by their ONNX number. */
export const ONNX_FLOAT_DTYPE: ReadonlyMap<number, FloatDType> = new Map<number, FloatDType>([
  [ONNX_DTYPE.FLOAT, 'F32'], [ONNX_DTYPE.FLOAT16, 'F16'], [ONNX_DTYPE.DOUBLE, 'F64'], [ONNX_DTYPE.BFLOAT16, 'BF16'],
]);

const GRAPH_DTYPE: ReadonlyMap<number, GraphDType> = new Map<number, GraphDType>([
  [ONNX_DTYPE.FLOAT, 'float32'], [ONNX_DTYPE.FLOAT16, 'float16'], [ONNX_DTYPE.DOUBLE, 'float64'],
  [ONNX_DTYPE.BFLOAT16, 'float32'], [ONNX_DTYPE.INT64, 'int64'], [ONNX_DTYPE.INT32, 'int32'],
  [ONNX_DTYPE.INT16, 'int16'], [ONNX_DTYPE.INT8, 'int8'], [ONNX_DTYPE.UINT64, 'uint64'], [ONNX_DTYPE.UINT32, 'uint32'],
  [ONNX_DTYPE.UINT16, 'uint16'], [ONNX_DTYPE.UINT8, 'uint8'], [ONNX_DTYPE.BOOL, 'bool'],
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

/** Where a stored tensor sits in the model. */
export type TensorPlace = 'initializer' | 'constant' | 'sparse-initializer';

export interface OnnxInitializer {
  /** Initializer name, or for a Constant node the name of its output. */
  readonly name: string;
  /** TensorProto.DataType number. */
  readonly dataType: number;
  /** Dimensions of the (dense) tensor. */
  readonly dims: readonly number[];
  /** Where the values live; for a sparse initializer, its non-zero values. */
  readonly storage: OnnxStorage;
  /** Position among all stored tensors of the model, in file order (the tie-break order). */
  readonly index: number;
  /** Every length-delimited field around this tensor's TensorProto (outermost first), for splicing. */
  readonly enclosing: readonly LenPrefix[];
  readonly place: TensorPlace;
  /** '' in the main graph; inside a subgraph, the path of nodes and attributes, e.g. `If_0/then_branch`. */
  readonly scope: string;
  /** sparse_initializer: the int64 indices, flat [NNZ] or coordinates [NNZ, rank]. */
  readonly sparseIndices?: OnnxInitializer;
  /** sparse_initializer: number of stored values. */
  readonly sparseCount?: number;
}

/** A graph with its own stored tensors; subgraphs hang off their nodes. */
export interface DecodedGraph {
  readonly name: string;
  readonly scope: string;
  /** The GraphProto field and every field around it, outermost first (for edits inside it). */
  readonly enclosing: readonly LenPrefix[];
  readonly nodes: DecodedNode[];
  /** This graph's initializers and sparse initializers (not its Constant nodes' tensors). */
  readonly initializers: OnnxInitializer[];
  readonly inputs: GraphValueInfo[];
  readonly outputs: GraphValueInfo[];
}

export interface DecodedNode extends GraphNode {
  /** Graph-valued attributes (If's branches, Loop's and Scan's bodies), by attribute name. */
  readonly subgraphs: ReadonlyMap<string, DecodedGraph>;
}

export interface DecodedOnnx {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly graphName: string;
  /** The main graph's nodes, inputs and outputs. */
  readonly nodes: DecodedNode[];
  readonly inputs: GraphValueInfo[];
  readonly outputs: GraphValueInfo[];
  readonly graph: DecodedGraph;
  /**
   * Every stored tensor of the model in file order: initializers, sparse initializers and Constant
   * nodes' `value` tensors, of the main graph and of every subgraph.
   */
  readonly initializers: OnnxInitializer[];
  /** Nodes of the main graph and of every subgraph, outer before inner. */
  readonly allNodes: DecodedNode[];
  readonly sparseInitializerCount: number;
}

export function failer(file: string): (offset: number, why: string) => never {
  return (offset, why) => {
    why = printable(why);
    const detail = why === 'truncated' ? `truncated at byte ${offset}` : `${why} at byte ${offset}`;
    throw new SculptError(`${file}: not a valid ONNX model (${detail}); re-export or re-download it`);
  };
}

type ReadExternal = (location: string, offset: number, length: number, tensor: string) => Uint8Array;

/** Shared state of one decode: every stored tensor and node, in file order. */
interface DecodeContext {
  readonly r: WireReader;
  readonly file: string;
  readonly tensors: OnnxInitializer[];
  readonly allNodes: DecodedNode[];
  readonly readExternal: ReadExternal | undefined;
  depth: number;
}

const prefixOf = (f: WireField): LenPrefix => ({ lenStart: f.lenStart, start: f.start, end: f.end });

/** Subgraphs nested deeper than this are refused (a hostile file could recurse without end). */
const MAX_GRAPH_DEPTH = 64;

/** Tensors of more dimensions are refused (ONNX sets no limit; real models stay far below). */
const MAX_RANK = 64;

/** The TensorProto field each data type keeps its values in when not in raw_data (onnx.proto). */
const TYPED_FIELD: ReadonlyMap<number, number> = new Map([
  [ONNX_DTYPE.FLOAT, TENSOR_FLOAT_DATA], [ONNX_DTYPE.DOUBLE, TENSOR_DOUBLE_DATA],
  [ONNX_DTYPE.INT64, TENSOR_INT64_DATA], [ONNX_DTYPE.UINT32, TENSOR_UINT64_DATA], [ONNX_DTYPE.UINT64, TENSOR_UINT64_DATA],
  [ONNX_DTYPE.INT32, TENSOR_INT32_DATA], [ONNX_DTYPE.INT16, TENSOR_INT32_DATA], [ONNX_DTYPE.INT8, TENSOR_INT32_DATA],
  [ONNX_DTYPE.UINT16, TENSOR_INT32_DATA], [ONNX_DTYPE.UINT8, TENSOR_INT32_DATA], [ONNX_DTYPE.BOOL, TENSOR_INT32_DATA],
  [ONNX_DTYPE.FLOAT16, TENSOR_INT32_DATA], [ONNX_DTYPE.BFLOAT16, TENSOR_INT32_DATA],
]);

function typedFieldName(field: number): string {
  switch (field) {
    case TENSOR_FLOAT_DATA: return 'float_data';
    case TENSOR_INT32_DATA: return 'int32_data';
    case TENSOR_INT64_DATA: return 'int64_data';
    case TENSOR_DOUBLE_DATA: return 'double_data';
    default: return 'uint64_data';
  }
}

/**
 * Decodes the model structure; tensor values stay where they are (see `OnnxStorage`).
 * `readExternal` lets Constant nodes whose value is stored externally be decoded.
 */
export function decodeOnnx(bytes: Uint8Array, file: string, readExternal?: ReadExternal): DecodedOnnx {
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
  const ctx: DecodeContext = { r, file, tensors: [], allNodes: [], readExternal, depth: 0 };
  const graph = decodeGraph(ctx, graphField, [], '');
  const names = new Map<string, OnnxInitializer>();
  for (const t of ctx.tensors) {
    const other = names.get(t.name);
    if (other && t.name !== '') {
      throw new SculptError(`${file}: two stored tensors are both named ${printable(t.name)} (${describePlace(other)} and ${describePlace(t)}); the model is malformed, re-export it`);
    }
    names.set(t.name, t);
  }
  const sparseInitializerCount = ctx.tensors.filter((t) => t.place === 'sparse-initializer').length;
  return {
    irVersion, opsetVersion, graphName: graph.name, nodes: graph.nodes, inputs: graph.inputs, outputs: graph.outputs,
    graph, initializers: ctx.tensors, allNodes: ctx.allNodes, sparseInitializerCount,
  };
}

/** "initializer", "Constant node", "sparse initializer", with the subgraph when there is one. */
export function describePlace(t: OnnxInitializer): string {
  const what = t.place === 'constant' ? 'Constant node' : t.place === 'sparse-initializer' ? 'sparse initializer' : 'initializer';
  return t.scope ? `${what} in subgraph ${printable(t.scope)}` : what;
}

function decodeGraph(ctx: DecodeContext, graphField: WireField, outer: readonly LenPrefix[], scope: string): DecodedGraph {
  const { r, file } = ctx;
  if (++ctx.depth > MAX_GRAPH_DEPTH) throw new SculptError(`${file}: subgraphs nested more than ${MAX_GRAPH_DEPTH} deep; the model is malformed`);
  const enclosing = [...outer, prefixOf(graphField)];
  const nodes: DecodedNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const inputs: GraphValueInfo[] = [];
  const outputs: GraphValueInfo[] = [];
  let name = '';
  for (const f of r.fields(graphField.start, graphField.end)) {
    switch (f.field) {
      case GRAPH_NODE:
        r.expect(f, WIRE_LEN);
        nodes.push(decodeNode(ctx, f, enclosing, scope, nodes.length));
        break;
      case GRAPH_NAME:
        name = r.string(f);
        break;
      case GRAPH_INITIALIZER: {
        r.expect(f, WIRE_LEN);
        const t = decodeTensorProto(r, f, file, [...enclosing, prefixOf(f)], ctx.tensors.length, 'initializer', scope);
        ctx.tensors.push(t);
        initializers.push(t);
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
      case GRAPH_SPARSE_INITIALIZER: {
        r.expect(f, WIRE_LEN);
        const t = decodeSparseTensor(ctx, f, [...enclosing, prefixOf(f)], scope);
        ctx.tensors.push(t);
        initializers.push(t);
        break;
      }
    }
  }
  ctx.depth--;
  // Before IR 4 initializers were also listed as inputs; the IR keeps only the real inputs.
  const initNames = new Set(initializers.map((t) => t.name));
  return { name, scope, enclosing, nodes, initializers, inputs: inputs.filter((i) => !initNames.has(i.name)), outputs };
}

function decodeNode(ctx: DecodeContext, f: WireField, outer: readonly LenPrefix[], scope: string, position: number): DecodedNode {
  const { r } = ctx;
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes = new Map<string, AttributeValue>();
  const subgraphs = new Map<string, DecodedGraph>();
  const attributeFields: WireField[] = [];
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
      case NODE_ATTRIBUTE: r.expect(g, WIRE_LEN); attributeFields.push(g); break;
    }
  }
  // Attributes after the node's fields are known: a subgraph's scope and a Constant's name need them.
  const label = name || `${opType}#${position}`;
  const enclosing = [...outer, prefixOf(f)];
  const isConstant = opType === 'Constant' && (domain === '' || domain === 'ai.onnx');
  for (const g of attributeFields) {
    const a = decodeAttribute(ctx, g, [...enclosing, prefixOf(g)], {
      scope: scope ? `${scope}/${label}` : label,
      constantName: isConstant ? outputs[0] ?? '' : undefined,
      parentScope: scope,
    });
    if (!a) continue;
    if (a.kind === 'graph') subgraphs.set(a.name, a.graph);
    else attributes.set(a.name, a.value);
  }
  const node: DecodedNode = { name, opType, inputs, outputs, attributes, domain, subgraphs };
  // Outer nodes come before the nodes of their subgraphs.
  ctx.allNodes.splice(ctx.allNodes.length - countNested(subgraphs), 0, node);
  return node;
}

function countNested(subgraphs: ReadonlyMap<string, DecodedGraph>): number {
  let n = 0;
  for (const g of subgraphs.values()) for (const node of g.nodes) n += 1 + countNested(node.subgraphs);
  return n;
}

interface AttributeContext {
  /** Scope of subgraphs this attribute holds: the node's path. */
  readonly scope: string;
  /** For a Constant node: its output name, which names the stored tensor. */
  readonly constantName: string | undefined;
  /** The scope the node itself is in. */
  readonly parentScope: string;
}

type DecodedAttribute = { kind: 'value'; name: string; value: AttributeValue } | { kind: 'graph'; name: string; graph: DecodedGraph };

/** An attribute's value, a subgraph, or undefined for kinds sculpt does not use (lists of graphs). */
function decodeAttribute(ctx: DecodeContext, f: WireField, enclosing: readonly LenPrefix[], at: AttributeContext): DecodedAttribute | undefined {
  const { r, file } = ctx;
  let name = '';
  let type = 0;
  let f32: number | undefined;
  let int: number | undefined;
  let s: string | undefined;
  let tensorField: WireField | undefined;
  let graphField: WireField | undefined;
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
      case ATTR_T: r.expect(g, WIRE_LEN); tensorField = g; break;
      case ATTR_G: r.expect(g, WIRE_LEN); graphField = g; break;
      case ATTR_FLOATS:
        if (g.wireType === WIRE_FIXED32) floats.push(r.float32(g));
        else {
          r.expect(g, WIRE_LEN);
          const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset + g.start, g.end - g.start);
          for (let p = 0; p + 4 <= g.end - g.start; p += 4) floats.push(dv.getFloat32(p, true));
        }
        break;
      case ATTR_INTS: for (const v of r.varints(g)) ints.push(v); break;
      case ATTR_STRINGS: strings.push(r.string(g)); break;
    }
  }
  const tensor = (): AttributeValue | undefined => {
    if (!tensorField) return undefined;
    const constant = at.constantName !== undefined && name === 'value';
    const init = decodeTensorProto(r, tensorField, file, [...enclosing, prefixOf(tensorField)], ctx.tensors.length, 'constant', at.parentScope);
    const stored = constant ? { ...init, name: at.constantName! } : init;
    if (constant) ctx.tensors.push(stored);
    return graphTensor(stored, r.bytes, file, ctx.readExternal);
  };
  const graph = (): DecodedAttribute => ({ kind: 'graph', name, graph: decodeGraph(ctx, graphField!, enclosing, `${at.scope}/${name}`) });
  const value = (v: AttributeValue | undefined): DecodedAttribute | undefined => (v === undefined ? undefined : { kind: 'value', name, value: v });
  switch (type) {
    case 1: return value(f32 ?? 0);
    case 2: return value(int ?? 0);
    case 3: return value(s ?? '');
    case 4: return value(tensor());
    case 5: return graphField ? graph() : undefined;
    case 6: return value(Float32Array.from(floats));
    case 7: return value(ints);
    case 8: return value(strings);
    case 0: break;
    default: return undefined;
  }
  // IR 1 had no type field: go by what is present.
  if (graphField) return graph();
  if (f32 !== undefined) return value(f32);
  if (int !== undefined) return value(int);
  if (s !== undefined) return value(s);
  if (tensorField) return value(tensor());
  if (floats.length) return value(Float32Array.from(floats));
  if (strings.length) return value(strings);
  return value(ints);
}

/** A SparseTensorProto: values (a TensorProto of NNZ elements), indices, and the dense dims. */
function decodeSparseTensor(ctx: DecodeContext, f: WireField, enclosing: readonly LenPrefix[], scope: string): OnnxInitializer {
  const { r, file } = ctx;
  let valuesField: WireField | undefined;
  let indicesField: WireField | undefined;
  const dims: number[] = [];
  for (const g of r.fields(f.start, f.end)) {
    if (g.field === 1) { r.expect(g, WIRE_LEN); valuesField = g; }
    else if (g.field === 2) { r.expect(g, WIRE_LEN); indicesField = g; }
    else if (g.field === 3) for (const v of r.varints(g)) dims.push(v);
  }
  if (!valuesField || !indicesField) throw new SculptError(`${file}: a sparse initializer lacks its values or indices; the model is malformed`);
  const values = decodeTensorProto(r, valuesField, file, [...enclosing, prefixOf(valuesField)], ctx.tensors.length, 'sparse-initializer', scope);
  const indices = decodeTensorProto(r, indicesField, file, [...enclosing, prefixOf(indicesField)], -1, 'sparse-initializer', scope);
  const label = printable(values.name || '(unnamed)');
  if (dims.length > MAX_RANK) throw new SculptError(`${file}: sparse initializer ${label} has ${dims.length} dimensions, more than the ${MAX_RANK} sculpt reads; the model is malformed`);
  for (const d of dims) if (!(d >= 0)) throw new SculptError(`${file}: sparse initializer ${label} has a negative dimension ${d}; the model is malformed`);
  if (indices.dataType !== ONNX_DTYPE.INT64) throw new SculptError(`${file}: sparse initializer ${label} has indices of ONNX type ${indices.dataType}, not int64; the model is malformed`);
  const nnz = numel(values.dims);
  const coordinates = indices.dims.length === 2;
  if (values.dims.length !== 1 || numel(indices.dims) !== (coordinates ? nnz * dims.length : nnz) || (coordinates && indices.dims[1] !== dims.length)) {
    throw new SculptError(`${file}: sparse initializer ${label} has values ${shapeText(values.dims)} and indices ${shapeText(indices.dims)}, which do not fit its shape ${shapeText(dims)}; the model is malformed`);
  }
  if (!Number.isSafeInteger(numel(dims))) throw new SculptError(`${file}: sparse initializer ${label} has shape ${shapeText(dims)}, whose element count is not a safe integer; the model is malformed`);
  if (nnz > numel(dims)) throw new SculptError(`${file}: sparse initializer ${label} stores ${nnz} values but its shape ${shapeText(dims)} has only ${numel(dims)} elements; the model is malformed`);
  return { ...values, dims, sparseIndices: indices, sparseCount: nnz };
}

function decodeValueInfo(r: WireReader, f: WireField): GraphValueInfo {
  let name = '';
  let type: ValueType = { kind: 'tensor', elemType: 0, dims: [] };
  for (const g of r.fields(f.start, f.end)) {
    if (g.field === VALUE_INFO_NAME) name = r.string(g);
    else if (g.field === VALUE_INFO_TYPE && g.wireType === WIRE_LEN) type = decodeType(r, g, 0);
  }
  const { kind, elemType, dims } = type;
  const dtype = GRAPH_DTYPE.get(elemType);
  // elemType only where dtype does not say it: bfloat16 (held as float32) and types sculpt does not hold.
  const lossy = elemType !== 0 && (elemType === ONNX_DTYPE.BFLOAT16 || dtype === undefined);
  return { name, dtype: dtype ?? 'float32', dims, ...(kind !== 'tensor' && { kind }), ...(lossy && { elemType }) };
}

interface ValueType { readonly kind: GraphValueKind; readonly elemType: number; readonly dims: number[] }

/** A TypeProto: its outer kind, and the element type and shape of the innermost tensor type. */
function decodeType(r: WireReader, g: WireField, depth: number): ValueType {
  let type: ValueType = { kind: 'tensor', elemType: 0, dims: [] };
  if (depth > MAX_GRAPH_DEPTH) return type;
  for (const tt of r.fields(g.start, g.end)) {
    if (tt.wireType !== WIRE_LEN) continue;
    if (tt.field === TYPE_TENSOR) {
      let elemType = 0;
      const dims: number[] = [];
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
      type = { kind: 'tensor', elemType, dims };
    } else if (tt.field === TYPE_SEQUENCE || tt.field === TYPE_OPTIONAL) {
      // Sequence and Optional hold one TypeProto, elem_type (field 1).
      let inner: ValueType = { kind: 'tensor', elemType: 0, dims: [] };
      for (const x of r.fields(tt.start, tt.end)) if (x.field === 1 && x.wireType === WIRE_LEN) inner = decodeType(r, x, depth + 1);
      type = { ...inner, kind: tt.field === TYPE_SEQUENCE ? 'sequence' : 'optional' };
    } else if (tt.field === TYPE_MAP) type = { kind: 'map', elemType: 0, dims: [] };
  }
  return type;
}

function decodeTensorProto(r: WireReader, f: WireField, file: string, enclosing: readonly LenPrefix[], index: number, place: TensorPlace, scope: string): OnnxInitializer {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: WireField | undefined;
  const fixedRuns: { start: number; count: number }[] = [];
  let fixedWidth: 4 | 8 = 4;
  const varintFields: WireField[] = [];
  /** The typed-data fields present (float_data, int32_data, …): at most one, and the right one for the type. */
  const typedFields = new Set<number>();
  let external = false;
  const entries: { key: string; value: string; entry: WireField; valueField: WireField | undefined }[] = [];
  for (const g of r.fields(f.start, f.end)) {
    switch (g.field) {
      case TENSOR_DIMS: for (const v of r.varints(g)) dims.push(v); break;
      case TENSOR_DATA_TYPE: dataType = g.value; break;
      case TENSOR_NAME: name = r.string(g); break;
      case TENSOR_RAW_DATA: r.expect(g, WIRE_LEN); raw = g; break;
      case TENSOR_FLOAT_DATA:
      case TENSOR_DOUBLE_DATA: {
        typedFields.add(g.field);
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
        typedFields.add(g.field);
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
  const label = printable(name || `#${index}`);
  if (dims.length > MAX_RANK) throw new SculptError(`${file}: tensor ${label} has ${dims.length} dimensions, more than the ${MAX_RANK} sculpt reads; the model is malformed`);
  for (const d of dims) {
    if (d < 0) throw new SculptError(`${file}: tensor ${label} has a negative dimension ${d}; the model is malformed`);
  }
  const count = numel(dims);
  if (!Number.isSafeInteger(count)) throw new SculptError(`${file}: tensor ${label} has shape ${shapeText(dims)}, whose element count is not a safe integer; the model is malformed`);
  if (typedFields.size > 1 || (typedFields.size === 1 && (raw || external))) {
    throw new SculptError(`${file}: tensor ${label} stores its values in more than one of raw_data, external data and the typed fields ${[...typedFields].map(typedFieldName).join(', ')}; the model is malformed`);
  }
  const typed = [...typedFields][0];
  const expected = TYPED_FIELD.get(dataType);
  if (typed !== undefined && expected !== undefined && typed !== expected) {
    throw new SculptError(`${file}: tensor ${label} of ONNX type ${dataType} stores its values in ${typedFieldName(typed)}, but that type belongs in ${typedFieldName(expected)} or raw_data; the model is malformed`);
  }
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
      throw new SculptError(`${file}: tensor ${label} holds ${have} values but its shape ${shapeText(dims)} needs ${count}; the model is malformed`);
    }
  }
  return { name, dataType, dims, storage, index, enclosing, place, scope };
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
  readExternal: ReadExternal | undefined,
): GraphTensor['data'] | undefined {
  if (init.sparseIndices) return sparseValues(init, bytes, file, readExternal);
  const n = numel(init.dims);
  const floatDType = ONNX_FLOAT_DTYPE.get(init.dataType);
  const s = init.storage;
  let payload: Uint8Array | undefined;
  if (s.kind === 'raw') payload = bytes.subarray(s.start, s.end);
  else if (s.kind === 'external') {
    if (!readExternal) throw new SculptError(`${file}: tensor ${printable(init.name)} is stored externally, which is not supported here`);
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
      if (bits.length !== n) throw new SculptError(`${file}: tensor ${printable(init.name)} holds ${bits.length} values but its shape needs ${n}; the model is malformed`);
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
      case 'uint64': return new BigUint64Array(copy.buffer, 0, n);
      case 'int32': return new Int32Array(copy.buffer, 0, n);
      case 'uint32': return new Uint32Array(copy.buffer, 0, n);
      case 'int16': return new Int16Array(copy.buffer, 0, n);
      case 'uint16': return new Uint16Array(copy.buffer, 0, n);
      case 'int8': return new Int8Array(copy.buffer, 0, n);
      default: return new Uint8Array(copy.buffer, 0, n);
    }
  }
  const values = s.kind === 'varint' ? varintValues(s.fields, bytes, file) : [];
  if (values.length !== n) throw new SculptError(`${file}: tensor ${printable(init.name)} holds ${values.length} values but its shape needs ${n}; the model is malformed`);
  switch (dtype) {
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(v));
    // uint64_data is read as signed 64-bit: values of 2^63 and above come back negative (and, like all above 2^53, inexact).
    case 'uint64': return BigUint64Array.from(values, (v) => BigInt.asUintN(64, BigInt(v)));
    case 'int32': return Int32Array.from(values);
    case 'uint32': return Uint32Array.from(values);
    case 'int16': return Int16Array.from(values);
    case 'uint16': return Uint16Array.from(values);
    case 'int8': return Int8Array.from(values);
    default: return Uint8Array.from(values);
  }
}

/** A sparse initializer's values scattered into a dense array (within the expansion budget, see core/limits.ts). */
function sparseValues(init: OnnxInitializer, bytes: Uint8Array, file: string, readExternal: ReadExternal | undefined): GraphTensor['data'] | undefined {
  const n = numel(init.dims);
  const label = printable(init.name);
  const stored = init.storage.kind === 'external' ? init.storage.length : 0;
  checkExpansion(`${file}: sparse initializer ${label} of shape ${shapeText(init.dims)}`, n * (ELEMENT_BYTES.get(init.dataType) ?? 8), bytes.length + stored);
  const nnz = init.sparseCount ?? 0;
  const values = tensorValues({ ...init, dims: [nnz], sparseIndices: undefined }, bytes, file, readExternal);
  if (!values) return undefined;
  const idx = tensorValues(init.sparseIndices!, bytes, file, readExternal) as BigInt64Array;
  const rank = init.dims.length;
  const coordinates = init.sparseIndices!.dims.length === 2;
  const Dense = values.constructor as new (length: number) => typeof values;
  const out = new Dense(n);
  for (let k = 0; k < nnz; k++) {
    let at = 0;
    if (coordinates) {
      for (let d = 0; d < rank; d++) {
        const c = Number(idx[k * rank + d]);
        if (!(c >= 0 && c < init.dims[d])) throw new SculptError(`${file}: sparse initializer ${label} has index ${c} outside dimension ${d} of ${shapeText(init.dims)}; the model is malformed`);
        at = at * init.dims[d] + c;
      }
    } else at = Number(idx[k]);
    if (!(at >= 0 && at < n)) throw new SculptError(`${file}: sparse initializer ${label} has index ${at} outside its ${n} elements; the model is malformed`);
    (out as Float32Array)[at] = (values as Float32Array)[k];
  }
  return out;
}

/** Flat positions in the dense tensor of a sparse initializer's stored values, in storage order. */
export function sparsePositions(init: OnnxInitializer, bytes: Uint8Array, file: string, readExternal: ReadExternal | undefined): Float64Array {
  const nnz = init.sparseCount ?? 0;
  const idx = tensorValues(init.sparseIndices!, bytes, file, readExternal) as BigInt64Array;
  const rank = init.dims.length;
  const coordinates = init.sparseIndices!.dims.length === 2;
  const out = new Float64Array(nnz);
  const n = numel(init.dims);
  for (let k = 0; k < nnz; k++) {
    let at = 0;
    if (coordinates) {
      for (let d = 0; d < rank; d++) {
        const c = Number(idx[k * rank + d]);
        if (!(c >= 0 && c < init.dims[d])) throw new SculptError(`${file}: sparse initializer ${printable(init.name)} has index ${c} outside dimension ${d} of ${shapeText(init.dims)}; the model is malformed`);
        at = at * init.dims[d] + c;
      }
    } else at = Number(idx[k]);
    if (!(at >= 0 && at < n)) throw new SculptError(`${file}: sparse initializer ${printable(init.name)} has index ${at} outside its ${n} elements; the model is malformed`);
    out[k] = at;
  }
  return out;
}

function varintValues(fields: readonly WireField[], bytes: Uint8Array, file: string): number[] {
  const r = new WireReader(bytes, failer(file));
  const out: number[] = [];
  // No spread: a packed field may hold millions of values, more than a call's arguments.
  for (const f of fields) for (const v of r.varints(f)) out.push(v);
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
  return tensorOf(r, whole, file);
}

function tensorOf(r: WireReader, f: WireField, file: string): GraphTensor {
  const init = decodeTensorProto(r, f, file, [], 0, 'initializer', '');
  const t = graphTensor(init, r.bytes, file, undefined);
  if (t) return t;
  const typeName = Object.entries(ONNX_DTYPE).find(([, v]) => v === init.dataType)?.[0];
  throw new SculptError(`${file}: tensor ${printable(init.name || '(unnamed)')} has ONNX data type ${init.dataType}${typeName ? ` (${typeName})` : ''}, which sculpt does not read (it holds numbers and booleans only)`);
}

/**
 * One serialized value of a test suite's `.pb` files, as the graph input or output's `kind` says:
 * a TensorProto, a SequenceProto or an OptionalProto (onnx.proto). Maps and sparse tensors are refused.
 */
export function readValueProto(bytes: Uint8Array, file: string, kind: GraphValueKind = 'tensor'): GraphValue {
  const r = new WireReader(bytes, failer(file));
  return decodeValue(r, { field: 0, wireType: WIRE_LEN, tagStart: 0, lenStart: 0, start: 0, end: bytes.length, value: bytes.length }, file, kind, 0);
}

/** SequenceProto/OptionalProto elem_type values. */
const VALUE_ELEM_KIND: ReadonlyMap<number, GraphValueKind> = new Map([[1, 'tensor'], [3, 'sequence'], [4, 'map'], [5, 'optional']]);

/**
 * The value fields of SequenceProto (repeated) and OptionalProto (one): name 1, elem_type 2, then
 * tensor 3, sparse tensor 4, sequence 5, map 6, optional 7 (onnx-data.proto).
 */
const VALUE_FIELD_KIND: ReadonlyMap<number, GraphValueKind | 'sparse'> = new Map([[3, 'tensor'], [4, 'sparse'], [5, 'sequence'], [6, 'map'], [7, 'optional']]);

function decodeValue(r: WireReader, f: WireField, file: string, kind: GraphValueKind, depth: number): GraphValue {
  if (kind === 'tensor') {
    return { kind, tensor: tensorOf(r, f, file) };
  }
  if (kind === 'map') throw new SculptError(`${file}: holds an ONNX map value, which sculpt does not read`);
  if (depth > MAX_GRAPH_DEPTH) throw new SculptError(`${file}: values nested more than ${MAX_GRAPH_DEPTH} deep; the file is malformed`);
  const fieldKind = VALUE_FIELD_KIND;
  let name = '';
  let elemKind: GraphValueKind | undefined;
  const items: GraphValue[] = [];
  for (const g of r.fields(f.start, f.end)) {
    if (g.field === 1) name = r.string(g);
    else if (g.field === 2) {
      r.expect(g, WIRE_VARINT);
      elemKind = VALUE_ELEM_KIND.get(g.value);
      if (g.value !== 0 && !elemKind) throw new SculptError(`${file}: ${kind} ${printable(name)} has element type ${g.value}, which sculpt does not read`);
    } else {
      const k = fieldKind.get(g.field);
      if (!k) continue;
      r.expect(g, WIRE_LEN);
      if (k === 'sparse') throw new SculptError(`${file}: ${kind} ${printable(name)} holds sparse tensors, which sculpt does not read`);
      if (elemKind && k !== elemKind) throw new SculptError(`${file}: ${kind} ${printable(name)} says it holds ${elemKind} values but holds ${k} values; the file is malformed`);
      items.push(decodeValue(r, g, file, k, depth + 1));
    }
  }
  if (kind === 'sequence') return { kind, name, items };
  if (items.length > 1) throw new SculptError(`${file}: optional ${printable(name)} holds ${items.length} values, not one or none; the file is malformed`);
  return items.length ? { kind, name, value: items[0] } : { kind, name };
}
