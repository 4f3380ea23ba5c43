/**
 * Model files for sparse execution: `.onnx` as it is, `.sculpt` unpacked in memory to the plain
 * ONNX model it stands for. Both give a graph for the sparse executor and a source onnxruntime loads.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { SculptError } from '../core/errors.js';
import { OnnxModel, readOnnx } from '../formats/onnx.js';
import { unpackSculpt } from '../sparse/container.js';
import { checkInput } from './model-file.js';

export interface SparseModelFile {
  readonly path: string;
  readonly kind: 'onnx' | 'sculpt';
  /** The plain ONNX model (for `.sculpt`, its packed weights restored as float32). */
  readonly onnx: OnnxModel;
  /** What onnxruntime should load: the path of an `.onnx` file (external data resolves), or bytes. */
  readonly ortSource: string | Uint8Array;
}

export function modelKind(path: string): 'onnx' | 'sculpt' {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.sculpt') return 'sculpt';
  throw new SculptError(`${path}: unknown model format '${ext || '(no extension)'}'; give an .onnx or .sculpt file`);
}

export function loadSparseModel(path: string): SparseModelFile {
  const kind = modelKind(path);
  checkInput(path);
  if (kind === 'onnx') return { path, kind, onnx: readOnnx(path), ortSource: path };
  const buf = readFileSync(path);
  const onnxBytes = unpackSculpt(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  return { path, kind, onnx: new OnnxModel(path, onnxBytes), ortSource: onnxBytes };
}
