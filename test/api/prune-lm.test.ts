// Language models on calibration text, on the committed GPT (test/fixtures/gpt): stages from the
// graph, sequential SparseGPT and Wanda with exact counts, 2:4 structure, the head left dense,
// onnxruntime and sculpt's executor agreeing, SparseGPT's output error below magnitude's, OWL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { roundHalfEven } from '../../src/core/counting.js';
import { pruneOptions } from '../../src/core/options.js';
import { calibratedWeights } from '../../src/api/calibration-onnx.js';
import { pruneLanguageModelFile, type LmCalibration } from '../../src/api/prune-lm.js';
import { sequentialStages } from '../../src/api/sparsegpt-sequential.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { loadTokenizer } from '../../src/formats/datasets/text.js';

const DIR = join(import.meta.dirname, '../fixtures/gpt');
const MODEL = join(DIR, 'gpt.onnx');
const CAL: LmCalibration = { calibration: `text:${join(DIR, 'calib.txt')}`, samples: 8, dataOptions: { seqLen: 64 } };
const TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].flatMap((l) => [0, 1].map((b) => `h.${b}.${l}.weight`));

const tmp = mkdtempSync(join(tmpdir(), 'sculpt-lm-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

async function prune(name: string, opts: Parameters<typeof pruneOptions>[0], cal: Partial<LmCalibration> = {}) {
  const out = join(tmp, `${name}.onnx`);
  const r = await pruneLanguageModelFile(MODEL, out, pruneOptions({ scope: 'layer', ...opts }), { ...CAL, ...cal });
  return { r, out, model: readOnnx(out) };
}

/** Logits of `n` windows of `ids`, through onnxruntime. */
async function logits(file: string, ids: BigInt64Array, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const dims = [n, ids.length / n];
  const r = await s.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims) });
  await s.release();
  return r.logits.data as Float32Array;
}

test('stages come from the graph: qkv, attention output, MLP up, MLP down, per block, in order; the tied head is not a target', () => {
  const m = readOnnx(MODEL);
  const opts = pruneOptions({ sparsity: 0.5, scope: 'layer', exclude: ['onnx::MatMul_*'] });
  const stages = sequentialStages(m.graph(), calibratedWeights(m, opts, 'sparsegpt'));
  assert.deepEqual(stages.map((s) => s.weights.map((w) => w.tensor.name)), ['h.0.attn.c_attn', 'h.0.attn.c_proj', 'h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.1.attn.c_attn', 'h.1.attn.c_proj', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj'].map((n) => [`${n}.weight`]));
});

test('sequential sparsegpt at 50%: exactly round(n/2) of each block weight, kept weights changed, head and embeddings byte-identical', async () => {
  const { r, model } = await prune('sgpt50', { sparsity: 0.5, criterion: 'sparsegpt' });
  const dense = readOnnx(MODEL);
  assert.equal(r.sequential, true);
  assert.equal(r.stages, 8);
  assert.equal(r.head.length, 1);
  for (const s of r.stats) {
    if (TARGETS.includes(s.name)) {
      assert.equal(s.pruned, true, s.name);
      assert.equal(s.zerosAfter, roundHalfEven(s.count / 2), s.name);
      const v = model.read(s.name);
      let zeros = 0;
      for (const x of v) if (x === 0) zeros++;
      assert.equal(zeros, s.zerosAfter, `${s.name} zeros in the file`);
    } else {
      assert.equal(s.pruned, false, s.name);
      assert.deepEqual(model.read(s.name), dense.read(s.name), `${s.name} untouched`);
    }
  }
  // Reconstruction: some kept weight differs from the dense value.
  const w0 = dense.read('h.0.mlp.c_fc.weight');
  const w1 = model.read('h.0.mlp.c_fc.weight');
  assert.ok(w1.some((v, i) => v !== 0 && v !== w0[i]));
});

test('2:4 with sparsegpt and wanda: every 4 consecutive inputs of each output keep exactly 2', async () => {
  for (const criterion of ['sparsegpt', 'wanda']) {
    const { model } = await prune(`${criterion}-24`, { pattern: '2:4', criterion });
    for (const name of TARGETS) {
      const t = model.tensors.find((x) => x.name === name)!;
      const [k, n] = t.shape; // Gemm B [K, N]: inputs along axis 0
      const v = model.read(name);
      for (let col = 0; col < n; col++) {
        for (let g = 0; g < k; g += 4) {
          let kept = 0;
          for (let j = 0; j < 4; j++) if (v[(g + j) * n + col] !== 0) kept++;
          assert.equal(kept, 2, `${criterion} ${name} col ${col} group ${g}`);
        }
      }
    }
  }
});

test('onnxruntime and sculpt\'s executor run the same stages: nearly the same masks (≥ 99%; float32 and float64 statistics part ways a little over 8 stages) and values', async () => {
  const a = await prune('ort', { sparsity: 0.5, criterion: 'sparsegpt' }, { engine: 'onnxruntime' });
  const b = await prune('exec', { sparsity: 0.5, criterion: 'sparsegpt' }, { engine: 'sparse' });
  // One window per run: 64 rows, fewer than the MLP's 256 inputs, so XᵀX waits for k rows first.
  const c = await prune('ort-batch1', { sparsity: 0.5, criterion: 'sparsegpt' }, { engine: 'onnxruntime', batch: 1 });
  for (const [name, va] of TARGETS.flatMap((n) => [[n, a.model.read(n)], [n, c.model.read(n)]] as const)) {
    const vb = b.model.read(name);
    let same = 0;
    let maxDiff = 0;
    for (let i = 0; i < va.length; i++) {
      if ((va[i] === 0) === (vb[i] === 0)) same++;
      if (va[i] !== 0 && vb[i] !== 0) maxDiff = Math.max(maxDiff, Math.abs(va[i] - vb[i]));
    }
    assert.ok(same / va.length >= 0.99, `${name}: ${same}/${va.length} mask bits agree`);
    assert.ok(maxDiff < 0.05, `${name}: values differ by ${maxDiff}`);
  }
});

test('sequential sparsegpt\'s logits stay closer to the dense model\'s than magnitude\'s; global scope ranks on dense statistics with an exact total', async () => {
  // Held-out text (eval.txt), 8 windows of 64 tokens.
  const tok = loadTokenizer(join(DIR, 'tokenizer.json'));
  const ids = BigInt64Array.from(Array.from(tok.encode(readFileSync(join(DIR, 'eval.txt'), 'utf8'))).slice(0, 8 * 64), (v) => BigInt(v));
  const dense = await logits(MODEL, ids, 8);
  const err = async (file: string) => {
    const l = await logits(file, ids, 8);
    let e = 0;
    for (let i = 0; i < l.length; i++) e += (l[i] - dense[i]) ** 2;
    return e / l.length;
  };
  const sgpt = await err((await prune('cmp-sgpt', { sparsity: 0.6, criterion: 'sparsegpt' })).out);
  const mag = await err((await prune('cmp-mag', { sparsity: 0.6, criterion: 'magnitude' })).out);
  assert.ok(sgpt < mag, `sparsegpt ${sgpt} vs magnitude ${mag}`);
  if (process.env.SCULPT_VERBOSE) console.log(`logit MSE: sparsegpt ${sgpt}, magnitude ${mag}`);
  // OBS saliencies are not comparable across layers (some layers collapse), hence allowCollapse.
  const global = await prune('cmp-global', { sparsity: 0.6, criterion: 'sparsegpt', scope: 'global', allowCollapse: true });
  assert.equal(global.r.sequential, false);
  const total = TARGETS.reduce((a, n) => a + global.r.stats.find((s) => s.name === n)!.count, 0);
  assert.equal(global.r.targetTotal.zerosAfter, roundHalfEven(0.6 * total));
  // The file holds exactly the reported zeros, square [K, N] weights (attn.c_proj, 64×64) included:
  // the reconstruction's mask is transposed by the weight's output axis, not guessed from its shape.
  for (const n of TARGETS) {
    const zeros = global.model.read(n).filter((x) => x === 0).length;
    assert.equal(zeros, global.r.stats.find((s) => s.name === n)!.zerosAfter, n);
  }
  // Saliency w²/[H⁻¹]_jj is one scale per input j, so along each input (a row of a [K, N] weight)
  // every pruned dense weight is no larger in magnitude than every kept one.
  const original = readOnnx(MODEL);
  for (const n of ['h.0.attn.c_proj.weight', 'h.1.attn.c_proj.weight']) {
    const w = original.read(n);
    const p = global.model.read(n);
    const [k, cols] = original.tensors.find((t) => t.name === n)!.shape;
    for (let j = 0; j < k; j++) {
      let prunedMax = 0;
      let keptMin = Infinity;
      for (let c = 0; c < cols; c++) {
        const a = Math.abs(w[j * cols + c]);
        if (p[j * cols + c] === 0) prunedMax = Math.max(prunedMax, a);
        else keptMin = Math.min(keptMin, a);
      }
      assert.ok(prunedMax <= keptMin, `${n} input ${j}: pruned |w| up to ${prunedMax}, kept from ${keptMin}`);
    }
  }
});

test('OWL: one sparsity per block (h.0, h.1), their size-weighted mean the target, each layer at its block\'s', async () => {
  const { r } = await prune('owl', { sparsity: 0.6, criterion: 'wanda' }, { allocation: 'owl' });
  const alloc = r.allocation!;
  assert.deepEqual(Object.keys(alloc).sort(), ['h.0', 'h.1']);
  const mean = (alloc['h.0'] + alloc['h.1']) / 2;
  assert.ok(Math.abs(mean - 0.6) < 1e-12, `mean ${mean}`);
  assert.ok(Math.abs(Math.abs(alloc['h.0'] - alloc['h.1']) - 0.16) < 1e-12, 'two blocks span 2λ');
  for (const name of TARGETS) {
    const s = r.stats.find((x) => x.name === name)!;
    assert.equal(s.zerosAfter, roundHalfEven(alloc[name.slice(0, 3)] * s.count), name);
  }
  const m = await prune('owl-mag', { sparsity: 0.6, criterion: 'magnitude' }, { allocation: 'owl' });
  assert.deepEqual(m.r.allocation, alloc, 'the allocation does not depend on the criterion');
});
