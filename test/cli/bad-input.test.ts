// Every bad input ends with one line on stderr, a non-zero exit, no output file and the input untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

interface Case {
  name: string;
  /** Builds the input in `dir` and returns the argument list; `out` is the output path. */
  args: (dir: string, out: string) => string[];
  message: RegExp;
}

function copyFixture(dir: string, name: string): string {
  const p = join(dir, name);
  copyFileSync(join(FIXTURES, name), p);
  return p;
}

function withBytes(dir: string, name: string, edit: (b: Buffer) => Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, edit(readFileSync(join(FIXTURES, name))));
  return p;
}

/** A copy of tiny.safetensors whose first F32 weight holds a NaN. */
function safetensorsWithNaN(dir: string): string {
  return withBytes(dir, 'tiny.safetensors', (b) => {
    const out = Buffer.from(b);
    const headerLen = Number(out.readBigUInt64LE(0));
    const header = JSON.parse(out.subarray(8, 8 + headerLen).toString('utf8'));
    const start = 8 + headerLen + header['layers.0.weight'].data_offsets[0] + 4 * 17;
    out.writeFloatLE(NaN, start);
    return out;
  });
}

const cases: Case[] = [
  { name: 'missing input', args: (d, o) => ['prune', join(d, 'nope.onnx'), '-o', o, '--sparsity', '0.5'], message: /nope\.onnx: no such file/ },
  { name: 'input is a folder', args: (d, o) => ['prune', d, '-o', o, '--sparsity', '0.5'], message: /not a regular file|unknown model format/ },
  { name: 'unknown extension', args: (d, o) => ['prune', copyFixture(d, 'mlp.input.npy'), '-o', o, '--sparsity', '0.5'], message: /unknown model format '\.npy'/ },
  { name: 'truncated ONNX', args: (d, o) => ['prune', withBytes(d, 'mlp.onnx', (b) => b.subarray(0, 5000)), '-o', o, '--sparsity', '0.5'], message: /mlp\.onnx: .*(truncated|not a valid ONNX)/ },
  { name: 'garbage ONNX', args: (d, o) => ['prune', withBytes(d, 'cnn.onnx', (b) => Buffer.alloc(b.length, 0xff)), '-o', o, '--sparsity', '0.5'], message: /cnn\.onnx: .*not a valid ONNX/ },
  { name: 'truncated safetensors', args: (d, o) => ['prune', withBytes(d, 'tiny.safetensors', (b) => b.subarray(0, b.length - 100)), '-o', o.replace('.onnx', '.safetensors'), '--sparsity', '0.5'], message: /tiny\.safetensors: / },
  { name: 'corrupt safetensors header', args: (d, o) => ['prune', withBytes(d, 'tiny.safetensors', (b) => { const c = Buffer.from(b); c.write('}}}}', 9); return c; }), '-o', o.replace('.onnx', '.safetensors'), '--sparsity', '0.5'], message: /tiny\.safetensors: / },
  { name: 'NaN weight', args: (d, o) => ['prune', safetensorsWithNaN(d), '-o', o.replace('.onnx', '.safetensors'), '--sparsity', '0.5'], message: /layers\.0\.weight.*NaN/ },
  { name: 'sparsity 1', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '1'], message: /--sparsity/ },
  { name: 'negative sparsity', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity=-0.1'], message: /--sparsity/ },
  { name: 'sparsity not a number', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', 'lots'], message: /--sparsity: 'lots' is not a number/ },
  { name: 'missing sparsity', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o], message: /--sparsity/ },
  { name: 'unknown scope', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--scope', 'planet'], message: /--scope/ },
  { name: 'unknown pattern', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--pattern', 'zigzag'], message: /^sculpt: unknown --pattern 'zigzag'; accepted:/ },
  { name: 'unknown criterion', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--criterion', 'vibes'], message: /vibes/ },
  { name: 'output is the input', args: (d) => { const p = copyFixture(d, 'mlp.onnx'); return ['prune', p, '-o', p, '--sparsity', '0.5']; }, message: /never overwrites its input/ },
  { name: 'output format differs', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o.replace('.onnx', '.safetensors'), '--sparsity', '0.5'], message: /output format must match/ },
  { name: 'exclude naming nothing', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--exclude', 'fc9.weight'], message: /--exclude 'fc9\.weight' matches no tensor/ },
  { name: 'override naming nothing', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--override', 'fcx.weight=0.3'], message: /--override fcx\.weight matches no tensor/ },
  { name: 'override not NAME=S', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--override', 'fc1.weight'], message: /NAME=SPARSITY/ },
  { name: 'missing -o', args: (d) => ['prune', copyFixture(d, 'mlp.onnx'), '--sparsity', '0.5'], message: /-o\/--output/ },
  { name: 'N:M not dividing the row', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--pattern', '2:7'], message: /fc\d\.weight/ },
  { name: 'no prunable weights', args: (d, o) => ['prune', copyFixture(d, 'bias-only.onnx'), '-o', o, '--sparsity', '0.5'], message: /^sculpt: .*bias-only\.onnx: no prunable weights: 6 floating tensors, none is a weight of rank ≥ 2 \('sculpt inspect' shows each tensor's decision\); name tensors in --include to prune them anyway$/ },
  { name: 'everything excluded', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--exclude', '*'], message: /mlp\.onnx: nothing left to prune: --exclude removes all 3 tensors chosen for pruning \('fc1\.weight', 'fc2\.weight', 'fc3\.weight'\); exclude fewer, or give a tensor its own sparsity with --override$/ },
  { name: 'layer collapse', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.999'], message: /mlp\.onnx: pruning would leave tensors 'fc1\.weight', 'fc2\.weight' with no weights \(density 0, layer collapse: the layer would ignore its input\); lower --sparsity, keep them with --exclude or --override, or pass --allow-collapse to allow it$/ },
  { name: 'layer collapse while streaming safetensors', args: (d, o) => ['prune', copyFixture(d, 'tiny.safetensors'), '-o', o.replace('.onnx', '.safetensors'), '--sparsity', '0.999', '--scope', 'layer'], message: /tiny\.safetensors: pruning would leave tensors 'layers\.1\.weight', 'layers\.2\.weight' with no weights/ },
  { name: 'unknown option', args: (d, o) => ['prune', copyFixture(d, 'mlp.onnx'), '-o', o, '--sparsity', '0.5', '--bogus'], message: /unknown option '--bogus'/ },
];

for (const c of cases) {
  test(`bad input: ${c.name}`, () => {
    const dir = tempDir();
    const out = join(dir, 'out.onnx');
    const args = c.args(dir, out);
    const before = new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))] as const).filter(([f]) => !f.endsWith('/')));
    const r = sculpt(args);
    assert.notEqual(r.code, 0, `exit code for ${c.name}`);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('(run with --help'));
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, c.message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(r.stderr, /options\./, 'the CLI names flags, not library options');
    assert.equal(r.stdout, '');
    // No output and no temporary leftovers; every input byte-identical.
    assert.deepEqual(readdirSync(dir).sort(), [...before.keys()].sort());
    for (const [f, bytes] of before) assert.deepEqual(readFileSync(join(dir, f)), bytes, `${f} unchanged`);
    assert.equal(existsSync(out.replace('.onnx', '.safetensors')), before.has('out.safetensors'));
  });
}
