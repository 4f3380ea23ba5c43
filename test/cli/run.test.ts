import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mlpModel, writeOnnx } from '../../bench/sparse-onnx-writer.js';
import { writeNpy } from '../../src/sparse/npy.js';
import { readNpy } from '../fixtures/npy.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';
import { maxRelError } from '../fixtures/compare.js';

for (const name of ['mlp', 'cnn', 'transformer']) {
  test(`run ${name}.onnx: both engines match the fixture output and onnxruntime within 1e-4 relative`, async () => {
    const dir = tempDir();
    try {
      const x = readNpy(join(FIXTURES, `${name}.input.npy`));
      const expected = readNpy(join(FIXTURES, `${name}.output.npy`));
      const session = await ort.InferenceSession.create(join(FIXTURES, `${name}.onnx`), { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const ref = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
      await session.release();
      for (const engine of ['sparse', 'onnxruntime']) {
        const out = join(dir, `${engine}.npy`);
        const r = sculpt(['run', join(FIXTURES, `${name}.onnx`), '--input', join(FIXTURES, `${name}.input.npy`), '-o', out, '--engine', engine, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const info = JSON.parse(r.stdout);
        assert.equal(info.engine, engine);
        assert.deepEqual(info.outputs.map((o: { name: string }) => o.name), ['output']);
        if (engine === 'sparse') assert.ok(info.layers.length > 0);
        const y = readNpy(out);
        assert.deepEqual(y.shape, expected.shape);
        assert.ok(maxRelError(y.data, expected.data) <= 1e-4, `${engine} vs fixture: ${maxRelError(y.data, expected.data)}`);
        assert.ok(maxRelError(y.data, ref) <= 1e-4, `${engine} vs onnxruntime: ${maxRelError(y.data, ref)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('run: NAME=X.npy inputs, and a folder output receives every output as NAME.npy', () => {
  const dir = tempDir();
  try {
    const r = sculpt(['run', join(FIXTURES, 'mlp.onnx'), '--input', `input=${join(FIXTURES, 'mlp.input.npy')}`, '-o', join(dir, 'outs')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /output output \[4,10\] -> /);
    assert.deepEqual(readdirSync(join(dir, 'outs')), ['output.npy']);
    const y = readNpy(join(dir, 'outs', 'output.npy'));
    assert.ok(maxRelError(y.data, readNpy(join(FIXTURES, 'mlp.output.npy')).data) <= 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: a model with two outputs: -o Y.npy writes the first and says so; a folder gets both', () => {
  const dir = tempDir();
  try {
    const model = join(dir, 'two.onnx');
    writeFileSync(model, writeOnnx({
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['pos'] }, { op: 'Sigmoid', inputs: ['x'], outputs: ['prob'] }],
      initializers: [], inputs: [{ name: 'x', dims: ['batch', 3] }], outputs: [{ name: 'pos', dims: ['batch', 3] }, { name: 'prob', dims: ['batch', 3] }], opset: 13,
    }));
    const x = join(dir, 'x.npy');
    writeFileSync(x, writeNpy({ dtype: 'float32', dims: [1, 3], data: Float32Array.from([-1, 0, 2]) }));
    const one = sculpt(['run', model, '--input', x, '-o', join(dir, 'y.npy')]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /not written: prob \(give -o a folder/);
    assert.deepEqual(Array.from(readNpy(join(dir, 'y.npy')).data), [0, 0, 2]);
    const all = sculpt(['run', model, '--input', x, '-o', join(dir, 'out'), '--engine', 'onnxruntime', '--json']);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout).notWritten, []);
    assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['pos.npy', 'prob.npy']);
    const p = readNpy(join(dir, 'out', 'prob.npy')).data;
    assert.ok(Math.abs(p[2] - 1 / (1 + Math.exp(-2))) < 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: bad input fails with one line, a non-zero exit and no output file', () => {
  const dir = tempDir();
  try {
    // A model with an operator the sparse executor lacks (LpNormalization), which onnxruntime runs.
    const odd = join(dir, 'hardmax.onnx');
    writeFileSync(odd, writeOnnx({
      nodes: [{ op: 'LpNormalization', inputs: ['x'], outputs: ['y'], attrs: { axis: { int: -1 }, p: { int: 1 } } }],
      initializers: [], inputs: [{ name: 'x', dims: ['batch', 4] }], outputs: [{ name: 'y', dims: ['batch', 4] }], opset: 13,
    }));
    const xs = join(dir, 'x4.npy');
    writeFileSync(xs, writeNpy({ dtype: 'float32', dims: [2, 4], data: Float32Array.from([1, 3, 2, 0, -1, -2, 5, 4]) }));
    const ints = join(dir, 'ints.npy');
    writeFileSync(ints, writeNpy({ dtype: 'int64', dims: [4, 784], data: new Float64Array(4 * 784) }));
    const out = join(dir, 'y.npy');
    const mlp = join(FIXTURES, 'mlp.onnx');
    const cases: [string[], RegExp][] = [
      [['run', mlp, '--input', join(dir, 'missing.npy'), '-o', out], /missing\.npy: no such file/],
      [['run', mlp, '--input', join(FIXTURES, 'cnn.input.npy'), '-o', out], /cnn\.input\.npy: shape \(2, 1, 28, 28\) does not fit model input input \[\?, 784\]/],
      [['run', mlp, '--input', ints, '-o', out], /ints\.npy: holds int64 values, model input input takes float32/],
      [['run', mlp, '--input', join(FIXTURES, 'mlp.onnx'), '-o', out], /not a NumPy \.npy file/],
      [['run', mlp, '--input', `nope=${join(FIXTURES, 'mlp.input.npy')}`, '-o', out], /the model has no input named nope/],
      [['run', mlp, '-o', out], /--input: missing/],
      [['run', mlp, '--input', join(FIXTURES, 'mlp.input.npy')], /missing -o/],
      [['run', mlp, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', out, '--engine', 'gpu'], /--engine: unknown value 'gpu'/],
      [['run', join(dir, 'model.pt'), '--input', join(FIXTURES, 'mlp.input.npy'), '-o', out], /unknown model format '\.pt'/],
      [['run', odd, '--input', xs, '-o', out], /node .*\(LpNormalization\).* not supported.*sculpt run --engine onnxruntime/],
      [['run', mlp, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', join(FIXTURES, 'mlp.input.npy')], /would overwrite the input/],
    ];
    for (const [args, message] of cases) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['hardmax.onnx', 'ints.npy', 'x4.npy']);
    // onnxruntime runs what the sparse engine cannot.
    const r = sculpt(['run', odd, '--input', xs, '-o', out, '--engine', 'onnxruntime']);
    assert.equal(r.code, 0, r.stderr);
    const want = [1 / 6, 3 / 6, 2 / 6, 0, -1 / 12, -2 / 12, 5 / 12, 4 / 12];
    Array.from(readNpy(out).data).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `y[${i}] = ${v}, expected ${want[i]}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run --threads 2: the same bytes as one thread on a product large enough to split, and the process exits; --threads 0 is refused', () => {
  const dir = tempDir();
  try {
    // 512 → 2048 → 10 at 50%: 2048 × 512 × 0.5 × 4 rows ≥ 2^20 multiply-adds, so the first product is split.
    const sizes = [512, 2048, 10];
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
    const weights = sizes.slice(1).map((o, l) => Float32Array.from({ length: o * sizes[l] }, () => { const v = rnd(); return Math.abs(v) < 0.25 ? 0 : v; }));
    const biases = sizes.slice(1).map((o) => Float32Array.from({ length: o }, rnd));
    const model = join(dir, 'wide.onnx');
    writeFileSync(model, mlpModel(sizes, weights, biases, 'gemm'));
    const x = join(dir, 'x.npy');
    writeFileSync(x, writeNpy({ dtype: 'float32', dims: [4, 512], data: Float32Array.from({ length: 2048 }, rnd) }));
    const outs = [1, 2].map((threads) => {
      const out = join(dir, `y${threads}.npy`);
      const r = sculpt(['run', model, '--input', x, '-o', out, '--threads', String(threads)]);
      assert.equal(r.code, 0, r.stderr);
      return readNpy(out).data;
    });
    assert.deepEqual(outs[1], outs[0]);
    const zero = sculpt(['run', model, '--input', x, '-o', join(dir, 'z.npy'), '--threads', '0']);
    assert.equal(zero.code, 2);
    assert.equal(zero.stderr, "sculpt: --threads: '0' is not a whole number ≥ 1\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
