/** `sculpt gmp`: gradual magnitude pruning during training (Zhu & Gupta's polynomial schedule). */
import type { Command } from 'commander';
import { runGmp } from '../train/methods.js';
import { parseChoice, parseInteger, parseSparsity } from './args.js';
import { addShrinkFlag, printShrunk, shrinkOption } from './imp.js';
import { collapseWarnings } from './output.js';
import { addPruningFlags, addTrainingFlags, finish, progressPrinter, pruneSettingsFromFlags, sessionOptionsFromFlags, type PruningFlags, type TrainingFlags } from './train.js';

interface GmpFlags extends TrainingFlags, PruningFlags {
  shrink?: boolean;
  finalSparsity: string;
  initialSparsity: string;
  beginStep: string;
  endStep?: string;
  frequency: string;
  schedule: string;
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
    .option('--schedule <name>', 'polynomial (s_f + (s_i − s_f)(1 − t)^3) or constant', 'polynomial');
  addTrainingFlags(addShrinkFlag(addPruningFlags(cmd)), 'out/gmp', '2')
    .addHelpText('after', `
Examples:
  sculpt gmp --model lenet-300-100 --final-sparsity 0.9 --epochs 3 --out out/gmp
  sculpt gmp --model conv-2 --final-sparsity 0.8 --begin-step 200 --end-step 1500 --frequency 50 --train-limit 10000
  sculpt gmp --model lenet-300-100 --final-sparsity 0.5 --pattern channel --scope layer --shrink --epochs 1 --out out/gmp-ch`)
    .action(async (flags: GmpFlags) => {
      const o = {
        ...sessionOptionsFromFlags(flags),
        finalSparsity: parseSparsity('--final-sparsity', flags.finalSparsity),
        initialSparsity: parseSparsity('--initial-sparsity', flags.initialSparsity),
        beginStep: parseInteger('--begin-step', flags.beginStep),
        endStep: flags.endStep === undefined ? undefined : parseInteger('--end-step', flags.endStep),
        frequency: parseInteger('--frequency', flags.frequency, 1),
        schedule: parseChoice('--schedule', flags.schedule, ['polynomial', 'constant'] as const),
        ...pruneSettingsFromFlags(flags),
        ...shrinkOption(flags),
      };
      const r = await runGmp(o, progressPrinter());
      await finish(flags.out, `GMP on ${o.model} to ${o.finalSparsity} sparsity`, r, flags.json);
      printShrunk(r, flags.json);
      for (const w of collapseWarnings('gmp', r.details.layers)) process.stderr.write(`sculpt: warning: ${w}\n`);
    });
}
