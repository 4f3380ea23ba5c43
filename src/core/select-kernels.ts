/**
 * The selection passes (asm/select.ts) in WebAssembly SIMD, instantiated over a shared memory that
 * a caller attaches: formats attaches the memory its streaming reader and writer read chunks into,
 * so the passes over a checkpoint's keys (histograms, kept bits, zeroing) run on the very bytes
 * read from disk instead of in JavaScript loops. select.ts and formats take the loops for arrays
 * that live anywhere else, or where shared memory or SIMD is missing (`attach` returns false).
 */
import { wasmBytes } from './wasm-bytes.js';
import { SELECT_SHARED_WASM_BASE64 } from './wasm/select-wasm.js';

interface SelectExports {
  histHigh(keys: number, n: number, hist: number): void;
  histLow(keys: number, n: number, high: number, hist: number): void;
  markAbove(keys: number, n: number, above: number, words: number): number;
  markKept(keys: number, n: number, key: number, ties: number, words: number, out: number): number;
  zeroPruned32(units: number, n: number, words: number): void;
}

const BINS = 65536;
/** Arrays shorter than this take the JavaScript loops: copying a histogram in and out would cost more. */
export const KERNEL_MIN_LENGTH = 1 << 16;

/** Reserves `bytes` in the attached memory and returns the byte offset (the caller's allocator). */
export type Reserve = (bytes: number) => number;

export class SelectKernels {
  readonly exports: SelectExports;
  private hist = -1;
  private words = -1;
  private wordsCount = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    exports: WebAssembly.Exports,
    private readonly reserve: Reserve,
  ) {
    this.exports = exports as unknown as SelectExports;
  }

  /** 65536 uint32 bins and a 4-byte result slot after them. */
  histPtr(): number {
    if (this.hist < 0) this.hist = this.reserve(BINS * 4 + 64);
    return this.hist;
  }

  histView(): Uint32Array {
    const at = this.histPtr(); // first: it may grow the memory, replacing its buffer
    return new Uint32Array(this.memory.buffer, at, BINS);
  }

  outPtr(): number {
    return this.histPtr() + BINS * 4;
  }

  /** The integer a kernel stored at `outPtr()`. */
  result(): number {
    const at = this.outPtr();
    return new Int32Array(this.memory.buffer, at, 1)[0];
  }

  /** Scratch for `count` mask words, reused (grows to the largest asked for). */
  wordsPtr(count: number): number {
    if (count > this.wordsCount) {
      this.words = this.reserve(count * 4);
      this.wordsCount = count;
    }
    return this.words;
  }

  wordsView(count: number): Uint32Array {
    const at = this.wordsPtr(count);
    return new Uint32Array(this.memory.buffer, at, count);
  }
}

let compiled: WebAssembly.Module | null | undefined;
const byMemory = new WeakMap<WebAssembly.Memory, SelectKernels>();
const byBuffer = new WeakMap<ArrayBufferLike, SelectKernels>();

function selectModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(wasmBytes(SELECT_SHARED_WASM_BASE64));
    } catch {
      compiled = null; // no SIMD or no threads proposal in this runtime
    }
  }
  return compiled;
}

/**
 * Instantiates the kernels over `memory` (shared, at most 65536 pages) so that views of it are
 * passed to them in place; `reserve` gives them scratch (≈ 260 KB, plus 1/8 byte per element of the
 * largest array marked). Call `noteGrown` after the memory grows. False if they cannot run here.
 */
export function attachSelectKernels(memory: WebAssembly.Memory, reserve: Reserve): boolean {
  if (byMemory.has(memory)) return true;
  const m = selectModule();
  if (!m) return false;
  try {
    const k = new SelectKernels(memory, new WebAssembly.Instance(m, { env: { memory } }).exports, reserve);
    byMemory.set(memory, k);
    byBuffer.set(memory.buffer, k);
    return true;
  } catch {
    return false;
  }
}

/** Registers an attached memory's buffer after it grew (growing replaces the buffer object, not the bytes). */
export function noteGrown(memory: WebAssembly.Memory): void {
  const k = byMemory.get(memory);
  if (k) byBuffer.set(memory.buffer, k);
}

/** The kernels that can run on `a` in place: `a` is a long enough view of an attached memory. */
export function kernelsHolding(a: ArrayBufferView): SelectKernels | undefined {
  return a.byteLength >= KERNEL_MIN_LENGTH * 4 ? byBuffer.get(a.buffer) : undefined;
}
