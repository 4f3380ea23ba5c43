import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupBackend } from '../../src/train/backend.js';
import { overallDensity, pruneModel, randomMasksLike } from '../../src/train/session.js';
import { buildModel } from '../../src/train/zoo.js';

test('pruning through the core: IMP steps remove a fraction of what remains; random masks copy per-layer density', async () => {
  await setupBackend('wasm');
  const model = await buildModel('lenet-300-100', { inputShape: [28, 28, 1], classes: 10, seed: 2 });
  const total = 784 * 300 + 300 * 100 + 100 * 10;
  const m1 = pruneModel(model, { scope: 'global' }, 0.5, 0);
  assert.equal(overallDensity(model, m1), (total - Math.round(0.5 * total)) / total);
  const m2 = pruneModel(model, { scope: 'global' }, 0.5, 0, m1, true);
  const pruned1 = Math.round(0.5 * total);
  assert.equal(overallDensity(model, m2), (total - pruned1 - Math.round(0.5 * (total - pruned1))) / total);
  for (const [name, m] of m2) {
    const before = m1.get(name);
    if (before === undefined) continue;
    for (let i = 0; i < m.length; i++) if (!before.get(i)) assert.equal(m.get(i), false, `${name}[${i}] revived`);
  }
  const layerMasks = pruneModel(model, { scope: 'layer', exclude: ['fc3/kernel'] }, 0.7, 0);
  assert.deepEqual([...layerMasks.keys()].sort(), ['fc1/kernel', 'fc2/kernel']);
  const random = randomMasksLike(model, m2, 99);
  assert.deepEqual([...random.keys()], [...m2.keys()]);
  for (const [name, m] of m2) {
    const r = random.get(name);
    assert.ok(r !== undefined);
    assert.equal(r.keptCount(), m.keptCount(), `${name} kept count`);
    if (m.keptCount() < m.length) assert.ok(!r.equals(m), `${name} random mask differs from the magnitude mask`);
  }
  model.dispose();
});
