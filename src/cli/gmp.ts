/** `sculpt gmp`: gradual magnitude pruning during training (Zhu & Gupta's polynomial schedule). */
import type { Command } from 'commander';
import { tfjsCriterion } from '../api/calibration-tfjs.js';
import { runGmp } from '../train/methods.js';
import { collectList, parseChoice, parseInteger, parseSparsity } from './args.js';
import { addTrainingFlags, finish, progressPrinter, sessionOptionsFromFlags, trainingPattern, type TrainingFlags } from './train.js';

interface GmpFlags extends TrainingFlags {
  finalSparsity: string;
  initialSparsity: string;
  beginStep: string;
  endStep?: string;
  frequency: string;
  schedule: string;
  scope: string;
  pattern: string;
  exclude: string[];
  criterion: string;
  calibrationSamples: string;
}

export function registerGmp(program: Command): void {
  const cmd = program
    .command('gmp')
    .description('gradual magnitude pruning while training: sparsity rises from --initial-sparsity to --final-sparsity')
    .requiredOption('--final-sparsity <s>', 'fraction of prunable weights removed at the end, in [0, 1)')
    .option('--initial-sparsity <s>', 'sparsity at --begin-step', '0')
    .option('--begin-step <n>', 'optimizer step at which pruning starts', '0')
    .option('--end-step <n>', 'step at which the final sparsity is reached (default: 75% of the steps)')
    .option('--frequency <n>', 'steps between mask updates', '100')
    .option('--schedule <name>', 'polynomial (s_f + (s_i − s_f)(1 − t)^3) or constant', 'polynomial')
    .option('--scope <scope>', 'global or layer', 'global')
    .option('--pattern <p>', 'unstructured, or channel / channel:l1 (whole output neurons and filters)', 'unstructured')
    .option('--exclude <names>', 'weights (names or globs) never pruned', collectList, [])
    .option('--criterion <name>', 'importance: magnitude, random, or from the first --calibration-samples training images taylor, obd, wanda, sparsegpt (Dense nets)', 'magnitude')
    .option('--calibration-samples <n>', 'training images the data criteria are computed on, at each pruning step', '128');
  addTrainingFlags(cmd, 'out/gmp', '2')
    .addHelpText('after', `
Examples:
  sculpt gmp --model lenet-300-100 --final-sparsity 0.9 --epochs 3 --out out/gmp
  sculpt gmp --model conv-2 --final-sparsity 0.8 --begin-step 200 --end-step 1500 --frequency 50 --train-limit 10000`)
    .action(async (flags: GmpFlags) => {
      const o = {
        ...sessionOptionsFromFlags(flags),
        finalSparsity: parseSparsity('--final-sparsity', flags.finalSparsity),
        initialSparsity: parseSparsity('--initial-sparsity', flags.initialSparsity),
        beginStep: parseInteger('--begin-step', flags.beginStep),
        endStep: flags.endStep === undefined ? undefined : parseInteger('--end-step', flags.endStep),
        frequency: parseInteger('--frequency', flags.frequency, 1),
        schedule: parseChoice('--schedule', flags.schedule, ['polynomial', 'constant'] as const),
        scope: parseChoice('--scope', flags.scope, ['global', 'layer'] as const),
        exclude: flags.exclude,
        pattern: trainingPattern(flags.pattern),
        ...tfjsCriterion(flags.criterion, {
          dataset: flags.dataset, dataDir: flags.data, samples: parseInteger('--calibration-samples', flags.calibrationSamples, 1),
        }),
      };
      const r = await runGmp(o, progressPrinter());
      await finish(flags.out, `GMP on ${o.model} to ${o.finalSparsity} sparsity`, r, flags.json);
    });
}
