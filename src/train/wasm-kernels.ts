/**
 * Kernels registered on the wasm backend: the gradient kernels it lacks (so convolutional nets
 * train on it) and faster matrix products. The float32 matrix products of Dense layers (forward,
 * fused with bias and ReLU, and both gradients) run on sculpt's dense kernel (asm/kernels.ts, with
 * relaxed-SIMD fused multiply-adds) over the backend's own heap (train/wasm-heap.ts): 1.2–1.6× the
 * backend's XNNPACK products on LeNet-300-100's shapes, measured side by side, and a transposed
 * operand is laid out by sculpt's SIMD transposes, or avoided by computing the product transposed.
 * Other products run on the backend's, with a transposed operand transposed first (its own
 * transposed product is ~10× slower than the plain one).
 *
 * Conv2DBackpropFilter runs as im2col (plain JS over the wasm heap) followed by the backend's
 * XNNPACK matrix product; Conv2DBackpropInput (stride 1) as an XNNPACK convolution with the
 * rotated filter; the depthwise kernels are direct loops (they are cheap).
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { plainSimdForced, validatesWithRelaxedSimd, wasmBytes } from '../core/wasm-bytes.js';
import { KERNELS_RELAXED_HEAP_WASM_BASE64 } from './wasm/kernels-heap-wasm.js';
import { heapF32, overHeap, wasmHeap, type WasmHeapBackend } from './wasm-heap.js';

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): backend_util.TypedArray;
  disposeData(dataId: object): boolean;
}

type Args = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs: Record<string, any> };

let registered = false;

/** Registers the kernels once; must run after tfjs-backend-wasm is imported and before setBackend('wasm'). */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  const configs: KernelConfig[] = [
    { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as KernelFunc },
    { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilter as unknown as KernelFunc },
    { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput as unknown as KernelFunc },
  ];
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, 'wasm') === undefined) tf.registerKernel(c);
  }
  const conv = tf.getKernel('Conv2D', 'wasm');
  const backpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (conv !== undefined && backpropInput !== undefined) {
    originalConv2D = conv.kernelFunc;
    originalBackpropInput = backpropInput.kernelFunc;
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({ ...backpropInput, kernelFunc: conv2DBackpropInput as unknown as KernelFunc });
  }
  originalTranspose = tf.getKernel('Transpose', 'wasm')?.kernelFunc;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (matMul !== undefined) {
    originalMatMul = matMul.kernelFunc;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...matMul, kernelFunc: batchMatMul as unknown as KernelFunc });
  }
  const fused = tf.getKernel('_FusedMatMul', 'wasm');
  if (fused !== undefined) {
    originalFusedMatMul = fused.kernelFunc;
    tf.unregisterKernel('_FusedMatMul', 'wasm');
    tf.registerKernel({ ...fused, kernelFunc: fusedMatMul as unknown as KernelFunc });
  }
}

let originalMatMul: KernelFunc | undefined;
let originalFusedMatMul: KernelFunc | undefined;
let originalTranspose: KernelFunc | undefined;
let originalConv2D: KernelFunc | undefined;
let originalBackpropInput: KernelFunc | undefined;

/** Plain product on the backend's own kernel (XNNPACK), no transposes. */
function plainMatMul(a: TensorInfo, b: TensorInfo, backend: WasmBackendLike): TensorInfo {
  return (originalMatMul as KernelFunc)({ inputs: { a, b }, backend: backend as never, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
}

/** The transpose of a matrix on the backend's own Transpose kernel (compiled C++; a JavaScript loop over the heap took 3× as long). */
function transpose2d(t: TensorInfo, backend: WasmBackendLike, transpose: KernelFunc): TensorInfo {
  return transpose({ inputs: { x: t }, backend: backend as never, attrs: { perm: [1, 0] } }) as TensorInfo;
}

/** sculpt's kernels (asm/kernels.ts) over the heap: the parts the products use. */
interface HeapKernels {
  gemm(rows: number, cols: number, w: number, xt: number, ld: number, yt: number, bias: number, relu: number, tile: number): void;
  transposeIn(src: number, rows: number, cols: number, dst: number, ld: number, srcStride: number): void;
  transposeOut(src: number, rows: number, cols: number, ld: number, dst: number, dstStride: number): void;
  binaryRows(op: number, ka: number, a: number, kb: number, b: number, rows: number, n: number, y: number): void;
  reluN(x: number, n: number, y: number): void;
}

/** The compiled module (null: this runtime has no relaxed SIMD, or SCULPT_KERNELS=simd asks for none). */
let heapModule: WebAssembly.Module | null | undefined;
const heapInstances = new WeakMap<WasmHeapBackend, HeapKernels>();

function heapKernels(backend: unknown): { heap: WasmHeapBackend; k: HeapKernels } | undefined {
  const heap = wasmHeap(backend);
  if (heap === undefined) return undefined;
  if (heapModule === undefined) {
    const bytes = wasmBytes(KERNELS_RELAXED_HEAP_WASM_BASE64);
    heapModule = !plainSimdForced() && validatesWithRelaxedSimd(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  if (heapModule === null) return undefined;
  let k = heapInstances.get(heap);
  if (k === undefined) heapInstances.set(heap, (k = overHeap<HeapKernels>(heapModule, heap)));
  return { heap, k };
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** [rows, cols] of a matrix given as 2-D or as 3-D with one batch (tfjs's ops pass 3-D); else undefined. */
function matrixDims(t: TensorInfo): [number, number] | undefined {
  if (t.dtype !== 'float32') return undefined;
  if (t.shape.length === 2) return [t.shape[0], t.shape[1]];
  if (t.shape.length === 3 && t.shape[0] === 1) return [t.shape[1], t.shape[2]];
  return undefined;
}

/**
 * C = op(A)·op(B) for float32 matrices A and B (2-D, or 3-D with one batch) on sculpt's dense
 * kernel over the heap, plus `bias` (one per column of C) and ReLU; undefined where that does not
 * apply (the caller runs the backend's). C is 3-D when an operand is.
 * The kernel computes Y [rows, ld] = W [rows, cols] · X [cols, ld] (ld a multiple of 4), so C is
 * either that directly (W = op(A), X = op(B); the bias added after) or transposed (W = op(B)ᵀ,
 * X = op(A)ᵀ, the bias and ReLU fused, then Cᵀ transposed back): whichever lays out fewer values.
 */
function heapMatMul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, backend: unknown, bias?: TensorInfo, relu = false): TensorInfo | undefined {
  const ad = matrixDims(a), bd = matrixDims(b);
  if (ad === undefined || bd === undefined) return undefined;
  const [m, ka] = transposeA ? [ad[1], ad[0]] : ad;
  const [kb, n] = transposeB ? [bd[1], bd[0]] : bd;
  if (ka !== kb || m * n === 0 || ka === 0) return undefined;
  if (bias !== undefined && (bias.dtype !== 'float32' || size(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n)) return undefined;
  const hk = heapKernels(backend);
  if (hk === undefined) return undefined;
  const { heap, k } = hk;
  const K = ka;
  const ld = Math.ceil(m / 4) * 4;
  // Values each form copies: the transposed operands (and, transposed, the result).
  const direct = n % 4 === 0 ? (transposeA ? m * K : 0) + (transposeB ? K * n : 0) : Infinity;
  const transposed = (transposeB ? 0 : K * n) + (transposeA && m % 4 === 0 ? 0 : m * K) + m * n;
  const ap = heap.getMemoryOffset(a.dataId), bp = heap.getMemoryOffset(b.dataId);
  const biasPtr = bias === undefined ? 0 : heap.getMemoryOffset(bias.dataId);
  const out = heap.makeOutput(a.shape.length === 3 || b.shape.length === 3 ? [1, m, n] : [m, n], 'float32');
  const cp = heap.getMemoryOffset(out.dataId);
  const scratch: number[] = [];
  const alloc = (floats: number) => {
    const p = heap.wasm._malloc(floats * 4);
    if (!p) throw new Error(`matMul: the wasm backend could not allocate ${floats * 4} bytes`);
    scratch.push(p);
    return p;
  };
  try {
    if (direct <= transposed) {
      // W = op(A) [m, K] and X = op(B) [K, n], each transposed into scratch where it is stored transposed.
      let w = ap, x = bp;
      if (transposeA) k.transposeIn(ap, K, m, (w = alloc(m * K)), K, m);
      if (transposeB) k.transposeIn(bp, n, K, (x = alloc(K * n)), n, K);
      k.gemm(m, K, w, x, n, cp, 0, 0, n);
      if (biasPtr) k.binaryRows(0, 0, cp, 1, biasPtr, m, n, cp);
      if (relu) k.reluN(cp, m * n, cp);
    } else {
      // W = op(B)ᵀ [n, K] (B itself when transposeB) and Xᵀ = op(A)ᵀ [K, ld] (A itself when
      // transposeA and m fills the 4-lane rows, else its rows copied into padded ones).
      let w = bp, xt = ap;
      if (!transposeB) k.transposeIn(bp, K, n, (w = alloc(n * K)), K, n);
      if (!transposeA) k.transposeIn(ap, m, K, (xt = alloc(K * ld)), ld, K);
      else if (m !== ld) {
        xt = alloc(K * ld);
        const src = heapF32(heap, ap, K * m), dst = heapF32(heap, xt, K * ld);
        for (let r = 0; r < K; r++) {
          dst.set(src.subarray(r * m, (r + 1) * m), r * ld);
          dst.fill(0, r * ld + m, (r + 1) * ld);
        }
      }
      const yt = alloc(n * ld);
      k.gemm(n, K, w, xt, ld, yt, biasPtr, relu ? 1 : 0, ld);
      k.transposeOut(yt, m, n, ld, cp, n);
    }
  } finally {
    for (const p of scratch) heap.wasm._free(p);
  }
  return out;
}

function batchMatMul(args: Args): TensorInfo {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  return heapMatMul(a, b, !!transposeA, !!transposeB, args.backend) ?? batchMatMulTransposing(args);
}

/** The forward product of a Dense layer: matMul with bias and activation in one kernel. */
function fusedMatMul(args: Args): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const { transposeA, transposeB, activation } = args.attrs;
  const act = activation ?? 'linear';
  if (preluActivationWeights === undefined && (act === 'linear' || act === 'relu')) {
    const out = heapMatMul(a, b, !!transposeA, !!transposeB, args.backend, bias, act === 'relu');
    if (out !== undefined) return out;
  }
  return (originalFusedMatMul as KernelFunc)(args as never) as TensorInfo;
}

function batchMatMulTransposing(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const transpose = originalTranspose;
  if ((!transposeA && !transposeB) || !transpose || a.shape.length !== 2 || b.shape.length !== 2 || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return (originalMatMul as KernelFunc)(args as never) as TensorInfo;
  }
  const at = transposeA ? transpose2d(a, backend, transpose) : a;
  const bt = transposeB ? transpose2d(b, backend, transpose) : b;
  const out = plainMatMul(at, bt, backend);
  if (at !== a) backend.disposeData(at.dataId);
  if (bt !== b) backend.disposeData(bt.dataId);
  return out;
}

/** Largest im2col block, in floats, before the batch is processed in chunks. */
const IM2COL_BLOCK = 8 * 1024 * 1024;
/** Input channels gathered per im2col pass (64: all channels of a pixel for the zoo's convs). */
const CTILE = 64;

function conv2DBackpropFilter(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${dataFormat}`);
  }
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const K = filterHeight * filterWidth * inChannels;
  const rowsPerImage = outHeight * outWidth;
  const imagesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(IM2COL_BLOCK / (K * rowsPerImage))));
  const result = new Float32Array(K * outChannels);
  for (let b0 = 0; b0 < batchSize; b0 += imagesPerChunk) {
    const nb = Math.min(imagesPerChunk, batchSize - b0);
    const N = nb * rowsPerImage;
    // dW [K, out] = colsT [K, N] · dy [N, out]; XNNPACK packs its right operand on every call,
    // so the small dy goes on the right. Row k = (fh, fw, c), column n = (image, oh, ow).
    const colsInfo = backend.makeOutput([K, N], 'float32');
    const dyChunk = backend.makeOutput([N, outChannels], 'float32');
    const cols = backend.typedArrayFromHeap(colsInfo) as Float32Array;
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
    (backend.typedArrayFromHeap(dyChunk) as Float32Array).set(dyv.subarray(b0 * rowsPerImage * outChannels, (b0 + nb) * rowsPerImage * outChannels));
    const imageSize = inHeight * inWidth * inChannels;
    // Channels in tiles of CTILE: each pass reads CTILE contiguous floats per pixel and writes
    // CTILE sequential row streams, instead of re-reading x once per row with a large stride.
    for (let fh = 0; fh < filterHeight; fh++) {
      for (let fw = 0; fw < filterWidth; fw++) {
        const kBase = (fh * filterWidth + fw) * inChannels;
        for (let c0 = 0; c0 < inChannels; c0 += CTILE) {
          const c1 = Math.min(c0 + CTILE, inChannels);
          let n = 0;
          for (let bi = 0; bi < nb; bi++) {
            const xImage = (b0 + bi) * imageSize;
            for (let oh = 0; oh < outHeight; oh++) {
              const ih = oh * strideHeight + fh - padTop;
              for (let ow = 0; ow < outWidth; ow++, n++) {
                const iw = ow * strideWidth + fw - padLeft;
                if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
                  for (let c = c0; c < c1; c++) cols[(kBase + c) * N + n] = 0;
                } else {
                  const src = xImage + (ih * inWidth + iw) * inChannels;
                  for (let c = c0; c < c1; c++) cols[(kBase + c) * N + n] = xv[src + c];
                }
              }
            }
          }
        }
      }
    }
    const part = plainMatMul(colsInfo, dyChunk, backend);
    const pv = backend.typedArrayFromHeap(part) as Float32Array;
    for (let i = 0; i < result.length; i++) result[i] += pv[i];
    backend.disposeData(part.dataId);
    backend.disposeData(colsInfo.dataId);
    backend.disposeData(dyChunk.dataId);
  }
  const out = backend.makeOutput(filterShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(result);
  return out;
}

/**
 * dx of a stride-1 convolution is itself a convolution of dy with the filter rotated by 180° and
 * its in/out axes swapped; run that on the backend's XNNPACK Conv2D (its own BackpropInput is a
 * naive loop, ~10× slower). Other strides fall back to the original kernel.
 */
function conv2DBackpropInput(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight: kh, filterWidth: kw } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inHeight - outHeight - top + kh - 1;
  const right = inWidth - outWidth - left + kw - 1;
  const plain = (dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast') && info.strideHeight === 1 && info.strideWidth === 1;
  if (!plain || top < 0 || left < 0 || bottom < 0 || right < 0 || originalConv2D === undefined) {
    return (originalBackpropInput as KernelFunc)(args as never) as TensorInfo;
  }
  const rotated = backend.makeOutput([kh, kw, outChannels, inChannels], 'float32');
  const rv = backend.typedArrayFromHeap(rotated) as Float32Array;
  const wv = backend.typedArrayFromHeap(filter) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const src = ((kh - 1 - a) * kw + (kw - 1 - b)) * inChannels * outChannels;
      const dst = (a * kw + b) * outChannels * inChannels;
      for (let c = 0; c < inChannels; c++) {
        for (let o = 0; o < outChannels; o++) rv[dst + o * inChannels + c] = wv[src + c * outChannels + o];
      }
    }
  }
  const out = originalConv2D({
    inputs: { x: dy, filter: rotated }, backend: backend as never,
    attrs: { strides: 1, dilations: 1, pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dimRoundingMode },
  }) as TensorInfo;
  backend.disposeData(rotated.dataId);
  return out;
}

function depthwiseInfo(xShape: number[], filterShape: [number, number, number, number], attrs: Record<string, any>): backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode } = attrs;
  const dilations = attrs.dilations ?? 1;
  return backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true);
}

function depthwiseBackpropFilter(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const mult = outChannels / inChannels;
  const result = new Float32Array(filterHeight * filterWidth * inChannels * mult);
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let fh = 0; fh < filterHeight; fh++) {
        const ih = oh * strideHeight + fh * dilationHeight - info.padInfo.top;
        if (ih < 0 || ih >= inHeight) continue;
        for (let ow = 0; ow < outWidth; ow++) {
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth + fw * dilationWidth - info.padInfo.left;
            if (iw < 0 || iw >= inWidth) continue;
            const xBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wBase = (fh * filterWidth + fw) * inChannels * mult;
            for (let c = 0; c < inChannels; c++) {
              const xval = xv[xBase + c];
              for (let m = 0; m < mult; m++) result[wBase + c * mult + m] += xval * dyv[dyBase + c * mult + m];
            }
          }
        }
      }
    }
  }
  const out = backend.makeOutput(filterShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(result);
  return out;
}

function depthwiseBackpropInput(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfo(inputShape, filter.shape as [number, number, number, number], attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const mult = outChannels / inChannels;
  const result = new Float32Array(batchSize * inHeight * inWidth * inChannels);
  const wv = backend.typedArrayFromHeap(filter) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let fh = 0; fh < filterHeight; fh++) {
        const ih = oh * strideHeight + fh * dilationHeight - info.padInfo.top;
        if (ih < 0 || ih >= inHeight) continue;
        for (let ow = 0; ow < outWidth; ow++) {
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth + fw * dilationWidth - info.padInfo.left;
            if (iw < 0 || iw >= inWidth) continue;
            const xBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wBase = (fh * filterWidth + fw) * inChannels * mult;
            for (let c = 0; c < inChannels; c++) {
              let s = 0;
              for (let m = 0; m < mult; m++) s += wv[wBase + c * mult + m] * dyv[dyBase + c * mult + m];
              result[xBase + c] += s;
            }
          }
        }
      }
    }
  }
  const out = backend.makeOutput(inputShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(result);
  return out;
}
