/**
 * Experiments as a registry of named runners. Each returns plain data: `result` (the JSON written
 * to NAME.json and printed with --json) and `report` (the page). Anything needing Node — the
 * dataset and model builder — is injected by the caller, so this layer runs in a browser too.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
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
