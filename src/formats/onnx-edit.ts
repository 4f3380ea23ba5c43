/**
 * Structural edits of ONNX model bytes that keep every untouched byte: drop and add main-graph
 * initializers, add sparse initializers and graph outputs. Positions come from the decoder, new
 * messages from the builder, lengths are fixed up by the splice: the one place such edits live
 * (pack, the .sculpt container, calibration's extra outputs).
 */
import { SculptError } from '../core/errors.js';
import { encodeSparseTensorProto, encodeTensorProto, encodeValueInfo, type TensorSpec, type ValueSpec } from './onnx-build.js';
import { decodeOnnx, failer } from './onnx-decode.js';
import * as F from './onnx-fields.js';
import { encodeVarint, spliceWithLengthFixup, WIRE_LEN, WireReader, type SpliceEdit } from './protobuf.js';


export interface GraphEdits {
  /** Main-graph initializers to remove, by name (each must exist). */
  readonly dropInitializers?: ReadonlySet<string>;
  /** Initializers to append (float32 or int64, raw_data). */
  readonly addInitializers?: readonly TensorSpec[];
  /** Float32 tensors to append as sparse initializers (their non-zeros, COO). */
  readonly addSparseInitializers?: readonly { readonly name: string; readonly dims: readonly number[]; readonly data: Float32Array }[];
  /** Graph outputs to append. */
  readonly addOutputs?: readonly ValueSpec[];
}

/** The model's bytes with `edits` applied to its main graph; `file` names it in errors. */
export function editGraph(bytes: Uint8Array, file: string, edits: GraphEdits): Uint8Array {
  const r = new WireReader(bytes, failer(file));
  const graphField = r.fields(0, bytes.length).find((f) => f.field === F.MODEL_GRAPH && f.wireType === WIRE_LEN);
  if (!graphField) throw new SculptError(`${file}: not a valid ONNX model (no graph found); is this really an .onnx file?`);
  const graph = { lenStart: graphField.lenStart, start: graphField.start, end: graphField.end };
  const splices: SpliceEdit[] = [];
  const drop = edits.dropInitializers ?? new Set<string>();
  if (drop.size > 0) {
    const found = new Set<string>();
    for (const t of decodeOnnx(bytes, file).graph.initializers) {
      if (t.place !== 'initializer' || !drop.has(t.name)) continue;
      found.add(t.name);
      // The initializer field: its one-byte tag (field 5), length and payload.
      const field = t.enclosing[t.enclosing.length - 1];
      splices.push({ start: field.lenStart - 1, end: field.end, bytes: new Uint8Array(0), enclosing: [graph] });
    }
    for (const name of drop) if (!found.has(name)) throw new SculptError(`${file}: the ONNX model has no initializer named ${name}`);
  }
  const added: Uint8Array[] = [];
  for (const t of edits.addInitializers ?? []) added.push(lenField(F.GRAPH_INITIALIZER, encodeTensorProto(t)));
  for (const t of edits.addSparseInitializers ?? []) added.push(lenField(F.GRAPH_SPARSE_INITIALIZER, encodeSparseTensorProto(t.name, t.dims, t.data)));
  for (const v of edits.addOutputs ?? []) added.push(lenField(F.GRAPH_OUTPUT, encodeValueInfo(v)));
  if (added.length > 0) splices.push({ start: graph.end, end: graph.end, bytes: concat(added), enclosing: [graph] });
  if (splices.length === 0) return bytes;
  return spliceWithLengthFixup(bytes, splices);
}

function lenField(field: number, payload: Uint8Array): Uint8Array {
  return concat([encodeVarint((field << 3) | WIRE_LEN), encodeVarint(payload.length), payload]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
