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
import { concatBytes, lenField, spliceWithLengthFixup, WIRE_LEN, WireReader, type LenPrefix, type SpliceEdit } from './protobuf.js';


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
  for (const [scope, fields] of added) {
    const chain = graphs.get(scope)!;
    const g = chain[chain.length - 1];
    splices.push({ start: g.end, end: g.end, bytes: concatBytes(fields), enclosing: chain });
  }
  if (splices.length === 0) return bytes;
  return spliceWithLengthFixup(bytes, splices);
}
