/** `sculpt inspect MODEL`: every tensor, its role, whether sculpt would prune it and why. */
import type { Command } from 'commander';
import { inspectFile } from '../api/inspect-file.js';
import { printGroups } from './shrink.js';
import { formatCount, formatFraction, formatShape, formatTable } from './output.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list the tensors of an ONNX, safetensors or TF.js model: shapes, roles, prunable or not, sparsity')
    .argument('<model>', 'model file (.onnx, .safetensors) or TF.js layers folder (model.json)')
    .option('--groups', 'ONNX and TF.js layers models: show the groups of coupled channels that prune --shrink removes together, their sizes, and which are pinned and why')
    .option('--json', 'print one JSON object instead of the table')
    .action((model: string, flags: { json?: boolean; groups?: boolean }) => {
      if (flags.groups) {
        printGroups(model, flags.json === true);
        return;
      }
      const info = inspectFile(model);
      if (flags.json) {
        process.stdout.write(JSON.stringify(info) + '\n');
        return;
      }
      const rows = info.tensors.map((t) => [
        t.name, formatShape(t.shape), formatCount(t.count), t.role, t.prunable ? 'yes' : 'no', t.reason, formatFraction(t.sparsity),
      ]);
      process.stdout.write(
        [
          `${info.file} (${info.format}): ${info.tensors.length} floating tensors`,
          formatTable(['tensor', 'shape', 'params', 'role', 'prunable', 'why', 'sparsity'], rows, [false, false, true, false, false, false, true]),
          '',
          `parameters: ${formatCount(info.parameters)} (prunable ${formatCount(info.prunableParameters)}); ` +
            `sparsity ${formatFraction(info.zeros / Math.max(1, info.parameters))} overall, ` +
            `${formatFraction(info.prunableZeros / Math.max(1, info.prunableParameters))} of the prunable`,
          'prune changes what is prunable with --exclude and --include.',
        ].join('\n') + '\n',
      );
    });
}
