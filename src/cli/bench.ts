/** `sculpt bench MODEL`: onnxruntime dense against sculpt's sparse engine, with the roofline's prediction. */
import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program.command('bench').description('time a model on onnxruntime (dense) and sculpt (sparse)');
}
