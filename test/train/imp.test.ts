import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SculptError } from '../../src/core/errors.js';
import { runGmp, runImp, runOneShot, runTrain } from '../../src/train/methods.js';
import { loadModelFolder } from '../../src/train/model-io.js';
import { toWeightSet } from '../../src/train/weights.js';
import type { RunResult } from '../../src/train/session.js';
import { tinyOptions } from './helpers.js';
import { tempDir } from '../fixtures/temp.js';

async function kernelZeros(dir: string): Promise<Map<string, Uint8Array>> {
  const model = await loadModelFolder(dir);
  const out = new Map<string, Uint8Array>();
  for (const t of toWeightSet(model).tensors.filter((x) => x.prunable)) out.set(t.name, Uint8Array.from(t.data, (v) => (v === 0 ? 1 : 0)));
  model.dispose();
  return out;
}

test('IMP: densities 1, 0.8, 0.64 in metrics.json and in the saved weights; pruned weights never come back', async () => {
  const out = tempDir('imp-');
  const res = await runImp({ ...tinyOptions({ out }), rounds: 3, rate: 0.2, rewindTo: 0, controls: ['reinit', 'random-mask'], scope: 'global' });
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics, res.metrics);
  assert.deepEqual(Object.keys(metrics), ['rounds']);
  assert.deepEqual(metrics.rounds.map((r: { round: number }) => r.round), [0, 1, 2]);
  for (const r of metrics.rounds) assert.deepEqual(Object.keys(r), ['round', 'density', 'testAccuracy', 'trainAccuracy', 'trainSeconds', 'controls']);
  const total = 784 * 300 + 300 * 100 + 100 * 10;
  const expectPruned = [0, Math.round(0.2 * total), 0];
  expectPruned[2] = expectPruned[1] + Math.round(0.2 * (total - expectPruned[1]));
  const zerosByRound: Array<Map<string, Uint8Array>> = [];
  for (let k = 0; k < 3; k++) {
    assert.equal(metrics.rounds[k].density, (total - expectPruned[k]) / total);
    const zeros = await kernelZeros(join(out, `round-${k}`));
    let z = 0;
    for (const a of zeros.values()) for (const v of a) z += v;
    assert.equal(z, expectPruned[k], `zeros in round-${k}/weights.bin`);
    zerosByRound.push(zeros);
    assert.ok(metrics.rounds[k].testAccuracy > 0.5, `round ${k} accuracy ${metrics.rounds[k].testAccuracy} is well above chance`);
  }
  assert.ok(Math.abs(metrics.rounds[1].density - 0.8) < 1e-6 && Math.abs(metrics.rounds[2].density - 0.64) < 1e-5);
  for (const [name, z1] of zerosByRound[1]) {
    const z2 = zerosByRound[2].get(name) as Uint8Array;
    for (let i = 0; i < z1.length; i++) if (z1[i] === 1) assert.equal(z2[i], 1, `${name}[${i}] came back in round 2`);
  }
  assert.deepEqual(metrics.rounds[0].controls, {});
  for (const k of [1, 2]) {
    assert.deepEqual(Object.keys(metrics.rounds[k].controls).sort(), ['random-mask', 'reinit']);
    assert.ok(metrics.rounds[k].controls.reinit.testAccuracy > 0.3);
  }
});

test('same seed, same numbers (two tiny training runs); another seed differs', async () => {
  const strip = (r: RunResult): unknown => r.metrics.rounds.map(({ trainSeconds: _t, ...rest }) => rest);
  const o = tinyOptions({ trainLimit: 300, train: { ...tinyOptions().train, dropout: 0.1 } });
  const a = await runTrain(o);
  const b = await runTrain(o);
  assert.deepEqual(strip(a), strip(b));
  const c = await runTrain({ ...o, seed: 8 });
  assert.notDeepEqual(strip(a), strip(c));
});

test('GMP reaches the final sparsity exactly and writes one round', async () => {
  const out = tempDir('gmp-');
  const res = await runGmp({ ...tinyOptions({ out, train: { ...tinyOptions().train, epochs: 2 } }), finalSparsity: 0.75, initialSparsity: 0, beginStep: 2, endStep: 12, frequency: 2, scope: 'layer' });
  assert.equal(res.metrics.rounds.length, 1);
  const total = 784 * 300 + 300 * 100 + 100 * 10;
  assert.ok(Math.abs(res.metrics.rounds[0].density - 0.25) < 1 / total * 3, `density ${res.metrics.rounds[0].density}`);
  const zeros = await kernelZeros(join(out, 'round-0'));
  for (const [name, z] of zeros) {
    let n = 0;
    for (const v of z) n += v;
    assert.equal(n, Math.round(0.75 * z.length), `layer scope: ${name} pruned exactly 75%`);
  }
  assert.ok(res.metrics.rounds[0].testAccuracy > 0.4);
});

test('one-shot: prune the trained model at several sparsities, fine-tune each', async () => {
  const res = await runOneShot({ ...tinyOptions(), sparsities: [0.5, 0.9], fineTuneEpochs: 1, scope: 'global' });
  const r = res.metrics.rounds;
  assert.equal(r.length, 3);
  assert.equal(r[0].density, 1);
  assert.ok(Math.abs(r[1].density - 0.5) < 1e-5 && Math.abs(r[2].density - 0.1) < 1e-5);
  assert.ok(r[2].controls['before-fine-tune'].testAccuracy >= 0);
  assert.equal(res.details.layers.length, 3);
});

test('IMP late rewinding (--rewind-to K) and no rewinding run; K past round 0 is a SculptError', async () => {
  const late = await runImp({ ...tinyOptions({ trainLimit: 300, testLimit: 100 }), rounds: 2, rate: 0.5, rewindTo: 3, controls: [], scope: 'layer' });
  assert.ok(Math.abs(late.metrics.rounds[1].density - 0.5) < 1e-5);
  const none = await runImp({ ...tinyOptions({ trainLimit: 300, testLimit: 100 }), rounds: 2, rate: 0.5, rewindTo: 'none', controls: [], scope: 'global' });
  assert.ok(none.metrics.rounds[1].testAccuracy > 0.3);
  await assert.rejects(
    runImp({ ...tinyOptions({ trainLimit: 120, testLimit: 50 }), rounds: 2, rate: 0.5, rewindTo: 50, controls: [], scope: 'global' }),
    (e: unknown) => e instanceof SculptError && /--rewind-to 50: round 0 has only 2 iterations/.test(e.message),
  );
  await assert.rejects(runImp({ ...tinyOptions(), rounds: 2, rate: 1.5, rewindTo: 0, controls: [], scope: 'global' }), /--rate 1.5/);
});

test('IMP on a TF.js layers folder: the reinit control really starts from fresh weights', async () => {
  const dir = tempDir('folder-model-');
  await runTrain({ ...tinyOptions({ trainLimit: 120, testLimit: 60, out: dir }) });
  const events: string[] = [];
  const res = await runImp({ ...tinyOptions({ model: join(dir, 'round-0'), trainLimit: 300, testLimit: 200 }), rounds: 2, rate: 0.5, rewindTo: 0, controls: ['reinit'], scope: 'global' },
    (e) => { if (e.kind === 'result') events.push(`${e.run}:${e.testAccuracy}`); });
  assert.equal(res.metrics.rounds.length, 2);
  assert.deepEqual(events.map((e) => e.split(':')[0]), ['ticket', 'ticket', 'reinit']);
  assert.notEqual(res.metrics.rounds[1].controls.reinit.testAccuracy, res.metrics.rounds[1].testAccuracy);
});
