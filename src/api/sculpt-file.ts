/**
 * The `.sculpt` container and ONNX's own sparse form, on ONNX bytes: the container layout lives in
 * sparse/container.ts, the ONNX edits (drop, add, sparse initializers) in formats/onnx-edit.ts.
 */
import { editGraph } from '../formats/onnx-edit.js';
import { containerOnnx, packContainer, unpackWeights, type PackOptions, type PackReport, type WeightInput } from '../sparse/container.js';

/**
 * Packs an ONNX model: each tensor in `weights` leaves the model (an initializer, or a Constant node,
 * in any subgraph) and is stored sparse (or dense, if smaller); unpacking restores it as an
 * initializer of the same graph.
 */
export function packSculpt(onnx: Uint8Array, weights: ReadonlyMap<string, WeightInput>, options: PackOptions = {}): { bytes: Uint8Array; report: PackReport } {
  return packContainer(editGraph(onnx, 'pack', { dropInitializers: new Set(weights.keys()) }), weights, options);
}

/** A plain ONNX model equivalent to the container (packed weights restored as float32 initializers). */
export function unpackSculpt(bytes: Uint8Array): Uint8Array {
  const addInitializers = [...unpackWeights(bytes)].map(([name, w]) => ({ name, dims: w.dims, data: w.data, scope: w.scope }));
  return editGraph(containerOnnx(bytes), '.sculpt file', { addInitializers });
}

/**
 * The standard ONNX form of a pruned model: the given initializers become `sparse_initializer`
 * entries (COO, int64 linear indices), which onnxruntime loads. Portable but not compact: each
 * nonzero costs 12 bytes, so it beats dense only below a third of the weights.
 */
export function toOnnxSparse(onnx: Uint8Array, weights: ReadonlyMap<string, WeightInput>): Uint8Array {
  const addSparseInitializers = [...weights].map(([name, w]) => ({ name, dims: w.dims, data: w.data, scope: w.scope }));
  return editGraph(onnx, 'toOnnxSparse', { dropInitializers: new Set(weights.keys()), addSparseInitializers });
}
