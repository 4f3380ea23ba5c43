/** `sculpt eval MODEL --data KIND:PATH [--metric accuracy|top5|perplexity]`: a model measured on a dataset. */
import type { Command } from 'commander';
import { evalFile, type EvalEngine, type EvalMetric, type EvalResult } from '../api/eval.js';
import { SculptError } from '../core/errors.js';
import { parseChoice, parseInteger } from './args.js';
import { addDataFlags, dataOptionsFromFlags, type DataFlags } from './data-flags.js';
import { ProgressBar } from './output.js';

interface EvalFlags extends DataFlags {
  data?: string;
  metric?: string;
  engine?: string;
  batchSize?: string;
  limit?: string;
  json?: boolean;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('measure a model (.onnx, .sculpt, TF.js folder) on a dataset: accuracy, top-5 or perplexity')
    .argument('<model>', 'model file (.onnx, .sculpt) or TF.js layers folder')
    .option('--data <KIND:PATH>', 'images:DIR, npy:X.npy,Y.npy, npz:FILE, csv:FILE, idx:DIR, fashion-mnist (test split), text:FILE (required)')
    .option('--metric <m>', 'accuracy, top5 or perplexity (default: perplexity for text, else accuracy)')
    .option('--engine <e>', 'onnxruntime, sparse (sculpt\'s kernels) or tfjs (default: by the model\'s format)')
    .option('--batch-size <n>', 'examples per run (default 32; text: 1024 tokens\' worth of windows)')
    .option('--limit <n>', 'evaluate the first N examples (text: windows) only');
  addDataFlags(cmd)
    .option('--json', 'print one JSON object instead of the summary')
    .addHelpText('after', `
Examples:
  sculpt eval test/fixtures/datasets/image-net.onnx --data images:test/fixtures/datasets/images --mean 0.5 --std 0.25
  sculpt eval test/fixtures/datasets/mlp16.onnx --data npy:test/fixtures/datasets/x.npy,test/fixtures/datasets/y.npy --metric top5
  sculpt eval test/fixtures/datasets/tiny-lm.onnx --data text:test/fixtures/datasets/corpus.txt --seq-len 32 --json

Perplexity: the text is cut into windows of --seq-len tokens every --stride tokens (a short tail is
dropped); input_ids, attention_mask (ones) and position_ids (0..L-1) are fed by name; logits
[batch, seq, vocab] at position t score token t+1; with overlapping windows only tokens no earlier
window scored count. The JSON has the metric's value, the examples or tokens it counted, and ms.`)
    .action(async (model: string, flags: EvalFlags) => {
      if (!flags.data) throw new SculptError('eval: missing --data: name the dataset as KIND:PATH, e.g. --data images:photos/ or --data text:valid.txt');
      const limit = flags.limit === undefined ? undefined : parseInteger('--limit', flags.limit, 1);
      const bar = new ProgressBar('evaluating', 1);
      const r = await evalFile(model, {
        data: flags.data,
        metric: flags.metric === undefined ? undefined : parseChoice<EvalMetric>('--metric', flags.metric, ['accuracy', 'top5', 'perplexity']),
        engine: flags.engine === undefined ? undefined : parseChoice<EvalEngine>('--engine', flags.engine, ['onnxruntime', 'sparse', 'tfjs']),
        batchSize: flags.batchSize === undefined ? undefined : parseInteger('--batch-size', flags.batchSize, 1),
        dataOptions: { ...dataOptionsFromFlags(flags), limit },
        onProgress: (done, total) => bar.update(done / total, `${done}/${total}`),
      });
      bar.finish();
      if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        for (const n of r.notes) process.stderr.write(n + '\n');
        process.stdout.write(summary(r) + '\n');
      }
    });
}

function summary(r: EvalResult): string {
  const what = r.metric === 'perplexity'
    ? `perplexity ${r.value.toFixed(3)} over ${r.tokens} tokens (${r.examples} windows)`
    : `${r.metric} ${(100 * r.value).toFixed(2)}% (${r.correct}/${r.examples} examples)`;
  return `${r.model} on ${r.data}: ${what}, ${r.engine}, ${(r.ms / 1000).toFixed(2)} s`;
}
