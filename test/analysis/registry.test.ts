import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentNames, getExperiment } from '../../src/analysis/experiments/index.js';
import { criterionNames } from '../../src/core/index.js';
import { SculptError } from '../../src/core/errors.js';

test('every experiment the issue names is registered', () => {
  const names = ['criteria', 'imp-density', 'global-vs-layer', 'regularization', 'lr-schedule', 'lottery-probability', 'random-labels', 'lipschitz', 'fairness', 'private-masks', 'sensor-selection', 'roofline', 'llm', 'structured'];
  assert.deepEqual([...experimentNames()].sort(), [...names].sort());
  assert.throws(() => getExperiment('criterion'), SculptError);
});

test('the core index registers the data criteria', () => {
  for (const c of ['magnitude', 'random', 'taylor', 'obd', 'wanda', 'sparsegpt']) assert.ok(criterionNames().includes(c), c);
});
