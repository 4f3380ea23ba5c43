/**
 * Language models for the data criteria: a model is a language model when it takes token ids, an
 * integer input named `input_ids`, as Hugging Face exports do. Its calibration set is text
 * (`text:FILE` from the dataset registry, in windows of `--seq-len` tokens).
 */
import { readOnnx, type OnnxModel } from '../formats/onnx.js';
import { detectFormat } from '../formats/registry.js';

/** Whether the model takes token ids: an integer input named `input_ids`. */
export function isLanguageModel(model: OnnxModel): boolean {
  return model.decoded.inputs.some((i) => i.name === 'input_ids' && (i.dtype === 'int64' || i.dtype === 'int32'));
}

/** Whether the file at `path` is an ONNX language model (reads and decodes it). */
export function isLanguageModelFile(path: string): boolean {
  try {
    return detectFormat(path).id === 'onnx' && isLanguageModel(readOnnx(path));
  } catch {
    return false;
  }
}
