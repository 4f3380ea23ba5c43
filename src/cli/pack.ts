/** `sculpt pack MODEL.onnx -o MODEL.sculpt`: pruned weights stored sparse, in sculpt's container or as ONNX sparse initializers. */
import type { Command } from 'commander';
import { packFile, type PackFileResult, type PackFormat } from '../api/sparse-pack.js';
import { SculptError } from '../core/errors.js';
import { parseChoice } from './args.js';
import { formatCount, formatFraction, formatShape, formatTable } from './output.js';

interface PackFlags {
  output?: string;
  fp16?: boolean;
  format?: string;
  json?: boolean;
}

export function registerPack(program: Command): void {
  program
    .command('pack')
    .description('store a pruned ONNX model compactly: a .sculpt container, or ONNX sparse initializers onnxruntime loads')
    .argument('<model>', 'ONNX model (.onnx), typically pruned with sculpt prune')
    .option('-o, --output <file>', 'where to write: X.sculpt, or X.onnx for --format onnx-sparse (never the input) (required)')
    .option('--format <f>', 'sculpt (compact container) or onnx-sparse (standard sparse_initializer); default from the -o extension')
    .option('--fp16', 'store the values as float16 (sculpt format; lossy, the largest rounding error is reported)')
    .option('--json', 'print one JSON object instead of the table')
    .addHelpText('after', `
Examples:
  sculpt pack mlp-90.onnx -o mlp-90.sculpt
  sculpt pack mlp-90.onnx -o mlp-90.sculpt --fp16
  sculpt pack mlp-90.onnx -o mlp-90-sparse.onnx --format onnx-sparse`)
    .action((model: string, flags: PackFlags) => {
      if (!flags.output) throw new SculptError('pack: missing -o/--output: name the .sculpt (or .onnx) file to write');
      const format = flags.format === undefined ? undefined : parseChoice<PackFormat>('--format', flags.format, ['sculpt', 'onnx-sparse']);
      const r = packFile(model, flags.output, { format, fp16: flags.fp16 === true });
      process.stdout.write((flags.json ? JSON.stringify(r) : packTable(r)) + '\n');
    });
}

function packTable(r: PackFileResult): string {
  const rows = r.tensors.map((t) => [t.name, formatShape(t.dims), formatFraction(t.density), t.storage, formatCount(t.bytes), formatCount(t.denseBytes)]);
  const lines = [
    formatTable(['tensor', 'shape', 'density', 'stored as', 'bytes', 'dense bytes'], rows, [false, false, true, false, true, true]),
    '',
    `dense ${formatCount(r.denseBytes)} bytes -> packed ${formatCount(r.packedBytes)} bytes (${r.format}${r.fp16 ? ', float16 values' : ''}): ` +
      `${(100 * r.ratio).toFixed(1)}% of the dense file`,
  ];
  if (r.fp16 && r.float32Bytes !== undefined) {
    lines.push(`float16 values: ${formatCount(r.packedBytes)} bytes against ${formatCount(r.float32Bytes)} with float32 values; largest rounding error ${r.fp16MaxError.toExponential(2)}`);
  }
  lines.push(`wrote ${r.output}`);
  return lines.join('\n');
}
