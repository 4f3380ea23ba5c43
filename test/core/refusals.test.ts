// A run that does nothing or destroys a model says so, and options a JavaScript caller gets wrong are errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planStreaming, prune, type TensorSource } from '../../src/core/plan.js';
import { pruneOptions, validatePruneOptions, type PruneOptions, type PruneOptionsInput } from '../../src/core/options.js';
import { Mask } from '../../src/core/mask.js';
import { WeightSet, type WeightTensor } from '../../src/core/types.js';
import { SculptError } from '../../src/core/errors.js';
import * as api from '../../src/index.js';
import { model, options, tensor } from './helpers.js';

const isSculpt = (re: RegExp) => (e: unknown) => e instanceof SculptError && re.test(e.message) && !e.message.includes('\n');

test('pruneOptions fills the defaults, parses text patterns and plain-object overrides; exported from the package', () => {
  assert.equal(api.pruneOptions, pruneOptions);
  assert.deepEqual(pruneOptions({ sparsity: 0.9 }), {
    sparsity: 0.9, scope: 'global', pattern: { kind: 'unstructured' }, criterion: 'magnitude', exclude: [], include: [],
    overrides: new Map(), seed: 0, fractionOfRemaining: false, allowCollapse: false,
  });
  const o = pruneOptions({ sparsity: 0.5, scope: 'layer', pattern: 'channel:l1', overrides: { 'fc1.weight': 0.25 }, exclude: ['bn*'], allowCollapse: true });
  assert.deepEqual(o.pattern, { kind: 'channel', norm: 1 });
  assert.deepEqual([...o.overrides], [['fc1.weight', 0.25]]);
  assert.deepEqual([o.scope, o.exclude, o.allowCollapse], ['layer', ['bn*'], true]);
  // N:M implies its sparsity; a count stands in for it.
  assert.equal(pruneOptions({ pattern: '2:4' }).sparsity, 0.5);
  assert.equal(pruneOptions({ pattern: { kind: 'nm', n: 1, m: 4 } }).sparsity, 0.75);
  assert.equal(pruneOptions({ count: 10 }).count, 10);
  // The record it returns prunes like a hand-written one.
  const ws = model(2);
  assert.equal(prune(ws, pruneOptions({ sparsity: 0.5 })).targetTotal.zerosAfter, prune(ws, options({ sparsity: 0.5 })).targetTotal.zerosAfter);
});

test('pruneOptions: every wrong value a JavaScript caller can pass is one line naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [{ sparsity: 0.5, pattern: 'chanel' }, /^unknown options\.pattern 'chanel'; accepted: 'unstructured', 'N:M'/],
    [{ sparsity: 0.5, pattern: { kind: 'nm', n: 3, m: 2 } }, /^options\.pattern \{"kind":"nm","n":3,"m":2\} is not a pattern/],
    [{ sparsity: 0.5, pattern: { kind: 'channel' } }, /^options\.pattern .* is not a pattern/],
    [{ sparsity: 0.5, scope: 'Global' }, /^options\.scope must be 'global' or 'layer', got 'Global'$/],
    [{ sparsity: '0.5' }, /^options\.sparsity must be a number in \[0, 1\), got the string '0\.5'; pass a number/],
    [{ sparsity: NaN }, /^options\.sparsity must be a number in \[0, 1\) \(e\.g\. 0\.9 for 90% pruned\), got NaN$/],
    [{ sparsity: 90 }, /^options\.sparsity .* got 90$/],
    [{}, /^options\.sparsity is missing/],
    [{ sparsity: 0.5, criterion: 'magnitud' }, /^unknown options\.criterion 'magnitud'; known criteria: magnitude, random/],
    [{ sparsity: 0.5, criterion: 3 }, /^unknown options\.criterion 3/],
    [{ sparsity: 0.5, exclude: 'fc1.weight' }, /^options\.exclude must be an array of tensor names or globs, got the string 'fc1\.weight'; pass \['fc1\.weight'\]$/],
    [{ sparsity: 0.5, include: [1] }, /^options\.include must be an array/],
    [{ sparsity: 0.5, overrides: [['fc1.weight', 0.5]] }, /^options\.overrides must be a Map or an object/],
    [{ sparsity: 0.5, overrides: { 'fc1.weight': 1.5 } }, /^options\.overrides\['fc1\.weight'\] must be a number in \[0, 1\)/],
    [{ sparsity: 0.5, seed: '1' }, /^options\.seed must be a finite number, got '1'$/],
    [{ sparsity: 0.5, count: -1 }, /^options\.count must be a non-negative integer/],
    [{ sparsity: 0.5, allowCollapse: 'yes' }, /^options\.allowCollapse must be true or false, got 'yes'$/],
    [{ sparsity: 0.5, fractionOfRemaining: 1 }, /^options\.fractionOfRemaining must be true or false/],
    [{ sparsty: 0.5 }, /^unknown option 'sparsty'; pruning options are sparsity, scope, pattern/],
    [null, /^pruneOptions needs an object/],
  ];
  for (const [input, re] of bad) assert.throws(() => pruneOptions(input as PruneOptionsInput), isSculpt(re), JSON.stringify(input));
});

test('validatePruneOptions (what pruneFile and the plan call) refuses the same mistakes in a hand-made record', () => {
  const bad: [Partial<Record<keyof PruneOptions, unknown>>, RegExp][] = [
    [{ pattern: 'channel' }, /^options\.pattern must be a PatternSpec, got the string 'channel'; use parsePattern\('channel'\)/],
    [{ pattern: 'chanel' }, /^unknown options\.pattern 'chanel'/],
    [{ pattern: undefined }, /^options\.pattern undefined is not a pattern/],
    [{ scope: 'Global' }, /^options\.scope/],
    [{ sparsity: '0.5' }, /^options\.sparsity/],
    [{ overrides: { a: 0.5 } }, /^options\.overrides must be a Map/],
    [{ exclude: undefined }, /^options\.exclude must be an array/],
  ];
  for (const [over, re] of bad) {
    const opts = options(over as Partial<PruneOptions>);
    assert.throws(() => validatePruneOptions(opts), isSculpt(re), JSON.stringify(over));
    assert.throws(() => prune(model(1), opts), isSculpt(re));
  }
});

test('nothing to prune is an error saying why: no floating tensors, none prunable, or all excluded', () => {
  assert.throws(() => prune(new WeightSet([]), options()), isSculpt(/^no prunable weights: no floating-point tensors found/));
  const norms = new WeightSet([
    tensor('bn.weight', [16], 1, { prunable: false, role: 'norm' }),
    tensor('fc.bias', [16], 2, { prunable: false, role: 'bias' }),
  ]);
  assert.throws(() => prune(norms, options()),
    isSculpt(/^no prunable weights: 2 floating tensors, none is a weight of rank ≥ 2 \('sculpt inspect' shows each tensor's decision\); name tensors in options\.include to prune them anyway$/));
  // include makes it a real run again.
  assert.equal(prune(norms, options({ include: ['bn.weight'] })).targetTotal.zerosAfter, 8);
  assert.throws(() => prune(model(1), options({ exclude: ['*'] })),
    isSculpt(/^nothing left to prune: options\.exclude removes all 3 tensors chosen for pruning \('conv1\.weight', 'fc1\.weight', 'fc2\.weight'\)/));
  assert.throws(() => prune(model(1), options({ exclude: ['*'], include: ['conv1.bias'] })), isSculpt(/removes all 4 tensors/));
  // An override on an excluded tensor still prunes it: not empty.
  assert.equal(prune(model(1), options({ exclude: ['*'], overrides: new Map([['fc2.weight', 0.5]]) })).targetTotal.zerosAfter, 80);
  // The streaming plan refuses before any read.
  const src: TensorSource = { tensors: norms.tensors, read: () => assert.fail('no read for an empty plan') };
  assert.throws(() => planStreaming(src, options()), isSculpt(/^no prunable weights/));
});

const COLLAPSE = /^pruning would leave tensors 'fc1\.weight', 'fc2\.weight' with no weights \(density 0, layer collapse: the layer would ignore its input\); lower options\.sparsity, keep them with options\.exclude or options\.overrides, or pass options\.allowCollapse: true to allow it$/;

/** Three weights: fc3 large, so a high global sparsity empties fc1 and fc2 only. */
function threeLayers(): WeightSet {
  const fc3 = tensor('fc3.weight', [10, 10], 3);
  for (let i = 0; i < fc3.data.length; i++) fc3.data[i] = 100 + i;
  return new WeightSet([tensor('fc1.weight', [20, 30], 1), tensor('fc2.weight', [10, 20], 2), fc3]);
}

test('layer collapse: a tensor pruned to density 0 is refused, naming every such tensor, unless allowCollapse', () => {
  const ws = threeLayers();
  assert.throws(() => prune(ws, options({ sparsity: 0.89 })), isSculpt(COLLAPSE)); // 890 of 900: 800 from fc1+fc2, 90 of fc3
  assert.equal(prune(ws, options({ sparsity: 0.88 })).targetTotal.zerosAfter, 792); // fc2 keeps 8: fine
  const r = prune(ws, options({ sparsity: 0.89, allowCollapse: true }));
  assert.equal(r.targetTotal.zerosAfter, 801);
  assert.equal((r.masks.get('fc1.weight') as Mask).keptCount(), 0);
  assert.deepEqual(r.stats.map((s) => s.warning), [
    "tensor 'fc1.weight' pruned to density 0 (options.allowCollapse): its layer now ignores its input",
    "tensor 'fc2.weight' pruned to density 0 (options.allowCollapse): its layer now ignores its input",
    undefined,
  ]);
  // Layer scope: round(0.999·600) = 599, but round(0.999·200) = 200 and round(0.999·100) = 100.
  assert.throws(() => prune(ws, options({ sparsity: 0.999, scope: 'layer' })), isSculpt(/^pruning would leave tensors 'fc2\.weight', 'fc3\.weight' with no weights/));
  assert.throws(() => prune(ws, options({ sparsity: 0.999, scope: 'layer', exclude: ['fc2.weight'] })), isSculpt(/^pruning would leave tensor 'fc3\.weight' with no weights .*keep it with/));
  // Channel pattern: 4 channels at 0.9 is round(3.6) = 4, all of them.
  const conv = new WeightSet([tensor('conv.weight', [4, 2, 3, 3], 5), tensor('big.weight', [100, 4], 6)]);
  assert.throws(() => prune(conv, options({ sparsity: 0.9, scope: 'layer', pattern: { kind: 'channel', norm: 2 } })), isSculpt(/'conv\.weight' with no weights/));
  // N:M keeps N of every M: it never empties a tensor.
  assert.equal(prune(ws, options({ pattern: { kind: 'nm', n: 1, m: 2 }, sparsity: 0.5, scope: 'layer' })).targetTotal.zerosAfter, 450);
});

test('a tensor already all zero (or emptied by an earlier mask) is no collapse of this run', () => {
  const ws = threeLayers();
  const fc2 = ws.get('fc2.weight') as WeightTensor;
  fc2.data.fill(0);
  // fc2 was empty before: only fc1 would newly collapse at 0.89 (fc1's 600 + fc2's 200 + 90 of fc3 ≥ 890).
  assert.throws(() => prune(ws, options({ sparsity: 0.89 })), isSculpt(/^pruning would leave tensor 'fc1\.weight' with no weights/));
  assert.equal(prune(ws, options({ sparsity: 0.5 })).stats[1].zerosAfter, 200);
  // IMP: a mask that already emptied fc1 carries over without a refusal.
  const ws2 = threeLayers();
  const dead = new Map([['fc1.weight', new Mask(600)]]);
  const r = prune(ws2, options({ sparsity: 0.2, scope: 'layer', fractionOfRemaining: true }), dead);
  assert.equal((r.masks.get('fc1.weight') as Mask).keptCount(), 0);
  assert.equal(r.stats[0].warning, undefined);
});

test('streaming plans refuse a collapse at the first tensor that collapses, naming every collapsing tensor', () => {
  const ws = threeLayers();
  let reads = 0;
  const src: TensorSource = { tensors: ws.tensors, read: (n) => { reads++; return (ws.get(n) as WeightTensor).data; } };
  // Layer scope at 0.999: fc1 keeps round(0.6) = 1 weight, fc2 (200) and fc3 (100) keep none.
  const plan = planStreaming(src, options({ sparsity: 0.999, scope: 'layer' }));
  assert.equal(plan.maskFor('fc1.weight', ws.tensors[0].data)?.keptCount(), 1);
  reads = 0;
  assert.throws(() => plan.maskFor('fc2.weight', ws.tensors[1].data), isSculpt(/^pruning would leave tensors 'fc2\.weight', 'fc3\.weight' with no weights/));
  assert.equal(reads, 1, 'only fc3, the one the writer has not reached, is read');
  const ok = planStreaming(src, options({ sparsity: 0.999, scope: 'layer', allowCollapse: true }));
  for (const t of ws.tensors) ok.maskFor(t.name, t.data);
  assert.deepEqual(ok.stats().stats.map((s) => s.warning !== undefined), [false, true, true]);
});

test('channel pruning of the last weight layer (the classifier\'s output rows) warns; other layers and patterns do not', () => {
  const ws = model(3); // conv1.weight [8,...], fc1.weight [16,72], fc2.weight [10,16] last prunable
  const r = prune(ws, options({ sparsity: 0.3, scope: 'layer', pattern: { kind: 'channel', norm: 2 } }));
  const warned = r.stats.filter((s) => s.warning !== undefined);
  assert.deepEqual(warned.map((s) => [s.name, s.warning]), [[
    'fc2.weight', "channel pruning removed 3 of 10 output rows of 'fc2.weight' (the last weight layer, taken as the classifier): those outputs become constant; keep it with options.exclude",
  ]]);
  // Excluded: no warning (fc1 is not the last prunable tensor, bn.weight is not prunable).
  const ex = prune(ws, options({ sparsity: 0.3, scope: 'layer', pattern: { kind: 'channel', norm: 2 }, exclude: ['fc2.weight'] }));
  assert.ok(ex.stats.every((s) => s.warning === undefined));
  // Unstructured and N:M leave every output row alive: no warning.
  assert.ok(prune(ws, options({ sparsity: 0.9 })).stats.every((s) => s.warning === undefined));
  assert.ok(prune(ws, options({ sparsity: 0.5, pattern: { kind: 'nm', n: 2, m: 4 }, exclude: ['conv1.weight'] })).stats.every((s) => s.warning === undefined));
  // outputWeights names the output layers instead of "the last prunable tensor".
  const o = prune(ws, options({ sparsity: 0.3, scope: 'layer', pattern: { kind: 'channel', norm: 2 }, outputWeights: ['fc1.*'] }));
  assert.deepEqual(o.stats.filter((s) => s.warning !== undefined).map((s) => [s.name, s.warning]), [[
    'fc1.weight', "channel pruning removed 5 of 16 output rows of 'fc1.weight' (an output layer): those outputs become constant; keep it with options.exclude",
  ]]);
  assert.throws(() => prune(ws, options({ pattern: { kind: 'channel', norm: 2 }, outputWeights: ['head*'] })), isSculpt(/^options\.outputWeights 'head\*' matches no tensor/));
  // Rows already dead before the run are not "removed" by it.
  const dead = model(3);
  const fc2 = dead.get('fc2.weight') as WeightTensor;
  fc2.data.fill(0, 0, 3 * 16); // rows 0..2 zero
  const d = prune(dead, options({ sparsity: 0.3, scope: 'layer', pattern: { kind: 'channel', norm: 2 } }));
  assert.equal(d.stats.find((s) => s.name === 'fc2.weight')?.warning, undefined, '3 of 10 rows pruned, all 3 already zero');
});
