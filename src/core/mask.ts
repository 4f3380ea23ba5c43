/**
 * A pruning mask: a compact bitset over a tensor's elements, bit 1 = kept, bit 0 = pruned.
 * Bits past `length` in the last word are always 0, so popcounts need no special case.
 */
import { SculptError } from './errors.js';

/** Bitset over a tensor's elements: bit 1 = kept, 0 = pruned. */
export class Mask {
  /** Number of elements the mask covers. */
  readonly length: number;
  /** The bits, 32 elements per word, element i at bit (i & 31) of word (i >>> 5). */
  readonly words: Uint32Array;

  /** A mask over `length` elements backed by `words` (not copied); use the static builders instead. */
  constructor(length: number, words?: Uint32Array) {
    if (!Number.isInteger(length) || length < 0) throw new SculptError(`mask length must be a non-negative integer, got ${length}`);
    const nWords = (length + 31) >>> 5;
    if (words !== undefined && words.length !== nWords) {
      throw new SculptError(`mask of ${length} elements needs ${nWords} words, got ${words.length}`);
    }
    this.length = length;
    this.words = words ?? new Uint32Array(nWords);
  }

  /** A mask keeping every one of `n` elements. */
  static full(n: number): Mask {
    const m = new Mask(n);
    m.words.fill(0xffffffff);
    m.clearTail();
    return m;
  }

  /** A mask pruning every one of `n` elements. */
  static empty(n: number): Mask {
    return new Mask(n);
  }

  /** Keeps the non-zero elements of `data`: zero weights count as already pruned. */
  static fromNonZero(data: Float32Array): Mask {
    const m = new Mask(data.length);
    fillNonZero(data, m.words);
    return m;
  }

  /** From one byte per element (0 = pruned, anything else = kept), as `toBytes` writes. */
  static fromBytes(bytes: Uint8Array): Mask {
    const m = new Mask(bytes.length);
    const w = m.words;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) w[i >>> 5] |= 1 << (i & 31);
    return m;
  }

  /** Whether element i is kept. */
  get(i: number): boolean {
    return ((this.words[i >>> 5] >>> (i & 31)) & 1) === 1;
  }

  /** Marks element i kept (true) or pruned (false). */
  set(i: number, kept: boolean): void {
    if (i < 0 || i >= this.length) throw new RangeError(`mask index ${i} out of range 0..${this.length - 1}`);
    if (kept) this.words[i >>> 5] |= 1 << (i & 31);
    else this.words[i >>> 5] &= ~(1 << (i & 31));
  }

  /** Number of kept elements. */
  keptCount(): number {
    const w = this.words;
    let n = 0;
    for (let i = 0; i < w.length; i++) n += popcount(w[i]);
    return n;
  }

  /** Number of pruned elements. */
  prunedCount(): number {
    return this.length - this.keptCount();
  }

  /** Fraction of elements kept (1 for an empty mask). */
  density(): number {
    return this.length === 0 ? 1 : this.keptCount() / this.length;
  }

  /** Composition: a new mask keeping what both keep, so a later mask can only remove. */
  and(other: Mask): Mask {
    if (other.length !== this.length) {
      throw new SculptError(`cannot combine masks of ${this.length} and ${other.length} elements; they must cover the same tensor`);
    }
    const out = new Mask(this.length);
    for (let i = 0; i < out.words.length; i++) out.words[i] = this.words[i] & other.words[i];
    return out;
  }

  /** Zeros the pruned entries of `data` in place. */
  applyTo(data: Float32Array): void {
    if (data.length !== this.length) {
      throw new SculptError(`mask of ${this.length} elements cannot apply to ${data.length} values; shapes differ`);
    }
    const w = this.words;
    for (let wi = 0; wi < w.length; wi++) {
      const word = w[wi];
      if (word === 0xffffffff) continue;
      const base = wi << 5;
      const end = Math.min(base + 32, data.length);
      for (let i = base; i < end; i++) if (((word >>> (i - base)) & 1) === 0) data[i] = 0;
    }
  }

  /** One byte per element: 1 kept, 0 pruned. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    const w = this.words;
    for (let i = 0; i < this.length; i++) out[i] = (w[i >>> 5] >>> (i & 31)) & 1;
    return out;
  }

  /** Same length and same bits. */
  equals(other: Mask): boolean {
    if (other.length !== this.length) return false;
    for (let i = 0; i < this.words.length; i++) if (this.words[i] !== other.words[i]) return false;
    return true;
  }

  /** An independent copy. */
  clone(): Mask {
    return new Mask(this.length, this.words.slice());
  }

  private clearTail(): void {
    const r = this.length & 31;
    if (r !== 0) this.words[this.words.length - 1] &= 0xffffffff >>> (32 - r);
  }
}

/** Writes the non-zero bits of `data` into `words` (which must hold ceil(n/32) words). */
export function fillNonZero(data: Float32Array, words: Uint32Array): void {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const n = data.length;
  let i = 0;
  for (let wi = 0; i < n; wi++) {
    let word = 0;
    const end = Math.min(i + 32, n);
    for (let j = 0; i < end; i++, j++) if ((bits[i] & 0x7fffffff) !== 0) word |= 1 << j;
    words[wi] = word >>> 0;
  }
}

/** Number of set bits in a 32-bit word. */
export function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
