/**
 * `sculpt train`: trains a zoo model or a TF.js layers folder on an IDX dataset. Also the flags,
 * progress display and report writing that `sculpt imp` and `sculpt gmp` share.
 */
import { writeTextAtomic } from '../api/output-file.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { renderReport, type AccuracyPoint, type ReportData } from '../report/index.js';
import { SculptError } from '../core/errors.js';
import { formatPattern, parsePattern } from '../core/patterns.js';
import { tfjsCriterion } from '../api/calibration-tfjs.js';
import { parseBackend } from '../train/backend.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/loop.js';
import { runTrain } from '../train/methods.js';
import { loadModelFolder } from '../train/model-io.js';
import { parseLrSchedule } from '../train/schedules.js';
import type { ProgressFn, RunResult, SessionOptions } from '../train/session.js';
import { toWeightSet } from '../train/weights.js';
import { collectList, parseChoice, parseInteger, parseNumber } from './args.js';
import { ProgressBar } from './output.js';

/** Flags every training command takes (commander's camel-cased names). */
export interface TrainingFlags {
  model: string;
  dataset: string;
  data?: string;
  trainLimit?: string;
  testLimit?: string;
  epochs: string;
  batchSize: string;
  lr: string;
  optimizer: string;
  momentum: string;
  l1: string;
  l2: string;
  dropout: string;
  softThreshold: string;
  lrSchedule: string;
  seed: string;
  backend: string;
  out: string;
  json?: boolean;
}

export function addTrainingFlags(cmd: Command, defaultOut: string, defaultEpochs = '1'): Command {
  return cmd
    .requiredOption('--model <name|dir>', 'lenet-300-100, conv-2, conv-4, conv-6, or a TF.js layers model folder (model.json)')
    .option('--dataset <name>', 'dataset (fashion-mnist: /usr/share/datasets/fashion-mnist, else the built-in subset)', 'fashion-mnist')
    .option('--data <dir>', 'folder with MNIST-format IDX files, or a labelled dataset as KIND:PATH (images:DIR, npy:X.npy,Y.npy, npz:FILE, csv:FILE; 20% held out)')
    .option('--train-limit <n>', 'use only the first N training examples')
    .option('--test-limit <n>', 'use only the first N test examples')
    .option('--epochs <n>', 'epochs of training (per round for imp)', defaultEpochs)
    .option('--batch-size <n>', 'examples per optimizer step', '60')
    .option('--lr <x>', 'learning rate', '1.2e-3')
    .option('--optimizer <name>', 'adam or sgd', 'adam')
    .option('--momentum <x>', 'SGD momentum (0 for plain SGD)', '0.9')
    .option('--l1 <x>', 'L1 penalty on prunable kernels', '0')
    .option('--l2 <x>', 'L2 penalty on prunable kernels', '0')
    .option('--dropout <x>', 'dropout rate after each hidden Dense layer', '0')
    .option('--soft-threshold <λ>', 'proximal L1 (ISTA): after each step shrink prunable weights by lr·λ towards exact zero', '0')
    .option('--lr-schedule <s>', 'constant, step:SIZE:GAMMA or exp:STEPS:RATE (in optimizer steps)', 'constant')
    .option('--seed <n>', 'seed of the initial weights, shuffling, dropout and random masks', '0')
    .option('--backend <name>', 'auto (tfjs-node, else wasm, else cpu), tensorflow, wasm or cpu', 'auto')
    .option('--out <dir>', 'output folder: metrics.json, run.json, round-K/, report.html', defaultOut)
    .option('--json', 'print metrics.json on stdout at the end instead of the summary');
}

/** --pattern of imp and gmp: unstructured or channel; N:M fixes its own sparsity, so it has no schedule. */
export function trainingPattern(text: string): string {
  const p = parsePattern(text);
  if (p.kind === 'nm') throw new SculptError(`--pattern ${text}: N:M fixes the sparsity at ${1 - p.n / p.m}; use sculpt prune --pattern ${text} on a trained model`);
  return formatPattern(p);
}

/** Flags of the pruning step that imp and gmp share. */
export interface PruningFlags {
  scope: string;
  pattern: string;
  exclude: string[];
  criterion: string;
  calibrationSamples: string;
}

export function addPruningFlags(cmd: Command): Command {
  return cmd
    .option('--scope <scope>', 'global: one threshold over all prunable kernels; layer: each on its own', 'global')
    .option('--pattern <p>', 'unstructured, or channel / channel:l1 (whole output neurons and filters)', 'unstructured')
    .option('--exclude <names>', 'weights (names or globs) never pruned, e.g. fc3/kernel', collectList, [])
    .option('--criterion <name>', 'importance: magnitude, random, or from the first --calibration-samples training images taylor, obd, wanda, sparsegpt (Dense nets)', 'magnitude')
    .option('--calibration-samples <n>', 'training images the data criteria are computed on, at each pruning step', '128');
}

/** The pruning settings of imp and gmp from their flags (dataset flags feed the data criteria). */
export function pruneSettingsFromFlags(f: PruningFlags & TrainingFlags) {
  return {
    scope: parseChoice('--scope', f.scope, ['global', 'layer'] as const),
    exclude: f.exclude,
    pattern: trainingPattern(f.pattern),
    ...tfjsCriterion(f.criterion, { dataset: f.dataset, dataDir: f.data, samples: parseInteger('--calibration-samples', f.calibrationSamples, 1) }),
  };
}

export function trainConfigFromFlags(f: TrainingFlags): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: parseInteger('--epochs', f.epochs),
    batchSize: parseInteger('--batch-size', f.batchSize, 1),
    lr: parseNumber('--lr', f.lr),
    optimizer: parseChoice('--optimizer', f.optimizer, ['adam', 'sgd'] as const),
    momentum: parseNumber('--momentum', f.momentum),
    l1: parseNumber('--l1', f.l1),
    l2: parseNumber('--l2', f.l2),
    dropout: parseNumber('--dropout', f.dropout),
    softThreshold: parseNumber('--soft-threshold', f.softThreshold),
    lrSchedule: parseLrSchedule(f.lrSchedule),
    seed: parseInteger('--seed', f.seed),
  };
}

export function sessionOptionsFromFlags(f: TrainingFlags): SessionOptions {
  return {
    model: f.model,
    dataset: f.dataset,
    dataDir: f.data,
    trainLimit: f.trainLimit === undefined ? undefined : parseInteger('--train-limit', f.trainLimit, 1),
    testLimit: f.testLimit === undefined ? undefined : parseInteger('--test-limit', f.testLimit, 1),
    backend: parseBackend(f.backend),
    seed: parseInteger('--seed', f.seed),
    out: f.out,
    train: trainConfigFromFlags(f),
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

/** Progress bars per epoch on stderr and one line per finished run on stderr. */
export function progressPrinter(): ProgressFn {
  let bar: ProgressBar | undefined;
  return (e) => {
    if (e.kind === 'note') process.stderr.write(`${e.message}\n`);
    else if (e.kind === 'start') {
      bar = undefined;
    } else if (e.kind === 'batch') {
      const p = e.progress;
      if (bar === undefined || p.batch <= 50) bar ??= new ProgressBar(`round ${e.round} ${e.run} epoch ${p.epoch}/${p.epochs}`, p.batches);
      bar.update(p.batch, `loss ${p.loss.toFixed(4)} acc ${pct(p.accuracy)}`);
      if (p.done) {
        bar.finish();
        bar = undefined;
        process.stderr.write(`round ${e.round} ${e.run} epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, accuracy ${pct(p.accuracy)}\n`);
      }
    } else if (e.kind === 'result') {
      const extra = e.trainSeconds === undefined ? '' : `, ${e.trainSeconds.toFixed(1)} s`;
      process.stderr.write(`round ${e.round} ${e.run}: density ${pct(e.density)}, test accuracy ${pct(e.testAccuracy)}${extra}\n`);
    }
  };
}


/** Writes DIR/report.html: accuracy vs density, per-layer density, |w| of the last round. */
export async function writeTrainingReport(out: string, title: string, r: RunResult): Promise<string> {
  const points: AccuracyPoint[] = [];
  const main = r.details.command === 'imp' ? 'ticket' : r.details.command === 'one-shot' ? 'one-shot' : r.details.command;
  for (const e of r.metrics.rounds) {
    points.push({ series: main, density: e.density, accuracy: e.testAccuracy });
    for (const [name, c] of Object.entries(e.controls)) points.push({ series: name, density: e.density, accuracy: c.testAccuracy });
  }
  const lastRound = r.metrics.rounds[r.metrics.rounds.length - 1];
  const model = await loadModelFolder(join(out, `round-${lastRound.round}`));
  const values: number[] = [];
  let threshold = Infinity;
  for (const t of toWeightSet(model).tensors.filter((x) => x.prunable)) {
    for (const v of t.data) {
      if (v === 0) continue;
      values.push(Math.abs(v));
      threshold = Math.min(threshold, Math.abs(v));
    }
  }
  model.dispose();
  const settings: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(r.details.settings)) settings[k] = typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as string | number | boolean | null);
  settings.backend = r.details.backend;
  settings.data = `${r.details.data.source} (${r.details.data.train} train, ${r.details.data.test} test)`;
  const data: ReportData = {
    title,
    subtitle: `sculpt ${r.details.command}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    settings,
    summary: r.metrics.rounds.map((e) => `round ${e.round}: density ${pct(e.density)}, test accuracy ${pct(e.testAccuracy)}` +
      Object.entries(e.controls).map(([n, c]) => `, ${n} ${pct(c.testAccuracy)}`).join('')),
    accuracy: { points, title: 'Test accuracy versus density' },
    layerDensity: {
      title: `Density per layer (round ${lastRound.round})`,
      rows: (r.details.layers[r.details.layers.length - 1] ?? []).map((l) => ({ layer: l.name, scope: String(r.details.settings.scope ?? 'dense'), density: l.density })),
    },
    magnitudes: values.length > 0 ? { values, threshold: Number.isFinite(threshold) ? threshold : undefined, title: `|w| of the kept weights (round ${lastRound.round}); smallest kept marked` } : undefined,
  };
  const path = join(out, 'report.html');
  writeTextAtomic(path, await renderReport(data));
  return path;
}

/** Prints the final summary (or metrics.json with --json) and writes the report. */
export async function finish(out: string, title: string, r: RunResult, json: boolean | undefined): Promise<void> {
  const report = await writeTrainingReport(out, title, r);
  if (json) {
    process.stdout.write(`${JSON.stringify(r.metrics)}\n`);
    return;
  }
  const lines = r.metrics.rounds.map((e) => `round ${e.round}  density ${pct(e.density).padStart(7)}  test ${pct(e.testAccuracy)}  train ${pct(e.trainAccuracy)}  ${e.trainSeconds.toFixed(1)} s` +
    Object.entries(e.controls).map(([n, c]) => `  ${n} ${pct(c.testAccuracy)}`).join(''));
  process.stdout.write(`${lines.join('\n')}\nwrote ${join(out, 'metrics.json')}, ${join(out, 'round-*')}/, ${report}\n`);
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model (zoo name or TF.js layers folder) and save it as DIR/round-0/');
  addTrainingFlags(cmd, 'out/train')
    .addHelpText('after', `
Examples:
  sculpt train --model lenet-300-100 --dataset fashion-mnist --epochs 1 --out out/lenet
  sculpt train --model conv-2 --train-limit 5000 --epochs 2 --lr-schedule step:500:0.5 --out out/conv2`)
    .action(async (flags: TrainingFlags) => {
      const o = sessionOptionsFromFlags(flags);
      const r = await runTrain(o, progressPrinter());
      await finish(flags.out, `Training ${o.model}`, r, flags.json);
    });
}
