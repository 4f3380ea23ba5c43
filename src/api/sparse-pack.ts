/**
 * `packFile`: an ONNX model into the compact `.sculpt` container, or into standard ONNX with its
 * sparse weights as `sparse_initializer` entries (COO) that onnxruntime loads.
 */
import { statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { SculptError } from '../core/errors.js';
import { assertNotInput, writeFileAtomic } from '../formats/fsutil.js';
import { OnnxModel, readOnnx } from '../formats/onnx.js';
import { isTfjsModelPath, openTfjs } from '../formats/tfjs-folder.js';
import { countNonzeros } from '../sparse/formats.js';
import type { WeightInput } from '../sparse/container.js';
import { exportTfjsToOnnx } from './export-onnx.js';
import { packSculpt, toOnnxSparse } from './sculpt-file.js';
import { checkInput } from './model-file.js';

export type PackFormat = 'sculpt' | 'onnx-sparse';

export interface PackFileOptions {
  /** Default: from the output's extension (.sculpt → sculpt, .onnx → onnx-sparse). */
  readonly format?: PackFormat;
  /** float16 values (sculpt format only). */
  readonly fp16?: boolean;
}

export interface PackedTensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly nonzeros: number;
  readonly density: number;
  /** Storage chosen: dense, csr, bitmask, nm, block (sculpt) or coo (onnx-sparse). */
  readonly storage: string;
  readonly bytes: number;
  readonly denseBytes: number;
}

export interface PackFileResult {
  readonly input: string;
  readonly output: string;
  readonly format: PackFormat;
  readonly fp16: boolean;
  /** The input's size, external data files included. */
  readonly denseBytes: number;
  readonly packedBytes: number;
  /** packedBytes / denseBytes. */
  readonly ratio: number;
  /** Largest |float16(v) − v| over the stored values (0 without fp16). */
  readonly fp16MaxError: number;
  /** With fp16: what the same container takes with float32 values, for comparison. */
  readonly float32Bytes?: number;
  readonly tensors: readonly PackedTensorInfo[];
}

/** model.json and its shards: what a TF.js model occupies on disk. */
function tfjsFiles(input: string): string[] {
  const src = openTfjs(input);
  return [src.jsonPath, ...src.groups.flatMap((g) => g.paths.map((p) => join(src.dir, p)))];
}

/** Bytes a COO sparse initializer costs per nonzero: float32 value + int64 linear index. */
const COO_BYTES_PER_NONZERO = 12;

export function packFile(input: string, output: string, options: PackFileOptions = {}): PackFileResult {
  const tfjs = isTfjsModelPath(input);
  if (!tfjs) {
    checkInput(input);
    if (extname(input).toLowerCase() !== '.onnx') throw new SculptError(`${input}: pack reads .onnx models and TF.js layers model folders; prune it first with sculpt prune`);
  }
  const outExt = extname(output).toLowerCase();
  const format: PackFormat = options.format ?? (outExt === '.onnx' ? 'onnx-sparse' : 'sculpt');
  if (format === 'sculpt' && outExt !== '.sculpt') throw new SculptError(`${output}: a .sculpt container needs the .sculpt extension (or --format onnx-sparse with -o X.onnx)`);
  if (format === 'onnx-sparse' && outExt !== '.onnx') throw new SculptError(`${output}: --format onnx-sparse writes ONNX; name the output X.onnx`);
  if (format === 'onnx-sparse' && options.fp16) throw new SculptError('--fp16: only the .sculpt format stores float16 values; drop --fp16 or use --format sculpt');
  // A TF.js layers folder is exported to ONNX in memory first (as `sculpt export` writes it).
  const model = tfjs ? new OnnxModel(input, exportTfjsToOnnx(input).bytes) : readOnnx(input);
  const inputFiles = tfjs ? tfjsFiles(input) : [input, ...model.externalFiles()];
  assertNotInput(output, inputFiles);
  const denseBytes = inputFiles.reduce((s, f) => s + statSync(f).size, 0);

  // Only float32 initializers: a restored tensor comes back as float32, which must be its stored type.
  const weights = new Map<string, WeightInput>();
  for (const t of model.tensors) {
    const stored = model.stored(t.name)!;
    // Sparse initializers stay as they are: they are sparse already.
    if (model.floatDType(t.name) !== 'F32' || stored.place === 'sparse-initializer') continue;
    weights.set(t.name, { dims: t.shape, data: model.read(t.name), scope: stored.scope });
  }
  for (const t of model.initializers) {
    if (t.storage.kind === 'external' && !weights.has(t.name)) {
      throw new SculptError(`${input}: tensor ${t.name} lives in external data and is not float32; pack needs such tensors inline (re-save the model without external data)`);
    }
  }

  if (format === 'sculpt') {
    const { bytes, report } = packSculpt(model.bytes, weights, { fp16: options.fp16 === true });
    writeFileAtomic(output, bytes);
    const tensors = report.tensors.map((r) => {
      const w = weights.get(r.name)!;
      return { name: r.name, dims: w.dims, nonzeros: r.nonzeros, density: r.nonzeros / Math.max(1, w.data.length), storage: r.storage, bytes: r.bytes, denseBytes: r.denseBytes };
    });
    const float32Bytes = options.fp16 ? packSculpt(model.bytes, weights).bytes.length : undefined;
    return { input, output, format, fp16: options.fp16 === true, denseBytes, packedBytes: bytes.length, ratio: bytes.length / denseBytes, fp16MaxError: report.fp16MaxError, float32Bytes, tensors };
  }

  // onnx-sparse: COO only where it is smaller than dense; external tensors must leave the data file.
  const external = new Set(model.initializers.filter((t) => t.storage.kind === 'external').map((t) => t.name));
  const sparse = new Map<string, WeightInput>();
  const tensors: PackedTensorInfo[] = [];
  for (const [name, w] of weights) {
    const nnz = countNonzeros(w.data);
    const coo = nnz * COO_BYTES_PER_NONZERO;
    const useCoo = coo < w.data.byteLength;
    if (external.has(name) && !useCoo) {
      throw new SculptError(`${input}: tensor ${name} lives in external data and is too dense for a sparse initializer; use the .sculpt format or re-save the model without external data`);
    }
    if (useCoo) sparse.set(name, w);
    tensors.push({ name, dims: w.dims, nonzeros: nnz, density: nnz / Math.max(1, w.data.length), storage: useCoo ? 'coo' : 'dense', bytes: useCoo ? coo : w.data.byteLength, denseBytes: w.data.byteLength });
  }
  const bytes = toOnnxSparse(model.bytes, sparse);
  writeFileAtomic(output, bytes);
  return { input, output, format, fp16: false, denseBytes, packedBytes: bytes.length, ratio: bytes.length / denseBytes, fp16MaxError: 0, tensors };
}
