/**
 * ONNX `sparse_initializer` entries (GraphProto field 15, SparseTensorProto) as dense float32
 * graph tensors, so that the sparse executor runs the files `sculpt pack --format onnx-sparse`
 * writes. Values float32 (raw_data or float_data); indices int64, linear [NNZ] or coordinates [NNZ, rank].
 */
import { SculptError } from '../core/errors.js';
import type { GraphTensor } from '../core/graph.js';
import { WIRE_FIXED32, WIRE_LEN, WireReader, type WireField } from '../formats/protobuf.js';

const FLOAT = 1, INT64 = 7;

interface RawTensor {
  dims: number[];
  dataType: number;
  name: string;
  raw?: WireField;
  floats: number[];
  ints: number[];
}

function tensorProto(r: WireReader, start: number, end: number): RawTensor {
  const t: RawTensor = { dims: [], dataType: 0, name: '', floats: [], ints: [] };
  for (const f of r.fields(start, end)) {
    if (f.field === 1) t.dims.push(...r.varints(f));
    else if (f.field === 2) t.dataType = f.value;
    else if (f.field === 8) t.name = r.string(f);
    else if (f.field === 9) t.raw = f;
    else if (f.field === 4) {
      if (f.wireType === WIRE_FIXED32) t.floats.push(r.float32(f));
      else if (f.wireType === WIRE_LEN) {
        const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset + f.start, f.end - f.start);
        for (let o = 0; o + 4 <= f.end - f.start; o += 4) t.floats.push(dv.getFloat32(o, true));
      }
    } else if (f.field === 7) t.ints.push(...r.varints(f));
  }
  return t;
}

function floatValues(r: WireReader, t: RawTensor): Float32Array {
  if (!t.raw) return Float32Array.from(t.floats);
  const out = new Float32Array((t.raw.end - t.raw.start) / 4);
  new Uint8Array(out.buffer).set(r.bytes.subarray(t.raw.start, t.raw.end));
  return out;
}

function intValues(r: WireReader, t: RawTensor): number[] {
  if (!t.raw) return t.ints;
  const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset + t.raw.start, t.raw.end - t.raw.start);
  const out: number[] = [];
  for (let o = 0; o + 8 <= t.raw.end - t.raw.start; o += 8) out.push(Number(dv.getBigInt64(o, true)));
  return out;
}

/** The model's sparse initializers, densified; empty when it has none. */
export function readSparseInitializers(bytes: Uint8Array, what: string): Map<string, GraphTensor> {
  const r = new WireReader(bytes, (offset, why) => {
    throw new SculptError(`${what}: malformed ONNX at byte ${offset} (${why})`);
  });
  const out = new Map<string, GraphTensor>();
  for (const top of r.fields(0, bytes.length)) {
    if (top.field !== 7 || top.wireType !== WIRE_LEN) continue;
    for (const g of r.fields(top.start, top.end)) {
      if (g.field !== 15 || g.wireType !== WIRE_LEN) continue;
      let values: RawTensor | undefined, indices: RawTensor | undefined;
      const dims: number[] = [];
      for (const f of r.fields(g.start, g.end)) {
        if (f.field === 1) values = tensorProto(r, f.start, f.end);
        else if (f.field === 2) indices = tensorProto(r, f.start, f.end);
        else if (f.field === 3) dims.push(...r.varints(f));
      }
      if (!values || !indices) throw new SculptError(`${what}: a sparse initializer lacks its values or indices`);
      if (values.dataType !== FLOAT || indices.dataType !== INT64) {
        throw new SculptError(`${what}: sparse initializer ${values.name} is not float32 values with int64 indices; run it with --engine onnxruntime`);
      }
      const v = floatValues(r, values);
      const idx = intValues(r, indices);
      const n = dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const rank = dims.length;
      const coordinates = indices.dims.length === 2 && rank > 1;
      if (idx.length !== (coordinates ? v.length * rank : v.length)) throw new SculptError(`${what}: sparse initializer ${values.name} has ${v.length} values and ${idx.length} indices`);
      for (let k = 0; k < v.length; k++) {
        let at = idx[k];
        if (coordinates) {
          at = 0;
          for (let d = 0; d < rank; d++) at = at * dims[d] + idx[k * rank + d];
        }
        if (!(at >= 0 && at < n)) throw new SculptError(`${what}: sparse initializer ${values.name} has index ${at} outside its ${n} elements`);
        data[at] = v[k];
      }
      out.set(values.name, { name: values.name, dtype: 'float32', dims, data });
    }
  }
  return out;
}
