/** `sculpt run MODEL --input X.npy -o Y.npy`: inference on sculpt's sparse engine or onnxruntime. */
import type { Command } from 'commander';

export function registerRun(program: Command): void {
  program.command('run').description('run a model (.onnx or .sculpt) on NumPy inputs');
}
