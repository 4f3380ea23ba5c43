/**
 * A part of an ONNX model as a model of its own (what `onnx.utils.extract_model` does): some of the
 * main graph's nodes, copied byte for byte, with intermediate values as the new graph inputs and
 * outputs. Initializers the kept nodes read are copied too, except those named in `feedAsInputs`,
 * which become graph inputs (so a caller can feed new values for them on every run). Outputs are
 * declared by name only; onnxruntime infers their types. Used by sequential calibration to run one
 * stage of a language model at a time.
 */
import { SculptError } from '../core/errors.js';
import { encodeValueInfo, type ValueSpec } from './onnx-build.js';
import { decodeOnnx, failer } from './onnx-decode.js';
import * as F from './onnx-fields.js';
import { concatBytes, lenField, WIRE_LEN, WireReader } from './protobuf.js';

export interface Extraction {
  /** Indices into the main graph's nodes (file order) to keep. */
  readonly nodes: ReadonlySet<number>;
  /** New graph inputs (intermediate values or original inputs), typed. */
  readonly inputs: readonly ValueSpec[];
  /** Graph outputs, by name. */
  readonly outputs: readonly string[];
  /** Initializers to leave out and declare as inputs instead (with their dims, float32). */
  readonly feedAsInputs?: ReadonlyMap<string, readonly number[]>;
}

const utf8 = new TextEncoder();

/** The model's bytes cut down to `x` (opsets, IR version and metadata kept). */
export function extractModel(bytes: Uint8Array, file: string, x: Extraction): Uint8Array {
  const r = new WireReader(bytes, failer(file));
  const top = r.fields(0, bytes.length);
  const graph = top.find((f) => f.field === F.MODEL_GRAPH && f.wireType === WIRE_LEN);
  if (!graph) throw new SculptError(`${file}: not a valid ONNX model (no graph found); is this really an .onnx file?`);
  const decoded = decodeOnnx(bytes, file);
  const used = new Set<string>();
  decoded.graph.nodes.forEach((n, i) => { if (x.nodes.has(i)) for (const v of n.inputs) used.add(v); });
  const feed = x.feedAsInputs ?? new Map<string, readonly number[]>();
  const initNames = decoded.graph.initializers.filter((t) => t.place === 'initializer').map((t) => t.name);
  const sparseNames = decoded.graph.initializers.filter((t) => t.place === 'sparse-initializer').map((t) => t.name);
  const parts: Uint8Array[] = [];
  let node = 0;
  let init = 0;
  let sparse = 0;
  for (const f of r.fields(graph.start, graph.end)) {
    const whole = bytes.subarray(f.tagStart, f.end);
    if (f.field === F.GRAPH_NODE) {
      if (x.nodes.has(node++)) parts.push(whole);
    } else if (f.field === F.GRAPH_INITIALIZER) {
      const name = initNames[init++];
      if (used.has(name) && !feed.has(name)) parts.push(whole);
    } else if (f.field === F.GRAPH_SPARSE_INITIALIZER) {
      const name = sparseNames[sparse++];
      if (used.has(name)) parts.push(whole);
    } else if (f.field === F.GRAPH_NAME) parts.push(whole);
    // inputs, outputs, value_info and doc strings are replaced or dropped.
  }
  for (const v of x.inputs) parts.push(lenField(F.GRAPH_INPUT, encodeValueInfo(v)));
  for (const [name, dims] of feed) if (used.has(name)) parts.push(lenField(F.GRAPH_INPUT, encodeValueInfo({ name, dims })));
  for (const name of x.outputs) parts.push(lenField(F.GRAPH_OUTPUT, lenField(F.VALUE_INFO_NAME, utf8.encode(name))));
  const out: Uint8Array[] = [];
  for (const f of top) if (f !== graph) out.push(bytes.subarray(f.tagStart, f.end));
  out.push(lenField(F.MODEL_GRAPH, concatBytes(parts)));
  return concatBytes(out);
}
