/**
 * `sculpt demo`: the main job on the built-in data, in a few minutes on 2 cores. Trains
 * LeNet-300-100 on the Fashion-MNIST subset shipped in data/, runs a short IMP with lottery-ticket
 * rewinding and the reinit control, prunes the trained dense network one-shot at several
 * sparsities (global and per layer, no fine-tuning), and writes one HTML report.
 */
import { mkdirSync } from 'node:fs';
import { writeTextAtomic } from '../api/output-file.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parsePattern } from '../core/patterns.js';
import { prune } from '../core/plan.js';
import { renderReport, type AccuracyPoint, type LayerDensity, type ReportData } from '../report/index.js';
import { bundledSubsetDir } from '../train/data.js';
import { DEFAULT_TRAIN_CONFIG } from '../train/loop.js';
import { runImp, runOneShot } from '../train/methods.js';
import { loadModelFolder } from '../train/model-io.js';
import type { RunResult, SessionOptions } from '../train/session.js';
import { toWeightSet } from '../train/weights.js';
import { parseBackend } from '../train/backend.js';
import { parseInteger } from './args.js';
import { progressPrinter } from './train.js';

interface DemoFlags {
  out: string;
  seed: string;
  rounds: string;
  epochs: string;
  backend: string;
  json?: boolean;
}

/** One-shot sparsities of the demo (fractions removed). */
const ONE_SHOT = [0.5, 0.8, 0.9, 0.95, 0.98];
/** The sparsity whose per-layer densities and threshold the report shows. */
const SHOWN = 0.9;

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train LeNet-300-100 on the built-in Fashion-MNIST subset, run IMP (lottery tickets) and one-shot pruning, write a report')
    .option('--out <dir>', 'output folder (report.html, imp/, one-shot-global/, one-shot-layer/)', 'sculpt-demo')
    .option('--rounds <n>', 'IMP rounds (round k keeps 0.5^k of the weights)', '5')
    .option('--epochs <n>', 'epochs of training per IMP round', '2')
    .option('--seed <n>', 'seed of weights, shuffling and masks', '0')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu', 'auto')
    .option('--json', 'print a JSON summary on stdout at the end')
    .action(async (flags: DemoFlags) => {
      const summary = await runDemo(flags);
      if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else process.stdout.write(summary.lines.join('\n') + `\nwrote ${summary.report}\n`);
    });
}

interface DemoSummary {
  report: string;
  lines: string[];
  imp: RunResult['metrics'];
  oneShot: { global: RunResult['metrics']; layer: RunResult['metrics'] };
}

async function runDemo(flags: DemoFlags): Promise<DemoSummary> {
  const out = flags.out;
  mkdirSync(out, { recursive: true });
  const seed = parseInteger('--seed', flags.seed);
  const rounds = parseInteger('--rounds', flags.rounds, 1);
  const epochs = parseInteger('--epochs', flags.epochs, 1);
  const progress = progressPrinter();
  const base: SessionOptions = {
    model: 'lenet-300-100',
    dataset: 'fashion-mnist',
    dataDir: bundledSubsetDir(),
    backend: parseBackend(flags.backend),
    seed,
    train: { ...DEFAULT_TRAIN_CONFIG, epochs, batchSize: 60, lr: 1.2e-3, optimizer: 'adam', seed },
  };
  process.stderr.write(`demo: LeNet-300-100 on the built-in Fashion-MNIST subset (${bundledSubsetDir()})\n`);
  process.stderr.write(`demo: IMP, ${rounds} rounds at 50% per round, rewinding to initialisation, with the reinit control\n`);
  const imp = await runImp({ ...base, out: join(out, 'imp'), rounds, rate: 0.5, rewindTo: 0, controls: ['reinit'], scope: 'global' }, progress);

  // One-shot pruning of the dense network IMP trained in round 0, without fine-tuning.
  const trained = join(out, 'imp', 'round-0');
  const oneShot = async (scope: 'global' | 'layer'): Promise<RunResult> => {
    process.stderr.write(`demo: one-shot ${scope} pruning of the trained dense network at ${ONE_SHOT.join(', ')}\n`);
    return runOneShot({
      ...base, model: trained, out: join(out, `one-shot-${scope}`), train: { ...base.train, epochs: 0 },
      sparsities: ONE_SHOT, fineTuneEpochs: 0, scope,
    }, progress);
  };
  const global = await oneShot('global');
  const layer = await oneShot('layer');

  const report = join(out, 'report.html');
  const html = await renderReport(await demoReport(trained, imp, global, layer, { seed, rounds, epochs }));
  writeTextAtomic(report, html);

  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines = [
    'IMP (lottery ticket, rewound to initialisation) against the same masks re-initialised:',
    ...imp.metrics.rounds.map((r) => `  round ${r.round}  density ${pct(r.density).padStart(6)}  ticket ${pct(r.testAccuracy)}` +
      (r.controls.reinit ? `  reinit ${pct(r.controls.reinit.testAccuracy)}` : '')),
    'one-shot magnitude pruning of the trained dense network, no fine-tuning:',
    ...global.metrics.rounds.slice(1).map((r, i) => `  sparsity ${pct(ONE_SHOT[i]!).padStart(5)}  global ${pct(r.testAccuracy)}  layer ${pct(layer.metrics.rounds[i + 1]!.testAccuracy)}`),
  ];
  return { report, lines, imp: imp.metrics, oneShot: { global: global.metrics, layer: layer.metrics } };
}

async function demoReport(trainedDir: string, imp: RunResult, global: RunResult, layer: RunResult, settings: { seed: number; rounds: number; epochs: number }): Promise<ReportData> {
  const points: AccuracyPoint[] = [];
  for (const r of imp.metrics.rounds) {
    points.push({ series: 'ticket', density: r.density, accuracy: r.testAccuracy });
    if (r.controls.reinit) points.push({ series: 'reinit', density: r.density, accuracy: r.controls.reinit.testAccuracy });
  }
  for (const [series, run] of [['one-shot global', global], ['one-shot layer', layer]] as const) {
    for (const r of run.metrics.rounds) points.push({ series, density: r.density, accuracy: r.testAccuracy });
  }
  const shownRound = ONE_SHOT.indexOf(SHOWN) + 1;
  const rows: LayerDensity[] = [];
  for (const [scope, run] of [['global', global], ['layer', layer]] as const) {
    for (const l of run.details.layers[shownRound] ?? []) rows.push({ layer: l.name, scope, density: l.density });
  }

  // |w| of the trained dense network with the global threshold at SHOWN sparsity.
  const model = await loadModelFolder(trainedDir);
  const ws = toWeightSet(model);
  model.dispose();
  const values: number[] = [];
  for (const t of ws.tensors) if (t.prunable) for (const v of t.data) values.push(Math.abs(v));
  const res = prune(ws, { sparsity: SHOWN, scope: 'global', pattern: parsePattern('unstructured'), criterion: 'magnitude', exclude: [], overrides: new Map(), seed: 0 });
  let threshold = 0;
  for (const t of ws.tensors) {
    const m = res.masks.get(t.name);
    if (m === undefined) continue;
    for (let i = 0; i < t.data.length; i++) if (!m.get(i)) threshold = Math.max(threshold, Math.abs(t.data[i]!));
  }
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  const ticketLast = imp.metrics.rounds[imp.metrics.rounds.length - 1]!;
  return {
    title: 'sculpt demo: magnitude pruning of LeNet-300-100 on Fashion-MNIST',
    subtitle: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, built-in subset (${imp.details.data.train} train, ${imp.details.data.test} test images), backend ${imp.details.backend}`,
    settings: {
      model: 'lenet-300-100 (784-300-100-10, ReLU, Glorot init)',
      data: `${imp.details.data.source}`,
      optimizer: 'adam, lr 1.2e-3, batch 60',
      'epochs per IMP round': settings.epochs,
      'IMP rounds': settings.rounds,
      'IMP rate': '0.5 of the surviving weights per round, global, rewind to initialisation',
      controls: 'reinit: same mask, fresh random weights',
      'one-shot sparsities': ONE_SHOT.join(', '),
      seed: settings.seed,
    },
    summary: [
      `Dense network: ${pct(imp.metrics.rounds[0]!.testAccuracy)} test accuracy.`,
      `IMP ticket at density ${pct(ticketLast.density)}: ${pct(ticketLast.testAccuracy)}` +
        (ticketLast.controls.reinit ? `; the same mask re-initialised: ${pct(ticketLast.controls.reinit.testAccuracy)}.` : '.'),
      `One-shot at ${SHOWN * 100}% without fine-tuning: global ${pct(global.metrics.rounds[shownRound]!.testAccuracy)}, per layer ${pct(layer.metrics.rounds[shownRound]!.testAccuracy)}.`,
    ],
    accuracy: { title: 'Test accuracy versus density (fraction of prunable weights kept)', points },
    layerDensity: { title: `Density per layer at ${SHOWN * 100}% sparsity: global threshold against uniform per-layer pruning`, rows },
    magnitudes: { title: `|w| of the trained dense network; the global threshold for ${SHOWN * 100}% sparsity marked`, values, threshold },
  };
}
