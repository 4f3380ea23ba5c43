/**
 * `sculpt experiment NAME [--quick] [--out DIR] [--json] [--seed S]`: runs one of the registered
 * experiments, writes DIR/NAME.json and DIR/NAME.html, and with --json prints the result as the
 * last stdout line.
 */
import { mkdirSync } from 'node:fs';
import { writeTextAtomic } from '../api/output-file.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { experimentNames, getExperiment, type ExperimentContext } from '../analysis/experiments/index.js';
import { languageModelTools } from '../api/experiment-lm.js';
import { structuredTools } from '../api/experiment-structured.js';
import { renderReport } from '../report/index.js';
import { setupBackend } from '../train/backend.js';
import { loadDataset } from '../train/data.js';
import { buildModel } from '../train/zoo.js';
import { parseInteger } from './args.js';

interface Flags {
  quick?: boolean;
  out: string;
  json?: boolean;
  seed: string;
}


export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description(`run a reproducible experiment: ${experimentNames().join(', ')}`)
    .argument('<name>', 'experiment name')
    .option('--quick', 'small, fast form (fewer examples, epochs and trials; same method)')
    .option('--out <dir>', 'folder for NAME.json and NAME.html', 'experiments')
    .option('--json', 'print the result as one JSON object on the last stdout line')
    .option('--seed <n>', 'seed of everything random', '0')
    .action(async (name: string, flags: Flags) => {
      const experiment = getExperiment(name);
      const seed = parseInteger('--seed', flags.seed);
      const quiet = flags.json === true;
      const log = (m: string): void => { if (!quiet || process.env.SCULPT_VERBOSE) process.stderr.write(`${m}\n`); };
      let backendReady = false;
      const ctx: ExperimentContext = {
        quick: flags.quick === true,
        seed,
        loadData: (trainLimit, testLimit) => loadDataset({ dataset: 'fashion-mnist', trainLimit, testLimit }),
        buildModel: async (model, data, s) => {
          if (!backendReady) {
            const b = await setupBackend('auto');
            log(b.note);
            backendReady = true;
          }
          return buildModel(model, { inputShape: data.imageShape, classes: data.classes, seed: s });
        },
        log,
      };
      const lm = name === 'llm' ? languageModelTools() : undefined;
      const st = name === 'structured' ? structuredTools() : undefined;
      const t0 = performance.now();
      const out = await (async () => {
        try {
          return await experiment.run({ ...ctx, ...(lm && { languageModel: lm }), ...(st && { structured: st }) });
        } finally {
          lm?.dispose();
          st?.dispose();
        }
      })();
      const seconds = (performance.now() - t0) / 1000;
      const result = { ...out.result, quick: ctx.quick, seed, seconds: Math.round(seconds * 10) / 10 };
      mkdirSync(flags.out, { recursive: true });
      const jsonPath = join(flags.out, `${name}.json`);
      const htmlPath = join(flags.out, `${name}.html`);
      writeTextAtomic(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
      const html = await renderReport({ ...out.report, subtitle: `${out.report.subtitle ?? ''} — sculpt experiment ${name}${ctx.quick ? ' --quick' : ''} --seed ${seed}` });
      writeTextAtomic(htmlPath, html);
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${name}: wrote ${jsonPath} and ${htmlPath} (${seconds.toFixed(1)} s)\n${(out.report.summary ?? []).join('\n')}\n`);
    });
}
