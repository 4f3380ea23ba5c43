import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criterionNames, fillUniform, getCriterion, registerCriterion, type Criterion } from '../../src/core/criteria.js';
import { Rng } from '../../src/core/rng.js';
import { prune } from '../../src/core/plan.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet } from '../../src/core/types.js';
import { SculptError } from '../../src/core/errors.js';
import { model, options, tensor } from './helpers.js';

test('registry: built-ins, lookup and the unknown-name error', () => {
  assert.deepEqual(criterionNames().slice(0, 3), ['magnitude', 'random', 'taylor']);
  assert.equal(getCriterion('magnitude').needsData, false);
  assert.equal(getCriterion('taylor').needsData, true);
  assert.throws(() => getCriterion('snip'), (e: unknown) => e instanceof SculptError && /'snip'.*magnitude/.test(e.message));
});

test('random: same seed same masks, different seed different masks, exact counts', () => {
  const ws = model(7);
  const a = prune(ws, options({ sparsity: 0.5, criterion: 'random', seed: 42 }));
  const b = prune(ws, options({ sparsity: 0.5, criterion: 'random', seed: 42 }));
  const c = prune(ws, options({ sparsity: 0.5, criterion: 'random', seed: 43 }));
  for (const [name, m] of a.masks) {
    assert.ok(m.equals(b.masks.get(name) as Mask), name);
    assert.ok(!m.equals(c.masks.get(name) as Mask), name);
  }
  assert.equal(a.targetTotal.zerosAfter, Math.round(0.5 * (216 + 1152 + 160)));
  // Random pruning is not magnitude pruning.
  const mag = prune(ws, options({ sparsity: 0.5 }));
  assert.ok(!(mag.masks.get('fc1.weight') as Mask).equals(a.masks.get('fc1.weight') as Mask));
});

test("random: a tensor's scores do not depend on which other tensors are pruned", () => {
  const ws = model(7);
  const all = prune(ws, options({ sparsity: 0.3, criterion: 'random', scope: 'layer', seed: 5 }));
  const one = prune(ws, options({ sparsity: 0.3, criterion: 'random', scope: 'layer', seed: 5, exclude: ['conv1.weight', 'fc2.weight'] }));
  assert.ok((all.masks.get('fc1.weight') as Mask).equals(one.masks.get('fc1.weight') as Mask));
  // Renaming the tensor changes its stream.
  const t = tensor('x', [500], 1);
  const u = tensor('y', [500], 1);
  const mx = prune(new WeightSet([t]), options({ criterion: 'random', seed: 5 })).masks.get('x') as Mask;
  const my = prune(new WeightSet([u]), options({ criterion: 'random', seed: 5 })).masks.get('y') as Mask;
  assert.ok(!mx.equals(my));
});

test('taylor uses gradients; missing gradients are an error naming the tensor', () => {
  const t = tensor('w', [100], 3);
  const g = new Float32Array(100);
  for (let i = 0; i < 100; i++) g[i] = i < 50 ? 0.001 : 10; // first half unimportant
  const m = prune(new WeightSet([t]), options({ sparsity: 0.5, criterion: 'taylor', gradients: new Map([['w', g]]) })).masks.get('w') as Mask;
  assert.equal(m.prunedCount(), 50);
  for (let i = 0; i < 50; i++) assert.equal(m.get(i), false);
  assert.throws(() => prune(new WeightSet([t]), options({ criterion: 'taylor' })), (e: unknown) => e instanceof SculptError && /'w'/.test(e.message));
});

test('a registered criterion is usable by name', () => {
  const reverse: Criterion = {
    name: 'test-reverse-index',
    needsData: false,
    scoreInto(_t, values, out) {
      for (let i = 0; i < values.length; i++) out[i] = values.length - i;
    },
  };
  registerCriterion(reverse);
  const m = prune(new WeightSet([tensor('w', [10], 1)]), options({ sparsity: 0.3, criterion: 'test-reverse-index' })).masks.get('w') as Mask;
  assert.deepEqual([...m.toBytes()], [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
});

test('fillUniform reproduces the Rng stream exactly', () => {
  for (const seed of [0, 1, 42, 0xffffffff, 123456789]) {
    const out = new Float32Array(1000);
    fillUniform(seed, out);
    const rng = new Rng(seed);
    for (let i = 0; i < out.length; i++) assert.equal(out[i], (rng.nextUint32() >>> 8) / 16777216, `seed ${seed} i ${i}`);
  }
});
