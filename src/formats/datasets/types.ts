/**
 * One dataset interface: every reader (IDX, image folders, npy/npz, CSV, text) turns `KIND:PATH`
 * into an `ExampleSet` — examples in one flat typed array, labels where the set has them — and
 * `batches` slices it for calibration, evaluation and training alike.
 */

/** How a dataset is read: one typed record for the CLI flags, the API and preprocessing specs. */
export interface DataOptions {
  /** IDX sets: which split to read (calibration reads train, eval reads test). Default test. */
  readonly split?: 'train' | 'test';
  /** Keep only the first N examples (text: windows). */
  readonly limit?: number;
  /** Images: resize every image to [height, width] (bilinear, half-pixel centres). */
  readonly imageSize?: readonly [number, number];
  /** Images: 1 (luma) or 3 (RGB); default: 3 when any image has colour, else 1. */
  readonly channels?: 1 | 3;
  /** Images: per-channel mean subtracted after scaling pixels to [0, 1] (one value or one per channel). */
  readonly mean?: readonly number[];
  /** Images: per-channel divisor after the mean. */
  readonly std?: readonly number[];
  /** Images: a JSON file with any of { imageSize, channels, mean, std }; flags override it. */
  readonly preprocess?: string;
  /** CSV: the label column's name (or 0-based index); default `label` if present, else the last column. */
  readonly labelColumn?: string;
  /** Text: `bytes` (UTF-8 bytes as ids) or the path of a Hugging Face `tokenizer.json`. */
  readonly tokenizer?: string;
  /** Text: tokens per window. Default 128. */
  readonly seqLen?: number;
  /** Text: tokens between window starts; default seqLen (non-overlapping). */
  readonly stride?: number;
}

/** Text windows: which positions of each window are scored (the rest are context). */
export interface TextWindows {
  readonly seqLen: number;
  readonly stride: number;
  /** Tokens in the whole stream. */
  readonly tokens: number;
  /** Per window, the first position whose token is predicted and scored (≥ 1). */
  readonly scoreFrom: Int32Array;
  /** `bytes` or the tokenizer.json path. */
  readonly tokenizer: string;
  /** Ids are below this (256 for bytes; the tokenizer's vocabulary size). */
  readonly vocabSize: number;
}

/** A dataset in memory. */
export interface ExampleSet {
  /** The reader's kind (`images`, `npy`, `idx`, ...). */
  readonly kind: string;
  /** The spec as given (`images:data/pets`). */
  readonly source: string;
  readonly count: number;
  /**
   * Shape of one example: images [H, W, C] (channels last), text [seqLen], npy/csv as stored.
   */
  readonly sampleShape: readonly number[];
  /** count × prod(sampleShape) values: float32 features or int32 token ids / integer arrays. */
  readonly inputs: Float32Array | Int32Array;
  /** One class index per example, for classification sets. */
  readonly labels?: Int32Array;
  /** Number of classes (max label + 1, or the class folders). */
  readonly classes?: number;
  /** Class names where the source has them (image sub-folders, CSV strings). */
  readonly classNames?: readonly string[];
  /** Images: the layout of sampleShape is [H, W, C]. */
  readonly image?: boolean;
  readonly text?: TextWindows;
  /** Lines to show the user (which copy of the data, what was skipped). */
  readonly notes: readonly string[];
}

/** A slice of an ExampleSet; typed arrays are views, not copies. */
export interface Batch {
  /** Index of the first example in the set. */
  readonly start: number;
  readonly count: number;
  readonly inputs: Float32Array | Int32Array;
  readonly labels?: Int32Array;
  /** Text: per window, the first scored position. */
  readonly scoreFrom?: Int32Array;
}

/** A reader of one kind of dataset, registered by its kind. */
export interface DatasetReader {
  readonly kind: string;
  /** How it is named on the command line, for messages: `images:DIR`. */
  readonly usage: string;
  /** What it reads, for messages and help. */
  readonly describe: string;
  open(path: string, opts: DataOptions, source: string): ExampleSet;
}

export function sampleSize(set: Pick<ExampleSet, 'sampleShape'>): number {
  return set.sampleShape.reduce((a, b) => a * b, 1);
}

/** Consecutive batches of at most `size` examples (the first `limit` examples only, when given). */
export function* batches(set: ExampleSet, size: number, limit = set.count): Generator<Batch> {
  const per = sampleSize(set);
  const n = Math.min(limit, set.count);
  for (let start = 0; start < n; start += size) {
    const count = Math.min(size, n - start);
    yield {
      start,
      count,
      inputs: set.inputs.subarray(start * per, (start + count) * per),
      labels: set.labels?.subarray(start, start + count),
      scoreFrom: set.text?.scoreFrom.subarray(start, start + count),
    };
  }
}

/** The first `n` examples of `set` (views). */
export function firstExamples(set: ExampleSet, n: number): ExampleSet {
  if (n >= set.count) return set;
  const per = sampleSize(set);
  return {
    ...set,
    count: n,
    inputs: set.inputs.subarray(0, n * per),
    labels: set.labels?.subarray(0, n),
    text: set.text && { ...set.text, scoreFrom: set.text.scoreFrom.subarray(0, n) },
  };
}
