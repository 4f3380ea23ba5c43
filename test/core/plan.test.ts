import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMasks, prune } from '../../src/core/plan.js';
import { countToPrune } from '../../src/core/counting.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet } from '../../src/core/types.js';
import { SculptError } from '../../src/core/errors.js';
import { model, options, referenceSmallest, tensor, concat } from './helpers.js';

const SPARSITIES = [0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 0.95, 0.99];
const SIZES = [1, 2, 3, 5, 7, 10, 33, 101, 1000, 4097];

test('layer scope prunes exactly round(s*N) per tensor at many sparsities and sizes', () => {
  for (const n of SIZES) {
    const ws = new WeightSet([tensor('w', [n], n)]);
    for (const s of SPARSITIES) {
      // Small tensors at 0.99 lose every weight: exact counts are under test here, not the collapse.
      const r = prune(ws, options({ sparsity: s, scope: 'layer', allowCollapse: true }));
      const m = r.masks.get('w') as Mask;
      assert.equal(m.prunedCount(), countToPrune(s, n), `n=${n} s=${s}`);
      assert.equal(r.stats[0].zerosAfter, countToPrune(s, n));
    }
  }
});

test('global scope: exact total count and every kept |w| >= every pruned |w|', () => {
  const ws = model(3);
  const targets = ws.tensors.filter((t) => t.prunable);
  const N = targets.reduce((s, t) => s + t.data.length, 0);
  for (const s of SPARSITIES) {
    const r = prune(ws, options({ sparsity: s }));
    assert.deepEqual([...r.masks.keys()], ['conv1.weight', 'fc1.weight', 'fc2.weight']);
    let pruned = 0;
    let maxPruned = -1;
    let minKept = Infinity;
    for (const t of targets) {
      const m = r.masks.get(t.name) as Mask;
      pruned += m.prunedCount();
      for (let i = 0; i < t.data.length; i++) {
        const a = Math.abs(t.data[i]);
        if (m.get(i)) minKept = Math.min(minKept, a);
        else maxPruned = Math.max(maxPruned, a);
      }
    }
    assert.equal(pruned, countToPrune(s, N), `s=${s}`);
    assert.equal(r.targetTotal.zerosAfter, countToPrune(s, N));
    if (pruned > 0) assert.ok(maxPruned <= minKept, `s=${s}: ${maxPruned} > ${minKept}`);
    // Stats cover every tensor; untouched ones keep their numbers.
    assert.equal(r.stats.length, 6);
    const bias = r.stats.find((x) => x.name === 'conv1.bias');
    assert.deepEqual([bias?.pruned, bias?.zerosAfter, bias?.densityAfter], [false, 0, 1]);
    assert.equal(r.total.count, ws.parameterCount);
  }
});

test('global ties: many equal magnitudes across tensors, earlier tensor and index pruned first', () => {
  const a = tensor('a', [50], 1);
  const b = tensor('b', [50], 2);
  for (let i = 0; i < 50; i++) {
    a.data[i] = i % 2 === 0 ? 1 : -2;
    b.data[i] = i % 5 === 0 ? -1 : 3;
  }
  const ws = new WeightSet([a, b]);
  const flat = concat([a.data, b.data]).map(Math.abs);
  for (const s of [0.1, 0.2, 0.3, 0.31, 0.5, 0.6, 0.9]) {
    const r = prune(ws, options({ sparsity: s, allowCollapse: true }));
    const k = countToPrune(s, 100);
    const want = referenceSmallest(flat, new Uint8Array(100).fill(1), k);
    const got = new Set<number>();
    (r.masks.get('a') as Mask).toBytes().forEach((v, i) => v === 0 && got.add(i));
    (r.masks.get('b') as Mask).toBytes().forEach((v, i) => v === 0 && got.add(50 + i));
    assert.deepEqual([...got].sort((x, y) => x - y), [...want].sort((x, y) => x - y), `s=${s}`);
  }
});

test('already-zero weights count as pruned; existing masks are never restored', () => {
  const t = tensor('w', [1000], 9, { zeroFraction: 0.3 });
  const zeros = t.data.filter((v) => v === 0).length;
  assert.ok(zeros > 250 && zeros < 350);
  const ws = new WeightSet([t]);
  const low = prune(ws, options({ sparsity: 0.2 }));
  assert.equal(low.stats[0].zerosBefore, zeros);
  assert.equal(low.stats[0].zerosAfter, zeros); // more already pruned than asked: nothing removed
  assert.ok((low.masks.get('w') as Mask).equals(Mask.fromNonZero(t.data)));
  const high = prune(ws, options({ sparsity: 0.5, scope: 'layer' }));
  assert.equal(high.stats[0].zerosAfter, 500);
  // An existing mask hides large weights: they stay pruned and count toward the 50%.
  const existing = Mask.full(1000);
  for (let i = 0; i < 1000; i++) if (Math.abs(t.data[i]) > 1.5) existing.set(i, false);
  const withOld = prune(ws, options({ sparsity: 0.5 }), new Map([['w', existing]]));
  const m = withOld.masks.get('w') as Mask;
  assert.equal(m.prunedCount(), 500);
  assert.ok(m.and(existing).equals(m));
  assert.equal(withOld.stats[0].zerosBefore, existing.and(Mask.fromNonZero(t.data)).prunedCount());
});

test('prune does not modify weights; applyMasks zeros exactly the pruned ones', () => {
  const ws = model(4);
  const before = ws.tensors.map((t) => t.data.slice());
  const r = prune(ws, options({ sparsity: 0.6 }));
  ws.tensors.forEach((t, i) => assert.deepEqual(t.data, before[i]));
  applyMasks(ws, r.masks);
  const again = prune(ws, options({ sparsity: 0.6 }));
  assert.equal(again.targetTotal.zerosBefore, r.targetTotal.zerosAfter);
  for (const [name, m] of r.masks) assert.ok(Mask.fromNonZero((ws.get(name) as { data: Float32Array }).data).equals(m));
  assert.throws(() => applyMasks(ws, new Map([['nope', Mask.full(1)]])), /'nope'/);
});

test('IMP: fraction of remaining gives (1-p)^k densities up to rounding, exactly as PyTorch counts', () => {
  const ws = model(5);
  const N = ws.tensors.filter((t) => t.prunable).reduce((s, t) => s + t.data.length, 0);
  let masks = new Map<string, Mask>();
  let z = 0;
  for (let step = 1; step <= 4; step++) {
    const r = prune(ws, options({ sparsity: 0.2, fractionOfRemaining: true }), masks);
    z = z + Math.round(0.2 * (N - z)); // no .5 cases at these sizes
    assert.equal(r.targetTotal.zerosAfter, z, `step ${step}`);
    assert.ok(Math.abs(r.targetTotal.densityAfter - 0.8 ** step) < 2 / N);
    for (const [name, m] of masks) assert.ok((r.masks.get(name) as Mask).and(m).equals(r.masks.get(name) as Mask));
    masks = r.masks;
  }
  // Layer scope, per tensor: PyTorch's iterative l1_unstructured at 0.2 three times.
  const t = new WeightSet([tensor('w', [7, 13], 8)]);
  let m = new Map<string, Mask>();
  const counts: number[] = [];
  for (let step = 0; step < 3; step++) {
    const r = prune(t, options({ sparsity: 0.2, scope: 'layer', fractionOfRemaining: true }), m);
    m = r.masks;
    counts.push((m.get('w') as Mask).prunedCount());
  }
  assert.deepEqual(counts, [18, 33, 45]); // round(18.2), 18 + round(14.6), 33 + round(11.6)
});

test('count: an absolute number instead of a sparsity', () => {
  const ws = model(6);
  const r = prune(ws, options({ sparsity: 0, count: 123 }));
  assert.equal(r.targetTotal.zerosAfter, 123);
  const l = prune(ws, options({ sparsity: 0, count: 7, scope: 'layer' }));
  for (const m of l.masks.values()) assert.equal(m.prunedCount(), 7);
  assert.throws(() => prune(ws, options({ count: 1e9 })), SculptError);
});

test('global counts at s*N ending in .5 round half to even', () => {
  const ws = new WeightSet([tensor('a', [5], 1), tensor('b', [5], 2)]);
  const cases: [number, number][] = [[0.25, 2], [0.75, 8], [0.05, 0], [0.15, 2], [0.45, 4], [0.35, 4]];
  for (const [s, k] of cases) {
    assert.equal(countToPrune(s, 10), k);
    assert.equal(prune(ws, options({ sparsity: s })).targetTotal.zerosAfter, k, `s=${s}`);
  }
});
