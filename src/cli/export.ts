/** `sculpt export FOLDER -o MODEL.onnx`: a TF.js layers model (as sculpt train writes it) as an ONNX file. */
import type { Command } from 'commander';
import { EXPORT_OPSETS, exportTfjsFile, type ExportOnnxResult } from '../api/export-onnx.js';
import { SculptError } from '../core/errors.js';
import { parseInteger } from './args.js';
import { formatCount, formatFraction, formatShape, formatTable } from './output.js';

interface ExportFlags {
  output?: string;
  opset: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('convert a TF.js layers model folder (model.json + shards, e.g. from sculpt train) to an ONNX file')
    .argument('<folder>', 'TF.js layers model folder (or its model.json), e.g. OUT/round-0 of sculpt train/imp/gmp')
    .option('-o, --output <file>', 'the .onnx file to write (never the input) (required)')
    .option('--opset <n>', `ONNX opset, ${EXPORT_OPSETS[0]} to ${EXPORT_OPSETS[EXPORT_OPSETS.length - 1]}`, '13')
    .option('--json', 'print one JSON object instead of the summary')
    .addHelpText('after', `
The ONNX model takes and returns the same arrays as TF.js model.predict: channels-last (NHWC)
images in, outputs as TF.js gives them. Conv and pooling run channels-first inside (a Transpose
after the input and before Flatten); pruned zeros are kept exactly, so sculpt pack makes it small.

Examples:
  sculpt export out/dense/round-0 -o lenet.onnx
  sculpt export out/imp/round-3 -o lenet-imp.onnx && sculpt pack lenet-imp.onnx -o lenet-imp.sculpt`)
    .action((folder: string, flags: ExportFlags) => {
      if (!flags.output) throw new SculptError('export: missing -o/--output: name the .onnx file to write');
      const r = exportTfjsFile(folder, flags.output, { opset: parseInteger('--opset', flags.opset) });
      process.stdout.write((flags.json ? JSON.stringify(exportJson(r)) : exportSummary(r)) + '\n');
    });
}

function exportJson(r: ExportOnnxResult & { output: string }): object {
  const { bytes, ...rest } = r;
  return { ...rest, fileBytes: bytes.length };
}

function exportSummary(r: ExportOnnxResult & { output: string }): string {
  const rows = r.weights.map((w) => [w.name, formatShape(w.tfjsShape), formatShape(w.onnxShape), formatCount(w.count), formatFraction(1 - w.zeros / Math.max(1, w.count))]);
  const io = (v: { name: string; dims: readonly (number | string)[] }) => `${v.name} [${v.dims.join(', ')}]`;
  const lines = [
    formatTable(['weight', 'TF.js shape', 'ONNX shape', 'params', 'density'], rows, [false, false, false, true, true]),
    '',
    `${r.layers.length} layers -> ${r.nodes} ONNX nodes (opset ${r.opset}, ${r.transposes} layout Transposes); ` +
      `${formatCount(r.parameters)} parameters, ${formatCount(r.zeros)} zeros kept`,
    `inputs ${r.inputs.map(io).join(', ')} (NHWC, as in TF.js); outputs ${r.outputs.map(io).join(', ')}`,
  ];
  if (r.unusedWeights.length > 0) lines.push(`not exported (no layer uses them): ${r.unusedWeights.join(', ')}`);
  lines.push(`wrote ${r.output} (${formatCount(r.bytes.length)} bytes)`);
  return lines.join('\n');
}
