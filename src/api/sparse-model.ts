/**
 * Model files for sparse execution: `.onnx` as it is, `.sculpt` unpacked in memory to the plain
 * ONNX model it stands for, a TF.js layers folder exported to ONNX in memory (as `sculpt export`). Both give a graph for the sparse executor (sparse initializers,
 * Constant nodes and subgraphs included, as the ONNX reader decodes them) and a source onnxruntime loads.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { SculptError } from '../core/errors.js';
import type { Graph } from '../core/graph.js';
import { OnnxModel, readOnnx } from '../formats/onnx.js';
import { isTfjsModelPath } from '../formats/tfjs-folder.js';
import { checkInput } from './model-file.js';
import { exportTfjsToOnnx } from './export-onnx.js';
import { unpackSculpt } from './sculpt-file.js';

export interface SparseModelFile {
  readonly path: string;
  /** 'tfjs': a TF.js layers model folder, exported to ONNX in memory on the way in. */
  readonly kind: 'onnx' | 'sculpt' | 'tfjs';
  /** The plain ONNX model (for `.sculpt`, its packed weights restored as float32). */
  readonly onnx: OnnxModel;
  /** The graph the sparse executor runs. */
  readonly graph: Graph;
  /** What onnxruntime should load: the path of an `.onnx` file (external data resolves), or bytes. */
  readonly ortSource: string | Uint8Array;
}

export function modelKind(path: string): 'onnx' | 'sculpt' | 'tfjs' {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.sculpt') return 'sculpt';
  if (isTfjsModelPath(path)) return 'tfjs';
  throw new SculptError(`${path}: unknown model format '${ext || '(no extension)'}'; give an .onnx or .sculpt file, or a TF.js layers model folder`);
}

export function loadSparseModel(path: string): SparseModelFile {
  const kind = modelKind(path);
  if (kind === 'tfjs') {
    // What `sculpt export` would write, kept in memory (graph models and manifests are refused there).
    const bytes = exportTfjsToOnnx(path).bytes;
    const onnx = new OnnxModel(path, bytes);
    return { path, kind, onnx, graph: onnx.graph(), ortSource: bytes };
  }
  checkInput(path);
  if (kind === 'onnx') {
    const onnx = readOnnx(path);
    return { path, kind, onnx, graph: onnx.graph(), ortSource: path };
  }
  const buf = readFileSync(path);
  const onnxBytes = unpackSculpt(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  const onnx = new OnnxModel(path, onnxBytes);
  return { path, kind, onnx, graph: onnx.graph(), ortSource: onnxBytes };
}
