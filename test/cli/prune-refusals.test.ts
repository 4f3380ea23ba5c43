// `prune` says so when a run does nothing or destroys a layer; library option names become flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnx } from '../../src/formats/onnx.js';
import { pruneFile, pruneOptions, SculptError, type PruneOptions } from '../../src/index.js';
import { withFlagNames } from '../../src/cli/option-flags.js';
import { collapseWarnings } from '../../src/cli/output.js';
import { FIXTURES, sculpt, tempDir } from './helpers.js';

const zeros = (a: Float32Array): number => a.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);

test('option names in library messages become the flags the user typed', () => {
  assert.equal(withFlagNames('options.sparsity must be a number in [0, 1), got 1'), '--sparsity must be a number in [0, 1), got 1');
  assert.equal(withFlagNames("options.overrides['fc1.weight'] must be a number"), '--override fc1.weight must be a number');
  assert.equal(withFlagNames('lower options.sparsity, keep them with options.exclude or options.overrides, or pass options.allowCollapse: true to allow it'),
    'lower --sparsity, keep them with --exclude or --override, or pass --allow-collapse to allow it');
  assert.equal(withFlagNames('m.onnx: options.include, options.fractionOfRemaining, options.count'), 'm.onnx: --include, --of-remaining, options.count');
});

test('a model with no prunable weights: with --include it is pruned after all', () => {
  const dir = tempDir();
  const input = join(dir, 'bias-only.onnx');
  copyFileSync(join(FIXTURES, 'bias-only.onnx'), input);
  const refused = sculpt(['prune', input, '-o', join(dir, 'refused.onnx'), '--sparsity', '0.5']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /no prunable weights: 6 floating tensors/);
  assert.equal(existsSync(join(dir, 'refused.onnx')), false);
  // inspect shows the decisions the message points to.
  const inspect = sculpt(['inspect', input]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /affine\.scale\s+\[48\]\s+48\s+other\s+no\s+rank 1/);
  const r = sculpt(['prune', input, '-o', join(dir, 'out.onnx'), '--sparsity', '0.5', '--include', 'affine.scale', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).target.zerosAfter, 24);
  assert.equal(zeros(readOnnx(join(dir, 'out.onnx')).weights().get('affine.scale')!.data), 24);
});

test('--allow-collapse lets fc1 and fc2 go to density 0 at 0.999 global, one warning line per tensor', () => {
  const dir = tempDir();
  const input = join(FIXTURES, 'mlp.onnx');
  const before = readFileSync(input);
  const out = join(dir, 'mlp-999.onnx');
  const r = sculpt(['prune', input, '-o', out, '--sparsity', '0.999', '--allow-collapse', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const warning = (n: string) => `tensor '${n}' pruned to density 0 (--allow-collapse): its layer now ignores its input`;
  assert.equal(r.stderr, `sculpt: warning: ${warning('fc1.weight')}\nsculpt: warning: ${warning('fc2.weight')}\n`);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.warnings, [warning('fc1.weight'), warning('fc2.weight')]);
  assert.equal(report.options.allowCollapse, true);
  const w = readOnnx(out).weights();
  assert.equal(zeros(w.get('fc1.weight')!.data), 235200);
  assert.equal(zeros(w.get('fc2.weight')!.data), 30000);
  assert.equal(zeros(w.get('fc3.weight')!.data), 1000 - 266);
  assert.equal(report.target.zerosAfter, Math.round(0.999 * 266200));
  assert.deepEqual(readFileSync(input), before, 'input untouched');
  assert.deepEqual(readdirSync(dir), ['mlp-999.onnx']);
});

test('channel pruning the classifier (the Gemm that makes the graph output) warns in one line; excluding it does not', () => {
  const dir = tempDir();
  const input = join(FIXTURES, 'mlp.onnx');
  const r = sculpt(['prune', input, '-o', join(dir, 'ch.onnx'), '--sparsity', '0.5', '--scope', 'layer', '--pattern', 'channel']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "sculpt: warning: channel pruning removed 5 of 10 output rows of 'fc3.weight' (an output layer): those outputs become constant; keep it with --exclude\n");
  assert.match(r.stdout, /wrote .*ch\.onnx/);
  const rows = readOnnx(join(dir, 'ch.onnx')).weights().get('fc3.weight')!.data;
  let empty = 0;
  for (let o = 0; o < 10; o++) if (rows.subarray(o * 100, o * 100 + 100).every((v) => v === 0)) empty++;
  assert.equal(empty, 5);
  const ex = sculpt(['prune', input, '-o', join(dir, 'ch2.onnx'), '--sparsity', '0.5', '--scope', 'layer', '--pattern', 'channel', '--exclude', 'fc3.weight']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stderr, '');
  // Unstructured pruning of the classifier keeps every row: no warning.
  const un = sculpt(['prune', input, '-o', join(dir, 'un.onnx'), '--sparsity', '0.9']);
  assert.equal(un.stderr, '');
});

test('imp lets a layer collapse rather than stop mid-training, and warns at the end naming it', { timeout: 120_000 }, () => {
  const out = join(tempDir(), 'imp-collapse');
  // Round 1 removes 99.9% of all weights globally: fc1 and fc2 (small initial magnitudes) lose them all.
  const r = sculpt(['imp', '--model', 'lenet-300-100', '--rounds', '2', '--rate', '0.999', '--epochs', '1',
    '--train-limit', '300', '--test-limit', '100', '--control', 'random-mask', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('sculpt: warning:'));
  assert.deepEqual(warnings, ['fc1/kernel', 'fc2/kernel'].map((n) =>
    `sculpt: warning: imp left layer '${n}' with no weights from round 1 on (density 0, layer collapse: it ignores its input); prune less or keep it with --exclude '${n}'`));
  const layers = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).layers as { name: string; density: number }[][];
  assert.deepEqual(layers[1].map((l) => l.density), [0, 0, 0.266]);
  assert.ok(existsSync(join(out, 'round-1', 'model.json')));
});

test('gmp to 0.999 warns the same way; collapseWarnings skips layers empty from the first round', { timeout: 120_000 }, () => {
  const out = join(tempDir(), 'gmp-collapse');
  const r = sculpt(['gmp', '--model', 'lenet-300-100', '--final-sparsity', '0.999', '--schedule', 'constant', '--frequency', '5',
    '--epochs', '1', '--train-limit', '600', '--test-limit', '100', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('sculpt: warning:')), ['fc1/kernel', 'fc2/kernel'].map((n) =>
    `sculpt: warning: gmp left layer '${n}' with no weights (density 0, layer collapse: it ignores its input); prune less or keep it with --exclude '${n}'`));
  const rounds = [
    [{ name: 'a', density: 0 }, { name: 'b', density: 1 }, { name: 'c', density: 1 }],
    [{ name: 'a', density: 0 }, { name: 'b', density: 0.5 }, { name: 'c', density: 0.2 }],
    [{ name: 'a', density: 0 }, { name: 'b', density: 0 }, { name: 'c', density: 0.1 }],
  ];
  assert.deepEqual(collapseWarnings('imp', rounds), [
    "imp left layer 'b' with no weights from round 2 on (density 0, layer collapse: it ignores its input); prune less or keep it with --exclude 'b'",
  ]);
  assert.deepEqual(collapseWarnings('imp', []), []);
});

test('pruneFile from JavaScript: a wrong option is a SculptError naming it, and nothing is written', () => {
  const dir = tempDir();
  const out = join(dir, 'out.onnx');
  const input = join(FIXTURES, 'mlp.onnx');
  const good = pruneOptions({ sparsity: 0.5 });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ scope: 'Global' }, /^options\.scope must be 'global' or 'layer', got 'Global'$/],
    [{ pattern: 'chanel' }, /^unknown options\.pattern 'chanel'/],
    [{ sparsity: '0.5' }, /^options\.sparsity must be a number in \[0, 1\), got the string '0\.5'/],
    [{ criterion: 'Magnitude' }, /^unknown options\.criterion 'Magnitude'/],
  ];
  for (const [over, re] of cases) {
    assert.throws(() => pruneFile(input, out, { ...good, ...over } as unknown as PruneOptions), (e: unknown) => e instanceof SculptError && re.test(e.message), JSON.stringify(over));
  }
  assert.throws(() => pruneFile(input, out, pruneOptions({ sparsity: 0.999 })), (e: unknown) => e instanceof SculptError && /'fc1\.weight', 'fc2\.weight' with no weights/.test(e.message));
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(pruneFile(input, out, pruneOptions({ sparsity: 0.999, allowCollapse: true })).stats.filter((x) => x.warning !== undefined).length, 2);
});
