/**
 * Protocol-buffer wire format at the byte level: fields with their exact offsets, so a writer can
 * overwrite a payload in place or splice a new one while every other byte survives unchanged.
 * Field semantics (which number means what) belong to the format modules, not here.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** One field occurrence inside a message. Offsets are absolute positions in the buffer. */
export interface WireField {
  readonly field: number;
  readonly wireType: number;
  /** Position of the field's tag. */
  readonly tagStart: number;
  /** For LEN fields: position of the length varint (= end of tag); otherwise the value's start. */
  readonly lenStart: number;
  /** Start of the value (LEN: the payload, after the length varint). */
  readonly start: number;
  /** End of the value (exclusive). */
  readonly end: number;
  /** VARINT fields: the value as a signed 64-bit number (exact up to 2^53). */
  readonly value: number;
}

/**
 * A length-delimited field that encloses an edit: its length prefix must be rewritten when the
 * payload's size changes.
 */
export interface LenPrefix {
  /** Position of the length varint. */
  readonly lenStart: number;
  /** Payload start (= end of the length varint). */
  readonly start: number;
  /** Payload end (exclusive). */
  readonly end: number;
}

/** Reads fields of one message; every read is bounds-checked and fails with `fail(offset)`. */
export class WireReader {
  readonly bytes: Uint8Array;
  /** Called with the offset where the data ran out or made no sense; must throw. */
  private readonly failAt: (offset: number, why: string) => never;

  constructor(bytes: Uint8Array, failAt: (offset: number, why: string) => never) {
    this.bytes = bytes;
    this.failAt = failAt;
  }

  /** Decodes all fields of the message occupying [start, end). */
  fields(start: number, end: number): WireField[] {
    const out: WireField[] = [];
    const b = this.bytes;
    if (end > b.length) this.failAt(b.length, 'truncated');
    let p = start;
    while (p < end) {
      const tagStart = p;
      const [tag, afterTag] = this.varint32(p, end);
      p = afterTag;
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 0) this.failAt(tagStart, 'field number 0');
      switch (wireType) {
        case WIRE_VARINT: {
          const [value, after] = this.varint64(p, end);
          out.push({ field, wireType, tagStart, lenStart: p, start: p, end: after, value });
          p = after;
          break;
        }
        case WIRE_FIXED64:
          if (p + 8 > end) this.failAt(end, 'truncated');
          out.push({ field, wireType, tagStart, lenStart: p, start: p, end: p + 8, value: 0 });
          p += 8;
          break;
        case WIRE_FIXED32:
          if (p + 4 > end) this.failAt(end, 'truncated');
          out.push({ field, wireType, tagStart, lenStart: p, start: p, end: p + 4, value: 0 });
          p += 4;
          break;
        case WIRE_LEN: {
          const lenStart = p;
          const [len, afterLen] = this.varint64(p, end);
          if (len < 0 || afterLen + len > end) this.failAt(Math.min(end, b.length), 'truncated');
          out.push({ field, wireType, tagStart, lenStart, start: afterLen, end: afterLen + len, value: len });
          p = afterLen + len;
          break;
        }
        default:
          this.failAt(tagStart, `unsupported wire type ${wireType}`);
      }
    }
    return out;
  }

  /** A varint that must fit in 32 bits (tags, lengths of small things). */
  private varint32(p: number, end: number): [number, number] {
    const b = this.bytes;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) this.failAt(p, 'truncated');
      const byte = b[p++];
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) this.failAt(p - 1, 'tag out of range');
        return [result, p];
      }
    }
    return this.failAt(p, 'malformed varint');
  }

  /** A varint read as a signed 64-bit integer (two's complement), exact when |value| < 2^53. */
  varint64(p: number, end: number): [number, number] {
    const b = this.bytes;
    let lo = 0;
    let hi = 0;
    let i = 0;
    for (; i < 10; i++) {
      if (p >= end) this.failAt(p, 'truncated');
      const byte = b[p++];
      if (i < 4) lo |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >> 4;
      } else hi |= (byte & 0x7f) << (7 * i - 32);
      if ((byte & 0x80) === 0) break;
    }
    if (i === 10) this.failAt(p, 'malformed varint');
    lo >>>= 0;
    hi >>>= 0;
    if (hi & 0x80000000) return [-((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1), p];
    return [hi * 4294967296 + lo, p];
  }

  /** Values of a packed repeated varint field (or a single unpacked one). */
  varints(f: WireField): number[] {
    if (f.wireType === WIRE_VARINT) return [f.value];
    if (f.wireType !== WIRE_LEN) this.failAt(f.tagStart, 'unexpected wire type');
    const out: number[] = [];
    let p = f.start;
    while (p < f.end) {
      const [v, after] = this.varint64(p, f.end);
      out.push(v);
      p = after;
    }
    return out;
  }

  string(f: WireField): string {
    if (f.wireType !== WIRE_LEN) this.failAt(f.tagStart, 'expected a string');
    return utf8.decode(this.bytes.subarray(f.start, f.end));
  }

  float32(f: WireField): number {
    if (f.wireType !== WIRE_FIXED32) this.failAt(f.tagStart, 'expected a float');
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + f.start, 4).getFloat32(0, true);
  }

  /** Fails with the reader's message, naming `offset`. */
  fail(offset: number, why: string): never {
    return this.failAt(offset, why);
  }

  /** Fails with the reader's message unless `f` has the wire type `wireType`. */
  expect(f: WireField, wireType: number): void {
    if (f.wireType !== wireType) this.failAt(f.tagStart, `field ${f.field} has wire type ${f.wireType}, expected ${wireType}`);
  }
}

const utf8 = new TextDecoder('utf-8');

/** Bytes of `value` as an unsigned varint. */
export function encodeVarint(value: number): Uint8Array {
  if (value < 0 || !Number.isSafeInteger(value)) throw new RangeError(`varint out of range: ${value}`);
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Bytes of a signed integer as a protobuf int32/int64 varint (negative values take ten bytes). */
export function encodeSignedVarint(value: number): Uint8Array {
  if (value >= 0) return encodeVarint(value);
  if (!Number.isSafeInteger(value)) throw new RangeError(`varint out of range: ${value}`);
  let v = BigInt.asUintN(64, BigInt(value));
  const out = new Uint8Array(10);
  for (let i = 0; i < 10; i++) {
    out[i] = Number(v & 0x7fn) | (i < 9 ? 0x80 : 0);
    v >>= 7n;
  }
  return out;
}

export function varintSize(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Replace bytes [start, end) of the original buffer with `bytes`; `enclosing` lists every
 * length-delimited field whose payload contains the range (any order). */
export interface SpliceEdit {
  readonly start: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  readonly enclosing: readonly LenPrefix[];
}

/**
 * Applies non-overlapping edits and rewrites the length prefix of every enclosing message so the
 * result is valid protobuf again. A length prefix that grows or shrinks by a byte shifts its own
 * enclosing messages too; that is accounted for by sizing prefixes innermost first.
 */
export function spliceWithLengthFixup(buf: Uint8Array, edits: readonly SpliceEdit[]): Uint8Array {
  const prefixes = new Map<number, LenPrefix>();
  for (const e of edits) for (const l of e.enclosing) prefixes.set(l.lenStart, l);
  // Innermost first: a nested payload is strictly shorter than the one containing it.
  const sorted = [...prefixes.values()].sort((a, b) => a.end - a.start - (b.end - b.start));
  const prefixDelta = new Map<number, number>();
  const newLength = new Map<number, number>();
  for (const l of sorted) {
    let delta = 0;
    for (const e of edits) if (e.start >= l.start && e.end <= l.end) delta += e.bytes.length - (e.end - e.start);
    for (const inner of sorted) {
      if (inner === l) continue;
      if (inner.lenStart >= l.start && inner.end <= l.end) {
        const d = prefixDelta.get(inner.lenStart);
        if (d === undefined) throw new Error('spliceWithLengthFixup: enclosing fields do not nest');
        delta += d;
      }
    }
    const oldLen = l.end - l.start;
    const len = oldLen + delta;
    newLength.set(l.lenStart, len);
    prefixDelta.set(l.lenStart, varintSize(len) - (l.start - l.lenStart));
  }
  const replacements: { start: number; end: number; bytes: Uint8Array }[] = edits.map((e) => ({ start: e.start, end: e.end, bytes: e.bytes }));
  for (const l of sorted) replacements.push({ start: l.lenStart, end: l.start, bytes: encodeVarint(newLength.get(l.lenStart)!) });
  replacements.sort((a, b) => a.start - b.start);
  let size = buf.length;
  for (let i = 0; i < replacements.length; i++) {
    const r = replacements[i];
    if (i > 0 && r.start < replacements[i - 1].end) throw new Error('spliceWithLengthFixup: overlapping edits');
    size += r.bytes.length - (r.end - r.start);
  }
  const out = new Uint8Array(size);
  let src = 0;
  let dst = 0;
  for (const r of replacements) {
    out.set(buf.subarray(src, r.start), dst);
    dst += r.start - src;
    out.set(r.bytes, dst);
    dst += r.bytes.length;
    src = r.end;
  }
  out.set(buf.subarray(src), dst);
  return out;
}

/** A length-delimited field: its tag, the payload's length and the payload. */
export function lenField(field: number, payload: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint((field << 3) | WIRE_LEN), encodeVarint(payload.length), payload]);
}

/** The parts joined into one array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
