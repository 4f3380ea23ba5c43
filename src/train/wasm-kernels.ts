/**
 * Kernels registered on the wasm backend: the gradient kernels it lacks (so convolutional nets
 * train on it) and a faster transposed matrix product (its own is ~10× slower than the plain one
 * when transposeA/transposeB is set, and backprop through Dense layers uses exactly those).
 *
 * Conv2DBackpropFilter runs as im2col (plain JS over the wasm heap) followed by the backend's
 * XNNPACK matrix product; Conv2DBackpropInput (stride 1) as an XNNPACK convolution with the
 * rotated filter; the depthwise kernels are direct loops (they are cheap).
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

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
    tf.registerKernel({ ...matMul, kernelFunc: batchMatMulTransposing as unknown as KernelFunc });
  }
}

let originalMatMul: KernelFunc | undefined;
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
