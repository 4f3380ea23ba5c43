/** Model formats: ONNX, safetensors and TF.js layers model folders (read, write, stream). */
import { SculptError } from '../core/errors.js';
import { numel, type WeightSet } from '../core/types.js';
import type { TensorSource } from './safetensors.js';

export { readOnnx, writeOnnx, writeOnnxMasked, OnnxModel } from './onnx.js';
export type { OnnxInitializer, OnnxStorage } from './onnx-decode.js';
export { readTensorProto } from './onnx-decode.js';
export type { RoleInfo } from './onnx-roles.js';
export {
  openSafetensors,
  readSafetensors,
  writeSafetensorsStreaming,
  safetensorsRole,
  SafetensorsFile,
} from './safetensors.js';
export type { MaskLike, SafetensorsEntry, SafetensorsOptions, TensorSource, TensorTransform } from './safetensors.js';
export type { FloatDType } from './safetensors-dtypes.js';
export { openTfjs, isTfjsModelPath, openTfjsFolder, writeTfjsFolder, checkTfjsOutput, classifyTfjsWeight, TfjsFolder } from './tfjs-folder.js';
export type { TfjsKind, TfjsQuantization, TfjsWeightEntry, TfjsWeightGroup } from './tfjs-folder.js';
export { writeFileAtomic, writeAtomically, assertNotInput } from './fsutil.js';

/**
 * Refuses NaN or ±Inf in any prunable tensor: magnitudes of such weights are meaningless.
 * Works on an in-memory WeightSet or a streaming source (tensors with empty data are read).
 */
export function assertFinite(weights: WeightSet | TensorSource, file = 'model'): void {
  const source = 'read' in weights ? weights : undefined;
  for (const t of weights.tensors) {
    if (!t.prunable) continue;
    const data = t.data.length === 0 && numel(t.shape) > 0 && source ? source.read(t.name) : t.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v - v !== 0) {
        const what = Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
        throw new SculptError(`${file}: tensor ${t.name} contains ${what} at element ${i}; fix or retrain the model, or exclude the tensor from pruning`);
      }
    }
  }
}
