import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prune } from '../../src/core/plan.js';
import { resolveTargets, validatePruneOptions } from '../../src/core/options.js';
import { globToRegExp, matchNames } from '../../src/core/names.js';
import { countToPrune } from '../../src/core/counting.js';
import { Mask } from '../../src/core/mask.js';
import { SculptError } from '../../src/core/errors.js';
import { model, options } from './helpers.js';

const isSculpt = (re: RegExp) => (e: unknown) => e instanceof SculptError && re.test(e.message);

test('globs: * spans dots, ? is one character, everything else is literal', () => {
  const names = ['conv1.weight', 'conv1.bias', 'fc1.weight', 'fc10.weight', 'a+b.weight'];
  assert.deepEqual(matchNames('*.weight', names), ['conv1.weight', 'fc1.weight', 'fc10.weight', 'a+b.weight']);
  assert.deepEqual(matchNames('fc?.weight', names), ['fc1.weight']);
  assert.deepEqual(matchNames('fc1.weight', names), ['fc1.weight']);
  assert.deepEqual(matchNames('a+b.*', names), ['a+b.weight']);
  assert.equal(globToRegExp('conv*').test('conv1/x'), true);
});

test('validatePruneOptions names the option', () => {
  for (const s of [1, -0.1, NaN, Infinity, 1.5]) {
    assert.throws(() => validatePruneOptions(options({ sparsity: s })), isSculpt(/^options\.sparsity must be a number in \[0, 1\)/));
  }
  validatePruneOptions(options({ sparsity: 0 }));
  validatePruneOptions(options({ sparsity: 0.999 }));
  assert.throws(() => validatePruneOptions(options({ overrides: new Map([['fc1.weight', 1]]) })), isSculpt(/options\.overrides\['fc1\.weight'\]/));
  assert.throws(() => validatePruneOptions(options({ criterion: 'magnitud' })), isSculpt(/unknown options\.criterion 'magnitud'.*magnitude, random/));
  assert.throws(() => validatePruneOptions(options({ scope: 'model' as 'global' })), isSculpt(/options\.scope must be 'global' or 'layer', got 'model'/));
  assert.throws(() => validatePruneOptions(options({ count: 2.5 })), isSculpt(/options\.count/));
});

test('exclude removes tensors; a pattern matching nothing is an error naming it', () => {
  const ws = model(2);
  const r = prune(ws, options({ sparsity: 0.5, exclude: ['conv*'] }));
  assert.deepEqual([...r.masks.keys()], ['fc1.weight', 'fc2.weight']);
  assert.equal(r.stats.find((s) => s.name === 'conv1.weight')?.pruned, false);
  assert.equal(r.targetTotal.zerosAfter, countToPrune(0.5, 16 * 72 + 160));
  assert.throws(() => prune(ws, options({ exclude: ['fc3.weight'] })), isSculpt(/options\.exclude 'fc3.weight' matches no tensor/));
  assert.throws(() => prune(ws, options({ exclude: ['lstm*'] })), isSculpt(/options\.exclude 'lstm\*'/));
});

test('include adds non-prunable tensors; unknown includes are errors', () => {
  const ws = model(2);
  const t = resolveTargets(ws.tensors, options({ include: ['*.bias'] })).map((e) => e.tensor.name);
  assert.deepEqual(t, ['conv1.weight', 'conv1.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight']);
  assert.throws(() => resolveTargets(ws.tensors, options({ include: ['nope'] })), isSculpt(/options\.include 'nope'/));
});

test('overrides: own sparsity, pruned on their own, rest global; errors name the override', () => {
  const ws = model(2);
  const r = prune(ws, options({ sparsity: 0.8, overrides: new Map([['fc2.weight', 0.25]]) }));
  assert.equal((r.masks.get('fc2.weight') as Mask).prunedCount(), countToPrune(0.25, 160));
  const rest = (r.masks.get('conv1.weight') as Mask).prunedCount() + (r.masks.get('fc1.weight') as Mask).prunedCount();
  assert.equal(rest, countToPrune(0.8, 216 + 1152));
  // The global threshold over the rest is the same as pruning the rest with fc2 excluded.
  const without = prune(ws, options({ sparsity: 0.8, exclude: ['fc2.weight'] }));
  assert.ok((without.masks.get('fc1.weight') as Mask).equals(r.masks.get('fc1.weight') as Mask));
  // Globs, and override beats exclude.
  const g = prune(ws, options({ sparsity: 0.5, exclude: ['fc*'], overrides: new Map([['fc?.weight', 0.1]]) }));
  assert.equal((g.masks.get('fc1.weight') as Mask).prunedCount(), countToPrune(0.1, 1152));
  assert.equal((g.masks.get('fc2.weight') as Mask).prunedCount(), countToPrune(0.1, 160));
  assert.equal((g.masks.get('conv1.weight') as Mask).prunedCount(), countToPrune(0.5, 216));
  assert.throws(() => prune(ws, options({ overrides: new Map([['fc3.weight', 0.5]]) })), isSculpt(/options\.overrides\['fc3\.weight'\] matches no tensor/));
  assert.throws(() => prune(ws, options({ overrides: new Map([['bn.weight', 0.5]]) })), isSculpt(/options\.overrides\['bn\.weight'\] names only tensors that are not prunable.*options\.include/));
});
