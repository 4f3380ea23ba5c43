/** `sculpt eval` and `sculpt prune --calibration KIND:PATH` as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sculpt, tempDir } from './helpers.js';

const D = 'test/fixtures/datasets';
const E = JSON.parse(readFileSync(join(D, 'expected.json'), 'utf8'));

test('sculpt eval --json: the metric, what it counted, the time', () => {
  const lm = sculpt(['eval', `${D}/tiny-lm.onnx`, '--data', `text:${D}/corpus.txt`, '--seq-len', '32', '--stride', '16', '--json']);
  assert.equal(lm.code, 0, lm.stderr);
  const r = JSON.parse(lm.stdout);
  assert.equal(r.metric, 'perplexity');
  assert.equal(r.tokens, E.text['bpe-32-16'].tokens);
  assert.equal(r.examples, 80);
  assert.ok(Math.abs(r.value - E.text['bpe-32-16'].perplexity) < 1e-6 * r.value);
  assert.equal(typeof r.ms, 'number');
  const img = sculpt(['eval', `${D}/image-net.onnx`, '--data', `images:${D}/images`, '--mean', '0.5', '--std', '0.25']);
  assert.equal(img.code, 0, img.stderr);
  assert.match(img.stdout, /image-net.onnx on images:test\/fixtures\/datasets\/images: accuracy 75.00% \(9\/12 examples\), onnxruntime/);
  assert.match(img.stderr, /12 images in 3 classes \(circles, squares, stripes\), 8×8×3/);
  const top5 = sculpt(['eval', `${D}/mlp16.onnx`, '--data', `npy:${D}/x.npy,${D}/y.npy`, '--metric', 'top5', '--engine', 'sparse', '--json']);
  assert.equal(JSON.parse(top5.stdout).correct, 27);
});

test('sculpt eval: one-line errors and exit code 2', () => {
  const cases: [string[], RegExp][] = [
    [['eval', `${D}/mlp16.onnx`], /^sculpt: eval: missing --data: name the dataset as KIND:PATH/],
    [['eval', `${D}/mlp16.onnx`, '--data', `npx:${D}/x.npy`], /^sculpt: npx:.*: unknown dataset kind 'npx'; sculpt reads images:DIR, npy:X.npy\[,Y.npy\]/],
    [['eval', `${D}/mlp16.onnx`, '--data', `npy:${D}/x.npy,${D}/y-bad.npy`], /label 12 of example 7 is out of range: the model has 10 outputs/],
    [['eval', `${D}/tiny-lm.onnx`, '--data', `text:${D}/corpus.txt`, '--tokenizer', 'gpt2'], /^sculpt: --tokenizer gpt2: unknown tokenizer/],
    [['eval', `${D}/mlp16.onnx`, '--data', `npy:${D}/x.npy,${D}/y.npy`, '--metric', 'f1'], /--metric: unknown value 'f1'; use one of accuracy, top5, perplexity/],
    [['eval', `${D}/image-net.onnx`, '--data', `images:${D}/images`, '--image-size', '9'], /--image-size: '9' is not H,W/],
  ];
  for (const [args, re] of cases) {
    const r = sculpt(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('sculpt prune --calibration images:DIR and npy:X.npy', () => {
  const dir = tempDir();
  const img = sculpt(['prune', `${D}/image-net.onnx`, '-o', join(dir, 'a.onnx'), '--sparsity', '0.5', '--criterion', 'wanda',
    '--calibration', `images:${D}/images`, '--mean', '0.5', '--std', '0.25', '--exclude', 'conv.weight', '--json']);
  assert.equal(img.code, 0, img.stderr);
  assert.deepEqual(JSON.parse(img.stdout).calibration, { samples: 12, source: `images:${D}/images`, reconstructed: false });
  const npy = sculpt(['prune', `${D}/mlp16.onnx`, '-o', join(dir, 'b.onnx'), '--sparsity', '0.5', '--scope', 'layer', '--criterion', 'sparsegpt',
    '--calibration', `npy:${D}/x.npy`, '--calibration-samples', '32', '--json']);
  assert.equal(npy.code, 0, npy.stderr);
  assert.deepEqual(JSON.parse(npy.stdout).calibration, { samples: 32, source: `npy:${D}/x.npy`, reconstructed: true });
  const evalPruned = sculpt(['eval', join(dir, 'b.onnx'), '--data', `npy:${D}/x.npy,${D}/y.npy`, '--json']);
  assert.equal(evalPruned.code, 0, evalPruned.stderr);
  assert.equal(JSON.parse(evalPruned.stdout).examples, 40);
});
