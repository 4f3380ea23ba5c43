/**
 * Datasets for training: MNIST-format IDX files read into float32 images scaled to [0, 1] and
 * uint8 labels. `fashion-mnist` comes from --data DIR, else Debian's dataset-fashion-mnist, else
 * the subset committed in the repository (a note says so).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SculptError } from '../core/errors.js';
import { readIdxFile } from '../formats/idx.js';

export interface Split {
  /** count × height × width × channels values in [0, 1], row-major. */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

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
  /** A folder with train-images-idx3-ubyte(.gz) and friends; overrides the default places. */
  readonly dataDir?: string;
  /** Keep only the first N training examples. */
  readonly trainLimit?: number;
  /** Keep only the first N test examples. */
  readonly testLimit?: number;
}

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The repository root (the folder with package.json), from this file's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export function bundledSubsetDir(): string {
  return join(packageRoot(), 'data', 'fashion-mnist-subset');
}

function findFile(dir: string, base: string): string | undefined {
  for (const name of [`${base}.gz`, base, `${base.replace(/-idx(\d)-/, '.idx$1-')}`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function hasAll(dir: string): boolean {
  return Object.values(FILES).every((f) => findFile(dir, f) !== undefined);
}

/** Resolves which folder to read, and the note explaining the choice. */
export function resolveDataDir(opts: DatasetOptions): { dir: string; notes: string[] } {
  if (opts.dataDir !== undefined) {
    const dir = resolve(opts.dataDir);
    if (!hasAll(dir)) {
      throw new SculptError(`--data ${opts.dataDir}: needs ${Object.values(FILES).join('(.gz), ')}(.gz); some are missing`);
    }
    return { dir, notes: [`data: ${dir}`] };
  }
  if (opts.dataset !== 'fashion-mnist') {
    throw new SculptError(`--dataset ${opts.dataset}: unknown dataset; use fashion-mnist, or pass --data DIR with MNIST-format IDX files`);
  }
  if (hasAll(DEBIAN_FASHION_MNIST)) return { dir: DEBIAN_FASHION_MNIST, notes: [`data: ${DEBIAN_FASHION_MNIST}`] };
  const subset = bundledSubsetDir();
  if (hasAll(subset)) {
    return {
      dir: subset,
      notes: [`data: ${DEBIAN_FASHION_MNIST} not found (apt-get install dataset-fashion-mnist); using the built-in subset ${subset}`],
    };
  }
  throw new SculptError(`--dataset fashion-mnist: no data in ${DEBIAN_FASHION_MNIST} nor ${subset}; install dataset-fashion-mnist or pass --data DIR`);
}

function readSplit(dir: string, imagesBase: string, labelsBase: string, limit: number | undefined): { split: Split; shape: [number, number, number] } {
  const imgPath = findFile(dir, imagesBase) as string;
  const lblPath = findFile(dir, labelsBase) as string;
  const img = readIdxFile(imgPath);
  const lbl = readIdxFile(lblPath);
  if (!(img.data instanceof Uint8Array) || img.dims.length < 3) {
    throw new SculptError(`${imgPath}: expected uint8 images [N, H, W] or [N, H, W, C], got dims [${img.dims.join(', ')}]`);
  }
  if (!(lbl.data instanceof Uint8Array) || lbl.dims.length !== 1) {
    throw new SculptError(`${lblPath}: expected uint8 labels [N], got dims [${lbl.dims.join(', ')}]`);
  }
  if (lbl.dims[0] !== img.dims[0]) {
    throw new SculptError(`${lblPath}: ${lbl.dims[0]} labels for ${img.dims[0]} images in ${imgPath}`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) {
    throw new SculptError(`limit ${limit}: --train-limit and --test-limit take a positive integer`);
  }
  const count = Math.min(img.dims[0], limit ?? Infinity);
  const shape: [number, number, number] = [img.dims[1], img.dims[2], img.dims[3] ?? 1];
  const per = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(count * per);
  const src = img.data;
  const scale = 1 / 255;
  for (let i = 0; i < images.length; i++) images[i] = src[i] * scale;
  const labels = lbl.data.slice(0, count);
  for (let i = 0; i < count; i++) {
    if (labels[i] > 9) throw new SculptError(`${lblPath}: label ${labels[i]} at index ${i} is out of range 0-9`);
  }
  return { split: { images, labels, count }, shape };
}

/** Loads a dataset into memory. */
export function loadDataset(opts: DatasetOptions): Dataset {
  const { dir, notes } = resolveDataDir(opts);
  const train = readSplit(dir, FILES.trainImages, FILES.trainLabels, opts.trainLimit);
  const test = readSplit(dir, FILES.testImages, FILES.testLabels, opts.testLimit);
  if (train.shape.join() !== test.shape.join()) {
    throw new SculptError(`${dir}: train images are ${train.shape.join('×')} but test images are ${test.shape.join('×')}`);
  }
  return { name: opts.dataset, train: train.split, test: test.split, imageShape: train.shape, classes: 10, source: dir, notes };
}
