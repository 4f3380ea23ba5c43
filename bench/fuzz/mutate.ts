/**
 * Mutations for the fuzzing harness: byte-level (bit flips, interesting integers, chunk insert,
 * delete, duplicate, splice, truncate), varint-level (protobuf lengths and dimensions), and
 * structure-aware ones for the JSON and text headers inside the formats (safetensors, .sculpt,
 * TF.js model.json, .npy). Every mutation is a pure function of the input and the generator, so an
 * input is reproduced from (seed, iteration) alone.
 */
import { spliceWithLengthFixup, WIRE_LEN, WIRE_VARINT, WireReader, type LenPrefix, type SpliceEdit, type WireField } from '../../src/formats/protobuf.js';

/** mulberry32: small, fast, deterministic. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** A seed from two integers (the run's seed and the iteration). */
export function mix(a: number, b: number): number {
  let h = (a ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (b >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4096, 65535, 65536,
  0x7fffffff, 0x80000000, 0xffffffff, 1e9, 20000, 2 ** 31 - 1,
];
const INTERESTING_BIG = [2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n, 10n ** 12n, 2n ** 40n];

function encodeVarint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}

function splice(b: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

/** Offsets at which a varint plausibly starts (after a byte without the continuation bit). */
function varintStart(b: Uint8Array, rng: Rng): number {
  for (let tries = 0; tries < 16; tries++) {
    const p = rng.int(b.length);
    if (p === 0 || (b[p - 1] & 0x80) === 0) return p;
  }
  return rng.int(b.length);
}

function varintEnd(b: Uint8Array, p: number): number {
  let q = p;
  while (q < b.length && q - p < 10 && (b[q] & 0x80) !== 0) q++;
  return Math.min(q + 1, b.length);
}

export type ByteMutator = (b: Uint8Array, rng: Rng, other: Uint8Array) => Uint8Array;

export const BYTE_MUTATORS: readonly ByteMutator[] = [
  // Flip one bit.
  (b, rng) => {
    if (b.length === 0) return b;
    const c = b.slice();
    c[rng.int(c.length)] ^= 1 << rng.int(8);
    return c;
  },
  // A random byte.
  (b, rng) => {
    if (b.length === 0) return Uint8Array.of(rng.int(256));
    const c = b.slice();
    c[rng.int(c.length)] = rng.int(256);
    return c;
  },
  // An interesting 8/16/32/64-bit integer, either endianness.
  (b, rng) => {
    const width = rng.pick([1, 2, 4, 8]);
    if (b.length < width) return b;
    const c = b.slice();
    const at = rng.int(c.length - width + 1);
    const dv = new DataView(c.buffer);
    const le = rng.chance(0.7);
    if (width === 8) dv.setBigUint64(at, BigInt.asUintN(64, rng.pick(INTERESTING_BIG)), le);
    else {
      const v = rng.pick(INTERESTING) % 2 ** (8 * width);
      if (width === 1) dv.setUint8(at, v);
      else if (width === 2) dv.setUint16(at, v, le);
      else dv.setUint32(at, v >>> 0, le);
    }
    return c;
  },
  // Replace a varint by an interesting one (may change the length: framing breaks or shifts).
  (b, rng) => {
    if (b.length === 0) return b;
    const p = varintStart(b, rng);
    const q = varintEnd(b, p);
    const v = rng.chance(0.5) ? BigInt(rng.pick(INTERESTING)) : rng.chance(0.5) ? rng.pick(INTERESTING_BIG) : -BigInt(rng.int(5) + 1);
    return splice(b, p, q - p, encodeVarint(v));
  },
  // Same-length varint change (keeps protobuf framing intact: dims, types, counts).
  (b, rng) => {
    if (b.length === 0) return b;
    const c = b.slice();
    const p = varintStart(c, rng);
    const q = varintEnd(c, p);
    for (let i = p; i < q; i++) c[i] = (c[i] & 0x80) | (rng.chance(0.5) ? 0x7f : rng.int(128));
    return c;
  },
  // Delete a chunk.
  (b, rng) => {
    if (b.length < 2) return b;
    const n = 1 + rng.int(Math.min(b.length - 1, rng.chance(0.8) ? 16 : b.length));
    return splice(b, rng.int(b.length - n + 1), n, []);
  },
  // Insert random bytes.
  (b, rng) => {
    const n = 1 + rng.int(rng.chance(0.8) ? 8 : 256);
    return splice(b, rng.int(b.length + 1), 0, Uint8Array.from({ length: n }, () => rng.int(256)));
  },
  // Duplicate a chunk (repeated fields, doubled entries).
  (b, rng) => {
    if (b.length === 0 || b.length > 4 << 20) return b;
    const n = 1 + rng.int(Math.min(b.length, 64));
    const from = rng.int(b.length - n + 1);
    return splice(b, rng.int(b.length + 1), 0, b.slice(from, from + n));
  },
  // Copy a chunk over another place.
  (b, rng) => {
    if (b.length < 2) return b;
    const c = b.slice();
    const n = 1 + rng.int(Math.min(c.length >> 1, 32));
    const from = rng.int(c.length - n + 1);
    c.copyWithin(rng.int(c.length - n + 1), from, from + n);
    return c;
  },
  // Truncate.
  (b, rng) => (b.length === 0 ? b : b.slice(0, rng.int(b.length))),
  // Splice with another input of the same format.
  (b, rng, other) => {
    if (other.length === 0) return b;
    const at = rng.int(b.length + 1);
    const from = rng.int(other.length);
    return splice(b, at, rng.int(Math.min(256, b.length - at + 1)), other.subarray(from, from + 1 + rng.int(Math.min(256, other.length - from))));
  },
];

const STRINGS = [
  'constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '', '../../etc/passwd', '/etc/passwd', '/dev/zero',
  'a\nb', '\u001b[31mred', 'F32', 'float32', 'int32', 'uint8', 'float16', 'string', 'csr', 'nm', 'block', 'dense', 'bitmask', 'f16', 'u32',
];
const NUMBERS = [0, -1, 1, 2, 3, 0.5, 2.0, 1e9, 1e20, -1e9, 2 ** 32, 2 ** 53, 20000, 4294967295, 1.5, 65536];

/** A random JSON replacement value. */
function jsonValue(rng: Rng): unknown {
  switch (rng.int(8)) {
    case 0: return rng.pick(STRINGS);
    case 1: case 2: return rng.pick(NUMBERS);
    case 3: return null;
    case 4: return {};
    case 5: return [];
    case 6: return [rng.pick(NUMBERS), rng.pick(NUMBERS)];
    default: return rng.chance(0.5);
  }
}

/** Mutates a parsed JSON value in place at a random node; returns the (possibly new) root. */
function mutateJsonValue(root: unknown, rng: Rng): unknown {
  // Collect containers with their keys.
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const visit = (v: unknown, depth: number) => {
    if (depth > 12 || slots.length > 5000 || typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) v.forEach((x, i) => { slots.push({ parent: v, key: i }); visit(x, depth + 1); });
    else for (const k of Object.keys(v)) { slots.push({ parent: v as Record<string, unknown>, key: k }); visit((v as Record<string, unknown>)[k], depth + 1); }
  };
  visit(root, 0);
  if (slots.length === 0) return jsonValue(rng);
  const { parent, key } = rng.pick(slots);
  const old = (parent as Record<string, unknown>)[key as string];
  switch (rng.int(6)) {
    case 0: // delete
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 1: // duplicate an array element / copy a value under a new key
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(old));
      else parent[rng.pick(STRINGS)] = structuredClone(old);
      break;
    case 2: // rename a key
      if (!Array.isArray(parent)) {
        delete parent[key as string];
        parent[rng.pick(STRINGS)] = old;
      }
      break;
    case 3: // numbers: nudge to an interesting value
      (parent as Record<string, unknown>)[key as string] = typeof old === 'number' ? rng.pick(NUMBERS) * (rng.chance(0.2) ? -1 : 1) : jsonValue(rng);
      break;
    default:
      (parent as Record<string, unknown>)[key as string] = jsonValue(rng);
  }
  return root;
}

/** JSON text mutated structurally; sometimes a textual duplicate key or BOM instead. */
export function mutateJsonText(text: string, rng: Rng): string {
  if (rng.chance(0.08)) return '\ufeff' + text;
  if (rng.chance(0.1)) {
    // Duplicate a `"key": value` pair textually (JSON.stringify can't write duplicates).
    const m = [...text.matchAll(/"([^"\\]{1,40})":\s*("[^"\\]*"|-?\d[\d.eE+-]*|true|false|null)/g)];
    if (m.length > 0) {
      const x = rng.pick(m);
      const at = x.index! + x[0].length;
      return `${text.slice(0, at)},${x[0]}${text.slice(at)}`;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) value = mutateJsonValue(value, rng);
  return JSON.stringify(value) ?? 'null';
}

/** Mutates bytes with `count` byte-level mutations (`other`: another input to splice from). */
export function mutateBytes(b: Uint8Array, rng: Rng, other: Uint8Array, count: number): Uint8Array {
  let out = b;
  for (let i = 0; i < count; i++) out = rng.pick(BYTE_MUTATORS)(out, rng, other);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** safetensors: mutate the JSON header and re-frame the 8-byte length (or not). */
export function mutateSafetensorsHeader(b: Uint8Array, rng: Rng): Uint8Array {
  if (b.length < 8) return b;
  const len = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  if (len > b.length - 8) return b;
  const header = enc.encode(mutateJsonText(dec.decode(b.subarray(8, 8 + len)), rng));
  const out = new Uint8Array(8 + header.length + (b.length - 8 - len));
  new DataView(out.buffer).setBigUint64(0, BigInt(rng.chance(0.95) ? header.length : len), true);
  out.set(header, 8);
  out.set(b.subarray(8 + len), 8 + header.length);
  return out;
}

/** .sculpt: mutate the JSON header, padded with spaces to its old length when it got shorter (offsets stay valid). */
export function mutateSculptHeader(b: Uint8Array, rng: Rng): Uint8Array {
  if (b.length < 16) return b;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = dv.getUint32(8, true);
  if (16 + len > b.length) return b;
  let text = mutateJsonText(dec.decode(b.subarray(16, 16 + len)), rng);
  let header = enc.encode(text);
  if (header.length <= len) {
    text = text + ' '.repeat(len - header.length);
    header = enc.encode(text);
  }
  const out = new Uint8Array(16 + header.length + (b.length - 16 - len));
  out.set(b.subarray(0, 16), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 16);
  out.set(b.subarray(16 + len), 16 + header.length);
  return out;
}

/** .npy: replace a token of the header dict (shape entries, descr, keys). */
export function mutateNpyHeader(b: Uint8Array, rng: Rng): Uint8Array {
  if (b.length < 12) return b;
  const major = b[6];
  const start = major === 1 ? 10 : 12;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + len > b.length) return b;
  let header = new TextDecoder('latin1').decode(b.subarray(start, start + len));
  const edits: (() => string)[] = [
    () => header.replace(/\(([^)]*)\)/, () => `(${rng.pick(['2.0, 16', '-1,', '1e20,', '', '0,', '1, 2, 3', '99999999999,', '2L, 3L', '3,,', String(rng.int(100))])})`),
    () => header.replace(/'descr':\s*'[^']*'/, `'descr': '${rng.pick(['<f4', '<f8', '<f2', '>f4', '|b1', '<i8', '<u4', 'constructor', '<c8', 'O', '<U3'])}'`),
    () => header.replace(/True|False/, rng.pick(['True', 'False', '1', 'None'])),
    () => header.replace(/'(descr|shape|fortran_order)'/, `'${rng.pick(['descr', 'shape', 'fortran_order', 'extra', 'constructor'])}'`),
    () => header.replace('}', rng.pick([", 'shape': (3,)}", ", 'descr': '<i1'}", '} junk', ''])),
  ];
  header = rng.pick(edits)();
  const hb = Uint8Array.from(header, (c) => c.charCodeAt(0) & 0xff);
  const out = new Uint8Array(start + hb.length + (b.length - start - len));
  out.set(b.subarray(0, start), 0);
  const odv = new DataView(out.buffer);
  if (major === 1) odv.setUint16(8, Math.min(hb.length, 0xffff), true);
  else odv.setUint32(8, hb.length, true);
  out.set(hb, start);
  out.set(b.subarray(start + len), start + hb.length);
  return out;
}

/**
 * Protobuf-aware mutation (ONNX): finds fields at any depth (a length-delimited payload that parses
 * as a message is treated as one), then changes one — a varint set to an interesting value, a field
 * deleted, duplicated or given another field's payload — and fixes every enclosing length, so the
 * parser gets past the framing to the semantics (dims, data types, counts, names).
 */
export function mutateProtobuf(b: Uint8Array, rng: Rng): Uint8Array | undefined {
  const fail = (): never => {
    throw new Error('not protobuf');
  };
  const r = new WireReader(b, fail);
  let found = fieldCache.get(b);
  if (!found) {
    found = [];
    fieldCache.set(b, found);
  } else return mutateField(b, rng, found);
  const list = found;
  const visit = (start: number, end: number, enclosing: LenPrefix[], depth: number) => {
    let fields: WireField[];
    try {
      fields = r.fields(start, end);
    } catch {
      return;
    }
    for (const f of fields) {
      if (list.length > 20000) return;
      list.push({ f, enclosing });
      if (f.wireType === WIRE_LEN && depth < 8 && f.end - f.start >= 2) visit(f.start, f.end, [...enclosing, { lenStart: f.lenStart, start: f.start, end: f.end }], depth + 1);
    }
  };
  try {
    visit(0, b.length, [], 0);
  } catch {
    return undefined;
  }
  return mutateField(b, rng, list);
}

type Found = { readonly f: WireField; readonly enclosing: LenPrefix[] };
/** Fields of inputs seen before (seeds are mutated again and again). */
const fieldCache = new WeakMap<Uint8Array, Found[]>();

function mutateField(b: Uint8Array, rng: Rng, found: readonly Found[]): Uint8Array | undefined {
  if (found.length === 0) return undefined;
  // Half the time a varint: that is where the semantics live (dims, data types, attribute values).
  const varints = rng.chance(0.5) ? found.filter((x) => x.f.wireType === WIRE_VARINT) : [];
  const { f, enclosing } = rng.pick(varints.length > 0 ? varints : found);
  const whole = { start: f.tagStart, end: f.end };
  let edit: SpliceEdit;
  let choice = f.wireType === WIRE_VARINT && rng.chance(0.6) ? 0 : rng.int(5);
  if (choice === 0 && f.wireType !== WIRE_VARINT) choice = 1;
  switch (choice) {
    case 0: { // a varint field (dims, data_type, ir_version, attribute ints) to an interesting value
      // Small values often: data types, attribute types and ranks are below 20.
      const v = rng.chance(0.35) ? BigInt(rng.int(20)) : rng.chance(0.7) ? BigInt(rng.pick(INTERESTING)) : rng.chance(0.5) ? rng.pick(INTERESTING_BIG) : -BigInt(1 + rng.int(3));
      edit = { start: f.start, end: f.end, bytes: Uint8Array.from(encodeVarint(v)), enclosing };
      break;
    }
    case 1: // delete the field
      edit = { ...whole, bytes: new Uint8Array(0), enclosing };
      break;
    case 2: // duplicate it (two initializers with one name, two data fields, repeated dims)
      edit = { start: f.end, end: f.end, bytes: b.slice(whole.start, whole.end), enclosing };
      break;
    case 3: { // another field's payload in this one's place
      const other = rng.pick(found).f;
      if (f.wireType !== WIRE_LEN || other.wireType !== WIRE_LEN) return undefined;
      edit = { start: f.start, end: f.end, bytes: b.slice(other.start, other.end), enclosing: [...enclosing, { lenStart: f.lenStart, start: f.start, end: f.end }] };
      break;
    }
    default: { // a few random bytes inside a payload (names, raw data), length kept
      if (f.wireType !== WIRE_LEN || f.end === f.start) return undefined;
      const c = b.slice(f.start, f.end);
      c[rng.int(c.length)] = rng.pick([0, 0x0a, 0x1b, 0xff, 0x80, rng.int(256)]);
      edit = { start: f.start, end: f.end, bytes: c, enclosing: [...enclosing, { lenStart: f.lenStart, start: f.start, end: f.end }] };
    }
  }
  try {
    return spliceWithLengthFixup(b, [edit]);
  } catch {
    return undefined;
  }
}
