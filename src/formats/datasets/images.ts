/**
 * `images:DIR`: one sub-folder per class (sorted names are classes 0, 1, ...; files sorted in
 * each), PNG decoded by pngjs and JPEG by jpeg-js. Each image becomes [H, W, C] float32: pixels
 * scaled to [0, 1], converted to the asked channels (luma 0.299 R + 0.587 G + 0.114 B, or gray
 * repeated), resized bilinearly with half-pixel centres (PyTorch's interpolate, align_corners=False,
 * no antialias), then (v - mean[c]) / std[c]. Flags, else a JSON spec (--preprocess FILE, else
 * DIR/preprocess.json), else the images' own size and colour.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { SculptError } from '../../core/errors.js';
import type { DataOptions, DatasetReader } from './types.js';

/** A decoded image: RGBA bytes, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Decodes PNG or JPEG bytes (by their magic bytes) into RGBA. */
export function decodeImage(bytes: Uint8Array, file: string): RgbaImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw new SculptError(`${file}: cannot decode the image (${(e as Error).message.split('\n')[0]})`);
  }
  throw new SculptError(`${file}: not a PNG or JPEG file (unknown magic bytes)`);
}

function isColour(img: RgbaImage): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return true;
  return false;
}

/** RGBA bytes to [H, W, C] floats in [0, 1]. */
export function toChannels(img: RgbaImage, channels: 1 | 3): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const r = d[4 * p] / 255;
    const g = d[4 * p + 1] / 255;
    const b = d[4 * p + 2] / 255;
    if (channels === 1) out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else { out[3 * p] = r; out[3 * p + 1] = g; out[3 * p + 2] = b; }
  }
  return out;
}

/** Bilinear resize of [h, w, c] to [oh, ow, c], half-pixel centres, edges clamped (no antialias). */
export function resizeBilinear(src: Float32Array, h: number, w: number, c: number, oh: number, ow: number): Float32Array {
  if (h === oh && w === ow) return src;
  const out = new Float32Array(oh * ow * c);
  const axis = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    return [i0, i1, s - i0];
  };
  for (let y = 0; y < oh; y++) {
    const [y0, y1, ly] = axis(y, h, oh);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, lx] = axis(x, w, ow);
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * w + x0) * c + k];
        const b = src[(y0 * w + x1) * c + k];
        const d = src[(y1 * w + x0) * c + k];
        const e = src[(y1 * w + x1) * c + k];
        out[(y * ow + x) * c + k] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * d + lx * e);
      }
    }
  }
  return out;
}

/** The preprocessing of `opts`: flags over the spec file's values. */
export function imagePreprocessing(opts: DataOptions, dir?: string): Pick<DataOptions, 'imageSize' | 'channels' | 'mean' | 'std'> {
  // A dataset may carry its own spec: DIR/preprocess.json, used unless --preprocess names another.
  if (opts.preprocess === undefined && dir !== undefined && existsSync(join(dir, 'preprocess.json'))) opts = { ...opts, preprocess: join(dir, 'preprocess.json') };
  let spec: Record<string, unknown> = {};
  if (opts.preprocess !== undefined) {
    try {
      spec = JSON.parse(readFileSync(opts.preprocess, 'utf8'));
    } catch (e) {
      throw new SculptError(`--preprocess ${opts.preprocess}: not a readable JSON file (${(e as Error).message.split('\n')[0]})`);
    }
    const known = new Set(['imageSize', 'image_size', 'channels', 'mean', 'std']);
    const unknown = Object.keys(spec).filter((k) => !known.has(k));
    if (unknown.length) throw new SculptError(`--preprocess ${opts.preprocess}: unknown key ${unknown[0]}; the spec takes imageSize, channels, mean, std`);
  }
  const nums = (v: unknown, key: string): number[] | undefined => {
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new SculptError(`--preprocess ${opts.preprocess}: ${key} must be a number or a list of numbers`);
    return list as number[];
  };
  const size = nums(spec.imageSize ?? spec.image_size, 'imageSize');
  if (size && (size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0))) throw new SculptError(`--preprocess ${opts.preprocess}: imageSize must be [height, width]`);
  const channels = spec.channels;
  if (channels !== undefined && channels !== 1 && channels !== 3) throw new SculptError(`--preprocess ${opts.preprocess}: channels must be 1 or 3`);
  return {
    imageSize: opts.imageSize ?? (size as [number, number] | undefined),
    channels: opts.channels ?? (channels as 1 | 3 | undefined),
    mean: opts.mean ?? nums(spec.mean, 'mean'),
    std: opts.std ?? nums(spec.std, 'std'),
  };
}

function perChannel(v: readonly number[] | undefined, c: number, flag: string, fallback: number): number[] {
  if (v === undefined) return new Array(c).fill(fallback);
  if (v.length === 1) return new Array(c).fill(v[0]);
  if (v.length !== c) throw new SculptError(`${flag} has ${v.length} values for ${c} channels; give one value or ${c}`);
  return [...v];
}

/** The image files of `dir`, one sub-folder per class. */
export function listImageFolder(dir: string, source: string): { classes: string[]; files: { file: string; label: number }[]; skipped: number } {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new SculptError(`${source}: ${dir} is not a folder; images:DIR takes a folder with one sub-folder per class`);
    entries = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (e) {
    if (e instanceof SculptError) throw e;
    throw new SculptError(`${source}: no such folder ${dir}`);
  }
  const classes = entries.filter((n) => statSync(join(dir, n)).isDirectory());
  if (classes.length === 0) throw new SculptError(`${source}: ${dir} has no class sub-folders; put each class's images in a folder of its own (DIR/cat/1.png, DIR/dog/2.jpg)`);
  const files: { file: string; label: number }[] = [];
  let skipped = 0;
  classes.forEach((cls, label) => {
    for (const name of readdirSync(join(dir, cls)).filter((n) => !n.startsWith('.')).sort()) {
      const file = join(dir, cls, name);
      if (EXTENSIONS.has(extname(name).toLowerCase()) && statSync(file).isFile()) files.push({ file, label });
      else skipped++;
    }
  });
  if (files.length === 0) throw new SculptError(`${source}: no .png, .jpg or .jpeg files in the class folders of ${dir}; the dataset is empty`);
  return { classes, files, skipped };
}

export const imagesReader: DatasetReader = {
  kind: 'images',
  usage: 'images:DIR',
  describe: 'a folder with one sub-folder of PNG/JPEG images per class',
  open(dir, opts, source) {
    const pre = imagePreprocessing(opts, dir);
    const { classes, files, skipped } = listImageFolder(dir, source);
    const chosen = files.slice(0, opts.limit ?? files.length);
    const decode = (i: number): RgbaImage => decodeImage(readFileSync(chosen[i].file), chosen[i].file);
    // Without a size and channel count, a first pass finds them; images are then decoded one at a time.
    let channels = pre.channels;
    let size = pre.imageSize;
    if (channels === undefined || size === undefined) {
      let colour = false;
      let first: RgbaImage | undefined;
      for (let i = 0; i < chosen.length; i++) {
        const img = decode(i);
        first ??= img;
        colour ||= channels === undefined && isColour(img);
        if (size === undefined && (img.width !== first.width || img.height !== first.height)) {
          throw new SculptError(`${source}: images differ in size (${chosen[0].file} is ${first.height}×${first.width}, ${chosen[i].file} is ${img.height}×${img.width}); pass --image-size H,W`);
        }
      }
      channels ??= colour ? 3 : 1;
      size ??= [first!.height, first!.width];
    }
    const [h, w] = size;
    const mean = perChannel(pre.mean, channels, '--mean', 0);
    const std = perChannel(pre.std, channels, '--std', 1);
    if (std.some((s) => s === 0)) throw new SculptError('--std: a channel divisor is 0');
    const per = h * w * channels;
    const inputs = new Float32Array(chosen.length * per);
    for (let i = 0; i < chosen.length; i++) {
      const img = decode(i);
      const px = resizeBilinear(toChannels(img, channels), img.height, img.width, channels, h, w);
      const o = i * per;
      for (let p = 0; p < h * w; p++) for (let c = 0; c < channels; c++) inputs[o + p * channels + c] = (px[p * channels + c] - mean[c]) / std[c];
    }
    const notes = [`${dir}: ${chosen.length} images in ${classes.length} classes (${classes.join(', ')}), ${h}×${w}×${channels}`];
    if (skipped) notes.push(`${dir}: skipped ${skipped} file${skipped === 1 ? '' : 's'} not .png/.jpg/.jpeg`);
    return {
      kind: 'images', source, count: chosen.length, sampleShape: [h, w, channels], inputs,
      labels: Int32Array.from(chosen, (f) => f.label), classes: classes.length, classNames: classes, image: true, notes,
    };
  },
};
