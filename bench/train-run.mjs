/* global process, console */
// Child process of bench/train.mjs: the work of `sculpt train --model lenet-300-100 --dataset
// fashion-mnist --epochs 1 --batch-size 60 --lr 1.2e-3 --optimizer adam --out DIR` through the
// library (TypeScript loaded by tsx, which the CLI built to dist/ does not pay).
// Usage: node bench/train-run.mjs OUT_DIR [backend]
import { register } from 'tsx/esm/api';

register();
const { runTrain } = await import('../src/train/methods.ts');
const { DEFAULT_TRAIN_CONFIG } = await import('../src/train/loop.ts');
const out = process.argv[2];
const res = await runTrain({
  model: 'lenet-300-100', dataset: 'fashion-mnist', seed: 0, out, backend: process.argv[3] ?? 'auto',
  train: { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 60, lr: 1.2e-3, optimizer: 'adam' },
});
const r = res.metrics.rounds[0];
console.log(`sculpt ${res.details.backend} train ${r.trainSeconds.toFixed(2)} s test accuracy ${r.testAccuracy.toFixed(4)}`);
