// `sculpt export` on folders `sculpt imp` and `sculpt train` write, as a user would run it: the
// pruned round keeps its exact zero count, `sculpt pack` and `sculpt run` (both engines) on the
// exported file give TF.js's outputs. Bad inputs: one stderr line, non-zero exit, no file.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import { openTfjsFolder } from '../../src/formats/tfjs-folder.js';
import { writeNpy } from '../../src/sparse/npy.js';
import { setupBackend } from '../../src/train/backend.js';
import { loadModelFolder } from '../../src/train/model-io.js';
import { maxRelError } from '../fixtures/compare.js';
import { readNpy } from '../fixtures/npy.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const TOLERANCE = 1e-5;
let dir: string;
let imp: string;
let conv: string;

before(async () => {
  await setupBackend('cpu');
  dir = tempDir('sculpt-export-cli-');
  imp = join(dir, 'imp');
  const r = sculpt(['imp', '--model', 'lenet-300-100', '--rounds', '2', '--rate', '0.5', '--epochs', '1', '--train-limit', '200', '--test-limit', '100', '--out', imp]);
  assert.equal(r.code, 0, r.stderr);
  conv = join(dir, 'conv');
  const c = sculpt(['train', '--model', 'conv-2', '--epochs', '1', '--train-limit', '60', '--test-limit', '60', '--out', conv]);
  assert.equal(c.code, 0, c.stderr);
});

function zerosIn(folder: string): number {
  const src = openTfjsFolder(folder);
  let z = 0;
  for (const t of src.tensors) for (const v of src.read(t.name)) if (v === 0) z++;
  return z;
}

/** Writes a random NHWC batch as .npy and returns it with TF.js's prediction for it. */
async function inputAndReference(folder: string, dims: number[], seed: number): Promise<{ file: string; expected: Float32Array }> {
  const rng = new Rng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  const file = join(dir, `x-${seed}.npy`);
  writeFileSync(file, writeNpy({ dtype: 'float32', dims, data }));
  const model = await loadModelFolder(folder);
  const x = tf.tensor(data, dims);
  const y = model.predict(x) as tf.Tensor;
  const expected = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  model.dispose();
  return { file, expected };
}

test('export an IMP round: zeros kept exactly; pack and run (both engines) give TF.js outputs', async (t) => {
  const round = join(imp, 'round-1');
  const onnx = join(dir, 'lenet-imp.onnx');
  const r = sculpt(['export', round, '-o', onnx, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  const zeros = zerosIn(round);
  assert.ok(zeros > 0.45 * 266_200, `IMP round 1 has ${zeros} zeros`);
  assert.equal(info.zeros, zeros);
  assert.equal(info.output, onnx);
  assert.equal(info.fileBytes, readFileSync(onnx).length);
  assert.equal(info.transposes, 0);

  const inspect = JSON.parse(sculpt(['inspect', onnx, '--json']).stdout);
  const onnxZeros = inspect.tensors.reduce((n: number, x: { zeros: number }) => n + x.zeros, 0);
  assert.equal(onnxZeros, zeros, 'zeros in the ONNX initializers');
  assert.deepEqual(inspect.tensors.filter((x: { prunable: boolean }) => x.prunable).map((x: { name: string }) => x.name), ['fc1/kernel', 'fc2/kernel', 'fc3/kernel']);

  const packed = join(dir, 'lenet-imp.sculpt');
  const p = sculpt(['pack', onnx, '-o', packed, '--json']);
  assert.equal(p.code, 0, p.stderr);
  assert.ok(JSON.parse(p.stdout).packedBytes < 0.8 * readFileSync(onnx).length, 'pack makes the pruned export smaller');

  const { file, expected } = await inputAndReference(round, [4, 28, 28, 1], 5);
  for (const [model, engine] of [[onnx, 'onnxruntime'], [onnx, 'sparse'], [packed, 'sparse']]) {
    const out = join(dir, `y-${engine}-${model.endsWith('.sculpt') ? 'packed' : 'onnx'}.npy`);
    const run = sculpt(['run', model, '--input', file, '-o', out, '--engine', engine]);
    assert.equal(run.code, 0, run.stderr);
    const y = readNpy(out);
    assert.deepEqual(y.shape, [4, 10]);
    const err = maxRelError(y.data, expected);
    t.diagnostic(`${model.endsWith('.sculpt') ? 'packed' : 'onnx'} on ${engine}: max relative error vs TF.js ${err.toExponential(2)}`);
    assert.ok(err <= TOLERANCE, `${model} on ${engine}: ${err}`);
  }
});

test('export conv-2 from sculpt train: NHWC input, both engines give TF.js outputs', async (t) => {
  const round = join(conv, 'round-0');
  const onnx = join(dir, 'conv2.onnx');
  const r = sculpt(['export', round, '-o', onnx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /conv1_input \[N, 28, 28, 1\] \(NHWC, as in TF\.js\)/);
  assert.match(r.stdout, /2 layout Transposes/);
  assert.match(r.stdout, new RegExp(`wrote ${onnx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const { file, expected } = await inputAndReference(round, [2, 28, 28, 1], 6);
  for (const engine of ['onnxruntime', 'sparse']) {
    const out = join(dir, `conv-${engine}.npy`);
    const run = sculpt(['run', onnx, '--input', file, '-o', out, '--engine', engine]);
    assert.equal(run.code, 0, run.stderr);
    const err = maxRelError(readNpy(out).data, expected);
    t.diagnostic(`conv-2 on ${engine}: max relative error vs TF.js ${err.toExponential(2)}`);
    assert.ok(err <= TOLERANCE, `${engine}: ${err}`);
  }
});

test('pack, run and bench take a TF.js folder from sculpt imp directly (exported in memory): same outputs as TF.js, the same packed size as from the exported file', async (t) => {
  const round = join(imp, 'round-1');
  const { file, expected } = await inputAndReference(round, [3, 28, 28, 1], 8);
  const out = join(dir, 'y-folder.npy');
  const run = sculpt(['run', round, '--input', file, '-o', out]);
  assert.equal(run.code, 0, run.stderr);
  const err = maxRelError(readNpy(out).data, expected);
  t.diagnostic(`run on the folder: max relative error vs TF.js ${err.toExponential(2)}`);
  assert.ok(err <= TOLERANCE);

  const fromFolder = join(dir, 'folder.sculpt');
  const fromFile = join(dir, 'file.sculpt');
  const onnx = join(dir, 'lenet-imp-2.onnx');
  assert.equal(sculpt(['pack', round, '-o', fromFolder]).code, 0);
  assert.equal(sculpt(['export', round, '-o', onnx]).code, 0);
  assert.equal(sculpt(['pack', onnx, '-o', fromFile]).code, 0);
  assert.deepEqual(readFileSync(fromFolder), readFileSync(fromFile));

  const b = sculpt(['bench', round, '--runs', '2', '--warmup', '1', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const j = JSON.parse(b.stdout.trim().split('\n').pop()!);
  assert.ok(j.denseMs > 0 && j.sparseMs > 0);
  assert.ok(j.maxRelError < 1e-4, `bench maxRelError ${j.maxRelError}`);
});

/** Runs export expecting failure: one stderr line matching `pattern`, non-zero exit, no output file. */
function refused(args: string[], output: string, pattern: RegExp): void {
  const r = sculpt(['export', ...args]);
  assert.notEqual(r.code, 0, r.stdout);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^sculpt: /);
  assert.match(lines[0], pattern);
  assert.equal(existsSync(output), false, `${output} was written`);
}

test('export refuses bad input with one line and writes nothing', () => {
  const round = join(imp, 'round-0');
  const out = join(dir, 'bad.onnx');
  refused([round], out, /missing -o\/--output/);
  refused([round, '-o', join(dir, 'bad.txt')], join(dir, 'bad.txt'), /must name an \.onnx file/);
  refused([round, '-o', out, '--opset', '12'], out, /opset 12 is not supported/);
  refused([imp, '-o', out], out, /training run folder.*round-1/);
  refused([join(dir, 'nope'), '-o', out], out, /nope/);
  refused([round, '-o', join(dir, 'no-such-dir', 'x.onnx')], join(dir, 'no-such-dir', 'x.onnx'), /does not exist/);

  // A layer class export does not know: named with its class.
  const lstm = join(dir, 'lstm');
  cpSync(round, lstm, { recursive: true });
  const json = JSON.parse(readFileSync(join(lstm, 'model.json'), 'utf8'));
  json.modelTopology.config.layers[2].class_name = 'LSTM';
  writeFileSync(join(lstm, 'model.json'), JSON.stringify(json));
  refused([lstm, '-o', out], out, /layer fc2 \(LSTM\) is not supported/);

  // A graph model is not a layers model.
  const graph = join(dir, 'graph');
  cpSync(round, graph, { recursive: true });
  writeFileSync(join(graph, 'model.json'), JSON.stringify({ ...json, format: 'graph-model', modelTopology: { node: [] } }));
  refused([graph, '-o', out], out, /graph model|layers model/);
  refused([join(FIXTURES, 'tfjs-blazeface', 'blazeface.json'), '-o', out], out, /it is a TF\.js graph model/);
  refused([join(FIXTURES, 'tfjs-face-landmark-tiny', 'face_landmark_68_tiny_model-weights_manifest.json'), '-o', out], out, /it is a bare weights manifest/);

  // A NaN weight is refused, naming it.
  const nan = join(dir, 'nan');
  cpSync(round, nan, { recursive: true });
  const shard = readFileSync(join(nan, 'weights.bin'));
  new DataView(shard.buffer, shard.byteOffset).setFloat32(4 * 10, NaN, true);
  writeFileSync(join(nan, 'weights.bin'), shard);
  refused([nan, '-o', out], out, /fc1\/kernel holds NaN at index 10/);
});

test('the same model exported from two places gives the same bytes', () => {
  const copy = join(dir, 'elsewhere', 'model');
  cpSync(join(imp, 'round-1'), copy, { recursive: true });
  const a = join(dir, 'a.onnx');
  const b = join(dir, 'b.onnx');
  assert.equal(sculpt(['export', join(imp, 'round-1'), '-o', a]).code, 0);
  assert.equal(sculpt(['export', join(copy, 'model.json'), '-o', b]).code, 0);
  assert.ok(readFileSync(a).equals(readFileSync(b)));
});
