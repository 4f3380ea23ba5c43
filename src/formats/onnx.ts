/**
 * ONNX models: read weights and graph, write back a copy in which only the changed initializers'
 * payload bytes differ. External data is read from the model's folder and written to a new data
 * file next to the output (the input's data file is never touched).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import { numel } from '../core/types.js';
import { AtomicFile, assertNotInput, printable, readExactly, resolveInside, sameFile } from './fsutil.js';
import { ONNX_FLOAT_DTYPE, sparsePositions, tensorValues, type OnnxInitializer } from './onnx-decode.js';
import { requantize } from './onnx-quant.js';
import { OnnxBytesModel, type ExternalData } from './onnx-model.js';
import { encodeSignedVarint, spliceWithLengthFixup, WIRE_LEN, WireReader, type SpliceEdit } from './protobuf.js';
import { zeroPruned, type MaskLike } from './safetensors.js';
import { encodeChangedFloats, encodeFloats, FLOAT_DTYPE_BYTES } from './safetensors-dtypes.js';

export type { MaskLike } from './safetensors.js';
export { OnnxBytesModel, type ExternalData } from './onnx-model.js';

/** An ONNX model read from a file: external data comes from files in the model's folder. */
export class OnnxModel extends OnnxBytesModel {
  constructor(file: string, bytes: Uint8Array) {
    super(file, bytes, externalDataBeside(file));
  }
}

/** External data under the one path policy: inside the model's folder, a regular file, long enough. */
function externalDataBeside(model: string): ExternalData {
  const resolve = (location: string, tensor: string): string =>
    resolveInside(path.dirname(path.resolve(model)), location, `${model}: external data of tensor ${printable(tensor)}`);
  return {
    path: resolve,
    read(location, offset, length, tensor) {
      const file = resolve(location, tensor);
      const size = fs.statSync(file).size;
      if (offset + length > size) {
        throw new SculptError(`${model}: tensor ${printable(tensor)} needs bytes ${offset}..${offset + length} of ${printable(location)}, which has only ${size} bytes; the data file is truncated or belongs to another model`);
      }
      const fd = fs.openSync(file, 'r');
      try {
        const out = new Uint8Array(length);
        readExactly(fd, out, length, offset, printable(location));
        return out;
      } finally {
        fs.closeSync(fd);
      }
    },
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

/** What a write changed beyond the requested values. */
export interface OnnxWriteReport {
  /** Quantized weights whose new values were rounded to codes: the largest error, by name. */
  readonly quantizationError: ReadonlyMap<string, number>;
}

/**
 * Writes a copy of `model` to `outPath` in which the tensors named in `updates` hold the new values
 * (in their stored dtype; elements whose float32 value is unchanged keep their exact bits; quantized
 * weights get new codes, a zero becoming the zero point). Tensors may live anywhere: initializers,
 * Constant nodes, sparse initializers (a value at a position the tensor does not store must be
 * zero), subgraphs. All other bytes are identical, except that external data goes to a new file
 * next to the output (`<out>.<hash>.data`, named by its content) and the model's `location`
 * entries name it; the replaced output's data files are removed once the new model is in place.
 */
export function writeOnnx(model: OnnxModel, outPath: string, updates: ReadonlyMap<string, Float32Array>): OnnxWriteReport {
  const externals = model.externalFiles();
  assertNotInput(outPath, [model.path, ...externals]);
  const quantizationError = new Map<string, number>();
  // The new stored payload of every updated tensor: bytes in its stored layout, or varint values.
  const encoded = new Map<string, Encoded>();
  for (const [name, values] of updates) {
    const t = model.stored(name);
    if (!t || (!ONNX_FLOAT_DTYPE.has(t.dataType) && !model.quantized.has(name))) throw new SculptError(`${model.path}: cannot update ${name}: no floating-point tensor has that name`);
    if (values.length !== numel(t.dims)) {
      throw new SculptError(`${model.path}: update for ${name} has ${values.length} values, but its shape [${t.dims.join(', ')}] needs ${numel(t.dims)}`);
    }
    encoded.set(name, encodeUpdate(model, t, values, quantizationError));
  }

  // Same-length replacements of payload bytes (positions in the input file).
  const patches: { start: number; bytes: Uint8Array }[] = [];
  // Values kept in int32_data varints: new values can change their length.
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
    const e = encoded.get(t.name);
    if (!e) continue;
    if (s.kind === 'raw') patches.push({ start: s.start, bytes: e.bytes! });
    else if (s.kind === 'fixed') {
      let at = 0;
      for (const run of s.runs) {
        patches.push({ start: run.start, bytes: e.bytes!.subarray(at, at + run.count * s.width) });
        at += run.count * s.width;
      }
    } else if (s.kind === 'varint') varintEdits.push(...varintFieldEdits(model, t, e.ints!));
  }
  patches.sort((a, b) => a.start - b.start);

  // Commit order: each data file gets a name from its content (`<out>.<hash>.data`) that no
  // earlier output uses, and is renamed into place first (nothing refers to it yet); then the
  // model that names it. A crash at any point leaves the old model with its old data, or the new
  // with the new: never old with new. The previous output's data files are removed last.
  const dir = path.dirname(path.resolve(outPath));
  const base = path.basename(outPath);
  const inputs = [model.path, ...externals];
  const previous = referencedDataFiles(outPath);
  const files: AtomicFile[] = [];
  const dataFiles: { file: AtomicFile; name: string }[] = [];
  const dataNames = new Set<string>();
  try {
    const edits: SpliceEdit[] = [...varintEdits];
    for (const [location, tensors] of byLocation) {
      const source = model.externalPath(location, tensors[0].name);
      const file = new AtomicFile(path.join(dir, `${base}.data`), { modeFrom: outPath });
      files.push(file);
      const payloads: { offset: number; bytes: Uint8Array }[] = [];
      for (const t of tensors) {
        const e = encoded.get(t.name);
        if (e && t.storage.kind === 'external') payloads.push({ offset: t.storage.offset, bytes: e.bytes! });
      }
      const hash = copyPatched(source, file, payloads);
      const dataName = newDataName(outPath, hash, inputs);
      if (dataNames.has(dataName)) file.abort(); // same bytes as another data file of this model: share it
      else {
        dataNames.add(dataName);
        dataFiles.push({ file, name: dataName });
      }
      for (const t of tensors) {
        const s = t.storage;
        if (s.kind !== 'external') continue;
        edits.push({ start: s.locationValue.start, end: s.locationValue.end, bytes: utf8.encode(dataName), enclosing: [...s.enclosing, s.locationValue] });
      }
    }
    // Part of a large write: guarded from its first byte, like the data files before it.
    const modelFile = new AtomicFile(outPath, byLocation.size ? { watchAfter: 0 } : {});
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
    for (const f of files) f.flush();
    // Data files first: the model must never name a data file that is not there yet.
    const placed: string[] = [];
    for (const d of dataFiles) {
      const final = path.join(dir, d.name);
      const existed = fs.existsSync(final); // same name, same bytes: the replaced model may name it
      d.file.commit(final);
      if (!existed) placed.push(final);
    }
    try {
      modelFile.commit();
    } catch (e) {
      for (const p of placed) fs.rmSync(p, { force: true }); // nothing names them
      throw e;
    }
  } catch (e) {
    for (const f of files) f.abort();
    throw e;
  }
  removeUnreferencedData(outPath, dataNames, previous, inputs);
  return { quantizationError };
}

/** Writes a copy of `model` with every element whose mask says "pruned" set to zero. */
export function writeOnnxMasked(model: OnnxModel, outPath: string, masks: ReadonlyMap<string, MaskLike>): OnnxWriteReport {
  const updates = new Map<string, Float32Array>();
  for (const [name, mask] of masks) {
    const values = model.read(name);
    zeroPruned(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 'F32', values.length, mask, name, model.path);
    updates.set(name, values);
  }
  return writeOnnx(model, outPath, updates);
}

/** A tensor's new payload: `bytes` in its stored layout (raw, fixed runs, external), or `ints` for varint fields. */
interface Encoded {
  readonly bytes?: Uint8Array;
  readonly ints?: readonly number[];
}

function encodeUpdate(model: OnnxModel, t: OnnxInitializer, dense: Float32Array, quantizationError: Map<string, number>): Encoded {
  let values = dense;
  if (t.sparseIndices) {
    // Only stored positions can hold values: gather them, and refuse a new non-zero elsewhere.
    const positions = sparsePositions(t, model.bytes, model.path, model.readExternal);
    const stored = new Uint8Array(dense.length);
    values = new Float32Array(positions.length);
    for (let k = 0; k < positions.length; k++) {
      values[k] = dense[positions[k]];
      stored[positions[k]] = 1;
    }
    for (let i = 0; i < dense.length; i++) {
      if (dense[i] !== 0 && !stored[i]) throw new SculptError(`${model.path}: sparse initializer ${t.name} does not store element ${i}, which the update makes non-zero; sculpt can only change stored values`);
    }
  }
  const s = t.storage;
  const payloadTensor = t.sparseIndices ? { ...t, dims: [values.length], sparseIndices: undefined } : t;
  const q = model.quantized.get(t.name);
  if (q) {
    const codes = tensorValues(payloadTensor, model.bytes, model.path, model.readExternal) as Int8Array | Uint8Array;
    quantizationError.set(t.name, requantize(values, codes, t.dims, q));
    if (s.kind === 'varint') return { ints: Array.from(codes) };
    return { bytes: new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength) };
  }
  const dtype = ONNX_FLOAT_DTYPE.get(t.dataType)!;
  if (s.kind === 'varint') {
    if (dtype !== 'F16' && dtype !== 'BF16') {
      throw new SculptError(`${model.path}: tensor ${t.name} stores ${dtype} values as integers, which sculpt cannot rewrite; re-export the model with raw_data`);
    }
    const old = tensorValues(payloadTensor, model.bytes, model.path, model.readExternal) as Float32Array;
    const bits = new Uint16Array(values.length);
    encodeFloats(old, dtype, new Uint8Array(bits.buffer));
    encodeChangedFloats(values, dtype, new Uint8Array(bits.buffer));
    return { ints: Array.from(bits) };
  }
  if (dtype === 'F32' && s.kind !== 'fixed') return { bytes: new Uint8Array(values.buffer, values.byteOffset, values.length * 4) };
  // Other float types keep unchanged elements' exact bits: start from the stored bytes.
  const width = s.kind === 'fixed' ? s.width : FLOAT_DTYPE_BYTES[dtype];
  const bytes = new Uint8Array(values.length * width);
  if (s.kind === 'raw') bytes.set(model.bytes.subarray(s.start, s.start + bytes.length));
  else if (s.kind === 'external') bytes.set(model.readExternal(s.location, s.offset, bytes.length, t.name));
  else if (s.kind === 'fixed') {
    let at = 0;
    for (const run of s.runs) {
      bytes.set(model.bytes.subarray(run.start, run.start + run.count * s.width), at);
      at += run.count * s.width;
    }
  }
  encodeChangedFloats(values, s.kind === 'fixed' ? (s.width === 4 ? 'F32' : 'F64') : dtype, bytes);
  return { bytes };
}

/** Splice edits that store `ints` (one per element, in order) in the tensor's int32_data varints. */
function varintFieldEdits(model: OnnxModel, t: OnnxInitializer, ints: readonly number[]): SpliceEdit[] {
  const s = t.storage;
  if (s.kind !== 'varint') return [];
  const reader = new WireReader(model.bytes, (offset, why) => {
    throw new SculptError(`${model.path}: tensor ${t.name} is malformed (${why} at byte ${offset})`);
  });
  const edits: SpliceEdit[] = [];
  let i = 0;
  for (const f of s.fields) {
    const stored = reader.varints(f);
    const parts = stored.map((v) => {
      const next = ints[i++];
      // Unchanged elements keep their exact encoding (float16 bits may carry high garbage bits).
      return (v & 0xffff) === (next & 0xffff) || v === next ? encodeSignedVarint(v) : encodeSignedVarint(next);
    });
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

/**
 * `<out>.<hash>.data`, `hash` being the first 16 hex digits of the file's SHA-256: a name no other
 * content of this output has had, so renaming it into place never changes what an existing model
 * reads. A name that is one of the inputs' files gets a `-N` suffix.
 */
function newDataName(outPath: string, hash: string, inputs: readonly string[]): string {
  const dir = path.dirname(path.resolve(outPath));
  const base = path.basename(outPath);
  for (let i = 0; ; i++) {
    const name = `${base}.${hash}${i === 0 ? '' : `-${i}`}.data`;
    if (inputs.some((p) => sameFile(path.join(dir, name), p))) continue;
    return name;
  }
}

/** Data files the existing output at `outPath` names (none if it is missing, large, or unreadable). */
function referencedDataFiles(outPath: string): string[] {
  try {
    const st = fs.statSync(outPath);
    if (!st.isFile() || st.size > 256 << 20) return [];
    return readOnnx(outPath).externalFiles();
  } catch {
    return [];
  }
}

/**
 * After a commit: removes this output's data files that the new model does not name — every
 * `<out>.<hash>.data` (earlier outputs, or a run that died between its two renames), and the
 * `<out>.data` / `<out>.N.data` of older versions of sculpt when the replaced model named them.
 * Inputs are never removed.
 */
function removeUnreferencedData(outPath: string, keep: ReadonlySet<string>, previous: readonly string[], inputs: readonly string[]): void {
  const dir = path.dirname(path.resolve(outPath));
  const base = path.basename(outPath);
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const hashed = new RegExp(`^${escaped}\\.[0-9a-f]{16}(-\\d+)?\\.data$`);
  const legacy = new RegExp(`^${escaped}(\\.\\d+)?\\.data$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  let realDir: string;
  try {
    realDir = fs.realpathSync(dir);
  } catch {
    return;
  }
  // What the model in place names now (another run may have replaced it meanwhile) stays too.
  const current = new Set(referencedDataFiles(outPath).map((f) => path.basename(f)));
  for (const name of names) {
    if (keep.has(name) || current.has(name)) continue;
    const p = path.join(dir, name);
    const ours = hashed.test(name) || (legacy.test(name) && previous.includes(path.join(realDir, name)));
    if (!ours || inputs.some((i) => sameFile(p, i))) continue;
    try {
      if (fs.lstatSync(p).isFile()) fs.unlinkSync(p);
    } catch {
      // removed by someone else, or not ours to remove
    }
  }
}

/**
 * Copies `source` into `file` with `payloads` written over it at their offsets, in one pass, and
 * returns the first 16 hex digits of the SHA-256 of what was written.
 */
function copyPatched(source: string, file: AtomicFile, payloads: readonly { offset: number; bytes: Uint8Array }[]): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(source, 'r');
  try {
    const chunk = new Uint8Array(16 << 20);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      const end = pos + n;
      for (const p of payloads) {
        const from = Math.max(p.offset, pos);
        const to = Math.min(p.offset + p.bytes.length, end);
        if (from < to) chunk.set(p.bytes.subarray(from - p.offset, to - p.offset), from - pos);
      }
      const view = chunk.subarray(0, n);
      hash.update(view);
      file.write(view, pos);
      pos = end;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex').slice(0, 16);
}
