/** `sculpt imp`: iterative magnitude pruning with rewinding (lottery tickets) and controls. */
import type { Command } from 'commander';
import { SculptError } from '../core/errors.js';
import { CONTROLS, runImp, type Control } from '../train/methods.js';
import { collectList, parseChoice, parseInteger, parseNumber } from './args.js';
import { collapseWarnings } from './output.js';
import { addPruningFlags, addTrainingFlags, finish, progressPrinter, pruneSettingsFromFlags, sessionOptionsFromFlags, type PruningFlags, type TrainingFlags } from './train.js';

interface ImpFlags extends TrainingFlags, PruningFlags {
  rounds: string;
  rate: string;
  rewindTo: string;
  control: string[];
}

export function parseRewind(text: string): number | 'none' {
  if (text === 'none') return 'none';
  if (!/^\d+$/.test(text)) throw new SculptError(`--rewind-to ${text}: use 0 (initial weights), a number of iterations K, or none`);
  return parseInteger('--rewind-to', text);
}

export function registerImp(program: Command): void {
  const cmd = program
    .command('imp')
    .description('iterative magnitude pruning: train, prune a fraction of the surviving weights, rewind, repeat')
    .requiredOption('--rounds <n>', 'number of trainings; round 0 is dense, round k has density (1 − rate)^k')
    .option('--rate <p>', 'fraction of the surviving weights removed before each round', '0.2')
    .option('--rewind-to <0|K|none>', '0: initial weights (lottery ticket); K: weights after K iterations; none: keep training', '0')
    .option('--control <names>', 'reinit and/or random-mask (comma-separated), trained the same way each round', collectList, []);
  addTrainingFlags(addPruningFlags(cmd), 'out/imp')
    .addHelpText('after', `
Examples:
  sculpt imp --model lenet-300-100 --rounds 3 --rate 0.2 --epochs 1 --train-limit 6000 --test-limit 2000 --out out/imp
  sculpt imp --model lenet-300-100 --rounds 6 --rate 0.5 --epochs 2 --rewind-to 0 --control reinit,random-mask`)
    .action(async (flags: ImpFlags) => {
      const controls = flags.control.map((c) => parseChoice('--control', c, CONTROLS) as Control);
      if (new Set(controls).size !== controls.length) throw new SculptError('--control: a control is named twice');
      const o = {
        ...sessionOptionsFromFlags(flags),
        rounds: parseInteger('--rounds', flags.rounds, 1),
        rate: parseNumber('--rate', flags.rate),
        rewindTo: parseRewind(flags.rewindTo),
        controls,
        ...pruneSettingsFromFlags(flags),
      };
      const r = await runImp(o, progressPrinter());
      await finish(flags.out, `IMP on ${o.model}: ${o.rounds} rounds at ${o.rate} per round`, r, flags.json);
      for (const w of collapseWarnings('imp', r.details.layers)) process.stderr.write(`sculpt: warning: ${w}\n`);
    });
}
