/**
 * sculpt's library API. The command line is a thin layer over these functions.
 *
 *   import { pruneFile, pruneOptions } from 'sculpt-ml';
 *   pruneFile('model.onnx', 'model-90.onnx', pruneOptions({ sparsity: 0.9 }));
 *
 * `pruneOptions` (from core) fills the defaults and refuses wrong values with a SculptError naming
 * the option (`options.pattern`), so JavaScript callers get no silent no-op.
 */
export * from './core/index.js';
export {
  readOnnx, writeOnnx, writeOnnxMasked, OnnxModel, openSafetensors, readSafetensors, writeSafetensorsStreaming,
  SafetensorsFile, assertFinite, type MaskLike, type SafetensorsEntry, type SafetensorsOptions, type TensorTransform,
} from './formats/index.js';
export { pruneFile, type PruneFileResult, type PruneFileHooks } from './api/prune-file.js';
export { inspectFile, type ModelInfo, type TensorInfo } from './api/inspect-file.js';
export { shrinkFile, channelGroupsOfFile, channelsRemovedByMasks, type ShrinkOptions, type ShrinkFileResult, type GroupInfo } from './api/shrink-file.js';
export { buildChannelGraph, type ChannelGraph, type ChannelGroup, type ChannelSlice } from './formats/onnx-depgraph.js';
export { formatOf, type ModelFormat } from './api/model-file.js';
export { exportTfjsToOnnx, type ExportOnnxResult } from './api/export-onnx.js';
export { openModel, detectFormat, registerFormat, type ModelFile, type ModelEdits, type FormatHandler, type WriteReport } from './formats/registry.js';
export * from './report/index.js';
export { parseIdx, readIdxFile, type IdxArray } from './formats/idx.js';
export {
  openDataset, registerDataset, parseDataSpec, datasetReaders, batches as datasetBatches, firstExamples, loadTokenizer,
  type ExampleSet, type DataOptions, type DatasetReader, type Batch, type TextWindows, type TextTokenizer,
} from './formats/datasets/index.js';
export { evalFile, type EvalOptions, type EvalResult, type EvalMetric, type EvalEngine } from './api/eval.js';
export { FeedBuilder, openDatasetFor } from './api/data-feed.js';
export { pruneLanguageModelFile, type LmCalibration, type LmPruneResult } from './api/prune-lm.js';
export { sparseGptLazy, inverseHessianUpper, reconstructionError, type SparseGptLazyOptions } from './core/sparsegpt-lazy.js';
export { owlSparsities, outlierRatio, blockOfName, OWL_DEFAULTS, type OwlOptions } from './core/allocation-owl.js';

// Training on TensorFlow.js (loading these pulls in TF.js).
export { runTrain, runImp, runGmp, runOneShot, CONTROLS, type Control, type ImpOptions, type GmpOptions, type OneShotOptions } from './train/methods.js';
export type {
  SessionOptions, PruneSettings, RunResult, RunDetails, Metrics, RoundMetrics, TrainEvent, ProgressFn, RunKind,
  LayerDensity as TrainLayerDensity,
} from './train/session.js';
export { setupBackend, parseBackend, type BackendInfo, type BackendRequest } from './train/backend.js';
export { loadDataset, splitExamples, type Dataset, type DatasetOptions, type Split } from './train/data.js';
export { buildModel, ZOO_MODELS, type ZooModelName } from './train/zoo.js';
export { saveModelFolder, loadModelFolder } from './train/model-io.js';
export { toWeightSet } from './train/weights.js';
export { trainModel, evaluate, DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainResult } from './train/loop.js';
export { MaskState } from './train/masking.js';
export { polynomialSchedule, constantSchedule, lrSchedule, parseLrSchedule, type PruningSchedule, type PruningDecision } from './train/schedules.js';
export * from './sparse/index.js';
export { threadedKernels } from './sparse/threads.js';
export { packFile, type PackFileOptions, type PackFileResult, type PackFormat, type PackedTensorInfo } from './api/sparse-pack.js';
export { runFile, runModel, readInputs, type RunEngine, type RunFileResult } from './api/sparse-run.js';
export { loadSparseModel, type SparseModelFile } from './api/sparse-model.js';
export { benchFile, benchGraph, benchSweep, benchInputs, type BenchOptions, type BenchResult, type BenchLayer, type SweepPoint } from './api/sparse-bench.js';
export { machineProfile, machineCachePath, readMachineCache, readMachineProfileFile, MACHINE_PROFILE_ENV, type MachineResult, type MachineCache } from './api/sparse-machine.js';

// Analyses of what pruning does (robustness, privacy, lottery probability, sensor selection).
export * from './analysis/index.js';

// Multi-seed sweeps (sculpt sweep): grid files, job keys, the local process pool, cell statistics.
export { readSweepGrid, parseSweepGrid, type SweepGrid, type GridValue } from './api/sweep-grid.js';
export { sweepJobs, jobKey, canonicalJson, type SweepJob, type CommandShape } from './api/sweep-jobs.js';
export { runSweep, type JobOutcome, type PoolProgress } from './api/sweep-run.js';
export { sweepCells, cellLabel, type SweepCell } from './api/sweep-cells.js';
