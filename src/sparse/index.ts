/** sculpt's sparse layer: storage formats, WebAssembly kernels, roofline, executor, `.sculpt` container. */
export {
  chooseFormat, countNonzeros, denseToBitmask, denseToBlock, denseToCsr, denseToNm, fitsNm, nmIndexBits, storageBytes, toDense, toSparse,
  type BitmaskMatrix, type BlockMatrix, type CsrMatrix, type FormatChoice, type FormatOptions, type NmMatrix, type SparseMatrix, type StorageKind,
} from './formats.js';
export {
  Kernels, kernelBuild, relaxedSimdAvailable, prepareKernels, applyChain, applyLinear, applyLinearTransposed, batchStride, nonzeroRows, uploadCsr, uploadDense, uploadRows, type KernelBuild, type KernelKind, type LinearKernel,
} from './kernels.js';
export {
  KERNEL_MARGIN, chooseKernel, crossoverDensity, speedupCurve, type CurvePoint, csrIndexBytes, measureMachine, predictLayer, timeBest, timeMedian,
  type KernelCost, type LayerPrediction, type LayerShape, type MachineProfile, type MeasureOptions,
} from './roofline.js';
export { SparseExecutor, supportedOps, matmulGeneric, type ExecutorOptions, type LayerProfile, type WeightLayer } from './executor.js';
export { erf } from './ops.js';
export type { DType, Tensor } from './tensor.js';
export {
  SCULPT_VERSION, containerOnnx, fromFloat16Bits, packContainer, packedMatrix, readSculptHeader, toFloat16Bits, unpackWeights,
  type PackOptions, type PackReport, type PackedTensor, type SculptHeader, type SectionRef, type WeightInput,
} from './container.js';
export { parseNpy, writeNpy } from './npy.js';
