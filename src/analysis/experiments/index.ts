/** The registry of experiments, keyed by the names `sculpt experiment NAME` takes. */
import { SculptError } from '../../core/errors.js';
import { impDensityExperiment, lotteryProbabilityExperiment, sensorSelectionExperiment } from './cheap.js';
import { criteriaExperiment } from './criteria.js';
import { globalVsLayerExperiment, lrScheduleExperiment, randomLabelsExperiment, regularizationExperiment } from './trained-pruning.js';
import { fairnessExperiment, lipschitzExperiment, privateMasksExperiment } from './trained-analysis.js';
import { rooflineExperiment } from './roofline.js';
import { llmExperiment } from './llm.js';
import { structuredExperiment } from './structured.js';
import type { Experiment } from './types.js';

export type { Experiment, ExperimentContext, ExperimentOutput, LanguageModelTools } from './types.js';

const registry = new Map<string, Experiment>();

export function registerExperiment(e: Experiment): void {
  registry.set(e.name, e);
}

export function getExperiment(name: string): Experiment {
  const e = registry.get(name);
  if (e === undefined) throw new SculptError(`unknown experiment '${name}'; known: ${experimentNames().join(', ')}`);
  return e;
}

export function experimentNames(): string[] {
  return [...registry.keys()];
}

for (const e of [lotteryProbabilityExperiment, impDensityExperiment, sensorSelectionExperiment, criteriaExperiment, globalVsLayerExperiment, regularizationExperiment, lrScheduleExperiment, randomLabelsExperiment, lipschitzExperiment, fairnessExperiment, privateMasksExperiment, rooflineExperiment, llmExperiment, structuredExperiment]) registerExperiment(e);
