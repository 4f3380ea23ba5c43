/**
 * The roofline model for y = W·x layers: a kernel's time is bounded below by its arithmetic
 * (flops / peak rate) and by its memory traffic (bytes / bandwidth), predicted time = the larger.
 * Sparse kernels move fewer weight bytes but pay for indices and for the scalar gather of x, so
 * their "peak" is their own measured rate, not the dense one. Machine numbers are measured here
 * with the same kernels the engine runs.
 */
import { denseToCsr } from './formats.js';
import { Kernels, uploadCsr, uploadDense, batchStride } from './kernels.js';
import { size } from './tensor.js';

/** Measured machine constants (one thread). */
export interface MachineProfile {
  /**
   * Memory bandwidth a weight-streaming kernel sustains, bytes per second: the lower of a pure
   * streaming read and the dense matrix-vector kernel over a matrix far larger than the caches.
   */
  readonly bandwidth: number;
  /** The pure streaming read's bandwidth (for reference; may be absent in hand-made profiles). */
  readonly streamBandwidth?: number;
  /** Streaming read bandwidth from cache (a 128 KiB buffer read over and over), bytes per second. */
  readonly cacheBandwidth: number;
  /** Working sets up to this many bytes are assumed to stay in cache between runs (default 512 KiB). */
  readonly cacheBytes: number;
  /**
   * Dense kernel arithmetic rate with operands in cache, flops per second: at batch 1, at batch
   * BATCH_COLUMNS, and at WIDE_COLUMNS (`wide`; absent in older and hand-made profiles).
   */
  readonly denseFlops: KernelRates;
  /** CSR kernel arithmetic rate (2 flops per nonzero per column) in cache, at the same batches. */
  readonly sparseFlops: KernelRates;
  /**
   * The compute roofs of 128-bit SIMD here, flops per second (absent in older and hand-made
   * profiles): `registers`, fused multiply-adds on values held in registers (peakMadd), which no
   * kernel passes; `loaded`, each fed by a load from L1 (peakLoadMadd), which bounds a kernel that
   * loads a vector per multiply-add, as an unstructured sparse product does.
   */
  readonly roofFlops?: { readonly registers: number; readonly loaded: number };
}

/** A kernel's measured rates, flops per second, by batch (see `rateAt`). */
export interface KernelRates {
  readonly vector: number;
  readonly batch: number;
  readonly wide?: number;
}

/** The batch the `batch` rates are measured at (an MLP's small batch). */
export const BATCH_COLUMNS = 16;
/**
 * The batch the `wide` rates are measured at: a transformer's tokens, a convolution's pixels. Past
 * 28 columns the CSR kernel takes several passes over each row (asm spmmCsr) and X^T outgrows L1,
 * so its rate there need not be its batch-16 rate (measured here, AMD EPYC, one process each: CSR
 * 23–31 GFLOP/s at 128 against 22–31 at 16; dense 47–55 against 49–54).
 */
export const WIDE_COLUMNS = 128;

/**
 * A kernel's rate at `batch` columns: `vector` at 1, `batch` up to BATCH_COLUMNS, `wide` from
 * WIDE_COLUMNS, in between linear in log2(batch); `batch` throughout when `wide` is absent.
 */
export function rateAt(rates: KernelRates, batch: number): number {
  if (batch <= 1) return rates.vector;
  if (rates.wide === undefined || batch <= BATCH_COLUMNS) return rates.batch;
  if (batch >= WIDE_COLUMNS) return rates.wide;
  const t = Math.log2(batch / BATCH_COLUMNS) / Math.log2(WIDE_COLUMNS / BATCH_COLUMNS);
  return rates.batch + t * (rates.wide - rates.batch);
}

export interface LayerShape {
  readonly rows: number;
  readonly cols: number;
  readonly batch: number;
}

export interface KernelCost {
  readonly flops: number;
  readonly bytes: number;
  /** Predicted seconds: max(flops / rate, bytes / bandwidth). */
  readonly seconds: number;
  readonly bound: 'compute' | 'memory';
}

export interface LayerPrediction {
  readonly dense: KernelCost;
  readonly sparse: KernelCost;
  /** dense.seconds / sparse.seconds. */
  readonly speedup: number;
  /** dense flops / sparse flops: the speed-up a FLOP count would promise. */
  readonly flopSpeedup: number;
}

function cost(flops: number, bytes: number, rate: number, machine: MachineProfile): KernelCost {
  const compute = flops / rate;
  const memory = bytes / (bytes <= machine.cacheBytes ? machine.cacheBandwidth : machine.bandwidth);
  return { flops, bytes, seconds: Math.max(compute, memory), bound: compute >= memory ? 'compute' : 'memory' };
}

/** How the roofline charges an op outside the weight layers (`predictNode`). */
export type NodeClass = 'activation product' | 'vector op' | 'memory op' | 'shape op';

/**
 * Flops per element of the vector ops' kernels (asm/kernels.ts), counting each lane's arithmetic
 * (a fused multiply-add as 2): GELU's erfc fit, exp and the products around them; Softmax's exp,
 * max, sum and scaling; LayerNorm's two passes; the rest by the same polynomials.
 */
const VECTOR_OP_FLOPS: Readonly<Record<string, number>> = { Gelu: 55, Erf: 50, Softmax: 30, ScaledMaskedSoftmax: 32, LogSoftmax: 30, Exp: 24, Tanh: 30, Sigmoid: 30, LayerNormalization: 8 };
/** Ops that move no data (a new view of the same values, or a shape). */
const SHAPE_OPS = new Set(['Shape', 'Size', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Constant']);
/** Ops that read only the rows of their first operand they write, by the indices they also read. */
const GATHER_OPS = new Set(['Gather', 'GatherElements', 'GatherND']);

export interface NodeCost extends KernelCost {
  readonly class: NodeClass;
}

/**
 * The roofline of one run of an op that is not a weight layer, from its operands' and results'
 * dims and the bytes it reads and writes (`op` as the executor runs it, fused ops by their fused
 * name; `sizes`: the bytes each operand and result holds): a MatMul of two activations by its
 * multiply-adds at the dense kernel's rate for its columns; Softmax, LayerNorm, GELU and the other
 * transcendental ops by their kernels' flops per element at the register roof (a bound: their
 * dependency chains keep them below it); every other op by its bytes at cache or memory
 * bandwidth; shape ops as free.
 */
export function predictNode(op: string, inputs: readonly (readonly number[])[], outputs: readonly (readonly number[])[], sizes: { readonly inputs: readonly number[]; readonly outputs: readonly number[] }, machine: MachineProfile): NodeCost {
  if (SHAPE_OPS.has(op)) return { class: 'shape op', flops: 0, bytes: 0, seconds: 0, bound: 'memory' };
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  // A gather reads only what it writes (an embedding table's 128 rows, not its 30,522) and its
  // indices, a slice only what it writes; every other op reads its operands whole.
  const written = sum(sizes.outputs);
  const bytes = op === 'Slice' ? 2 * written : GATHER_OPS.has(op) ? 2 * written + sum(sizes.inputs.slice(1)) : sum(sizes.inputs) + written;
  const elements = size(outputs[0] ?? []);
  const products = activationMultiplyAdds(op, inputs, outputs);
  if (products !== undefined) {
    const b = inputs[1];
    const n = b.length === 1 ? 1 : b[b.length - 1];
    return { class: 'activation product', ...cost(2 * products, bytes, rateAt(machine.denseFlops, n), machine) };
  }
  const perElement = VECTOR_OP_FLOPS[op];
  if (perElement !== undefined) return { class: 'vector op', ...cost(perElement * elements, bytes, machine.roofFlops?.registers ?? machine.denseFlops.batch, machine) };
  return { class: 'memory op', ...cost(0, bytes, Infinity, machine) };
}

/**
 * The multiply-adds of a MatMul that is not a weight layer (attention's products of two
 * activations): the output's elements × the shared dimension; undefined for any other op.
 */
export function activationMultiplyAdds(op: string, inputs: readonly (readonly number[])[], outputs: readonly (readonly number[])[]): number | undefined {
  if ((op !== 'MatMul' && op !== 'FusedMatMul') || inputs.length < 2 || (inputs[0]?.length ?? 0) < 1 || (inputs[1]?.length ?? 0) < 1) return undefined;
  const a = inputs[0];
  return size(outputs[0] ?? []) * a[a.length - 1];
}

/** Bytes per CSR column index for a matrix with `cols` columns. */
export function csrIndexBytes(cols: number): number {
  return cols <= 0x10000 ? 2 : 4;
}

/**
 * Dense bytes: weights + x + y. Sparse CSR bytes: values + indices + row pointers + x + y.
 * Working sets within `cacheBytes` are charged at cache bandwidth (small layers stay cached).
 */
export function predictLayer(shape: LayerShape, nonzeros: number, machine: MachineProfile): LayerPrediction {
  const { rows, cols, batch } = shape;
  const io = 4 * (rows + cols) * batch;
  const dense = cost(2 * rows * cols * batch, 4 * rows * cols + io, rateAt(machine.denseFlops, batch), machine);
  const sparse = cost(
    2 * nonzeros * batch,
    nonzeros * (4 + csrIndexBytes(cols)) + 4 * (rows + 1) + io,
    rateAt(machine.sparseFlops, batch),
    machine,
  );
  return { dense, sparse, speedup: dense.seconds / sparse.seconds, flopSpeedup: nonzeros > 0 ? (rows * cols) / nonzeros : Infinity };
}

/**
 * The density (nonzeros / (rows·cols)) below which the sparse kernel is predicted to be faster;
 * 0 if it never is, 1 if it always is. Sparse time grows monotonically with density, dense is flat.
 */
export function crossoverDensity(shape: LayerShape, machine: MachineProfile): number {
  const n = shape.rows * shape.cols;
  const faster = (d: number) => {
    const p = predictLayer(shape, d * n, machine);
    return p.sparse.seconds < p.dense.seconds;
  };
  if (!faster(0)) return 0;
  if (faster(1)) return 1;
  let lo = 0, hi = 1;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (faster(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * How much faster CSR must be predicted to be before the engine picks it: near the crossover both
 * roofline limits are close and the real time exceeds their maximum.
 */
export const KERNEL_MARGIN = 1.4;

/**
 * Which kernel the engine should run: CSR only where it is predicted to beat dense by `margin`,
 * so that prediction error falls back to dense, not to a loss. With `keptRows` (rows holding any
 * nonzero) below `rows`, a dense kernel over those rows alone ('rows': channel pruning) is a third
 * candidate, and it needs no margin: it does strictly less of the dense kernel's work.
 */
export function chooseKernel(shape: LayerShape, nonzeros: number, machine: MachineProfile, margin = KERNEL_MARGIN, keptRows = shape.rows): 'csr' | 'dense' | 'rows' {
  const p = predictLayer(shape, nonzeros, machine);
  let best: 'dense' | 'rows' = 'dense';
  let bestSeconds = p.dense.seconds;
  if (keptRows < shape.rows) {
    const r = predictLayer({ ...shape, rows: keptRows }, keptRows * shape.cols, machine).dense.seconds;
    if (r < bestSeconds) { best = 'rows'; bestSeconds = r; }
  }
  return p.sparse.seconds * margin < bestSeconds ? 'csr' : best;
}

export interface CurvePoint {
  readonly sparsity: number;
  /** Dense time over the faster kernel's predicted time (never below 1: dense is the fallback). */
  readonly predictedSpeedup: number;
  /** Dense time over CSR time, whether or not CSR would be chosen. */
  readonly sparseSpeedup: number;
  /** What a FLOP count promises: 1 / density. */
  readonly flopSpeedup: number;
}

/** Predicted speed-up against sparsity for one layer shape and batch, for plots beside measurements. */
export function speedupCurve(shape: LayerShape, machine: MachineProfile, sparsities: readonly number[] = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]): CurvePoint[] {
  const n = shape.rows * shape.cols;
  return sparsities.map((sparsity) => {
    const p = predictLayer(shape, Math.round((1 - sparsity) * n), machine);
    return { sparsity, predictedSpeedup: Math.max(1, p.speedup), sparseSpeedup: p.speedup, flopSpeedup: p.flopSpeedup };
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median seconds of `run` over `repeats` timed calls after `warmup` untimed ones. */
export function timeMedian(run: () => void, repeats = 9, warmup = 2): number {
  for (let i = 0; i < warmup; i++) run();
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const s = performance.now();
    run();
    t.push((performance.now() - s) / 1000);
  }
  return median(t);
}

/** Fastest of `repeats` timed calls in seconds: a machine's capability, which interference only hides. */
export function timeBest(run: () => void, repeats = 9, warmup = 2): number {
  for (let i = 0; i < warmup; i++) run();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const s = performance.now();
    run();
    best = Math.min(best, (performance.now() - s) / 1000);
  }
  return best;
}

export interface MeasureOptions {
  /** Bytes streamed for the bandwidth measurement (default 64 MiB: well beyond the caches). */
  readonly streamBytes?: number;
  readonly repeats?: number;
}

/**
 * Measures bandwidth with a streaming SIMD read and kernel rates on matrices that fit in cache,
 * in a fresh kernel instance (about half a second), keeping the fastest of the repeats.
 */
export function measureMachine(options: MeasureOptions = {}): MachineProfile {
  const k = new Kernels();
  const repeats = options.repeats ?? 9;
  const wide = 4096;
  const streamRows = Math.max(1, Math.floor((options.streamBytes ?? 64 * 2 ** 20) / (4 * wide)));
  const streamFloats = streamRows * wide;
  const buf = k.alloc(streamFloats * 4);
  // Write every page first: untouched pages all map to one zero page and would read from cache.
  k.f32(buf, streamFloats).fill(1);
  const streamSeconds = timeBest(() => k.exports.streamSum(buf, streamFloats), repeats);
  const streamBandwidth = (streamFloats * 4) / streamSeconds;
  // The bandwidth a weight-streaming kernel sustains: the dense matrix-vector product over the
  // same buffer read as a [rows, 4096] matrix (it issues more than the pure stream's loads).
  const xv = k.alloc(wide * 4);
  k.f32(xv, wide).fill(0.5);
  const yv = k.alloc(streamRows * 4);
  const gemvSeconds = timeBest(() => k.exports.gemv(streamRows, wide, buf, xv, yv, 0, 0), repeats);
  const bandwidth = Math.min(streamBandwidth, (streamFloats * 4) / gemvSeconds);
  const cacheFloats = 32 * 1024;
  const cacheSeconds = timeBest(() => { for (let i = 0; i < 64; i++) k.exports.streamSum(buf, cacheFloats); }, repeats);
  const cacheBandwidth = (64 * cacheFloats * 4) / cacheSeconds;

  // Arithmetic rates on cache-resident problems: 256×256 dense (256 KiB); CSR 256×4096 at 20%
  // (rows of ~800 nonzeros, like the large layers the engine cares about).
  const rows = 256, cols = 256;
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const dense = uploadDense(k, w, rows, cols);
  const sr = 256, sc = wide;
  const ws = new Float32Array(sr * sc);
  let state = 12345;
  let nnz = 0;
  for (let i = 0; i < ws.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    if ((state >>> 16) % 5 === 0) { ws[i] = (state >>> 8) / 2 ** 24 - 0.5; nnz++; }
  }
  const sparse = uploadCsr(k, denseToCsr(ws, sr, sc));
  // At WIDE_COLUMNS, the CSR matrix's first 1024 columns, so that X^T (512 KiB) stays in cache as a
  // transformer's 768 × 128 tokens does.
  const wideCols = 1024;
  const wsWide = new Float32Array(sr * wideCols);
  for (let r = 0; r < sr; r++) wsWide.set(ws.subarray(r * sc, r * sc + wideCols), r * wideCols);
  const sparseWide = uploadCsr(k, denseToCsr(wsWide, sr, wideCols));
  const nnzWide = sparseWide.nonzeros;
  const ld = batchStride(BATCH_COLUMNS), ldWide = batchStride(WIDE_COLUMNS);
  const xFloats = Math.max(Math.max(cols, sc) * ld, Math.max(cols, wideCols) * ldWide);
  const x = k.alloc(xFloats * 4);
  k.f32(x, xFloats).fill(0.5);
  const y = k.alloc(Math.max(rows, sr) * ldWide * 4);
  // Each timed loop runs for WARM_MS first: V8 runs a WebAssembly function in its baseline tier
  // until it has run a while and its optimized code is compiled in the background, and the first
  // calls timed before that made the batch rates vary 4× between processes (measured here).
  const loop = (inner: number, f: () => void) => {
    const run = () => { for (let i = 0; i < inner; i++) f(); };
    for (const end = performance.now() + WARM_MS; performance.now() < end;) run();
    return run;
  };
  const dv = timeBest(loop(20, () => dense.runVector(x, y, false)), repeats) / 20;
  const db = timeBest(loop(4, () => dense.runBatch(x, ld, y, false)), repeats) / 4;
  const dw = timeBest(loop(1, () => dense.runBatch(x, ldWide, y, false)), repeats);
  const sv = timeBest(loop(4, () => sparse.runVector(x, y, false)), repeats) / 4;
  const sb = timeBest(loop(1, () => sparse.runBatch(x, ld, y, false)), repeats);
  const sw = timeBest(loop(1, () => sparseWide.runBatch(x, ldWide, y, false)), repeats);
  let registerFlops = 0, loadedFlops = 0;
  const rr = timeBest(() => { registerFlops = peakRound(k); }, repeats);
  const rl = timeBest(() => { loadedFlops = peakLoadRound(k); }, repeats);
  return {
    bandwidth,
    streamBandwidth,
    cacheBandwidth,
    cacheBytes: 512 * 1024,
    denseFlops: { vector: (2 * rows * cols) / dv, batch: (2 * rows * cols * BATCH_COLUMNS) / db, wide: (2 * rows * cols * WIDE_COLUMNS) / dw },
    sparseFlops: { vector: (2 * nnz) / sv, batch: (2 * nnz * BATCH_COLUMNS) / sb, wide: (2 * nnzWide * WIDE_COLUMNS) / sw },
    roofFlops: { registers: registerFlops / rr, loaded: loadedFlops / rl },
  };
}

/** How long each of measureMachine's kernels runs before it is timed. */
const WARM_MS = 20;

/** Rounds of peakMadd per call: 96 flops each, about 5 ms at the 30–40 GFLOP/s measured here. */
export const PEAK_ROUNDS = 2_000_000;

/**
 * One call of the compute-roof loop (kernels' peakMadd: 12 independent fused multiply-adds in
 * registers, no loads), for callers that interleave it with other engines; returns its flops.
 */
export function peakRound(k: Kernels): number {
  k.exports.peakMadd(PEAK_ROUNDS, 1, 0);
  return PEAK_ROUNDS * 96;
}

const loadBuffers = new WeakMap<Kernels, number>();

/**
 * One call of the loaded roof (kernels' peakLoadMadd: each fused multiply-add fed by a 16-byte load
 * from an L1-resident buffer, as an unstructured sparse product's must be); returns its flops.
 */
export function peakLoadRound(k: Kernels): number {
  let buf = loadBuffers.get(k);
  if (buf === undefined) {
    buf = k.alloc(4096);
    k.f32(buf, 1024).fill(0.5);
    loadBuffers.set(k, buf);
  }
  k.exports.peakLoadMadd(PEAK_ROUNDS, buf);
  return PEAK_ROUNDS * 64;
}

/**
 * The most a sparse engine could gain over a peer: the peer's time over the time the kept
 * multiply-adds alone would take at the compute roof (nothing else run, nothing loaded). Where this
 * is below a target, no kernel in this build of 128-bit SIMD reaches the target on this machine.
 */
export function ceilingSpeedup(peerMs: number, keptMultiplyAdds: number, peakFlops: number): number {
  return peerMs / ((2 * keptMultiplyAdds) / peakFlops * 1000);
}
