import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SculptError } from '../../src/core/errors.js';
import { parseBackend, setupBackend } from '../../src/train/backend.js';

test('backend choice: auto picks tfjs-node if installed, else wasm with SIMD; overrides work and are reported', async () => {
  let hasTfjsNode = true;
  try {
    const name = '@tensorflow/tfjs-node';
    await import(name);
  } catch {
    hasTfjsNode = false;
  }
  const auto = await setupBackend('auto');
  assert.equal(auto.name, hasTfjsNode ? 'tensorflow' : 'wasm');
  assert.equal(tf.getBackend(), auto.name);
  if (!hasTfjsNode) {
    assert.match(auto.note, /^backend: wasm \(SIMD, 1 thread\)$/);
    await assert.rejects(setupBackend('tensorflow'), (e: unknown) => e instanceof SculptError && /tfjs-node is not installed/.test(e.message));
  }
  const cpu = await setupBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal((await setupBackend('wasm')).name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.throws(() => parseBackend('webgl'), (e: unknown) => e instanceof SculptError && /--backend webgl/.test(e.message));
});
