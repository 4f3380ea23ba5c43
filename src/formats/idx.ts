/**
 * IDX files (the MNIST format): a 4-byte magic (0, 0, type code, number of dimensions), the
 * dimensions as big-endian uint32, then the values in row-major order. Gzip-compressed files are
 * recognised by their own magic bytes, whatever their name.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Gunzip } from 'fflate';
import { SculptError } from '../core/errors.js';
import { checkExpansion, GZIP_EXPANSION, shapeText } from '../core/limits.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: IdxData;
}

const TYPES: ReadonlyMap<number, { name: string; bytes: number }> = new Map([
  [0x08, { name: 'uint8', bytes: 1 }],
  [0x09, { name: 'int8', bytes: 1 }],
  [0x0b, { name: 'int16', bytes: 2 }],
  [0x0c, { name: 'int32', bytes: 4 }],
  [0x0d, { name: 'float32', bytes: 4 }],
  [0x0e, { name: 'float64', bytes: 8 }],
]);

/** The size an IDX header declares (magic, dims and data), or undefined while `head` is too short to tell. */
function declaredSize(head: Uint8Array): number | undefined {
  if (head.length < 4) return undefined;
  const type = TYPES.get(head[2]);
  const rank = head[3];
  if (head[0] !== 0 || head[1] !== 0 || type === undefined || rank === 0) return -1;
  if (head.length < 4 + 4 * rank) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < rank; i++) count *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * rank + count * type.bytes;
}

/**
 * Gunzips an IDX stream without trusting it: the header is inflated first (fflate, a few kB at a
 * time) and the size it declares is checked against the gzip budget (core/limits.ts); the whole
 * stream is then inflated by zlib (which checks the CRC) with that size as its output limit, so a
 * gzip bomb stops at what its header claims.
 */
function gunzipIdx(input: Uint8Array, source: string): Uint8Array {
  const corrupt = (e: unknown): never => {
    throw new SculptError(`${source}: corrupt gzip stream (${String((e as Error)?.message ?? e).split('\n')[0]}); re-download or decompress the file`);
  };
  let head = new Uint8Array(0);
  let declared: number | undefined;
  const inflater = new Gunzip((chunk) => {
    if (declared !== undefined) return;
    const next = new Uint8Array(Math.min(head.length + chunk.length, 1028));
    next.set(head);
    next.set(chunk.subarray(0, next.length - head.length), head.length);
    head = next;
    declared = declaredSize(head);
  });
  try {
    for (let at = 0; at < input.length && declared === undefined; at += 4096) {
      const end = Math.min(at + 4096, input.length);
      inflater.push(input.subarray(at, end), end === input.length);
    }
  } catch (e) {
    corrupt(e);
  }
  // Not IDX, or too short to say: the checks in parseIdx give the message (on the few bytes seen).
  if (declared === undefined || declared < 0) return head;
  checkExpansion(`${source}: the IDX header's data`, declared, input.length, GZIP_EXPANSION);
  try {
    const out = gunzipSync(input, { maxOutputLength: Math.max(declared, 1) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new SculptError(`${source}: the gzip stream holds more than the ${declared} bytes its IDX header declares; the file is damaged or not IDX`);
    }
    return corrupt(e);
  }
}

/** Whether the bytes start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses IDX bytes (plain or gzip). `source` names the file in error messages. */
export function parseIdx(input: Uint8Array, source = 'IDX data'): IdxArray {
  const bytes = isGzip(input) ? gunzipIdx(input, source) : input;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new SculptError(`${source}: not an IDX file (bad magic bytes); expected an MNIST-format .idx or .gz file`);
  }
  const type = TYPES.get(bytes[2]);
  if (type === undefined) {
    throw new SculptError(`${source}: unknown IDX data type 0x${bytes[2].toString(16)}; expected one of 08 09 0b 0c 0d 0e`);
  }
  const rank = bytes[3];
  if (rank === 0 || bytes.length < 4 + 4 * rank) {
    throw new SculptError(`${source}: truncated IDX header (${rank} dimensions declared, ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const offset = 4 + 4 * rank;
  const expected = offset + count * type.bytes;
  if (bytes.length !== expected) {
    throw new SculptError(
      `${source}: IDX header ${shapeText(dims)} of ${type.name} needs ${expected} bytes, file has ${bytes.length}; the file is truncated or not IDX`,
    );
  }
  return { dims, data: decode(view, offset, count, bytes[2], bytes) };
}

function decode(view: DataView, offset: number, count: number, code: number, bytes: Uint8Array): IdxData {
  switch (code) {
    case 0x08:
      return bytes.slice(offset, offset + count);
    case 0x09:
      return new Int8Array(bytes.slice(offset, offset + count).buffer);
    case 0x0b: {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 0x0c: {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 0x0d: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    default: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file from disk (plain or gzip). */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SculptError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path or pass --data DIR`);
  }
  return parseIdx(bytes, path);
}

/** Encodes an array as uint8 IDX bytes (used for fixtures and dataset subsets). */
export function encodeIdxUint8(dims: readonly number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}
