/** The dataset registry and its readers. */
export * from './types.js';
export { registerDataset, datasetReaders, datasetUsage, parseDataSpec, openDataset } from './registry.js';
export { parseNpyArray, type NpyArray } from './npy.js';
export { decodeImage, resizeBilinear, toChannels, imagePreprocessing } from './images.js';
export { loadTokenizer, textWindows, BYTE_TOKENIZER, type TextTokenizer } from './text.js';
export { splitCsvLine } from './csv.js';
