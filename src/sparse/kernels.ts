/**
 * The WebAssembly SIMD kernels (asm/kernels.ts) and the memory they work in. Weights are
 * uploaded once into the module's memory; activations are copied in and out per call.
 * Batched products use transposed activations, X^T [in, ld] with ld = batch rounded up to 4,
 * so that each nonzero weight multiplies a contiguous SIMD row.
 */
import { SculptError } from '../core/errors.js';
import { plainSimdForced, validatesWithRelaxedSimd, wasmBytes } from '../core/wasm-bytes.js';
import type { KernelCall, SplitFunction } from './threads.js';
import type { CsrMatrix } from './formats.js';
import { uninitF32 } from './tensor.js';
import { KERNELS_RELAXED_SHARED_WASM_BASE64, KERNELS_RELAXED_WASM_BASE64, KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from './wasm/build/kernels-wasm.js';

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  spmvCsr16(rows: number, rowPtr: number, colIdx: number, values: number, x: number, y: number, bias: number, relu: number): void;
  spmvCsr32(rows: number, rowPtr: number, colIdx: number, values: number, x: number, y: number, bias: number, relu: number): void;
  spmmCsr(rows: number, rowPtr: number, colIdx: number, wide: number, values: number, xt: number, ld: number, yt: number, bias: number, relu: number, tile: number, offsets: number): void;
  spmmCsrStrips(strips: number, rows: number, starts: number, stride: number, colIdx: number, wide: number, offsets: number, values: number, xt: number, ld: number, yt: number, bias: number, relu: number): void;
  gemv(rows: number, cols: number, w: number, x: number, y: number, bias: number, relu: number): void;
  gemm(rows: number, cols: number, w: number, xt: number, ld: number, yt: number, bias: number, relu: number, tile: number): void;
  maxPool2d(x: number, planes: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, oh: number, ow: number, tmp: number, y: number): void;
  maxPoolBorder(w: number, ow: number, kw: number, sw: number, dw: number, pl: number): number;
  convCsr(rows: number, rowPtr: number, offsets: number, values: number, x: number, n: number, y: number, ld: number, bias: number, relu: number, tile: number): void;
  convOffsets(nnz: number, colIdx: number, wide: number, kh: number, kw: number, dh: number, dw: number, sh: number, sw: number, hq: number, wq: number, dst: number): void;
  padPlanes(x: number, c: number, h: number, w: number, pt: number, pl: number, sh: number, sw: number, hq: number, wq: number, dst: number, slack: number): void;
  im2col2d(x: number, cg: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, ow: number, q0: number, q1: number, dst: number, ld: number): void;
  transposeIn(src: number, rows: number, cols: number, dst: number, ld: number, srcStride: number): void;
  transposeOut(src: number, rows: number, cols: number, ld: number, dst: number, dstStride: number): void;
  transposeMany(count: number, src: number, srcStep: number, rows: number, cols: number, srcStride: number, dst: number, dstStep: number, ld: number): void;
  copyRows(count: number, src: number, srcStep: number, rows: number, cols: number, srcStride: number, dst: number, dstStep: number): void;
  streamSum(p: number, n: number): number;
  peakMadd(n: number, m: number, c: number): number;
  peakLoadMadd(n: number, buf: number): number;
  softmaxRows(x: number, rows: number, n: number, y: number): void;
  softmaxScaledRows(x: number, rows: number, n: number, divisor: number, mask: number, row0: number, every: number, maskRows: number, y: number): void;
  layerNormRows(x: number, rows: number, n: number, gamma: number, beta: number, eps: number, y: number): void;
  geluRows(x: number, rows: number, n: number, bias: number, y: number): void;
  expN(x: number, n: number, y: number): void;
  reluN(x: number, n: number, y: number): void;
  clampN(x: number, n: number, lo: number, hi: number, y: number): void;
  binaryRows(op: number, ka: number, a: number, kb: number, b: number, rows: number, n: number, y: number): void;
}

/** 'relaxed': the build with fused multiply-add (relaxed SIMD); 'simd': plain 128-bit SIMD. */
export type KernelBuild = 'relaxed' | 'simd';

const compiled = new Map<string, WebAssembly.Module>();

/** The kernels' WebAssembly bytes (the `shared` build imports its memory). */
export function kernelBytes(build: KernelBuild, shared = false): Uint8Array<ArrayBuffer> {
  return wasmBytes(build === 'relaxed' ? (shared ? KERNELS_RELAXED_SHARED_WASM_BASE64 : KERNELS_RELAXED_WASM_BASE64) : shared ? KERNELS_SHARED_WASM_BASE64 : KERNELS_WASM_BASE64);
}

let relaxedOk: boolean | undefined;

/** Whether this runtime compiles the relaxed-SIMD build (core/wasm-bytes.ts: validatesWithRelaxedSimd). */
export function relaxedSimdAvailable(): boolean {
  return (relaxedOk ??= validatesWithRelaxedSimd(kernelBytes('relaxed')));
}

let chosen: KernelBuild | undefined;

/** The build this process runs: relaxed SIMD where available, else plain; SCULPT_KERNELS=simd forces plain. */
export function kernelBuild(): KernelBuild {
  chosen ??= plainSimdForced() || !relaxedSimdAvailable() ? 'simd' : 'relaxed';
  return chosen;
}

/** The compiled kernels; `shared`: the build that imports a shared memory (for worker threads). */
export function kernelModule(build: KernelBuild, shared = false): WebAssembly.Module {
  if (build === 'relaxed' && !relaxedSimdAvailable()) throw new SculptError('sparse: this runtime has no relaxed SIMD; use the plain SIMD kernels (SCULPT_KERNELS=simd)');
  const key = `${build}${shared ? '-shared' : ''}`;
  let m = compiled.get(key);
  if (!m) compiled.set(key, (m = new WebAssembly.Module(kernelBytes(build, shared))));
  return m;
}

/** Most pages a shared kernel memory may grow to (4 GiB, wasm32's limit), as the shared builds declare. */
export const SHARED_MAX_PAGES = 65536;

/**
 * Compiles the kernels asynchronously. Browsers may refuse synchronous compilation on the main
 * thread, so call this once before the first `new Kernels()` there; in Node it is optional.
 */
export async function prepareKernels(): Promise<void> {
  const build = kernelBuild();
  if (!compiled.has(build)) compiled.set(build, await WebAssembly.compile(kernelBytes(build)));
  // And the shared-memory build, which executors use where there is shared memory (ownKernels).
  const shared = `${build}-shared`;
  if (typeof SharedArrayBuffer === 'function' && !compiled.has(shared)) compiled.set(shared, await WebAssembly.compile(kernelBytes(build, true)));
}

export interface KernelsOptions {
  readonly build?: KernelBuild;
  /** Instantiate the shared-memory build over this memory (the one worker threads share). */
  readonly sharedMemory?: WebAssembly.Memory;
}

const PAGE = 65536;

/** Batch row stride in floats for a batch of `batch`: rounded up to a whole SIMD vector. */
export function batchStride(batch: number): number {
  return Math.ceil(batch / 4) * 4;
}

/**
 * Bytes of X^T that one column tile of a batched product may span, so that the tile stays cached
 * while every weight row passes over it. The dense kernel reads every row of the tile for each pair
 * of weight rows, and takes about a quarter of a current CPU's per-core L2: on ResNet-18's first
 * stage pruned globally, 256 KiB beat 1 MiB (90–130 against 114–150 ms; Intel, 2 MiB L2). The CSR
 * kernel reads only its nonzeros' rows, and its passes cost more than its misses: on an AMD EPYC
 * (1 MiB L2, 32 MiB L3), BERT's 768 × 3072 product at 128 tokens ran in 2.47 ms untiled (X^T
 * 1.5 MiB) against 2.89 ms in the 80-column tiles a 1 MiB budget gave, and 768 × 4096 at 512
 * columns fastest in 252-column tiles (4 MiB): 17.7 against 20.9 ms in 64-column ones.
 */
export const TILE_BYTES = 4 * 1024 * 1024;
export const DENSE_TILE_BYTES = 256 * 1024;
/** The dense kernel's block of columns. */
export const DENSE_TILE_COLUMNS = 16;

/** The widest pass of asm spmmCsr (7 vectors): a batch wider than this takes several passes over each row. */
const CSR_PASS_COLUMNS = 28;

/**
 * Columns of W per strip of a batched CSR product with several passes over each row (asm
 * spmmCsrStrips): 256, or more where the density would leave a row fewer than 16 nonzeros in a
 * strip (each strip reads and writes every output row once more). On BERT's 768 × 3072 and
 * 3072 × 768 products at 10% density, strips of 128, 192, 256 and 384 columns ran within 5% of
 * each other at 32, 64, 128 and 512 columns of X^T, 1.2–2× faster than spmmCsr (Intel Xeon model
 * 167, 2 MiB L2); strips of 64 columns were slower.
 */
export function stripColumns(cols: number, nonzeros: number, rows: number): number {
  const density = nonzeros / Math.max(1, rows * cols);
  return Math.max(256, Math.ceil(16 / Math.max(density, 1e-9) / 64) * 64);
}

/** The widest batch spmmCsrStrips takes (measured up to 512 columns; wider ones run spmmCsr's column tiles). */
const STRIP_MAX_LD = 512;

/**
 * Where each row's nonzeros of each strip of `width` columns begin, as spmmCsrStrips reads them:
 * [strips + 1, rows], the last entry of each row its end; undefined when a row's columns are not in
 * increasing order (a .sculpt file may store them so), which strips need.
 */
export function stripStarts(csr: CsrMatrix, width: number): Uint32Array | undefined {
  const strips = Math.ceil(csr.cols / width);
  const rows = csr.rows;
  const out = new Uint32Array((strips + 1) * rows);
  for (let r = 0; r < rows; r++) {
    let k = csr.rowPtr[r];
    const end = csr.rowPtr[r + 1];
    for (let j = k + 1; j < end; j++) if (csr.colIndex[j] <= csr.colIndex[j - 1]) return undefined;
    for (let s = 0; s < strips; s++) {
      const c0 = s * width;
      while (k < end && csr.colIndex[k] < c0) k++;
      out[s * rows + r] = k;
    }
    out[strips * rows + r] = end;
  }
  return out;
}

/**
 * Columns per tile of a batched product over X^T [cols, ld]: all of them when X^T fits `bytes`
 * (TILE_BYTES for CSR, DENSE_TILE_BYTES for dense), else the most that fit in whole blocks of
 * `quantum` columns (at least one): the CSR kernel's widest pass (28 columns: a tile of 16 would
 * end in passes of 4 and 1, which reuse each loaded weight less), the dense kernel's block of 16.
 */
export function columnTile(cols: number, ld: number, bytes = TILE_BYTES, quantum = CSR_PASS_COLUMNS): number {
  if (cols * ld * 4 <= bytes) return ld;
  return Math.min(ld, Math.max(quantum, Math.floor(bytes / (cols * 4 * quantum)) * quantum));
}

/**
 * One instance of the kernels with its own linear memory and a bump allocator. `mark()` and
 * `release(mark)` free scratch space in stack order; persistent uploads go below the mark.
 */
export class Kernels {
  readonly exports: KernelExports;
  private top: number;

  readonly build: KernelBuild;
  readonly memory: WebAssembly.Memory;
  /** Whether the memory is shared (worker threads may share it; its views survive growth). */
  readonly shared: boolean;
  /** The shared memory's buffers `resident` made views on (each growth gives a new one). */
  private readonly residentBuffers = new WeakSet<ArrayBufferLike>();
  /** Worker threads that split products with this instance (threads.ts), when attached. */
  pool: {
    /** Runs `fn` once per part, part i's arguments `parts[i]`, the parts on different threads. */
    split(fn: SplitFunction, parts: readonly (readonly number[])[]): void;
    /** Runs each part's calls in order, the parts on different threads (at most `maxCalls` calls a part). */
    splitCalls(parts: readonly (readonly KernelCall[])[]): void;
    readonly threads: number;
    readonly maxCalls: number;
    /** Tells idle workers a product is coming (they spin briefly instead of sleeping). */
    wake(): void;
    /** Resolves once every worker runs (until then the calling thread runs their parts). */
    readonly ready: Promise<void>;
  } | undefined;

  constructor(options: KernelBuild | KernelsOptions = {}) {
    const o = typeof options === 'string' ? { build: options } : options;
    this.build = o.build ?? kernelBuild();
    const shared = o.sharedMemory;
    const instance = new WebAssembly.Instance(kernelModule(this.build, !!shared), shared ? { env: { memory: shared } } : {});
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = shared ?? this.exports.memory;
    this.shared = !!shared;
    this.top = align(this.exports.heapBase(), 64);
  }

  /** Reserves `bytes` (64-byte aligned, zero-filled) and returns the byte offset. */
  alloc(bytes: number): number {
    const have = this.memory.buffer.byteLength;
    const ptr = this.reserve(bytes);
    // Released scratch may hold old values; freshly grown pages are zero already.
    if (ptr < have) new Uint8Array(this.memory.buffer, ptr, Math.min(this.top, have) - ptr).fill(0);
    return ptr;
  }

  /** Reserves `bytes` (64-byte aligned) without clearing them: for memory about to be written in full. */
  reserve(bytes: number): number {
    const ptr = this.top;
    const end = align(ptr + bytes, 64);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new SculptError(`sparse: cannot grow kernel memory to ${Math.ceil(end / 2 ** 20)} MiB (WebAssembly allows at most 4096 MiB); run the model with --engine onnxruntime`, 1);
      }
    }
    this.top = end;
    return ptr;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** Bytes in use. */
  get used(): number {
    return this.top;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /**
   * n floats reserved for good, as a view that stays valid: only in a shared memory, whose views
   * survive its growth (an unshared one's are detached). Call with no mark open (between runs).
   */
  resident(n: number): Float32Array {
    if (!this.shared) throw new SculptError('sparse: internal error: resident arrays need a shared kernel memory');
    const ptr = this.reserve(n * 4);
    const buffer = this.memory.buffer;
    this.residentBuffers.add(buffer);
    return new Float32Array(buffer, ptr, n);
  }

  /** Whether `buffer` is this memory, as `resident` views see it. */
  holds(buffer: ArrayBufferLike): boolean {
    return this.residentBuffers.has(buffer);
  }

  /** Where `a` lives in this memory, when it is a view of it (see `resident`); else undefined. */
  addressOf(a: ArrayBufferView): number | undefined {
    return this.residentBuffers.has(a.buffer) ? a.byteOffset : undefined;
  }

  /** Copies an array into fresh memory and returns its offset. */
  upload(data: Float32Array | Uint32Array | Uint16Array | Uint8Array): number {
    const ptr = this.reserve(data.byteLength);
    new Uint8Array(this.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }
}

/**
 * Kernels for one thread over a shared memory where this runtime has one (a browser needs
 * cross-origin isolation), else over their own: an executor's values can live in a shared memory
 * from its second run (tensor.ts's PoolArena), with no copies into and out of the kernels, since
 * its views survive growth. Measured here, same process, one thread: BERT-base at 90% 3% faster,
 * ResNet-18 10–20% faster than over the kernels' own memory.
 */
export function ownKernels(build?: KernelBuild): Kernels {
  if (typeof SharedArrayBuffer === 'function') {
    try {
      return new Kernels({ build, sharedMemory: new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true }) });
    } catch {
      // No shared WebAssembly memory here: the kernels' own.
    }
  }
  return new Kernels(build);
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * y = W·x + b (optionally ReLU) for W [rows, cols] held in kernel memory, in one of two storages.
 * Pointer-level calls (`runVector`, `runBatch`) let a caller chain layers without copies.
 */
export type KernelKind = 'csr' | 'dense' | 'rows';

/** Kernel calls that finish output rows [r0, r1) of a product (see `LinearKernel.runBatch`). */
export type RowsEpilogue = (r0: number, r1: number) => KernelCall[];

/**
 * X [batch, cols] at `x`, from which `runBatch` makes X^T itself: each thread of a split product
 * transposes all of X into a copy of its own (`xt` + i·cols·ld·4 for part i: the caller reserves
 * `batchCopies` of them), then multiplies it — no wait between the transpose and the product, and
 * X^T in the cache of the core that reads it (one of BERT's 768 × 768 products at 128 tokens on 2
 * threads, alone: 0.29 → 0.25 ms, where the transpose takes 17 µs and a split costs about 30; the
 * whole encoder's same-run A/B stayed within its noise).
 */
export interface BatchSource {
  readonly x: number;
  readonly batch: number;
}

/** How many copies of X^T `runBatch` with a BatchSource may write (one per thread). */
function batchCopies(k: Kernels): number {
  return k.pool?.threads ?? 1;
}

/** Runs calls on this thread, in order. */
export function runCalls(k: Kernels, calls: readonly KernelCall[]): void {
  for (const [fn, args] of calls) (k.exports[fn] as (...a: number[]) => void)(...args);
}

/**
 * A product's calls: on the threads (`split`), part i's rows with its epilogue, X^T first made
 * from `source` into part i's own copy; else all the rows here. `product(xt, r0, r1)` is the
 * product's call on rows [r0, r1) reading X^T at `xt`.
 */
function runProduct(k: Kernels, split: boolean, parts: readonly (readonly [number, number])[], rows: number, cols: number, xt: number, ld: number, product: (xt: number, r0: number, r1: number) => KernelCall, post?: RowsEpilogue, source?: BatchSource): void {
  const calls = (xi: number, r0: number, r1: number): KernelCall[] => [
    ...(source ? [['transposeIn', [source.x, source.batch, cols, xi, ld, cols]] as KernelCall] : []),
    product(xi, r0, r1),
    ...(post?.(r0, r1) ?? []),
  ];
  if (k.pool && split) k.pool.splitCalls(parts.map(([r0, r1], i) => calls(source ? xt + i * cols * ld * 4 : xt, r0, r1)));
  else runCalls(k, calls(xt, 0, rows));
}

export interface LinearKernel {
  /** csr: CSR kernel; dense: dense kernel; rows: dense kernel over the rows that have nonzeros. */
  readonly kind: KernelKind;
  readonly rows: number;
  readonly cols: number;
  /** Stored nonzeros (rows·cols for dense). */
  readonly nonzeros: number;
  /** Bytes of weight storage (values and indices). */
  readonly weightBytes: number;
  /** y[rows] = W·x[cols]. */
  runVector(x: number, y: number, relu: boolean): void;
  /**
   * Y^T [rows, ld] = W·X^T [cols, ld]. `post(r0, r1)`: kernel calls to run on output rows [r0, r1)
   * once they are done, on the thread that computed them (an epilogue split with the product).
   */
  runBatch(xt: number, ld: number, yt: number, relu: boolean, post?: RowsEpilogue, source?: BatchSource): void;
  /**
   * CSR only: a 2-D convolution straight from the zero-padded input planes, split by stride phase (asm convCsr), the
   * shifts of each nonzero at `offsets` (convOffsets): Y [rows, ld] for flat columns [0, n).
   */
  runShifted?(offsets: number, x: number, n: number, y: number, ld: number, relu: boolean, relu6?: boolean): void;
  /** CSR only: where its column indices are, for convOffsets. */
  readonly colIndex?: { readonly ptr: number; readonly wide: boolean };
}

export function uploadCsr(k: Kernels, csr: CsrMatrix, bias?: Float32Array): LinearKernel {
  checkBias(bias, csr.rows);
  const rowPtr = k.upload(csr.rowPtr);
  const colIdx = k.upload(csr.colIndex);
  const values = k.upload(csr.values);
  const b = bias ? k.upload(bias) : 0;
  const wide = csr.colIndex instanceof Uint32Array;
  const e = k.exports;
  const rows = csr.rows;
  const nnz = csr.values.length;
  // With worker threads: the rows split by nonzero count, each part a call on its own rows.
  const pool = k.pool;
  const parts = pool ? splitRows(rows, pool.threads, csr.rowPtr) : [];
  const biasAt = (r: number) => biasRow(b, r);
  // The strips of a product over a batch that takes several passes (spmmCsrStrips), when W has more than one.
  const stripWidth = stripColumns(csr.cols, nnz, rows);
  const strips = Math.ceil(csr.cols / stripWidth);
  const startTable = strips > 1 ? stripStarts(csr, stripWidth) : undefined;
  const starts = startTable ? k.upload(startTable) : 0;
  return {
    kind: 'csr',
    rows,
    cols: csr.cols,
    nonzeros: nnz,
    weightBytes: csr.rowPtr.byteLength + csr.colIndex.byteLength + csr.values.byteLength,
    runVector: (x, y, relu) => {
      const fn = wide ? 'spmvCsr32' : 'spmvCsr16';
      if (pool && nnz >= SPLIT_WORK) pool.split(fn, parts.map(([r0, r1]) => [r1 - r0, rowPtr + r0 * 4, colIdx, values, x, y + r0 * 4, biasAt(r0), relu ? 1 : 0]));
      else e[fn](rows, rowPtr, colIdx, values, x, y, b, relu ? 1 : 0);
    },
    colIndex: { ptr: colIdx, wide },
    runShifted: (offsets, x, n, y, ld, relu, relu6 = false) => {
      const act = relu ? (relu6 ? 2 : 1) : 0;
      // The tile spans every input plane the window reads: the row pointer's columns over taps.
      const tile = columnTile(csr.cols, ld);
      if (pool && nnz * ld >= SPLIT_WORK) pool.split('convCsr', parts.map(([r0, r1]) => [r1 - r0, rowPtr + r0 * 4, offsets, values, x, n, y + r0 * ld * 4, ld, biasAt(r0), act, tile]));
      else e.convCsr(rows, rowPtr, offsets, values, x, n, y, ld, b, act, tile);
    },
    runBatch: (xt, ld, yt, relu, post, source) => {
      const mark = k.mark();
      try {
        // Scratch for the indices as byte offsets, which the kernel writes when a row takes several passes.
        const offsets = ld > CSR_PASS_COLUMNS ? k.reserve(nnz * 4) : 0;
        const inStrips = starts !== 0 && ld > CSR_PASS_COLUMNS && ld <= STRIP_MAX_LD;
        const product = (xt: number, r0: number, r1: number): KernelCall => inStrips
          ? ['spmmCsrStrips', [strips, r1 - r0, starts + r0 * 4, rows, colIdx, wide ? 1 : 0, offsets, values, xt, ld, yt + r0 * ld * 4, biasAt(r0), relu ? 1 : 0]]
          : ['spmmCsr', [r1 - r0, rowPtr + r0 * 4, colIdx, wide ? 1 : 0, values, xt, ld, yt + r0 * ld * 4, biasAt(r0), relu ? 1 : 0, columnTile(csr.cols, ld), offsets]];
        runProduct(k, nnz * ld >= SPLIT_WORK, parts, rows, csr.cols, xt, ld, product, post, source);
      } finally {
        k.release(mark);
      }
    },
  };
}

/**
 * Multiply-adds from which a product is split between worker threads: waking one and waiting for
 * it takes about 30 µs (measured), the time of some 300,000 multiply-adds.
 */
export const SPLIT_WORK = 1 << 20;

/** The bias pointer of a part starting at row `r` (0: no bias). */
function biasRow(bias: number, r: number): number {
  return bias ? bias + r * 4 : 0;
}

export function uploadDense(k: Kernels, weight: Float32Array, rows: number, cols: number, bias?: Float32Array): LinearKernel {
  if (weight.length !== rows * cols) {
    throw new SculptError(`sparse: ${weight.length} weights do not fill a [${rows}, ${cols}] matrix`);
  }
  checkBias(bias, rows);
  const w = k.upload(weight);
  const b = bias ? k.upload(bias) : 0;
  const e = k.exports;
  const pool = k.pool;
  const parts = pool ? splitRows(rows, pool.threads) : [];
  const biasAt = (r: number) => biasRow(b, r);
  return {
    kind: 'dense',
    rows,
    cols,
    nonzeros: rows * cols,
    weightBytes: weight.byteLength,
    runVector: (x, y, relu) => {
      if (pool && rows * cols >= SPLIT_WORK) pool.split('gemv', parts.map(([r0, r1]) => [r1 - r0, cols, w + r0 * cols * 4, x, y + r0 * 4, biasAt(r0), relu ? 1 : 0]));
      else e.gemv(rows, cols, w, x, y, b, relu ? 1 : 0);
    },
    runBatch: (xt, ld, yt, relu, post, source) => {
      const product = (xt: number, r0: number, r1: number): KernelCall => ['gemm', [r1 - r0, cols, w + r0 * cols * 4, xt, ld, yt + r0 * ld * 4, biasAt(r0), relu ? 1 : 0, columnTile(cols, ld, DENSE_TILE_BYTES, DENSE_TILE_COLUMNS)]];
      runProduct(k, rows * cols * ld >= SPLIT_WORK, parts, rows, cols, xt, ld, product, post, source);
    },
  };
}

/** Indices of the rows of W [rows, cols] that hold a nonzero. */
export function nonzeroRows(weight: Float32Array, rows: number, cols: number): Uint32Array {
  const kept: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (weight[r * cols + c] !== 0) {
        kept.push(r);
        break;
      }
    }
  }
  return Uint32Array.from(kept);
}

/**
 * Channel-pruned W (whole rows zero): a dense kernel over the kept rows only, whose results are
 * scattered back; a pruned row's output is its bias (then ReLU), as in the dense product.
 */
export function uploadRows(k: Kernels, weight: Float32Array, rows: number, cols: number, bias?: Float32Array): LinearKernel {
  if (weight.length !== rows * cols) {
    throw new SculptError(`sparse: ${weight.length} weights do not fill a [${rows}, ${cols}] matrix`);
  }
  checkBias(bias, rows);
  const kept = nonzeroRows(weight, rows, cols);
  const compact = new Float32Array(kept.length * cols);
  kept.forEach((r, i) => compact.set(weight.subarray(r * cols, (r + 1) * cols), i * cols));
  const keptBias = bias ? Float32Array.from(kept, (r) => bias[r]) : undefined;
  const inner = uploadDense(k, compact, kept.length, cols, keptBias);
  const fill = new Float32Array(rows);
  if (bias) fill.set(bias);
  const fillRelu = fill.map((v) => (v > 0 ? v : 0));
  const scatter = (tmp: number, y: number, width: number, relu: boolean) => {
    const t = k.f32(tmp, kept.length * width);
    const out = k.f32(y, rows * width);
    const base = relu ? fillRelu : fill;
    for (let r = 0; r < rows; r++) out.fill(base[r], r * width, (r + 1) * width);
    for (let i = 0; i < kept.length; i++) out.set(t.subarray(i * width, (i + 1) * width), kept[i] * width);
  };
  return {
    kind: 'rows',
    rows,
    cols,
    nonzeros: kept.length * cols,
    weightBytes: compact.byteLength + kept.byteLength,
    runVector: (x, y, relu) => {
      const mark = k.mark();
      const tmp = k.alloc(kept.length * 4);
      inner.runVector(x, tmp, relu);
      scatter(tmp, y, 1, relu);
      k.release(mark);
    },
    runBatch: (xt, ld, yt, relu, post, source) => {
      const mark = k.mark();
      const tmp = k.alloc(kept.length * ld * 4);
      inner.runBatch(xt, ld, tmp, relu, undefined, source);
      scatter(tmp, yt, ld, relu);
      k.release(mark);
      if (post) runCalls(k, post(0, rows));
    },
  };
}

function checkBias(bias: Float32Array | undefined, rows: number): void {
  if (bias && bias.length !== rows) throw new SculptError(`sparse: bias has ${bias.length} values, the layer has ${rows} outputs`);
}

/**
 * Y [batch, rows] = X [batch, cols] · W^T (+ bias, ReLU or GELU): the array-level entry point, which copies
 * X into kernel memory, transposes it when batch > 1, and copies the result out (no copy for an
 * array that lives there: `Kernels.resident`).
 */
export function applyLinear(k: Kernels, layer: LinearKernel, x: Float32Array, batch: number, relu = false, gelu = false): Float32Array {
  return applyLinears(k, [{ layer, relu, gelu }], x, batch);
}

/** A layer of `applyLinears`: its kernel and what its results go through (bias is the kernel's). */
export interface LinearLink {
  readonly layer: LinearKernel;
  readonly relu?: boolean;
  readonly gelu?: boolean;
}

/**
 * Y = layer_n(…layer_1(X)) for X [batch, cols of the first], each layer's results through its
 * ReLU or GELU. X is transposed in once and Y out once: between two layers, one's Y^T [rows, ld] is
 * the next one's X^T as it stands (its padding lanes hold what the padding columns of X^T gave,
 * columns that never reach another column), so a transformer's MLP (MatMul + GELU into MatMul)
 * makes no round trip through the row-major layout between its products. Arrays already in the
 * kernels' memory (the executor's arena) are read and written in place.
 */
export function applyLinears(k: Kernels, links: readonly LinearLink[], x: Float32Array, batch: number): Float32Array {
  if (links.length === 0) throw new SculptError('sparse: no layers to apply');
  for (let i = 1; i < links.length; i++) {
    if (links[i].layer.cols !== links[i - 1].layer.rows) {
      throw new SculptError(`sparse: layer ${i} takes ${links[i].layer.cols} inputs but layer ${i - 1} gives ${links[i - 1].layer.rows}`);
    }
  }
  const first = links[0].layer, last = links[links.length - 1].layer;
  if (x.length !== batch * first.cols) {
    throw new SculptError(`sparse: input of ${x.length} values is not [${batch}, ${first.cols}]`);
  }
  const mark = k.mark();
  try {
    if (batch > 1) k.pool?.wake();
    const xin = k.addressOf(x) ?? k.upload(x);
    const out = uninitF32(batch * last.rows);
    const home = k.addressOf(out);
    let src = xin;
    if (batch === 1) {
      links.forEach(({ layer, relu = false, gelu = false }, i) => {
        const y = i === links.length - 1 && home !== undefined ? home : k.alloc(layer.rows * 4);
        layer.runVector(src, y, relu);
        if (gelu) k.exports.geluRows(y, 1, layer.rows, 0, y);
        src = y;
      });
      if (home === undefined) out.set(k.f32(src, last.rows));
    } else {
      const ld = batchStride(batch);
      // Written in full before they are read (transposeIn zeroes the padding lanes): not cleared.
      const xt = k.reserve(first.cols * ld * 4 * batchCopies(k));
      const y = home ?? k.reserve(out.byteLength);
      links.forEach(({ layer, relu = false, gelu = false }, i) => {
        const yt = k.reserve(layer.rows * ld * 4);
        const end = i === links.length - 1;
        // The first transposes X in on each part; GELU, and after the last the transpose back, on each part's rows.
        layer.runBatch(i === 0 ? xt : src, ld, yt, relu, (r0, r1) => [
          ...(gelu ? [['geluRows', [yt + r0 * ld * 4, 1, (r1 - r0) * ld, 0, yt + r0 * ld * 4]] as KernelCall] : []),
          ...(end ? [['transposeOut', [yt + r0 * ld * 4, batch, r1 - r0, ld, y + r0 * 4, layer.rows]] as KernelCall] : []),
        ], i === 0 ? { x: xin, batch } : undefined);
        src = yt;
      });
      if (home === undefined) out.set(k.f32(y, out.length));
    }
    return out;
  } finally {
    k.release(mark);
  }
}

/**
 * Runs layers back to back inside kernel memory (no copies or transposes between them):
 * Y = layer_n(…layer_1(X)) with ReLU after layer i where relu[i]. X is [batch, cols of the first].
 */
export function applyChain(k: Kernels, layers: readonly LinearKernel[], relu: readonly boolean[], x: Float32Array, batch: number): Float32Array {
  if (layers.length === 0) return x.slice();
  return applyLinears(k, layers.map((layer, i) => ({ layer, relu: relu[i] ?? false })), x, batch);
}

/**
 * Y^T [rows, n] = W · X^T [cols, n], for operands already in transposed layout (im2col columns,
 * NCHW outputs): no transposition, only copies in and out with the row stride padded to 4.
 */
export function applyLinearTransposed(k: Kernels, layer: LinearKernel, xt: Float32Array, n: number, relu = false): Float32Array {
  if (xt.length !== n * layer.cols) {
    throw new SculptError(`sparse: input of ${xt.length} values is not [${layer.cols}, ${n}]`);
  }
  if (n === 1) return applyLinear(k, layer, xt, 1, relu);
  const mark = k.mark();
  try {
    const ld = batchStride(n);
    const x = k.alloc(layer.cols * ld * 4);
    const y = k.alloc(layer.rows * ld * 4);
    const xv = k.f32(x, layer.cols * ld);
    if (ld === n) xv.set(xt);
    else for (let c = 0; c < layer.cols; c++) xv.set(xt.subarray(c * n, (c + 1) * n), c * ld);
    layer.runBatch(x, ld, y, relu);
    const yv = k.f32(y, layer.rows * ld);
    if (ld === n) return yv.slice();
    const out = new Float32Array(layer.rows * n);
    for (let r = 0; r < layer.rows; r++) out.set(yv.subarray(r * ld, r * ld + n), r * n);
    return out;
  } finally {
    k.release(mark);
  }
}

/**
 * Row ranges [start, end) for `parts` threads with about equal work: by the CSR row pointer's
 * nonzero counts (plus one unit per row for its stores), or evenly when no row pointer is given.
 * Ranges are whole SIMD-friendly blocks of rows (multiples of `align`) except the last.
 */
export function splitRows(rows: number, parts: number, rowPtr?: Uint32Array, align = 4): [number, number][] {
  const n = Math.max(1, Math.min(parts, Math.ceil(rows / align)));
  const cost = (r: number) => (rowPtr ? rowPtr[r] : 0) + r;
  const total = cost(rows);
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 1; i < n; i++) {
    const target = (total * i) / n;
    let end = start;
    while (end < rows && cost(end) < target) end++;
    end = Math.min(rows, Math.ceil(end / align) * align);
    out.push([start, Math.max(start, end)]);
    start = Math.max(start, end);
  }
  out.push([start, rows]);
  return out.filter(([a, b]) => b > a);
}
