/**
 * Structural edits of ONNX model bytes that keep every untouched byte: drop and add main-graph
 * initializers, add sparse initializers and graph outputs. Positions come from the decoder, new
 * messages from the builder, lengths are fixed up by the splice: the one place such edits live
 * (pack, the .sculpt container, calibration's extra outputs).
 */
import { SculptError } from '../core/errors.js';
import { encodeSparseTensorProto, encodeTensorProto, encodeValueInfo, type TensorSpec, type ValueSpec } from './onnx-build.js';
import { decodeOnnx, failer, type DecodedGraph } from './onnx-decode.js';
import * as F from './onnx-fields.js';
import { concatBytes, encodeSignedVarint, lenField, spliceWithLengthFixup, WIRE_LEN, WireReader, type LenPrefix, type SpliceEdit, type WireField } from './protobuf.js';


/** A tensor to add, optionally inside a subgraph (`scope` as the decoder names it; '' is the main graph). */
export type ScopedTensor = TensorSpec & { readonly scope?: string };

export interface GraphEdits {
  /**
   * Stored tensors to remove, by name, wherever they live (each must exist): an initializer leaves
   * its graph's list, a Constant node is removed with its node (add the tensor back as an
   * initializer of the same scope to keep the graph valid).
   */
  readonly dropInitializers?: ReadonlySet<string>;
  /** Initializers to append (float32 or int64, raw_data), each to the graph of its scope. */
  readonly addInitializers?: readonly ScopedTensor[];
  /** Float32 tensors to append as sparse initializers (their non-zeros, COO), each to the graph of its scope. */
  readonly addSparseInitializers?: readonly { readonly name: string; readonly dims: readonly number[]; readonly data: Float32Array; readonly scope?: string }[];
  /** Graph outputs to append to the main graph. */
  readonly addOutputs?: readonly ValueSpec[];
  /**
   * Inputs of main-graph nodes to set, by node position: `index` below the node's input count
   * replaces that input's name, at or past it appends (missing ones in between become '').
   */
  readonly setNodeInputs?: readonly { readonly node: number; readonly index: number; readonly value: string }[];
  /** Integer attributes of main-graph nodes to set, by node position (each must exist: e.g. a depthwise Conv's `group`). */
  readonly setNodeInts?: readonly { readonly node: number; readonly name: string; readonly value: number }[];
  /** Main-graph value_info entries to remove, by value name (shapes a structural edit made stale). */
  readonly dropValueInfo?: ReadonlySet<string>;
  /**
   * Main-graph inputs to remove, by name: before IR 4 every initializer was also listed as an input
   * with its shape, which a replaced initializer of another shape would contradict.
   */
  readonly dropInputs?: ReadonlySet<string>;
}

/** The model's bytes with `edits` applied; `file` names it in errors. */
export function editGraph(bytes: Uint8Array, file: string, edits: GraphEdits): Uint8Array {
  const r = new WireReader(bytes, failer(file));
  const top = r.fields(0, bytes.length).find((f) => f.field === F.MODEL_GRAPH && f.wireType === WIRE_LEN);
  if (!top) throw new SculptError(`${file}: not a valid ONNX model (no graph found); is this really an .onnx file?`);
  const decoded = decodeOnnx(bytes, file);
  // Every graph by scope, with the chain of fields around (and including) its GraphProto.
  const graphs = new Map<string, readonly LenPrefix[]>();
  const visit = (g: DecodedGraph): void => {
    graphs.set(g.scope, g.enclosing);
    for (const n of g.nodes) for (const sub of n.subgraphs.values()) visit(sub);
  };
  visit(decoded.graph);
  const splices: SpliceEdit[] = [];
  const drop = edits.dropInitializers ?? new Set<string>();
  if (drop.size > 0) {
    const found = new Set<string>();
    for (const t of decoded.initializers) {
      if (!drop.has(t.name)) continue;
      found.add(t.name);
      // The field to cut: the initializer (or sparse initializer) itself, or a Constant's whole node
      // (tensor inside attribute inside node). Each has a one-byte tag (field numbers below 16).
      const depth = t.place === 'constant' ? 3 : t.place === 'sparse-initializer' ? 2 : 1;
      const field = t.enclosing[t.enclosing.length - depth];
      splices.push({ start: field.lenStart - 1, end: field.end, bytes: new Uint8Array(0), enclosing: t.enclosing.slice(0, t.enclosing.length - depth) });
    }
    for (const name of drop) if (!found.has(name)) throw new SculptError(`${file}: the ONNX model has no stored tensor named ${name}`);
  }
  const added = new Map<string, Uint8Array[]>();
  const addTo = (scope: string | undefined, field: Uint8Array): void => {
    const key = scope ?? '';
    if (!graphs.has(key)) throw new SculptError(`${file}: the ONNX model has no subgraph ${key}`);
    const list = added.get(key) ?? [];
    list.push(field);
    added.set(key, list);
  };
  for (const t of edits.addInitializers ?? []) addTo(t.scope, lenField(F.GRAPH_INITIALIZER, encodeTensorProto(t)));
  for (const t of edits.addSparseInitializers ?? []) addTo(t.scope, lenField(F.GRAPH_SPARSE_INITIALIZER, encodeSparseTensorProto(t.name, t.dims, t.data)));
  for (const v of edits.addOutputs ?? []) addTo('', lenField(F.GRAPH_OUTPUT, encodeValueInfo(v)));
  if (edits.setNodeInputs?.length || edits.setNodeInts?.length || edits.dropValueInfo?.size || edits.dropInputs?.size) splices.push(...mainGraphEdits(r, decoded.graph.enclosing, edits, file));
  for (const [scope, fields] of added) {
    const chain = graphs.get(scope)!;
    const g = chain[chain.length - 1];
    splices.push({ start: g.end, end: g.end, bytes: concatBytes(fields), enclosing: chain });
  }
  if (splices.length === 0) return bytes;
  return spliceWithLengthFixup(bytes, splices);
}

const utf8 = new TextEncoder();
const prefix = (f: WireField): LenPrefix => ({ lenStart: f.lenStart, start: f.start, end: f.end });

/** Splices for node inputs and value_info entries of the main graph (`chain`: the fields around its GraphProto). */
function mainGraphEdits(r: WireReader, chain: readonly LenPrefix[], edits: GraphEdits, file: string): SpliceEdit[] {
  const g = chain[chain.length - 1];
  const fields = r.fields(g.start, g.end);
  const nodes = fields.filter((f) => f.field === F.GRAPH_NODE && f.wireType === WIRE_LEN);
  const out: SpliceEdit[] = [];
  const byNode = new Map<number, { index: number; value: string }[]>();
  for (const e of edits.setNodeInputs ?? []) {
    if (!nodes[e.node]) throw new SculptError(`${file}: the ONNX model has no node at position ${e.node}`);
    const list = byNode.get(e.node) ?? [];
    list.push(e);
    byNode.set(e.node, list);
  }
  for (const [at, list] of byNode) {
    const node = nodes[at];
    const inputs = r.fields(node.start, node.end).filter((f) => f.field === F.NODE_INPUT && f.wireType === WIRE_LEN);
    const appended: string[] = [];
    for (const { index, value } of [...list].sort((a, b) => a.index - b.index)) {
      if (index < inputs.length) {
        const f = inputs[index];
        out.push({ start: f.start, end: f.end, bytes: utf8.encode(value), enclosing: [...chain, prefix(node), prefix(f)] });
      } else {
        while (inputs.length + appended.length < index) appended.push('');
        appended.push(value);
      }
    }
    if (appended.length) {
      // After the last input: node inputs are positional, in the order their fields appear.
      const where = inputs.length ? inputs[inputs.length - 1].end : node.start;
      out.push({ start: where, end: where, bytes: concatBytes(appended.map((v) => lenField(F.NODE_INPUT, utf8.encode(v)))), enclosing: [...chain, prefix(node)] });
    }
  }
  for (const e of edits.setNodeInts ?? []) {
    const node = nodes[e.node];
    if (!node) throw new SculptError(`${file}: the ONNX model has no node at position ${e.node}`);
    const attr = r.fields(node.start, node.end).find((f) => {
      if (f.field !== F.NODE_ATTRIBUTE || f.wireType !== WIRE_LEN) return false;
      const name = r.fields(f.start, f.end).find((x) => x.field === F.ATTR_NAME && x.wireType === WIRE_LEN);
      return name !== undefined && r.string(name) === e.name;
    });
    const value = attr && r.fields(attr.start, attr.end).find((x) => x.field === F.ATTR_I && x.wireType !== WIRE_LEN);
    if (!attr || !value) throw new SculptError(`${file}: node ${e.node} has no integer attribute ${e.name}`);
    out.push({ start: value.start, end: value.end, bytes: encodeSignedVarint(e.value), enclosing: [...chain, prefix(node), prefix(attr)] });
  }
  const drop = new Map<number, ReadonlySet<string>>([[F.GRAPH_VALUE_INFO, edits.dropValueInfo ?? new Set()], [F.GRAPH_INPUT, edits.dropInputs ?? new Set()]]);
  for (const f of fields) {
    const names = drop.get(f.field);
    if (!names?.size || f.wireType !== WIRE_LEN) continue;
    const name = r.fields(f.start, f.end).find((x) => x.field === F.VALUE_INFO_NAME && x.wireType === WIRE_LEN);
    if (name && names.has(r.string(name))) out.push({ start: f.tagStart, end: f.end, bytes: new Uint8Array(0), enclosing: chain });
  }
  return out;
}
