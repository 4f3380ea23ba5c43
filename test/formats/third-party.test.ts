/**
 * ONNX models that npm packages ship, made by tools that are not sculpt's (see
 * test/fixtures/third-party/README.md): PaddleOCR's text-direction classifier exported by
 * paddle2onnx (opset 9, every weight a Constant node) and Silero VAD v5 exported by PyTorch (every
 * weight a Constant node inside If branches chosen by sample rate). Before sculpt read Constant
 * nodes and subgraphs, `inspect` found no weight in either and `prune` removed nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnx } from '../../src/formats/onnx.js';
import { unpackSculpt } from '../../src/api/sculpt-file.js';
import { writeNpy } from '../../src/sparse/npy.js';
import { floatTensor, intTensor } from '../../src/sparse/tensor.js';
import { readNpy } from '../fixtures/npy.js';
import { FIXTURES, sculpt, tempDir } from '../cli/helpers.js';

const DIR = path.join(FIXTURES, 'third-party');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const halfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
};

/** A deterministic pseudo-random float32 array in [-1, 1). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const MODELS = [
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    // Counted with onnx 1.12 (Python): 53 Conv weights (rank 4) and 1 MatMul weight [200, 2], all Constant nodes.
    prunable: 54,
    prunableParameters: 124_072,
    args: ['--sparsity', '0.8'],
    sparsity: 0.8,
    feeds: () => ({ x: new ort.Tensor('float32', noise(3 * 48 * 192, 1), [1, 3, 48, 192]) }),
  },
  {
    file: 'silero_vad_v5.onnx',
    // Per branch (16 kHz, 8 kHz), each a Constant node in an If body: 6 Conv weights (the STFT basis,
    // 4 encoder convs, the decoder conv) and the LSTM's weight_ih/weight_hh [512,128], which reach the
    // LSTM through Slice/Concat (PyTorch's gate reordering) and Unsqueeze. Sum of their sizes: 542,464.
    prunable: 16,
    prunableParameters: 542_464,
    args: ['--sparsity', '0.9', '--scope', 'layer'],
    sparsity: 0.9,
    feeds: () => ({
      input: new ort.Tensor('float32', noise(512, 2).map((v) => v * 0.1), [1, 512]),
      state: new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
    }),
  },
];

for (const m of MODELS) {
  test(`${m.file}: inspect finds the Constant-node weights; prune removes exactly round(s·N), changes only their payloads; onnxruntime runs it, packed too`, async () => {
    const file = path.join(DIR, m.file);
    const info = sculpt(['inspect', file, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const j = JSON.parse(info.stdout.trim().split('\n').pop()!);
    const prunable = j.tensors.filter((t: { prunable: boolean }) => t.prunable);
    assert.equal(prunable.length, m.prunable);
    assert.equal(j.prunableParameters, m.prunableParameters);
    assert.ok(prunable.every((t: { reason: string }) => /Constant node/.test(t.reason)));

    const d = tempDir();
    dirs.push(d);
    const out = path.join(d, m.file);
    const r = sculpt(['prune', file, '-o', out, ...m.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const before = readOnnx(file);
    const after = readOnnx(out);
    const names = prunable.map((t: { name: string }) => t.name as string);
    const ranges = names.map((n: string) => {
      const s = before.stored(n)!.storage;
      assert.equal(s.kind, 'raw');
      return s.kind === 'raw' ? [s.start, s.end] : [0, 0];
    });
    const a = fs.readFileSync(file);
    const b = fs.readFileSync(out);
    assert.equal(b.length, a.length);
    let changed = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      changed++;
      assert.ok(ranges.some(([s, e]: number[]) => i >= s && i < e), `byte ${i} changed outside the pruned payloads`);
    }
    assert.ok(changed > 0);
    let total = 0;
    let zeros = 0;
    for (const n of names) {
      const now = after.read(n);
      const was = before.read(n);
      let z = 0;
      let z0 = 0;
      for (let i = 0; i < now.length; i++) {
        if (now[i] === 0) z++;
        if (was[i] === 0) z0++;
        else if (now[i] !== 0) assert.equal(now[i], was[i]);
      }
      if (m.args.includes('layer')) assert.equal(z, Math.max(z0, halfEven(m.sparsity * now.length)), n);
      total += now.length;
      zeros += z;
    }
    if (!m.args.includes('layer')) assert.equal(zeros, halfEven(m.sparsity * total));

    const session = await ort.InferenceSession.create(out);
    const feeds = m.feeds();
    const res = await session.run(feeds);
    for (const name of session.outputNames) assert.ok((res[name].data as Float32Array).every(Number.isFinite), name);

    // Packed, the Constant-node weights (subgraph ones included) leave the graph and come back as
    // initializers of their own graph: smaller files, the same outputs in onnxruntime.
    const packed = path.join(d, m.file.replace('.onnx', '.sculpt'));
    const coo = path.join(d, m.file.replace('.onnx', '-coo.onnx'));
    assert.equal(sculpt(['pack', out, '-o', packed]).code, 0);
    assert.equal(sculpt(['pack', out, '-o', coo, '--format', 'onnx-sparse']).code, 0);
    assert.ok(fs.statSync(packed).size < 0.75 * b.length, `${packed} is ${fs.statSync(packed).size} bytes`);
    assert.ok(fs.statSync(coo).size < b.length);
    // sculpt's own executor runs the packed model too (sculpt run, default engine) and agrees with onnxruntime.
    const inputs: string[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const f = path.join(d, `${name}.npy`);
      const data = t.type === 'int64' ? Float64Array.from(t.data as BigInt64Array, Number) : (t.data as Float32Array);
      fs.writeFileSync(f, writeNpy(t.type === 'int64' ? intTensor(t.dims, data) : floatTensor(t.dims, data as Float32Array)));
      inputs.push('--input', `${name}=${f}`);
    }
    const outDir = path.join(d, 'run');
    const run = sculpt(['run', packed, ...inputs, '-o', outDir]);
    assert.equal(run.code, 0, run.stderr);
    for (const name of session.outputNames) {
      const x = res[name].data as Float32Array;
      const y = readNpy(path.join(outDir, `${name}.npy`)).data;
      assert.equal(y.length, x.length);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1e-4 * (1 + Math.abs(x[i])), `sculpt run ${name}[${i}]: ${y[i]} vs ${x[i]}`);
    }
    for (const source of [unpackSculpt(new Uint8Array(fs.readFileSync(packed))), coo]) {
      const s2 = await ort.InferenceSession.create(source as string);
      const res2 = await s2.run(feeds);
      for (const name of session.outputNames) {
        const x = res[name].data as Float32Array;
        const y = res2[name].data as Float32Array;
        assert.equal(y.length, x.length);
        for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1e-6 * (1 + Math.abs(x[i])), `${name}[${i}]: ${x[i]} vs ${y[i]}`);
      }
    }
  });
}
