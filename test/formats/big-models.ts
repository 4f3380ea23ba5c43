/**
 * Large model files for the atomicity and kill tests, generated on the spot (hundreds of MB are
 * not committed): a safetensors checkpoint and an ONNX model whose weights live in external data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as F from '../../src/formats/onnx-fields.js';
import { encodeVarint } from '../../src/formats/protobuf.js';

const utf8 = new TextEncoder();

/** Deterministic values in (-1, 1), written in place (xorshift). */
export function fillValues(out: Float32Array, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** A safetensors file of `tensors` float32 matrices [rows, cols] named w0, w1, ... */
export function writeBigSafetensors(file: string, tensors: number, rows: number, cols: number): void {
  const n = rows * cols;
  const header: Record<string, unknown> = {};
  for (let t = 0; t < tensors; t++) header[`w${t}`] = { dtype: 'F32', shape: [rows, cols], data_offsets: [t * n * 4, (t + 1) * n * 4] };
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const fd = fs.openSync(file, 'w');
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    fs.writeSync(fd, len);
    fs.writeSync(fd, utf8.encode(json));
    const values = new Float32Array(n);
    for (let t = 0; t < tensors; t++) fs.writeSync(fd, new Uint8Array(fillValues(values, t + 1).buffer));
  } finally {
    fs.closeSync(fd);
  }
}

// A minimal protobuf writer: enough for a chain of MatMuls with external weights.
type Field = [number, number | string | Uint8Array];
function msg(fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [no, v] of fields) {
    if (typeof v === 'number') parts.push(encodeVarint(no * 8), encodeVarint(v));
    else {
      const b = typeof v === 'string' ? utf8.encode(v) : v;
      parts.push(encodeVarint(no * 8 + 2), encodeVarint(b.length), b);
    }
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function valueInfo(name: string, dims: number[]): Uint8Array {
  const shape = msg(dims.map((d): Field => [F.SHAPE_DIM, msg([[F.DIM_VALUE, d]])]));
  return msg([[F.VALUE_INFO_NAME, name], [F.VALUE_INFO_TYPE, msg([[F.TYPE_TENSOR, msg([[F.TYPE_TENSOR_ELEM_TYPE, 1], [F.TYPE_TENSOR_SHAPE, shape]])]])]]);
}

/**
 * `dir/name.onnx`: x [1, size] → MatMul w0 [size, size] → ... → MatMul w{layers-1} → y, every weight
 * in `dir/name.data` (external data). Returns the model's path.
 */
export function writeBigExternalOnnx(dir: string, name: string, layers: number, size: number): string {
  const n = size * size;
  const dataName = `${name}.data`;
  const fd = fs.openSync(path.join(dir, dataName), 'w');
  const values = new Float32Array(n);
  try {
    for (let l = 0; l < layers; l++) fs.writeSync(fd, new Uint8Array(fillValues(values, l + 7).buffer));
  } finally {
    fs.closeSync(fd);
  }
  const graph: Field[] = [];
  for (let l = 0; l < layers; l++) {
    graph.push([F.GRAPH_NODE, msg([[F.NODE_INPUT, l === 0 ? 'x' : `h${l}`], [F.NODE_INPUT, `w${l}`], [F.NODE_OUTPUT, l === layers - 1 ? 'y' : `h${l + 1}`], [F.NODE_NAME, `mm${l}`], [F.NODE_OP_TYPE, 'MatMul']])]);
  }
  graph.push([F.GRAPH_NAME, 'big']);
  for (let l = 0; l < layers; l++) {
    const entry = (k: string, v: string): Field => [F.TENSOR_EXTERNAL_DATA, msg([[F.ENTRY_KEY, k], [F.ENTRY_VALUE, v]])];
    graph.push([F.GRAPH_INITIALIZER, msg([[F.TENSOR_DIMS, size], [F.TENSOR_DIMS, size], [F.TENSOR_DATA_TYPE, 1], [F.TENSOR_NAME, `w${l}`],
      entry('location', dataName), entry('offset', String(l * n * 4)), entry('length', String(n * 4)), [F.TENSOR_DATA_LOCATION, 1]])]);
  }
  graph.push([F.GRAPH_INPUT, valueInfo('x', [1, size])], [F.GRAPH_OUTPUT, valueInfo('y', [1, size])]);
  const model = msg([[F.MODEL_IR_VERSION, 8], [F.MODEL_PRODUCER_NAME, 'sculpt-test'], [F.MODEL_GRAPH, msg(graph)], [F.MODEL_OPSET_IMPORT, msg([[F.OPSET_DOMAIN, ''], [F.OPSET_VERSION, 17]])]]);
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, model);
  return file;
}

/**
 * `dir/weights_manifest.json` (a bare TF.js weights manifest) with `tensors` float32 matrices
 * [size, size] named dense_t/kernel, each in its own shard. Returns the manifest's path.
 */
export function writeBigTfjsManifest(dir: string, tensors: number, size: number): string {
  const values = new Float32Array(size * size);
  const groups = [];
  for (let t = 0; t < tensors; t++) {
    fs.writeFileSync(path.join(dir, `group${t + 1}-shard1of1.bin`), new Uint8Array(fillValues(values, t + 11).buffer));
    groups.push({ paths: [`group${t + 1}-shard1of1.bin`], weights: [{ name: `dense_${t}/kernel`, shape: [size, size], dtype: 'float32' }] });
  }
  const file = path.join(dir, 'weights_manifest.json');
  fs.writeFileSync(file, JSON.stringify(groups));
  return file;
}
