/** `sculpt imp`: iterative magnitude pruning with rewinding (lottery tickets) and controls. */
import type { Command } from 'commander';
import { shrinkMaskedFolder } from '../api/shrink-file.js';
import { SculptError } from '../core/errors.js';
import { CONTROLS, runImp, type Control, type ShrunkModel } from '../train/methods.js';
import type { RunResult } from '../train/session.js';
import { collectList, parseChoice, parseInteger, parseNumber } from './args.js';
import { collapseWarnings, formatCount } from './output.js';
import { addPruningFlags, addTrainingFlags, finish, progressPrinter, pruneSettingsFromFlags, sessionOptionsFromFlags, type PruningFlags, type TrainingFlags } from './train.js';

interface ImpFlags extends TrainingFlags, PruningFlags {
  shrink?: boolean;
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

/** The --shrink flag of imp and gmp. */
export function addShrinkFlag(cmd: Command): Command {
  return cmd.option('--shrink', 'with --pattern channel: also write the final masked model without its masked channels (exactly those) as OUT/shrunk/, a smaller dense TF.js model computing the same outputs; metrics.json says its size under "shrunk"');
}

/** The shrink step for the training options, when --shrink is given. */
export function shrinkOption(flags: { shrink?: boolean }): { shrink?: typeof shrinkMaskedFolder } {
  return flags.shrink ? { shrink: shrinkMaskedFolder } : {};
}

/** One summary line for the shrunk model (JSON output carries it in the metrics object). */
export function printShrunk(r: RunResult, json: boolean | undefined): void {
  const s = (r.metrics as { shrunk?: ShrunkModel }).shrunk;
  if (!s || json) return;
  process.stdout.write(`shrunk: ${s.from}/ without ${formatCount(s.channels.removed)} of ${formatCount(s.channels.before)} channels ` +
    `(${s.pinned} of ${s.groups} groups pinned): parameters ${formatCount(s.parameters.before)} -> ${formatCount(s.parameters.after)}; wrote ${s.folder}/\n`);
}

export function registerImp(program: Command): void {
  const cmd = program
    .command('imp')
    .description('iterative magnitude pruning: train, prune a fraction of the surviving weights, rewind, repeat')
    .requiredOption('--rounds <n>', 'number of trainings; round 0 is dense, round k has density (1 − rate)^k')
    .option('--rate <p>', 'fraction of the surviving weights removed before each round', '0.2')
    .option('--rewind-to <0|K|none>', '0: initial weights (lottery ticket); K: weights after K iterations; none: keep training', '0')
    .option('--control <names>', 'reinit and/or random-mask (comma-separated), trained the same way each round', collectList, []);
  addTrainingFlags(addShrinkFlag(addPruningFlags(cmd)), 'out/imp')
    .addHelpText('after', `
Examples:
  sculpt imp --model lenet-300-100 --rounds 3 --rate 0.2 --epochs 1 --train-limit 6000 --test-limit 2000 --out out/imp
  sculpt imp --model lenet-300-100 --rounds 6 --rate 0.5 --epochs 2 --rewind-to 0 --control reinit,random-mask
  sculpt imp --model conv-2 --rounds 2 --rate 0.5 --pattern channel --scope layer --shrink --train-limit 2000 --out out/imp-ch`)
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
        ...shrinkOption(flags),
      };
      const r = await runImp(o, progressPrinter());
      await finish(flags.out, `IMP on ${o.model}: ${o.rounds} rounds at ${o.rate} per round`, r, flags.json);
      printShrunk(r, flags.json);
      for (const w of collapseWarnings('imp', r.details.layers)) process.stderr.write(`sculpt: warning: ${w}\n`);
    });
}
