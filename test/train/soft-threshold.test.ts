// --soft-threshold: proximal L1 gives exact zeros during training (the L1 penalty's subgradient does not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../../src/train/backend.js';
import { softThreshold } from '../../src/train/loop.js';
import { sculpt, tempDir } from '../cli/helpers.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

test('softThreshold: w ← sign(w)·max(|w| − τ, 0), zeros stay zero', async () => {
  await setupBackend('cpu');
  const v = tf.variable(tf.tensor1d([0.5, -0.5, 0.05, -0.05, 0, 0.1]));
  softThreshold([v], 0.1);
  const got = Array.from(v.dataSync());
  const want = [0.4, -0.4, 0, 0, 0, 0];
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-7, `${i}: ${got[i]} vs ${want[i]}`);
  v.dispose();
});

test('sculpt train --soft-threshold leaves many exact zeros, plain training none', { timeout: 120_000 }, () => {
  const zerosOf = (extra: string[]): number => {
    const out = join(tempDir(), 'st');
    const r = sculpt(['train', '--model', 'lenet-300-100', '--epochs', '1', '--train-limit', '600', '--test-limit', '100', '--out', out, '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    const layers: { count: number; density: number }[] = run.layers[0];
    return layers.reduce((s, l) => s + Math.round(l.count * (1 - l.density)), 0);
  };
  assert.equal(zerosOf([]), 0);
  assert.ok(zerosOf(['--soft-threshold', '2']) > 10_000);
});
