/**
 * Datasets for training: MNIST-format IDX files read into float32 images scaled to [0, 1] and
 * uint8 labels. `fashion-mnist` comes from --data DIR, else Debian's dataset-fashion-mnist, else
 * the subset committed in the repository (a note says so). The IDX reading itself lives with the
 * other dataset readers (formats/datasets/idx.ts); `splitExamples` turns any classification set of
 * the dataset registry into the same train/test shape.
 */
import { SculptError } from '../core/errors.js';
import { readIdxSplit, resolveIdxDir, type IdxSplit } from '../formats/datasets/idx.js';
import { openDataset } from '../formats/datasets/registry.js';
import type { DataOptions, ExampleSet } from '../formats/datasets/types.js';

export { DEBIAN_FASHION_MNIST, bundledSubsetDir, packageRoot } from '../formats/datasets/idx.js';

export type Split = IdxSplit;

export interface Dataset {
  readonly name: string;
  readonly train: Split;
  readonly test: Split;
  /** [height, width, channels] of one image. */
  readonly imageShape: readonly [number, number, number];
  readonly classes: number;
  /** The folder the files came from. */
  readonly source: string;
  /** Lines to show the user (which copy of the data was used). */
  readonly notes: string[];
}

export interface DatasetOptions {
  /** Dataset name; only `fashion-mnist` (or `mnist` with --data) is known. */
  readonly dataset: string;
  /**
   * A folder with train-images-idx3-ubyte(.gz) and friends (overrides the default places), or any
   * classification dataset of the registry as KIND:PATH (`images:DIR`, `npy:X.npy,Y.npy`, `csv:FILE`),
   * split by `splitExamples`.
   */
  readonly dataDir?: string;
  /** How a KIND:PATH dataset is read (image size, channels, normalisation, label column). */
  readonly dataOptions?: DataOptions;
  /** Keep only the first N training examples. */
  readonly trainLimit?: number;
  /** Keep only the first N test examples. */
  readonly testLimit?: number;
}

/** Resolves which folder to read, and the note explaining the choice. */
export function resolveDataDir(opts: DatasetOptions): { dir: string; notes: string[] } {
  return resolveIdxDir(opts.dataset, opts.dataDir);
}

/** Loads a dataset into memory. */
export function loadDataset(opts: DatasetOptions): Dataset {
  if (opts.dataDir !== undefined && /^[a-z][a-z-]*:/.test(opts.dataDir) && !opts.dataDir.startsWith('idx:')) {
    const ds = splitExamples(openDataset(opts.dataDir, opts.dataOptions));
    return { ...ds, train: firstOf(ds.train, ds.imageShape, opts.trainLimit), test: firstOf(ds.test, ds.imageShape, opts.testLimit) };
  }
  const dataDir = opts.dataDir?.startsWith('idx:') ? opts.dataDir.slice(4) : opts.dataDir;
  const { dir, notes } = resolveDataDir({ ...opts, dataDir });
  const train = readIdxSplit(dir, 'train', opts.trainLimit);
  const test = readIdxSplit(dir, 'test', opts.testLimit);
  if (train.shape.join() !== test.shape.join()) {
    throw new SculptError(`${dir}: train images are ${train.shape.join('×')} but test images are ${test.shape.join('×')}`);
  }
  return { name: opts.dataset, train: train.split, test: test.split, imageShape: train.shape, classes: 10, source: dir, notes };
}

function firstOf(s: Split, shape: readonly number[], limit: number | undefined): Split {
  if (limit === undefined || limit >= s.count) return s;
  if (!Number.isInteger(limit) || limit <= 0) throw new SculptError(`limit ${limit}: --train-limit and --test-limit take a positive integer`);
  const per = shape[0] * shape[1] * shape[2];
  return { images: s.images.slice(0, limit * per), labels: s.labels.slice(0, limit), count: limit };
}

/**
 * A classification set of the dataset registry as a training Dataset: a `testFraction` of the
 * examples, spread evenly through the set (folders are in class order), held out as the test
 * split (at least one). Images keep [H, W, C]; other examples become [1, F, 1] so Dense nets
 * (which flatten) take them.
 */
export function splitExamples(set: ExampleSet, testFraction = 0.2): Dataset {
  if (!set.labels || set.classes === undefined) throw new SculptError(`${set.source}: has no labels; training needs a classification dataset`);
  if (!(set.inputs instanceof Float32Array)) throw new SculptError(`${set.source}: holds integer inputs; training takes float features or images`);
  if (set.count < 2) throw new SculptError(`${set.source}: ${set.count} example; training needs at least 2 (one held out for testing)`);
  if (set.classes > 256) throw new SculptError(`${set.source}: ${set.classes} classes; training takes at most 256`);
  const s = set.sampleShape;
  const shape: [number, number, number] = s.length === 3 ? [s[0], s[1], s[2]] : [1, s.reduce((a, b) => a * b, 1), 1];
  const per = shape[0] * shape[1] * shape[2];
  const isTest = (i: number): boolean => Math.floor((i + 1) * testFraction) > Math.floor(i * testFraction) || (testFraction > 0 && i === set.count - 1 && set.count * testFraction < 1);
  const order = { train: [] as number[], test: [] as number[] };
  for (let i = 0; i < set.count; i++) (isTest(i) ? order.test : order.train).push(i);
  const inputs = set.inputs;
  const part = (idx: number[]): Split => {
    const images = new Float32Array(idx.length * per);
    idx.forEach((e, j) => images.set(inputs.subarray(e * per, (e + 1) * per), j * per));
    return { images, labels: Uint8Array.from(idx, (e) => set.labels![e]), count: idx.length };
  };
  return {
    name: set.source, train: part(order.train), test: part(order.test), imageShape: shape, classes: set.classes,
    source: set.source, notes: [...set.notes, `data: ${set.source}, ${order.train.length} training and ${order.test.length} held-out examples`],
  };
}
