/** `evalFile` against PyTorch's numbers (test/fixtures/datasets/expected.json, made by scripts/fixtures/make_datasets.py). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalFile } from '../../src/api/eval.js';
import { packFile } from '../../src/api/sparse-pack.js';
import { tempDir } from '../cli/helpers.js';

const D = 'test/fixtures/datasets';
const E = JSON.parse(readFileSync(join(D, 'expected.json'), 'utf8'));
const within = (got: number, want: number, rel: number, what: string): void => assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: ${got} vs PyTorch ${want}`);

test('eval accuracy: image folder (NCHW model, size and channels from the model input), npy, npz, csv agree with PyTorch', async () => {
  const img = await evalFile(`${D}/image-net.onnx`, { data: `images:${D}/images`, dataOptions: { mean: [0.5], std: [0.25] } });
  assert.equal(img.engine, 'onnxruntime');
  assert.equal(img.metric, 'accuracy');
  assert.equal(img.examples, E.images.count);
  within(img.value, E.images.accuracy, 1e-6, 'img');
  assert.equal(img.correct, 9);
  const npy = await evalFile(`${D}/mlp16.onnx`, { data: `npy:${D}/x.npy,${D}/y.npy`, batchSize: 7 });
  within(npy.value, E.npy.accuracy, 1e-6, 'npy');
  assert.equal(npy.examples, 40);
  const npz = await evalFile(`${D}/mlp16.onnx`, { data: `npz:${D}/xy.npz`, engine: 'sparse' });
  assert.equal(npz.engine, 'sparse');
  within(npz.value, E.npy.accuracy, 1e-6, 'npz');
  const csv = await evalFile(`${D}/mlp8.onnx`, { data: `csv:${D}/table.csv` });
  within(csv.value, E.csv.accuracy, 1e-6, 'csv');
  assert.equal(csv.examples, 12);
  assert.ok(img.ms > 0 && img.ms < 10_000);
});

test('eval top5 equals torch.topk\'s on both engines', async () => {
  for (const engine of ['onnxruntime', 'sparse'] as const) {
    const r = await evalFile(`${D}/mlp16.onnx`, { data: `npy:${D}/x.npy,${D}/y.npy`, metric: 'top5', engine });
    within(r.value, E.npy.top5, 1e-6, engine);
    assert.equal(r.correct, 27);
  }
});

test('eval perplexity within 1e-6 of PyTorch\'s (float64 log-softmax): BPE and bytes, stride 32 and 16, .txt and .jsonl', async () => {
  const tok = `${D}/tokenizer.json`;
  for (const key of ['bpe-32-32', 'bpe-32-16', 'bytes-32-32', 'jsonl-bpe-32-32']) {
    const e = E.text[key];
    const r = await evalFile(`${D}/tiny-lm.onnx`, { data: e.spec, batchSize: 16, dataOptions: { tokenizer: e.tokenizer === 'bytes' ? 'bytes' : tok, seqLen: e.seqLen, stride: e.stride } });
    assert.equal(r.metric, 'perplexity');
    assert.equal(r.tokens, e.tokens, key);
    assert.equal(r.examples, e.windows, key);
    within(r.value, e.perplexity, 1e-6, key);
  }
});

test('eval perplexity: the tokenizer.json beside the model is the default; the sparse engine agrees with onnxruntime', async () => {
  const ort = await evalFile(`${D}/tiny-lm.onnx`, { data: `text:${D}/corpus.txt`, dataOptions: { seqLen: 32, limit: 6 } });
  const sparse = await evalFile(`${D}/tiny-lm.onnx`, { data: `text:${D}/corpus.txt`, engine: 'sparse', dataOptions: { seqLen: 32, limit: 6 } });
  assert.equal(ort.tokens, 6 * 31);
  within(sparse.value, ort.value, 1e-4, 'sparse vs onnxruntime');
});

test('eval errors: labels out of range, shapes that do not fit, wrong metric, no labels', async () => {
  await assert.rejects(evalFile(`${D}/mlp16.onnx`, { data: `npy:${D}/x.npy,${D}/y-bad.npy` }), /y-bad.npy: label 12 of example 7 is out of range: the model has 10 outputs \(classes 0-9\)/);
  await assert.rejects(evalFile(`${D}/image-net.onnx`, { data: `images:${D}/images`, dataOptions: { imageSize: [10, 10] } }),
    /image-net.onnx: input 'pixel_values' is \[N, 3, 8, 8\] but images:.* examples are 10×10×3 \(300 values\); pass --image-size H,W and --channels to match it/);
  await assert.rejects(evalFile(`${D}/mlp8.onnx`, { data: `npy:${D}/x.npy,${D}/y.npy` }), /input 'input' is \[N, 8\] but npy:.* examples are 16 \(16 values\)/);
  await assert.rejects(evalFile(`${D}/mlp16.onnx`, { data: `npy:${D}/x.npy,${D}/y.npy`, metric: 'perplexity' }), /--metric perplexity needs text data/);
  await assert.rejects(evalFile(`${D}/mlp16.onnx`, { data: `npy:${D}/x.npy` }), /--metric accuracy: npy:.* has no labels/);
  await assert.rejects(evalFile(`${D}/tiny-lm.onnx`, { data: `text:${D}/corpus.txt`, dataOptions: { tokenizer: 'nope.json' } }), /--tokenizer nope.json: unknown tokenizer/);
  await assert.rejects(evalFile(`${D}/mlp16.onnx`, { data: `text:${D}/corpus.txt`, dataOptions: { tokenizer: 'bytes' } }), /mlp16.onnx: input 'input' takes float32; text feeds integer token ids/);
  await assert.rejects(evalFile(`${D}/tiny-lm.onnx`, { data: `npy:${D}/x.npy,${D}/y.npy` }), /takes 3 inputs \(input_ids, attention_mask, position_ids\); npy data feeds a model with one input/);
});

test('eval on a .sculpt file runs the sparse engine and gives the .onnx file\'s accuracy', async () => {
  const out = join(tempDir(), 'mlp16.sculpt');
  packFile(`${D}/mlp16.onnx`, out);
  const r = await evalFile(out, { data: `npy:${D}/x.npy,${D}/y.npy`, metric: 'top5' });
  assert.equal(r.engine, 'sparse');
  within(r.value, E.npy.top5, 1e-6, 'sculpt');
});
