/** `sculpt prune IN -o OUT --sparsity S ...`: one-shot pruning of an ONNX, safetensors or TF.js model. */
import type { Command } from 'commander';
import { pruneFile, type PruneFileResult } from '../api/prune-file.js';
// Calibration, language models and shrinking are imported when a run needs them: a magnitude
// prune of a safetensors checkpoint should not load their modules (about 0.1 s of start-up).
import type { LmPruneResult } from '../api/prune-lm.js';
import { isLanguageModelFile } from '../api/calibration-lm.js';
import { getCriterion } from '../core/criteria.js';
import '../core/criteria-data.js';
import { SculptError } from '../core/errors.js';
import { parsePattern, formatPattern } from '../core/patterns.js';
import { pruneOptions, type PruneOptions } from '../core/options.js';
import type { TensorStats } from '../core/plan.js';
import { collectList, parseChoice, parseInteger, parseNumber, parseOverrides, parseSparsity } from './args.js';
import { addDataFlags, dataOptionsFromFlags, type DataFlags } from './data-flags.js';
import { withFlagNames } from './option-flags.js';
import { ProgressBar, formatCount, formatFraction, formatShape, formatTable } from './output.js';

/** A language model's result (prune-lm.ts's `isLmPruneResult`, without loading that module). */
function isLmResult(r: object): r is LmPruneResult {
  return 'sequential' in r && 'stages' in r;
}

interface PruneFlags extends DataFlags {
  output?: string;
  sparsity?: string;
  scope: string;
  pattern: string;
  criterion: string;
  exclude: string[];
  include: string[];
  override: string[];
  seed: string;
  ofRemaining?: boolean;
  allowCollapse?: boolean;
  calibration?: string;
  calibrationSamples: string;
  allocation: string;
  owlLambda: string;
  owlM: string;
  json?: boolean;
  shrink?: boolean;
}

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .description('prune an ONNX, safetensors or TF.js layers model and write the pruned copy (same format)')
    .argument('<input>', 'model file (.onnx, .safetensors) or TF.js layers folder (model.json)')
    .option('-o, --output <file>', 'where to write the pruned model (never the input) (required)')
    .option('-s, --sparsity <s>', 'fraction of the chosen weights to remove, in [0, 1) (required, except that N:M patterns imply it)')
    .option('--scope <scope>', 'global: one threshold over all chosen tensors; layer: each tensor on its own', 'global')
    .option('--pattern <p>', 'unstructured, N:M (e.g. 2:4) or channel (also channel:l1, channel:l2)', 'unstructured')
    .option('--criterion <name>', 'importance criterion: magnitude, random, or with --calibration (ONNX) wanda, sparsegpt; with --shrink: magnitude, bn-scale, or wanda with --calibration', 'magnitude')
    .option('--calibration <data>', 'calibration data for wanda/sparsegpt, KIND:PATH: images:DIR, npy:X.npy, npz:FILE, csv:FILE, text:FILE, idx:DIR or fashion-mnist')
    .option('--calibration-samples <n>', 'how many calibration examples (the first N; text: windows of --seq-len)', '128')
    .option('--exclude <names>', 'tensors (names or globs, comma-separated) to leave untouched', collectList, [])
    .option('--include <names>', 'tensors to prune although not prunable by default (e.g. embeddings)', collectList, [])
    .option('--override <name=s>', 'per-tensor sparsity, e.g. fc1.weight=0.5 (comma-separated or repeated)', collectList, [])
    .option('--seed <n>', 'seed for the random criterion', '0')
    .option('--of-remaining', 'remove the fraction of the weights still alive (an IMP step), not of all')
    .option('--allow-collapse', 'let a tensor be pruned to density 0 (refused otherwise, naming the tensor)')
    .option('--allocation <a>', 'language models: uniform (every layer --sparsity) or owl (per-block sparsity from outlier ratios; needs --calibration)', 'uniform')
    .option('--owl-lambda <l>', 'owl: per-block sparsities span 2·lambda around --sparsity', '0.08')
    .option('--owl-m <m>', 'owl: a score is an outlier above M times its block\'s mean', '5')
    .option('--shrink', 'with --pattern channel (ONNX, TF.js layers models): remove the channels from the graph, writing a smaller dense model (each coupled group loses round(S·G) channels; per group unless --scope global)')
    .option('--json', 'print one JSON object instead of the table');
  addDataFlags(cmd)
    .addHelpText('after', `
Examples:
  sculpt prune model.onnx -o model-90.onnx --sparsity 0.9
  sculpt prune model.onnx -o model-24.onnx --pattern 2:4 --scope layer
  sculpt prune ckpt.safetensors -o ckpt-80.safetensors --sparsity 0.8 --exclude 'lm_head*' --override fc1.weight=0.5
  sculpt prune mlp.onnx -o mlp-wanda.onnx --sparsity 0.5 --criterion wanda --calibration fashion-mnist --calibration-samples 128
  sculpt prune net.onnx -o net-sgpt.onnx --sparsity 0.5 --criterion sparsegpt --calibration images:photos/ --mean 0.5 --std 0.25
  sculpt prune resnet.onnx -o resnet-small.onnx --pattern channel --sparsity 0.5 --shrink
  sculpt prune out/train/round-0 -o conv2-small --pattern channel --sparsity 0.5 --shrink

Data criteria on ONNX run the model in onnxruntime on the calibration examples (images resized to
the model's input and laid out as it takes them, arrays reshaped, text windows fed as input_ids,
attention_mask and position_ids) and read the input of every MatMul/Gemm weight: wanda
scores |w|·‖x_j‖, sparsegpt selects by w²/[H⁻¹]_jj and then reconstructs the kept weights.
taylor and obd need gradients: use them with sculpt imp/gmp on TF.js models.

A model with nothing to prune (no weight of rank >= 2, or everything excluded) is an error, and so
is a tensor pruned to density 0 unless --allow-collapse; channel pruning of the last weight layer
(the classifier's output rows) warns.`)
    .action(async (input: string, flags: PruneFlags) => {
      // bn-scale ranks channel groups only (--shrink); the unstructured planner does not know it.
      const opts = pruneOptionsFromFlags(flags.shrink && flags.criterion === 'bn-scale' ? { ...flags, criterion: 'magnitude' } : flags);
      if (!flags.output) throw new SculptError('prune: missing -o/--output: name the file to write the pruned model to');
      if (flags.shrink) {
        const calibration = flags.calibration === undefined ? undefined
          : { calibration: flags.calibration, samples: parseInteger('--calibration-samples', flags.calibrationSamples, 1), dataOptions: dataOptionsFromFlags(flags) };
        const { runShrink } = await import('./shrink.js');
        await runShrink(input, { output: flags.output, opts, criterion: flags.criterion, scopeGiven: cmd.getOptionValueSource('scope') === 'cli', calibration, json: flags.json });
        return;
      }
      const data = getCriterion(opts.criterion).needsData === true;
      const calibration = data ? await import('../api/calibration-prune.js') : undefined;
      if (calibration) calibration.checkDataCriterion(input, opts);
      if (data && flags.calibration === undefined) {
        throw new SculptError(`--criterion ${opts.criterion} needs calibration data: pass --calibration KIND:PATH (images:DIR, npy:X.npy, text:FILE, fashion-mnist, ...) with --calibration-samples N`);
      }
      const allocation = parseChoice('--allocation', flags.allocation, ['uniform', 'owl'] as const);
      const owl = allocation === 'owl';
      if (owl && flags.calibration === undefined) throw new SculptError('--allocation owl needs calibration text for the outlier ratios: pass --calibration text:FILE');
      if (!data && !owl && flags.calibration !== undefined) {
        throw new SculptError(`--calibration is only used by data criteria (wanda, sparsegpt) and --allocation owl; drop it or pass --criterion wanda`);
      }
      const bar = new ProgressBar('pruning', 1);
      const hooks = { onProgress: (done: number, total: number) => bar.update(done / total, `${done}/${total} tensors`) };
      const lm = {
        allocation, owl: { lambda: parseNumber('--owl-lambda', flags.owlLambda), m: parseNumber('--owl-m', flags.owlM) },
        onStage: (done: number, total: number) => bar.update(done / total, `stage ${done}/${total}`),
      };
      const source = () => ({ calibration: flags.calibration!, samples: parseInteger('--calibration-samples', flags.calibrationSamples, 1), dataOptions: dataOptionsFromFlags(flags) });
      // A language model keeps its output head dense with every criterion (prune-lm.ts).
      const lmFile = !data && (owl || isLanguageModelFile(input));
      const pruneLm = lmFile ? (await import('../api/prune-lm.js')).pruneLanguageModelFile : undefined;
      const calibrated = owl && !data
        ? await pruneLm!(input, flags.output, opts, { ...source(), ...lm }, hooks)
        : lmFile ? await pruneLm!(input, flags.output, opts, { calibration: '', samples: 0, ...lm }, hooks)
        : calibration ? await calibration.pruneFileWithCalibration(input, flags.output, opts, source(), hooks, lm) : undefined;
      const result = calibrated ?? pruneFile(input, flags.output, opts, hooks);
      bar.finish();
      const lmInfo = calibrated && isLmResult(calibrated) ? { sequential: calibrated.sequential, stages: calibrated.stages, head: calibrated.head, ...(calibrated.allocation && { allocation: calibrated.allocation }) } : undefined;
      const cal = calibrated && { samples: calibrated.calibration.samples, source: flags.calibration, reconstructed: calibrated.reconstructed, ...lmInfo };
      if (lmInfo && !flags.json) {
        const how = lmInfo.sequential ? `sequential: ${lmInfo.stages} stages, each calibrated on the pruned stages before it; ` : lmInfo.stages > 0 ? 'statistics of the dense model; ' : '';
        process.stderr.write(`${how}language model: output head left dense: ${lmInfo.head.join(', ') || 'none'}\n`);
        if (lmInfo.allocation) process.stderr.write(`owl sparsity per block: ${Object.entries(lmInfo.allocation).map(([b, v]) => `${b} ${v.toFixed(4)}`).join(', ')}\n`);
      }
      if (calibrated && !flags.json) for (const n of calibrated.calibration.notes) process.stderr.write(n + '\n');
      for (const w of warnings(result.stats)) process.stderr.write(`sculpt: warning: ${w}\n`);
      process.stdout.write(flags.json ? JSON.stringify({ ...pruneJson(result, opts), ...(cal && { calibration: cal }) }) + '\n' : pruneTable(result, opts) + '\n');
    });
}

export function pruneOptionsFromFlags(flags: PruneFlags): PruneOptions {
  const pattern = parsePattern(flags.pattern);
  let sparsity: number;
  if (flags.sparsity !== undefined) sparsity = parseSparsity('--sparsity', flags.sparsity);
  else if (pattern.kind === 'nm') sparsity = 1 - pattern.n / pattern.m;
  else throw new SculptError('prune: missing --sparsity: give the fraction of weights to remove, e.g. --sparsity 0.9');
  return pruneOptions({
    sparsity,
    scope: parseChoice('--scope', flags.scope, ['global', 'layer'] as const),
    pattern,
    criterion: flags.criterion,
    exclude: flags.exclude,
    include: flags.include,
    overrides: parseOverrides('--override', flags.override),
    seed: parseInteger('--seed', flags.seed),
    fractionOfRemaining: flags.ofRemaining === true,
    allowCollapse: flags.allowCollapse === true,
  });
}

/** The plan's per-tensor warnings, with flags in place of option names. */
function warnings(stats: readonly TensorStats[]): string[] {
  return stats.flatMap((s) => (s.warning === undefined ? [] : [withFlagNames(s.warning)]));
}

function pruneJson(r: PruneFileResult, opts: PruneOptions): object {
  return {
    input: r.input,
    output: r.output,
    format: r.format,
    options: {
      sparsity: opts.sparsity, scope: opts.scope, pattern: formatPattern(opts.pattern), criterion: opts.criterion,
      exclude: opts.exclude, include: opts.include, overrides: Object.fromEntries(opts.overrides), seed: opts.seed,
      ofRemaining: opts.fractionOfRemaining === true, allowCollapse: opts.allowCollapse === true,
    },
    warnings: warnings(r.stats),
    tensors: r.stats.map((s) => ({
      name: s.name, shape: s.shape, count: s.count, pruned: s.pruned,
      zerosBefore: s.zerosBefore, zerosAfter: s.zerosAfter, densityBefore: s.densityBefore, densityAfter: s.densityAfter,
    })),
    total: r.total,
    target: r.targetTotal,
    ...(r.companions && { companions: r.companions }),
    ...(r.quantizationError && { quantizationError: r.quantizationError }),
  };
}

/** Quantized weights whose new values had to be rounded to codes (never for plain pruning: a zero is the zero point). */
function quantizationLine(r: PruneFileResult): string[] {
  const rounded = Object.entries(r.quantizationError ?? {}).filter(([, e]) => e > 0);
  return rounded.length ? [`quantized weights re-rounded, largest error: ${rounded.map(([n, e]) => `${n} ${e.toPrecision(3)}`).join(', ')}`] : [];
}

function pruneTable(r: PruneFileResult, opts: PruneOptions): string {
  const rows = r.stats.map((s) => [
    s.name, formatShape(s.shape), formatCount(s.count), s.pruned ? 'yes' : '-',
    formatFraction(s.densityBefore), formatFraction(s.densityAfter),
  ]);
  const t = r.targetTotal;
  const a = r.total;
  return [
    formatTable(['tensor', 'shape', 'params', 'pruned', 'density before', 'density after'], rows, [false, false, true, false, true, true]),
    '',
    `pruned set: ${formatCount(t.count)} weights, ${formatCount(t.zerosAfter - t.zerosBefore)} removed, ` +
      `density ${formatFraction(t.densityBefore)} -> ${formatFraction(t.densityAfter)} ` +
      `(${opts.scope} scope, ${formatPattern(opts.pattern)}, ${opts.criterion})`,
    `whole model: ${formatCount(a.count)} parameters, density ${formatFraction(a.densityBefore)} -> ${formatFraction(a.densityAfter)}`,
    ...(r.companions ? [`zeroed with the removed channels: ${r.companions.map((c) => `${c.tensor} (${c.what} of ${c.weight}, ${c.channels})`).join(', ')}`] : []),
    ...quantizationLine(r),
    `wrote ${r.output}`,
  ].join('\n');
}
