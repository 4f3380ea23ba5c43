/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`, then the data.
 *
 * Reading streams one tensor at a time with positioned reads into a reused buffer, so memory
 * stays at the size of the largest tensor; writing copies the header and every untouched byte
 * verbatim and re-encodes only transformed tensors, in their original dtype.
 *
 * Roles, from names alone (there is no graph): a floating tensor is
 *   - `embedding` if a dot-separated part of its name contains "embed" or is wte, wpe or shared;
 *   - `norm` if a part contains "norm" or is ln, ln_*, ln<digits>, bn, bn<digits> (ln_f, ln_1, …);
 *   - `bias` if its name ends in "bias";
 *   - `weight` if it has rank ≥ 2 (prunable, outputAxis 0: PyTorch's [out, in, ...] layout);
 *   - `other` otherwise (rank 0 or 1).
 * Only `weight` tensors are prunable. Non-floating tensors (I64, U8, …) are not in `tensors`,
 * but writing copies them unchanged.
 */
import * as fs from 'node:fs';
import { SculptError } from '../core/errors.js';
import type { TensorSource } from '../core/plan.js';
import { shapeText } from '../core/limits.js';
import { kernelsHolding } from '../core/select-kernels.js';
import { numel, WeightSet, type Role, type WeightTensor } from '../core/types.js';
import { parseStrictJson } from '../core/strict-json.js';
import { AtomicFile, assertNotInput, printable, readExactly, WATCH_AFTER_BYTES } from './fsutil.js';
import { IoThread } from './io-thread.js';
import { copyByChunks, type LayoutSource } from './layout-copy.js';
import { decodeFloats, encodeFloats, FLOAT_DTYPE_BYTES, isFloatDType, type FloatDType } from './safetensors-dtypes.js';

export type { TensorSource } from '../core/plan.js';

/** Anything with `get(i)`: true keeps element i. sculpt's `Mask` also has `length` and `words`
 * (32 elements per word, bit i & 31 of word i >>> 5), which makes zeroing word-at-a-time. */
export interface MaskLike {
  get(i: number): boolean;
  readonly length?: number;
  readonly words?: Uint32Array;
}

const DTYPE_BYTES: ReadonlyMap<string, number> = new Map([
  ['F64', 8], ['F32', 4], ['F16', 2], ['BF16', 2], ['I64', 8], ['I32', 4], ['I16', 2], ['I8', 1],
  ['U64', 8], ['U32', 4], ['U16', 2], ['U8', 1], ['BOOL', 1], ['F8_E4M3', 1], ['F8_E5M2', 1],
]);

const READ_AHEAD_BYTES = 64 << 20;

/** Headers longer than this are refused (the reference implementation's limit is 100 MB too). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as the header describes it; `begin`/`end` are absolute file offsets. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsOptions {
  /**
   * Keep the whole data section in memory when it is at most this many bytes (default 0: never).
   * Worth it when the same tensors are read several times (global selection reads each 2–3
   * times): later reads are a memory copy instead of a read from the file.
   */
  readonly cacheBytes?: number;
  /** Files from this many bytes on are read with a helper thread reading ahead (default 64 MiB: smaller ones are not worth a thread). */
  readonly readAheadFrom?: number;
}

export function safetensorsRole(name: string, dtype: string, shape: readonly number[]): Pick<WeightTensor, 'role' | 'prunable' | 'reason' | 'outputAxis'> {
  const parts = name.toLowerCase().split('.');
  let role: Role;
  let reason: string;
  if (parts.some((p) => p.includes('embed') || p === 'wte' || p === 'wpe' || p === 'shared')) {
    role = 'embedding';
    reason = 'embedding (by name)';
  } else if (parts.some((p) => p.includes('norm') || /^(ln|bn)(_\w*|\d*)$/.test(p))) {
    role = 'norm';
    reason = 'norm (by name)';
  } else if (name.toLowerCase().endsWith('bias')) {
    role = 'bias';
    reason = 'bias (by name)';
  } else if (shape.length < 2) {
    role = 'other';
    reason = `rank ${shape.length}`;
  } else {
    role = 'weight';
    reason = `${dtype} weight of rank ${shape.length}`;
  }
  return { role, prunable: role === 'weight', reason, outputAxis: 0 };
}

/** A safetensors file opened for streaming reads. Call `close()` when done. */
export class SafetensorsFile implements TensorSource {
  readonly path: string;
  /** Size of the file in bytes. */
  readonly size: number;
  /** Offset of the data section (8 + header length). */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** All tensors in data order (floating or not). */
  readonly entries: readonly SafetensorsEntry[];
  /** Floating tensors in data order, with empty `data`; values come from `read`. */
  readonly tensors: readonly WeightTensor[];
  private readonly byName: Map<string, SafetensorsEntry>;
  private readonly indexOf: Map<string, number>;
  private readonly tensorByName: Map<string, WeightTensor>;
  private ahead?: { io: IoThread; slots: [Uint8Array, Uint8Array]; holds: [number, number]; tickets: [number, number]; successor: Map<number, number>; last: number };
  private fd: number;
  private readonly cacheBytes: number;
  private readonly readAheadFrom: number;
  private cache: Uint8Array | undefined;
  private cacheFailed = false;
  private rawBuf: Uint8Array | undefined;
  private floatBuf: Float32Array | undefined;

  constructor(file: string, options: SafetensorsOptions = {}) {
    this.path = file;
    this.cacheBytes = options.cacheBytes ?? 0;
    this.readAheadFrom = options.readAheadFrom ?? READ_AHEAD_BYTES;
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new SculptError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}); check the path`);
    }
    try {
      const stat = fs.fstatSync(this.fd);
      if (!stat.isFile()) throw new SculptError(`${file}: not a file; give the path of a .safetensors file`);
      this.size = stat.size;
      const parsed = parseHeader(this.fd, this.size, file);
      this.dataStart = parsed.dataStart;
      this.metadata = parsed.metadata;
      this.entries = parsed.entries;
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
    this.byName = new Map(this.entries.map((e) => [e.name, e]));
    this.indexOf = new Map(this.entries.map((e, i) => [e.name, i]));
    this.tensors = this.entries
      .filter((e) => isFloatDType(e.dtype))
      .map((e) => ({ name: e.name, shape: e.shape, data: new Float32Array(0), ...safetensorsRole(e.name, e.dtype, e.shape) }));
    this.tensorByName = new Map(this.tensors.map((t) => [t.name, t]));
  }

  entry(name: string): SafetensorsEntry {
    const e = this.byName.get(name);
    if (!e) throw new SculptError(`${this.path}: no tensor named ${printable(name)}`);
    return e;
  }

  /**
   * The stored bytes of one tensor. The array is reused: it is valid until the next `read`,
   * `readBytes` or `close` on this file. With the cache it is a view of the cache: do not modify.
   */
  readBytes(name: string): Uint8Array {
    const e = this.entry(name);
    const length = e.end - e.begin;
    if (this.cacheBytes > 0 && this.size - this.dataStart <= this.cacheBytes && !this.cacheFailed) {
      if (!this.cache) {
        try {
          this.cache = new Uint8Array(this.size - this.dataStart);
        } catch {
          // Not enough memory for the cache: stream instead.
          this.cacheFailed = true;
          return this.readBytes(name);
        }
        readExactly(this.fd, this.cache, this.cache.length, this.dataStart, this.path);
      }
      return this.cache.subarray(e.begin - this.dataStart, e.end - this.dataStart);
    }
    if (this.size >= this.readAheadFrom && process.env.SCULPT_READ_AHEAD !== '0') return this.readAhead(e);
    if (!this.rawBuf || this.rawBuf.length < length) {
      const size = maxBytes(this.entries, length);
      try {
        this.rawBuf = new Uint8Array(size);
      } catch {
        throw new SculptError(`${this.path}: its largest tensor needs ${size} bytes at once, more than this machine can allocate`);
      }
    }
    readExactly(this.fd, this.rawBuf, length, e.begin, this.path);
    return this.rawBuf.subarray(0, length);
  }

  /**
   * readBytes for a large file: a helper thread reads the tensor predicted to come next while the
   * caller works on this one (a selection pass reads every target in file order). The prediction is
   * what followed this tensor last time, else the next prunable tensor; a wrong one costs a read.
   */
  private readAhead(e: SafetensorsEntry): Uint8Array {
    if (!this.ahead) {
      const io = new IoThread();
      const size = maxBytes(this.entries, 0);
      this.ahead = { io, slots: [io.alloc(size), io.alloc(size)], holds: [-1, -1], tickets: [-1, -1], successor: new Map(), last: -1 };
    }
    const a = this.ahead;
    const index = this.indexOf.get(e.name) as number;
    const length = e.end - e.begin;
    let s = a.holds[0] === index ? 0 : a.holds[1] === index ? 1 : -1;
    if (s < 0) {
      s = a.holds[0] === a.last ? 1 : 0; // not the buffer returned last (valid until this call)
      a.holds[s] = index;
      a.tickets[s] = a.io.read(this.fd, a.slots[s].subarray(0, length), e.begin);
    }
    if (a.tickets[s] >= 0 && !a.io.wait(a.tickets[s])) readExactly(this.fd, a.slots[s], length, e.begin, this.path);
    a.tickets[s] = -1;
    if (a.last >= 0) a.successor.set(a.last, index);
    a.last = index;
    const next = a.successor.get(index) ?? this.nextPrunable(index);
    const o = 1 - s;
    if (next >= 0 && a.holds[o] !== next) {
      const n = this.entries[next];
      a.holds[o] = next;
      a.tickets[o] = a.io.read(this.fd, a.slots[o].subarray(0, n.end - n.begin), n.begin);
    }
    return a.slots[s].subarray(0, length);
  }

  /** Index of the first prunable floating tensor after entry `index` (-1: none). */
  private nextPrunable(index: number): number {
    for (let i = index + 1; i < this.entries.length; i++) {
      const t = this.tensorByName.get(this.entries[i].name);
      if (t?.prunable) return i;
    }
    return -1;
  }

  /**
   * Values of one floating tensor as float32 (F16/BF16/F64 converted). The array is reused:
   * it is valid until the next `read`, `readBytes` or `close`; copy it (`.slice()`) to keep it.
   * Modifying it is harmless: it is never a view of the cache.
   */
  read(name: string): Float32Array {
    const e = this.entry(name);
    if (!isFloatDType(e.dtype)) throw new SculptError(`${this.path}: tensor ${printable(name)} has dtype ${e.dtype}, not a floating-point type`);
    const bytes = this.readBytes(name);
    const n = numel(e.shape);
    // Straight from the read buffer when streaming; from the cache, a copy (a caller that
    // modified a view would silently change what the writer copies later).
    if (e.dtype === 'F32' && !this.cache && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    if (!this.floatBuf || this.floatBuf.length < n) this.floatBuf = new Float32Array(maxElements(this.entries, n));
    const out = this.floatBuf.subarray(0, n);
    decodeFloats(bytes, e.dtype, out);
    return out;
  }

  /** Copies the stored bytes of `entry` into `into` (from its start), from the cache if loaded. */
  readRawInto(entry: SafetensorsEntry, into: Uint8Array): void {
    if (this.cache) into.set(this.cache.subarray(entry.begin - this.dataStart, entry.end - this.dataStart));
    else readExactly(this.fd, into, entry.end - entry.begin, entry.begin, this.path);
  }

  /** The open file for copyByChunks (its descriptor, size and a checked read). */
  layoutSource(): LayoutSource {
    return { fd: this.fd, size: this.size, readRange: (start, end, into) => this.readRange(start, end, into) };
  }

  /** Reads bytes [start, end) of the file into `into`. */
  readRange(start: number, end: number, into: Uint8Array): void {
    readExactly(this.fd, into, end - start, start, this.path);
  }

  close(): void {
    // The helper first: it may still be reading through the descriptor.
    this.ahead?.io.close();
    this.ahead = undefined;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.cache = undefined;
    this.rawBuf = undefined;
    this.floatBuf = undefined;
  }
}

function maxBytes(entries: readonly SafetensorsEntry[], atLeast: number): number {
  let m = atLeast;
  for (const e of entries) m = Math.max(m, e.end - e.begin);
  return m;
}

function maxElements(entries: readonly SafetensorsEntry[], atLeast: number): number {
  let m = atLeast;
  for (const e of entries) if (isFloatDType(e.dtype)) m = Math.max(m, numel(e.shape));
  return m;
}

function parseHeader(fd: number, size: number, file: string): { dataStart: number; metadata: Record<string, unknown>; entries: SafetensorsEntry[] } {
  const bad = (why: string, fix = 're-save or re-download the file'): never => {
    throw new SculptError(`${file}: not a valid safetensors file (${printable(why)}); ${fix}`);
  };
  if (size < 8) bad(`only ${size} bytes, the 8-byte header length is missing`);
  const lenBytes = new Uint8Array(8);
  readExactly(fd, lenBytes, 8, 0, file);
  const headerLength = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLength > size - 8) bad(`header length ${headerLength} exceeds the file's ${size - 8} remaining bytes; the file is truncated or not safetensors`);
  if (headerLength < 2) bad(`header length ${headerLength} is too short`);
  if (headerLength > MAX_HEADER_BYTES) bad(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBytes = new Uint8Array(headerLength);
  readExactly(fd, headerBytes, headerLength, 8, file);
  let header: unknown;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where the strict parser refuses it.
    header = parseStrictJson(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes));
  } catch (e) {
    return bad(`header is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataSize = size - dataStart;
  let metadata: Record<string, unknown> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    const name = key;
    const shown = printable(key);
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('__metadata__ is not an object');
      metadata = value as Record<string, unknown>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`entry ${shown} is not an object`);
    const width = typeof v.dtype === 'string' ? DTYPE_BYTES.get(v.dtype) : undefined;
    if (width === undefined) bad(`tensor ${shown} has unknown dtype ${short(v.dtype)}`);
    const dtype = v.dtype as string;
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor ${shown} has an invalid shape ${short(v.shape)}`);
    const shape = v.shape as number[];
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      bad(`tensor ${shown} has invalid data_offsets ${short(off)}`);
    }
    const [b, e] = off as [number, number];
    if (e > dataSize) bad(`tensor ${shown} ends at data byte ${e}, past the end of the data (${dataSize} bytes); the file is truncated`);
    if (e - b !== numel(shape) * width!) bad(`tensor ${shown} has ${e - b} bytes but ${dtype} × ${shapeText(shape)} needs ${numel(shape) * width!}`);
    entries.push({ name, dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  // Data order is the file order (and the tie-break order of selections); stable for equal begins.
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  for (let i = 1; i < entries.length; i++) {
    const p = entries[i - 1];
    const c = entries[i];
    if (c.begin < p.end) bad(`tensors ${p.name} and ${c.name} overlap`);
  }
  return { dataStart, metadata, entries };
}

/** A JSON value for a message, cut to 60 characters. */
function short(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Opens a safetensors file for streaming (see `SafetensorsFile.read`). */
export function openSafetensors(file: string, options?: SafetensorsOptions): SafetensorsFile {
  return new SafetensorsFile(file, options);
}

/** Reads every floating tensor into memory (float32), in data order. */
export function readSafetensors(file: string): WeightSet {
  const src = openSafetensors(file);
  try {
    return new WeightSet(src.tensors.map((t) => ({ ...t, data: src.read(t.name).slice() })));
  } finally {
    src.close();
  }
}

/**
 * What to do with one tensor when writing: `undefined` keeps its bytes, a Float32Array replaces
 * its values (encoded in the tensor's dtype), a mask zeroes the pruned elements' bytes.
 */
export type TensorTransform = (name: string, values: Float32Array) => MaskLike | Float32Array | undefined;

export interface WriteStreamingOptions {
  /** Chunk bytes on top of the largest tensor (default 4 MiB; tests use less). Three chunks are in memory. */
  readonly stagingBytes?: number;
}

/**
 * Writes a copy of `src` to `outPath`: header and every byte of untouched tensors verbatim, the
 * transformed tensors re-encoded in their own dtype. The file is copied in chunks of whole
 * tensors (copyByChunks: three buffers of the largest tensor plus 4 MiB at most, read ahead and
 * written behind by a helper thread), and each tensor is transformed in its chunk, in file order.
 * The values passed to `transform` are a scratch view (for F32, of the very bytes to be written):
 * valid during the call only; the transform may modify them only if it returns them.
 */
export function writeSafetensorsStreaming(src: SafetensorsFile, outPath: string, transform: TensorTransform, options: WriteStreamingOptions = {}): void {
  assertNotInput(outPath, [src.path]);
  // The watchdog from the start: the bytes bypass AtomicFile.write, which would start it later.
  const file = new AtomicFile(outPath, src.size > WATCH_AFTER_BYTES ? { watchAfter: 0 } : {});
  try {
    const room = Math.min(Math.max(src.size, 1 << 16), maxBytes(src.entries, 0) + (options.stagingBytes ?? 4 << 20)) + 4096;
    let floats: Float32Array | undefined;
    let aligned: Uint8Array | undefined;
    let next = 0;
    const entries = src.entries;
    copyByChunks(src.layoutSource(), file, entries, room, (chunk) => {
      for (; next < entries.length && entries[next].end <= chunk.end; next++) {
        const e = entries[next];
        if (!isFloatDType(e.dtype)) continue;
        const length = e.end - e.begin;
        const at = e.begin - chunk.start;
        const stored = chunk.bytes.subarray(at, at + length);
        const n = numel(e.shape);
        // Typed views need the element width's alignment (buffer offset ≡ file offset mod 4096);
        // a file that breaks it (legal, rare) goes through an aligned scratch copy.
        const inPlace = e.begin % Math.min(FLOAT_DTYPE_BYTES[e.dtype], 4) === 0;
        if (!inPlace && (!aligned || aligned.length < length)) aligned = new Uint8Array(maxBytes(entries, length));
        const bytes = inPlace ? stored : (aligned as Uint8Array).subarray(0, length);
        if (!inPlace) bytes.set(stored);
        // F32 values are a view of the bytes about to be written: no copy, no second read.
        let values: Float32Array;
        if (e.dtype === 'F32') values = new Float32Array(bytes.buffer, bytes.byteOffset, n);
        else {
          if (!floats || floats.length < n) floats = new Float32Array(maxElements(entries.filter((x) => x.dtype !== 'F32'), n));
          values = floats.subarray(0, n);
          decodeFloats(bytes, e.dtype, values);
        }
        const result = transform(e.name, values);
        if (result instanceof Float32Array) {
          if (result.length !== n) throw new SculptError(`${outPath}: new values for ${e.name} have ${result.length} elements, its shape [${e.shape.join(', ')}] needs ${n}`);
          encodeFloats(result, e.dtype, bytes);
        } else if (result !== undefined) {
          zeroPruned(bytes, e.dtype, n, result, e.name, src.path);
        }
        if (!inPlace) stored.set(bytes);
      }
    });
    file.commit();
  } catch (e) {
    file.abort();
    throw e;
  }
}

/** Sets the stored bytes of every element the mask prunes to zero (0 is all-zero bits in every float type).
 * `bytes` must be aligned to 2 (F16/BF16) or 4 bytes. */
export function zeroPruned(bytes: Uint8Array, dtype: FloatDType, n: number, mask: MaskLike, name: string, file: string): void {
  if (mask.length !== undefined && mask.length !== n) {
    throw new SculptError(`${file}: mask for ${name} covers ${mask.length} elements, the tensor has ${n}`);
  }
  const width = FLOAT_DTYPE_BYTES[dtype];
  // Elements as 16- or 32-bit units (an F64 element is two 32-bit units); `bytes` is aligned.
  const unitsPer = width === 8 ? 2 : 1;
  const units = width === 2
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, n * unitsPer);
  const words = mask.words;
  const kernels = width === 4 && words && words.length === (n + 31) >>> 5 ? kernelsHolding(units) : undefined;
  if (kernels && words) {
    // In WebAssembly, on the bytes about to be written (the chunk buffer), the mask words copied in.
    kernels.wordsView(words.length).set(words);
    kernels.exports.zeroPruned32(units.byteOffset, n, kernels.wordsPtr(words.length));
    return;
  }
  if (words && words.length === (n + 31) >>> 5) {
    // Word at a time: 32 kept elements cost one comparison.
    const last = words.length - 1;
    for (let w = 0; w <= last; w++) {
      // Pruned elements of this word: zero bits, excluding the padding past n in the last word.
      let pruned = ~words[w];
      if (w === last && (n & 31) !== 0) pruned &= (1 << (n & 31)) - 1;
      if (pruned === 0) continue;
      const base = (w << 5) * unitsPer;
      if (pruned === -1) {
        units.fill(0, base, base + 32 * unitsPer);
        continue;
      }
      if (unitsPer === 1 && w !== last && popcount(pruned) > 8) {
        // Mostly pruned (high sparsity): an AND with a lane mask per element, eight lanes per
        // table row, beats a loop over the pruned bits.
        const kept = ~pruned;
        for (let k = 0; k < 32; k += 8) {
          const t = ((kept >>> k) & 255) << 3;
          const b = base + k;
          units[b] &= LANES[t];
          units[b + 1] &= LANES[t + 1];
          units[b + 2] &= LANES[t + 2];
          units[b + 3] &= LANES[t + 3];
          units[b + 4] &= LANES[t + 4];
          units[b + 5] &= LANES[t + 5];
          units[b + 6] &= LANES[t + 6];
          units[b + 7] &= LANES[t + 7];
        }
        continue;
      }
      while (pruned !== 0) {
        const k = 31 - Math.clz32(pruned & -pruned);
        pruned &= pruned - 1;
        const u = base + k * unitsPer;
        units[u] = 0;
        if (unitsPer === 2) units[u + 1] = 0;
      }
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    if (!mask.get(i)) {
      units[i * unitsPer] = 0;
      if (unitsPer === 2) units[i * unitsPer + 1] = 0;
    }
  }
}

/** LANES[8·b + j]: all ones if bit j of byte b is set, else 0. */
const LANES = new Int32Array(256 * 8).map((_, i) => -(((i >>> 3) >>> (i & 7)) & 1));

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
