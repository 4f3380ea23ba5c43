/** `sculpt run MODEL --input X.npy -o Y.npy`: inference on sculpt's sparse engine or onnxruntime. */
import type { Command } from 'commander';
import { runFile, type RunEngine, type RunFileResult } from '../api/sparse-run.js';
import { SculptError } from '../core/errors.js';
import { collectList, parseChoice, parseInteger } from './args.js';
import { formatShape } from './output.js';

interface RunFlags {
  input: string[];
  output?: string;
  engine: string;
  threads: string;
  json?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a model (.onnx or .sculpt) on NumPy .npy inputs, on sculpt\'s sparse engine or onnxruntime')
    .argument('<model>', 'model file (.onnx or .sculpt)')
    .option('-i, --input <x>', 'X.npy for the first input, or NAME=X.npy (repeat for several inputs)', collectList, [])
    .option('-o, --output <y>', 'Y.npy receives the first output; a folder receives every output as NAME.npy (required)')
    .option('--engine <e>', 'sparse (sculpt\'s kernels, CSR or dense per layer), onnxruntime, or hybrid (the CSR layers on sculpt, the rest on onnxruntime)', 'sparse')
    .option('--threads <t>', 'threads: sculpt\'s worker threads for the weight products, or onnxruntime\'s intra-op threads', '1')
    .option('--json', 'print one JSON object instead of the summary')
    .addHelpText('after', `
Inputs: float arrays feed float inputs, integer arrays int64 inputs; shapes must fit the model's.
Examples:
  sculpt run mlp-90.sculpt --input x.npy -o y.npy
  sculpt run model.onnx --input input_ids=ids.npy --input mask=mask.npy -o outputs/
  sculpt run model.onnx --input x.npy -o y.npy --engine onnxruntime
  sculpt run bert-90.onnx --input input_ids=ids.npy --input attention_mask=mask.npy -o out/ --threads 2`)
    .action(async (model: string, flags: RunFlags) => {
      if (!flags.output) throw new SculptError('run: missing -o/--output: name the .npy file (or a folder) for the outputs');
      const engine = parseChoice<RunEngine>('--engine', flags.engine, ['sparse', 'onnxruntime', 'hybrid']);
      const r = await runFile(model, flags.input, flags.output, engine, parseInteger('--threads', flags.threads, 1));
      process.stdout.write((flags.json ? JSON.stringify(runJson(r)) : runSummary(r)) + '\n');
    });
}

function runJson(r: RunFileResult): object {
  return { ...r, layers: r.layers?.map((l) => ({ node: l.node, weight: l.weight, rows: l.rows, cols: l.cols, density: l.nonzeros / (l.rows * l.cols), kernel: l.kind })) };
}

function runSummary(r: RunFileResult): string {
  const lines = [`${r.model}: ${r.engine} engine, ${r.ms.toFixed(2)} ms`];
  for (const i of r.inputs) lines.push(`input  ${i.name} ${formatShape(i.dims)} <- ${i.file}`);
  if (r.layers) {
    const kinds = new Map<string, number>();
    for (const l of r.layers) kinds.set(l.kind, (kinds.get(l.kind) ?? 0) + 1);
    lines.push(`weight layers: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}`);
  }
  for (const o of r.outputs) lines.push(`output ${o.name} ${formatShape(o.dims)} -> ${o.file}`);
  if (r.notWritten.length > 0) lines.push(`not written: ${r.notWritten.join(', ')} (give -o a folder to write every output)`);
  return lines.join('\n');
}
