/**
 * MNIST-format IDX folders (`idx:DIR`, and `fashion-mnist`: Debian's dataset-fashion-mnist, else
 * the subset committed in the repository): uint8 images scaled to [0, 1], labels 0–9.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SculptError } from '../../core/errors.js';
import { readIdxFile } from '../idx.js';
import type { DatasetReader, ExampleSet } from './types.js';

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** One split of an IDX folder. */
export interface IdxSplit {
  /** count × height × width × channels values in [0, 1], row-major. */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** The repository root (the folder with package.json), from this file's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
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
  return Object.values(IDX_FILES).every((f) => findFile(dir, f) !== undefined);
}

/**
 * Which folder to read, and the note explaining the choice: `dataDir` when given (`what` names it
 * in errors), else Debian's Fashion-MNIST, else the bundled subset.
 */
export function resolveIdxDir(dataset: string, dataDir: string | undefined, what = `--data ${dataDir}`): { dir: string; notes: string[] } {
  if (dataDir !== undefined) {
    const dir = resolve(dataDir);
    if (!hasAll(dir)) {
      throw new SculptError(`${what}: needs ${Object.values(IDX_FILES).join('(.gz), ')}(.gz); some are missing`);
    }
    return { dir, notes: [`data: ${dir}`] };
  }
  if (dataset !== 'fashion-mnist') {
    throw new SculptError(`--dataset ${dataset}: unknown dataset; use fashion-mnist, or pass --data DIR with MNIST-format IDX files`);
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

/** Reads one split (`train` or `test`) of an IDX folder, the first `limit` examples. */
export function readIdxSplit(dir: string, split: 'train' | 'test', limit: number | undefined): { split: IdxSplit; shape: [number, number, number] } {
  const [imagesBase, labelsBase] = split === 'train' ? [IDX_FILES.trainImages, IDX_FILES.trainLabels] : [IDX_FILES.testImages, IDX_FILES.testLabels];
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

function openIdx(dataset: string, dataDir: string | undefined, split: 'train' | 'test', limit: number | undefined, source: string): ExampleSet {
  const { dir, notes } = resolveIdxDir(dataset, dataDir, source);
  const { split: s, shape } = readIdxSplit(dir, split, limit);
  return {
    kind: 'idx', source, count: s.count, sampleShape: shape, inputs: s.images, labels: Int32Array.from(s.labels),
    classes: 10, image: true, notes: [...notes, `split: ${split}`],
  };
}

export const idxReader: DatasetReader = {
  kind: 'idx',
  usage: 'idx:DIR',
  describe: 'a folder of MNIST-format IDX files (train-/t10k-images/labels, .gz or plain)',
  open: (path, opts, source) => openIdx('fashion-mnist', path, opts.split ?? 'test', opts.limit, source),
};

export const fashionMnistReader: DatasetReader = {
  kind: 'fashion-mnist',
  usage: 'fashion-mnist',
  describe: `Fashion-MNIST from ${DEBIAN_FASHION_MNIST} (Debian's dataset-fashion-mnist), else the bundled subset`,
  open: (_path, opts, source) => openIdx('fashion-mnist', undefined, opts.split ?? 'test', opts.limit, source),
};
