// `sculpt imp --pattern channel` removes whole output neurons; N:M is refused with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder } from '../../src/train/model-io.js';
import { toWeightSet } from '../../src/train/weights.js';
import { countToPrune } from '../../src/core/counting.js';
import { sculpt, tempDir } from './helpers.js';

test('imp --pattern channel --scope layer: each kernel loses exactly round(0.5·C) whole output columns', { timeout: 120_000 }, async () => {
  const out = join(tempDir(), 'imp-ch');
  const r = sculpt(['imp', '--model', 'lenet-300-100', '--rounds', '2', '--rate', '0.5', '--epochs', '1',
    '--train-limit', '600', '--test-limit', '200', '--pattern', 'channel', '--scope', 'layer', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  await setupBackend('cpu');
  const model = await loadModelFolder(join(out, 'round-1'));
  const ws = toWeightSet(model);
  model.dispose();
  let checked = 0;
  for (const t of ws.tensors.filter((x) => x.prunable)) {
    const [rows, cols] = t.shape as [number, number]; // Dense kernel [in, out]: output channels are columns
    let emptyCols = 0;
    for (let c = 0; c < cols; c++) {
      let empty = true;
      for (let i = 0; i < rows && empty; i++) if (t.data[i * cols + c] !== 0) empty = false;
      if (empty) emptyCols++;
    }
    assert.equal(emptyCols, countToPrune(0.5, cols), t.name);
    checked++;
  }
  assert.equal(checked, 3);
});

test('imp --pattern 2:4 is refused in one line', () => {
  const r = sculpt(['imp', '--model', 'lenet-300-100', '--rounds', '2', '--pattern', '2:4', '--out', join(tempDir(), 'x')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /N:M fixes the sparsity/);
});
