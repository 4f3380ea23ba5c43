/**
 * ONNX models: read weights and graph, write back a copy in which only the changed initializers'
 * payload bytes differ. External data is read from the model's folder and written to a new data
 * file next to the output (the input's data file is never touched).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import type { Graph, GraphTensor } from '../core/graph.js';
import { numel, WeightSet, type WeightTensor } from '../core/types.js';
import { AtomicFile, assertNotInput, readExactly, sameFile } from './fsutil.js';
import { decodeOnnx, graphTensor, ONNX_FLOAT_DTYPE, tensorValues, type DecodedOnnx, type OnnxInitializer } from './onnx-decode.js';
import { initializerRoles, type RoleInfo } from './onnx-roles.js';
import { encodeVarint, spliceWithLengthFixup, WIRE_LEN, WireReader, type SpliceEdit } from './protobuf.js';
import { zeroPruned, type MaskLike } from './safetensors.js';
import { encodeChangedFloats, FLOAT_DTYPE_BYTES, float32ToBfloat16, float32ToFloat16, type FloatDType } from './safetensors-dtypes.js';

export type { MaskLike } from './safetensors.js';

export class OnnxModel {
  /** Path the model was read from. */
  readonly path: string;
  /** The file's bytes; never modified. */
  readonly bytes: Uint8Array;
  readonly decoded: DecodedOnnx;
  /** Role, prunability and output axis of every initializer, by name. */
  readonly roles: ReadonlyMap<string, RoleInfo>;
  /** Floating initializers as WeightTensors with empty data (see `read`). */
  readonly tensors: readonly WeightTensor[];
  private readonly byName: Map<string, OnnxInitializer>;
  private graphCache: Graph | undefined;

  constructor(file: string, bytes: Uint8Array) {
    this.path = file;
    this.bytes = bytes;
    this.decoded = decodeOnnx(bytes, file);
    const inits = this.decoded.initializers;
    this.byName = new Map(inits.map((t) => [t.name, t]));
    this.roles = initializerRoles(
      this.decoded.nodes,
      inits.map((t) => ({ name: t.name, rank: t.dims.length, floating: ONNX_FLOAT_DTYPE.has(t.dataType) })),
    );
    this.tensors = inits
      .filter((t) => ONNX_FLOAT_DTYPE.has(t.dataType))
      .map((t) => {
        const r = this.roles.get(t.name)!;
        return { name: t.name, shape: t.dims, data: new Float32Array(0), role: r.role, op: r.op, prunable: r.prunable, reason: r.reason, outputAxis: r.outputAxis };
      });
    for (const t of inits) if (t.storage.kind === 'external') this.externalPath(t.storage.location, t.name);
  }

  get initializers(): readonly OnnxInitializer[] {
    return this.decoded.initializers;
  }

  /** Absolute paths of the external data files the model refers to. */
  externalFiles(): string[] {
    const files = new Set<string>();
    for (const t of this.decoded.initializers) if (t.storage.kind === 'external') files.add(this.externalPath(t.storage.location, t.name));
    return [...files];
  }

  /** The stored floating type of an initializer, or undefined if it is not floating. */
  floatDType(name: string): FloatDType | undefined {
    const t = this.byName.get(name);
    return t ? ONNX_FLOAT_DTYPE.get(t.dataType) : undefined;
  }

  /** Values of one floating initializer as a new float32 array. */
  read(name: string): Float32Array {
    const t = this.byName.get(name);
    if (!t || !ONNX_FLOAT_DTYPE.has(t.dataType)) throw new SculptError(`${this.path}: no floating-point initializer named ${name}`);
    return tensorValues(t, this.bytes, this.path, this.readExternal) as Float32Array;
  }

  /** Every floating initializer with its values, in file order (a fresh copy on each call). */
  weights(): WeightSet {
    return new WeightSet(this.tensors.map((t) => ({ ...t, data: this.read(t.name) })));
  }

  graph(): Graph {
    if (!this.graphCache) {
      const initializers = new Map<string, GraphTensor>();
      for (const t of this.decoded.initializers) {
        const g = graphTensor(t, this.bytes, this.path, this.readExternal);
        if (g) initializers.set(t.name, g);
      }
      const d = this.decoded;
      this.graphCache = { nodes: d.nodes, initializers, inputs: d.inputs, outputs: d.outputs, opsetVersion: d.opsetVersion };
    }
    return this.graphCache;
  }

  externalPath(location: string, tensor: string): string {
    const p = path.resolve(path.dirname(path.resolve(this.path)), location);
    if (!fs.existsSync(p)) {
      throw new SculptError(`${this.path}: external data file ${location} of tensor ${tensor} not found in ${path.dirname(p)}; keep the data file next to the model`);
    }
    return p;
  }

  private readonly readExternal = (location: string, offset: number, length: number, tensor: string): Uint8Array => {
    const file = this.externalPath(location, tensor);
    const size = fs.statSync(file).size;
    if (offset + length > size) {
      throw new SculptError(`${this.path}: tensor ${tensor} needs bytes ${offset}..${offset + length} of ${location}, which has only ${size} bytes; the data file is truncated or belongs to another model`);
    }
    const fd = fs.openSync(file, 'r');
    try {
      const out = new Uint8Array(length);
      readExactly(fd, out, length, offset, location);
      return out;
    } finally {
      fs.closeSync(fd);
    }
  };
}

/** Reads and decodes an ONNX model; malformed files fail with a SculptError naming the file. */
export function readOnnx(file: string): OnnxModel {
  let bytes: Uint8Array;
  try {
    const buf = fs.readFileSync(file);
    // A plain Uint8Array: Buffer#slice shares memory, which typed-array code does not expect.
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new SculptError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}); check the path`);
  }
  return new OnnxModel(file, bytes);
}

const utf8 = new TextEncoder();

/**
 * Writes a copy of `model` to `outPath` in which the initializers named in `updates` hold the
 * new values (in their stored dtype; elements whose float32 value is unchanged keep their exact
 * bits). All other bytes are identical, except that external data goes to a new file next to
 * the output (`<out>.data`) and the model's `location` entries name it.
 */
export function writeOnnx(model: OnnxModel, outPath: string, updates: ReadonlyMap<string, Float32Array>): void {
  const externals = model.externalFiles();
  assertNotInput(outPath, [model.path, ...externals]);
  const byName = new Map(model.initializers.map((t) => [t.name, t]));
  for (const [name, values] of updates) {
    const t = byName.get(name);
    if (!t || !ONNX_FLOAT_DTYPE.has(t.dataType)) throw new SculptError(`${model.path}: cannot update ${name}: no floating-point initializer has that name`);
    if (values.length !== numel(t.dims)) {
      throw new SculptError(`${model.path}: update for ${name} has ${values.length} values, but its shape [${t.dims.join(', ')}] needs ${numel(t.dims)}`);
    }
  }

  // Same-length replacements of payload bytes (positions in the input file).
  const patches: { start: number; bytes: Uint8Array }[] = [];
  // float16/bfloat16 bits kept in int32_data are varints: new values can change their length.
  const varintEdits: SpliceEdit[] = [];
  // External tensors grouped by their data file.
  const byLocation = new Map<string, OnnxInitializer[]>();
  for (const t of model.initializers) {
    const s = t.storage;
    if (s.kind === 'external') {
      const list = byLocation.get(s.location) ?? [];
      list.push(t);
      byLocation.set(s.location, list);
      continue;
    }
    const values = updates.get(t.name);
    if (!values) continue;
    const dtype = ONNX_FLOAT_DTYPE.get(t.dataType)!;
    if (s.kind === 'raw') {
      // float32 values are their own payload; other types keep unchanged elements' exact bits.
      if (dtype === 'F32') patches.push({ start: s.start, bytes: new Uint8Array(values.buffer, values.byteOffset, values.length * 4) });
      else {
        const bytes = model.bytes.slice(s.start, s.end);
        encodeChangedFloats(values, dtype, bytes);
        patches.push({ start: s.start, bytes });
      }
    } else if (s.kind === 'fixed') {
      let i = 0;
      for (const run of s.runs) {
        const bytes = model.bytes.slice(run.start, run.start + run.count * s.width);
        encodeChangedFloats(values.subarray(i, i + run.count), s.width === 4 ? 'F32' : 'F64', bytes);
        patches.push({ start: run.start, bytes });
        i += run.count;
      }
    } else if (s.kind === 'varint') varintEdits.push(...float16VarintEdits(model, t, dtype, values));
  }
  patches.sort((a, b) => a.start - b.start);

  const files: AtomicFile[] = [];
  try {
    const edits: SpliceEdit[] = [...varintEdits];
    const usedNames = new Set<string>();
    let k = 0;
    for (const [location, tensors] of byLocation) {
      const source = model.externalPath(location, tensors[0].name);
      const dataName = newDataName(outPath, k++, [model.path, ...externals], usedNames);
      usedNames.add(dataName);
      const file = new AtomicFile(path.join(path.dirname(path.resolve(outPath)), dataName));
      files.push(file);
      copyInto(source, file);
      for (const t of tensors) {
        const s = t.storage;
        if (s.kind !== 'external') continue;
        edits.push({ start: s.locationValue.start, end: s.locationValue.end, bytes: utf8.encode(dataName), enclosing: [...s.enclosing, s.locationValue] });
        const values = updates.get(t.name);
        if (!values) continue;
        const dtype = ONNX_FLOAT_DTYPE.get(t.dataType)!;
        if (dtype === 'F32') {
          file.write(new Uint8Array(values.buffer, values.byteOffset, values.length * 4), s.offset);
          continue;
        }
        const stored = new Uint8Array(s.length);
        const fd = fs.openSync(source, 'r');
        try {
          readExactly(fd, stored, s.length, s.offset, location);
        } finally {
          fs.closeSync(fd);
        }
        encodeChangedFloats(values, dtype, stored.subarray(0, values.length * FLOAT_DTYPE_BYTES[dtype]));
        file.write(stored, s.offset);
      }
    }
    const modelFile = new AtomicFile(outPath);
    files.push(modelFile);
    if (edits.length) {
      const out = new Uint8Array(model.bytes);
      for (const p of patches) out.set(p.bytes, p.start);
      modelFile.write(spliceWithLengthFixup(out, edits), 0);
    } else {
      // No length changes: stream the input's bytes around the patches, without copying the model.
      let pos = 0;
      for (const p of patches) {
        modelFile.write(model.bytes.subarray(pos, p.start), pos);
        modelFile.write(p.bytes, p.start);
        pos = p.start + p.bytes.length;
      }
      modelFile.write(model.bytes.subarray(pos), pos);
    }
    // Data files first: the model must never name a data file that is not there yet.
    for (const f of files) f.commit();
  } catch (e) {
    for (const f of files) f.abort();
    throw e;
  }
}

/** Writes a copy of `model` with every element whose mask says "pruned" set to zero. */
export function writeOnnxMasked(model: OnnxModel, outPath: string, masks: ReadonlyMap<string, MaskLike>): void {
  const updates = new Map<string, Float32Array>();
  for (const [name, mask] of masks) {
    const values = model.read(name);
    zeroPruned(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 'F32', values.length, mask, name, model.path);
    updates.set(name, values);
  }
  writeOnnx(model, outPath, updates);
}

/** Splice edits that store `values` as float16/bfloat16 bits in the tensor's int32_data varints. */
function float16VarintEdits(model: OnnxModel, t: OnnxInitializer, dtype: FloatDType, values: Float32Array): SpliceEdit[] {
  const s = t.storage;
  if (s.kind !== 'varint' || (dtype !== 'F16' && dtype !== 'BF16')) {
    throw new SculptError(`${model.path}: tensor ${t.name} stores ${dtype} values as integers, which sculpt cannot rewrite; re-export the model with raw_data`);
  }
  const reader = new WireReader(model.bytes, (offset, why) => {
    throw new SculptError(`${model.path}: tensor ${t.name} is malformed (${why} at byte ${offset})`);
  });
  const old = model.read(t.name);
  const edits: SpliceEdit[] = [];
  let i = 0;
  const bitsOf = (k: number, stored: number): number => {
    if (Object.is(old[k], values[k])) return stored;
    return dtype === 'F16' ? float32ToFloat16(values[k]) : float32ToBfloat16(values[k]);
  };
  for (const f of s.fields) {
    const stored = reader.varints(f);
    const parts = stored.map((v) => encodeVarint(bitsOf(i++, v & 0xffff)));
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const enclosing = f.wireType === WIRE_LEN ? [...t.enclosing, { lenStart: f.lenStart, start: f.start, end: f.end }] : t.enclosing;
    edits.push({ start: f.start, end: f.end, bytes, enclosing });
  }
  return edits;
}

function newDataName(outPath: string, k: number, inputs: readonly string[], used: ReadonlySet<string>): string {
  const dir = path.dirname(path.resolve(outPath));
  const base = path.basename(outPath);
  for (let i = k; ; i++) {
    const name = i === 0 ? `${base}.data` : `${base}.${i}.data`;
    if (used.has(name)) continue;
    if (inputs.some((p) => sameFile(path.join(dir, name), p))) continue;
    return name;
  }
}

function copyInto(source: string, file: AtomicFile): void {
  const fd = fs.openSync(source, 'r');
  try {
    const chunk = new Uint8Array(16 << 20);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      file.write(chunk.subarray(0, n), pos);
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
