/** `sculpt analyze lipschitz MODEL [--json]`: per-layer spectral norms and the Lipschitz bound of an ONNX model. */
import type { Command } from 'commander';
import { lipschitzBound } from '../analysis/lipschitz.js';
import { SculptError } from '../core/errors.js';
import { readOnnx } from '../formats/onnx.js';
import { formatTable } from './output.js';

export function registerAnalyze(program: Command): void {
  const analyze = program.command('analyze').description('analyses of a model file');
  analyze
    .command('lipschitz')
    .description('ℓ2 spectral norm of every Gemm/MatMul weight (power iteration) and their product, a Lipschitz bound of a ReLU MLP')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print one JSON object')
    .action((model: string, flags: { json?: boolean }) => {
      if (!model.endsWith('.onnx')) throw new SculptError(`${model}: analyze lipschitz reads ONNX models (.onnx)`);
      const ws = readOnnx(model).weights();
      const layers = ws.tensors.filter((t) => t.role === 'weight' && (t.op === 'Gemm' || t.op === 'MatMul') && t.shape.length === 2);
      if (layers.length === 0) throw new SculptError(`${model}: no 2-D Gemm/MatMul weights; analyze lipschitz handles fully connected networks`);
      const b = lipschitzBound(layers);
      const result = { model, norm: 'l2', layers: b.layers, lipschitz: b.lipschitz };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      process.stdout.write(`${formatTable(['tensor', 'shape', 'spectral norm'], b.layers.map((l) => [l.name, l.shape.join('×'), l.spectralNorm.toPrecision(6)]), [false, false, true])}\n`);
      process.stdout.write(`Lipschitz bound (ℓ2, product of layer norms; ReLU is 1-Lipschitz): ${b.lipschitz.toPrecision(6)}\n`);
    });
}
