import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../fixtures/npy.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';
import { maxRelError } from '../fixtures/compare.js';

async function ortOutput(model: string | Uint8Array, x: { shape: number[]; data: Float32Array }): Promise<Float32Array> {
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
    : await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const y = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output.data as Float32Array;
  await session.release();
  return y;
}

test('pack: a 90% pruned mlp packs to ≤ 16% of the dense ONNX file and sculpt run reproduces onnxruntime on the pruned ONNX', async () => {
  const dir = tempDir();
  try {
    const pruned = join(dir, 'mlp-90.onnx');
    assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', pruned, '--sparsity', '0.9']).code, 0);
    const packed = join(dir, 'mlp-90.sculpt');
    const r = sculpt(['pack', pruned, '-o', packed, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const denseSize = statSync(pruned).size;
    assert.equal(report.denseBytes, denseSize);
    assert.equal(report.packedBytes, statSync(packed).size);
    assert.ok(report.packedBytes <= 0.16 * denseSize, `packed ${report.packedBytes} of ${denseSize}`);
    assert.ok(Math.abs(report.ratio - report.packedBytes / denseSize) < 1e-12);
    assert.equal(report.format, 'sculpt');
    const fc1 = report.tensors.find((t: { name: string }) => t.name === 'fc1.weight');
    assert.deepEqual(fc1.dims, [300, 784]);
    assert.notEqual(fc1.storage, 'dense');
    assert.equal(report.tensors.find((t: { name: string }) => t.name === 'fc1.bias').storage, 'dense');
    // The table names the same numbers.
    const table = sculpt(['pack', pruned, '-o', join(dir, 'again.sculpt')]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /fc1\.weight\s+\[300,784\]/);
    assert.ok(table.stdout.includes(`packed ${report.packedBytes.toLocaleString('en-US')} bytes`));

    const x = readNpy(join(FIXTURES, 'mlp.input.npy'));
    const ref = await ortOutput(pruned, x);
    for (const engine of ['sparse', 'onnxruntime']) {
      const out = join(dir, `y-${engine}.npy`);
      const run = sculpt(['run', packed, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', out, '--engine', engine]);
      assert.equal(run.code, 0, run.stderr);
      const y = readNpy(out);
      assert.deepEqual(y.shape, [4, 10]);
      assert.ok(maxRelError(y.data, ref) <= 1e-4, `${engine}: ${maxRelError(y.data, ref)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pack --format onnx-sparse: onnxruntime loads the sparse initializers and gives the pruned model\'s outputs', async () => {
  const dir = tempDir();
  try {
    const pruned = join(dir, 'mlp-95.onnx');
    assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', pruned, '--sparsity', '0.95']).code, 0);
    const out = join(dir, 'mlp-95-sparse.onnx');
    const r = sculpt(['pack', pruned, '-o', out, '--format', 'onnx-sparse', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.format, 'onnx-sparse');
    assert.ok(report.packedBytes < report.denseBytes);
    const fc1 = report.tensors.find((t: { name: string }) => t.name === 'fc1.weight');
    assert.equal(fc1.storage, 'coo');
    assert.equal(fc1.bytes, fc1.nonzeros * 12);
    // Bytes on disk: onnxruntime reads the file and densifies the sparse initializers exactly.
    const bytes = new Uint8Array(readFileSync(out));
    assert.ok(bytes.length < statSync(pruned).size);
    const x = readNpy(join(FIXTURES, 'mlp.input.npy'));
    const ref = await ortOutput(pruned, x);
    const y = await ortOutput(out, x);
    assert.ok(maxRelError(y, ref) <= 1e-6, `${maxRelError(y, ref)}`);
    const run = sculpt(['run', out, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', join(dir, 'y.npy'), '--engine', 'onnxruntime']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(maxRelError(readNpy(join(dir, 'y.npy')).data, ref) <= 1e-6);
    // sculpt's own engine densifies the sparse initializers too.
    const own = sculpt(['run', out, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', join(dir, 'y2.npy'), '--json']);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(JSON.parse(own.stdout).layers.length, 3);
    assert.ok(maxRelError(readNpy(join(dir, 'y2.npy')).data, ref) <= 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pack --fp16: smaller than float32 values, reported separately with the rounding error, and still runs', () => {
  const dir = tempDir();
  try {
    const pruned = join(dir, 'mlp-90.onnx');
    assert.equal(sculpt(['prune', join(FIXTURES, 'mlp.onnx'), '-o', pruned, '--sparsity', '0.9']).code, 0);
    const r = sculpt(['pack', pruned, '-o', join(dir, 'h.sculpt'), '--fp16', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.fp16, true);
    assert.ok(report.packedBytes < report.float32Bytes, `${report.packedBytes} vs ${report.float32Bytes}`);
    assert.ok(report.fp16MaxError > 0 && report.fp16MaxError < 1e-3);
    const t = sculpt(['pack', pruned, '-o', join(dir, 'h2.sculpt'), '--fp16']);
    assert.match(t.stdout, /float16 values: [\d,]+ bytes against [\d,]+ with float32 values; largest rounding error/);
    const run = sculpt(['run', join(dir, 'h.sculpt'), '--input', join(FIXTURES, 'mlp.input.npy'), '-o', join(dir, 'y.npy')]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readNpy(join(dir, 'y.npy')).shape, [4, 10]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pack: bad requests fail with one line and write nothing', () => {
  const dir = tempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['pack', join(FIXTURES, 'mlp.onnx')], /missing -o/],
      [['pack', join(FIXTURES, 'mlp.onnx'), '-o', join(dir, 'x.bin')], /needs the \.sculpt extension/],
      [['pack', join(FIXTURES, 'mlp.onnx'), '-o', join(dir, 'x.sculpt'), '--format', 'zip'], /--format: unknown value 'zip'/],
      [['pack', join(FIXTURES, 'mlp.onnx'), '-o', join(dir, 'x.onnx'), '--fp16'], /--fp16: only the \.sculpt format/],
      [['pack', join(dir, 'missing.onnx'), '-o', join(dir, 'x.sculpt')], /missing\.onnx: no such file/],
      [['pack', join(FIXTURES, 'mlp.onnx'), '-o', join(FIXTURES, 'mlp.onnx')], /would overwrite the input/],
    ];
    for (const [args, message] of cases) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
    }
    assert.deepEqual(readdirSync(dir), []);
    assert.ok(existsSync(join(FIXTURES, 'mlp.onnx')) && statSync(join(FIXTURES, 'mlp.onnx')).size === 1067140);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
