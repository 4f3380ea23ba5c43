/**
 * Experiments as a registry of named runners. Each returns plain data: `result` (the JSON written
 * to NAME.json and printed with --json) and `report` (the page). Anything needing Node — the
 * dataset and model builder — is injected by the caller, so this layer runs in a browser too.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Mask } from '../../core/mask.js';
import type { ReportData } from '../../report/types.js';
import type { Dataset } from '../../train/data.js';

export interface ExperimentContext {
  /** Small, fast form (fewer examples, epochs, trials): same method. */
  readonly quick: boolean;
  readonly seed: number;
  /** Loads Fashion-MNIST with the given limits (injected by the CLI). */
  loadData(trainLimit: number, testLimit: number): Dataset;
  /** Builds a zoo model (seeded init) for the dataset. */
  buildModel(name: string, data: Dataset, seed: number): Promise<tfl.LayersModel>;
  /** One line of progress for the user (stderr). */
  log(message: string): void;
  /** Pruning and perplexity of the committed GPT fixture (injected by the CLI; `llm` needs it). */
  readonly languageModel?: LanguageModelTools;
  /** Shrinking, ONNX export and onnxruntime timing of TF.js models (injected by the CLI; `structured` needs it). */
  readonly structured?: StructuredTools;
}

/** What the `structured` experiment asks of the CLI: files, `shrinkFile`, `sculpt export` and onnxruntime. */
export interface StructuredTools {
  /**
   * Writes `model` (channel-masked by `masks`) without the channels the masks emptied, as
   * `imp --pattern channel --shrink` does, and exports the shrunk model to ONNX; returns the
   * shrunk model loaded back into TF.js (the caller disposes it), its parameter count and each
   * channel group's size and removed count.
   */
  shrink(model: tfl.LayersModel, masks: ReadonlyMap<string, Mask>): Promise<{
    model: tfl.LayersModel;
    onnx: string;
    parameters: { before: number; after: number };
    groups: { layer: string; size: number; removed: number; pinned: boolean }[];
  }>;
  /** Exports `model` as it is (masked weights stay zeros, tensors keep their size) to ONNX; returns the file. */
  exportOnnx(model: tfl.LayersModel): Promise<string>;
  /**
   * Median milliseconds of one onnxruntime run (1 thread) of each file on `batch` examples of
   * `shape`, the files run in turn `runs` times after a warm-up, on the same seeded input.
   */
  latency(files: readonly string[], shape: readonly number[], batch: number, runs: number): Promise<number[]>;
}

/** What the `llm` experiment asks of the CLI: prune the fixture GPT and measure perplexity. */
export interface LanguageModelTools {
  /** The dense model's path. */
  readonly model: string;
  /** Calibration and held-out text, as `text:FILE`. */
  readonly calibration: string;
  readonly evaluation: string;
  /** Prunes the dense model (layer scope; the head stays dense) and returns the pruned file's path. */
  prune(o: { criterion: string; sparsity?: number; pattern?: string; allocation: 'uniform' | 'owl'; samples: number; seqLen: number; seed: number }): Promise<string>;
  /** Perplexity on the held-out text in non-overlapping windows of `seqLen` (the first `limit` only). */
  perplexity(model: string, o: { seqLen: number; limit?: number }): Promise<{ perplexity: number; tokens: number }>;
}

export interface ExperimentOutput {
  /** The JSON result: the fields the issue names, plus parameters. */
  readonly result: Record<string, unknown>;
  readonly report: ReportData;
}

export interface Experiment {
  readonly name: string;
  readonly description: string;
  readonly needsTraining: boolean;
  run(ctx: ExperimentContext): Promise<ExperimentOutput>;
}
