// `sculpt prune` on the GPT fixture from calibration text, then `sculpt eval --metric perplexity`:
// the README's language-model commands end to end, and the flags' refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const DIR = join(FIXTURES, 'gpt');
const MODEL = join(DIR, 'gpt.onnx');
const CAL = ['--calibration', `text:${join(DIR, 'calib.txt')}`, '--calibration-samples', '8', '--seq-len', '64'];

function perplexity(model: string): number {
  const r = sculpt(['eval', model, '--data', `text:${join(DIR, 'eval.txt')}`, '--tokenizer', join(DIR, 'tokenizer.json'), '--seq-len', '64', '--metric', 'perplexity', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).value;
}

test('prune --criterion sparsegpt --scope layer on text, then eval: 50% of the block weights gone, perplexity finite and above dense', () => {
  const out = join(tempDir(), 'gpt-sgpt.onnx');
  const r = sculpt(['prune', MODEL, '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--criterion', 'sparsegpt', ...CAL, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(j.target.densityAfter, 0.5);
  assert.equal(j.calibration.sequential, true);
  assert.equal(j.calibration.stages, 8);
  assert.equal(j.calibration.samples, 8);
  assert.equal(j.calibration.head.length, 1, 'the tied output head is left dense');
  const dense = perplexity(MODEL);
  const pruned = perplexity(out);
  assert.ok(Number.isFinite(pruned) && pruned > dense * 0.99, `dense ${dense}, pruned ${pruned}`);
});

test('prune --allocation owl with magnitude prints the per-block sparsities; refusals name the flag', () => {
  const dir = tempDir();
  const r = sculpt(['prune', MODEL, '-o', join(dir, 'owl.onnx'), '--sparsity', '0.6', '--scope', 'layer', '--allocation', 'owl', ...CAL]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /owl sparsity per block: h\.0 0\.\d+, h\.1 0\.\d+/);
  const noText = sculpt(['prune', MODEL, '-o', join(dir, 'x.onnx'), '--sparsity', '0.6', '--scope', 'layer', '--allocation', 'owl']);
  assert.notEqual(noText.code, 0);
  assert.match(noText.stderr, /--allocation owl needs calibration text/);
  const global = sculpt(['prune', MODEL, '-o', join(dir, 'y.onnx'), '--sparsity', '0.6', '--allocation', 'owl', ...CAL]);
  assert.notEqual(global.code, 0);
  assert.match(global.stderr, /--allocation owl .* needs --scope layer/);
  const bad = sculpt(['prune', MODEL, '-o', join(dir, 'z.onnx'), '--sparsity', '0.6', '--allocation', 'best', ...CAL]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--allocation/);
});

test('prune --criterion magnitude on a language model leaves the tied output head dense, as the data criteria do', () => {
  const out = join(tempDir(), 'gpt-mag.onnx');
  const r = sculpt(['prune', MODEL, '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const head = j.tensors.filter((t: { name: string }) => t.name.startsWith('onnx::MatMul'));
  assert.equal(head.length, 1);
  assert.equal(head[0].pruned, false);
  assert.equal(j.target.count, j.tensors.filter((t: { pruned: boolean }) => t.pruned).reduce((a: number, t: { count: number }) => a + t.count, 0));
  assert.equal(j.target.densityAfter, 0.5);
});

test('an encoder without a head (BERT, input_ids in, hidden states out) has no output layer: every attention and MLP projection is pruned', () => {
  // Each block's output projection and MLP down projection reach the output through residual adds
  // and LayerNorms only; they are not the head, and were once left dense as if they were.
  const out = join(tempDir(), 'bert-mag.onnx');
  const r = sculpt(['prune', join(FIXTURES, 'shrink', 'bert.onnx'), '-o', out, '--sparsity', '0.5', '--scope', 'layer', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(j.calibration.head, []);
  const matrices = j.tensors.filter((t: { name: string }) => t.name.startsWith('onnx::MatMul'));
  // 2 blocks × (Q, K, V, output, MLP up, MLP down).
  assert.equal(matrices.length, 12, matrices.map((t: { name: string }) => t.name).join(' '));
  for (const t of matrices) assert.equal(t.pruned, true, t.name);
});
