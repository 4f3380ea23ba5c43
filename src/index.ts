/**
 * sculpt's library API. The command line is a thin layer over these functions.
 *
 *   import { pruneFile } from 'sculpt';
 *   pruneFile('model.onnx', 'model-90.onnx', { sparsity: 0.9, scope: 'global', pattern: parsePattern('unstructured'),
 *     criterion: 'magnitude', exclude: [], overrides: new Map(), seed: 0 });
 */
export * from './core/index.js';
export {
  readOnnx, writeOnnx, writeOnnxMasked, OnnxModel, openSafetensors, readSafetensors, writeSafetensorsStreaming,
  SafetensorsFile, assertFinite, type MaskLike, type SafetensorsEntry, type SafetensorsOptions, type TensorTransform,
} from './formats/index.js';
export { pruneFile, type PruneFileResult, type PruneFileHooks } from './api/prune-file.js';
export { inspectFile, type ModelInfo, type TensorInfo } from './api/inspect-file.js';
export { formatOf, type ModelFormat } from './api/model-file.js';
export * from './report/index.js';
