import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { closestChoice, withSuggestion } from '../../src/cli/option-flags.js';
import { FIXTURES, ROOT, sculpt, tempDir } from './helpers.js';

const mlp = join(FIXTURES, 'mlp.onnx');

test('every error is one line starting with sculpt:, commander\'s own (unknown option, command, missing argument) included', () => {
  const cases: [string[], RegExp][] = [
    [['prune'], /^sculpt: missing required argument 'input'; see sculpt prune --help$/],
    [['prune', mlp, '--sparsty', '0.5'], /^sculpt: unknown option '--sparsty' \(did you mean --sparsity\?\); see sculpt prune --help$/],
    [['frobnicate'], /^sculpt: unknown command 'frobnicate'; see sculpt --help$/],
    [['prun', mlp], /^sculpt: unknown command 'prun' \(did you mean one of prune, run\?\); see sculpt --help$/],
    [['train'], /^sculpt: required option '--model <name\|dir>' not specified; see sculpt train --help$/],
    [['bench', mlp, '--threads'], /^sculpt: option '--threads <t>' argument missing; see sculpt bench --help$/],
    [['prune', mlp, '--sparsity', '0.5'], /^sculpt: prune: missing -o\/--output/],
  ];
  for (const [args, message] of cases) {
    const r = sculpt(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit code`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got\n${r.stderr}`);
    assert.match(lines[0]!, message);
    assert.equal(r.stdout, '');
  }
});

test('enum values are case-insensitive; an unknown one gets a did-you-mean', () => {
  const dir = tempDir();
  try {
    const out = join(dir, 'out.onnx');
    const ok = sculpt(['prune', mlp, '-o', out, '--sparsity', '0.5', '--scope', 'Layer', '--criterion', 'MAGNITUDE', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const j = JSON.parse(ok.stdout);
    assert.equal(j.options.scope, 'layer');
    assert.equal(j.options.criterion, 'magnitude');
    rmSync(out);
    const cases: [string[], RegExp][] = [
      [['prune', mlp, '-o', out, '--sparsity', '0.5', '--scope', 'lyer'], /^sculpt: --scope: unknown value 'lyer'; use one of global, layer; did you mean 'layer'\?$/],
      [['prune', mlp, '-o', out, '--sparsity', '0.5', '--pattern', 'Chanel'], /unknown --pattern 'chanel'.*; did you mean 'channel'\?$/],
      [['prune', mlp, '-o', out, '--sparsity', '0.5', '--criterion', 'Magnitud'], /unknown --criterion 'magnitud'.*; did you mean 'magnitude'\?$/],
      [['run', mlp, '--input', join(FIXTURES, 'mlp.input.npy'), '-o', join(dir, 'y.npy'), '--engine', 'onnxruntim'], /did you mean 'onnxruntime'\?$/],
      [['experiment', 'lottery-probabilty'], /unknown experiment 'lottery-probabilty'.*; did you mean 'lottery-probability'\?$/],
      // Far from every name: no guess.
      [['prune', mlp, '-o', out, '--sparsity', '0.5', '--scope', 'everything'], /^sculpt: --scope: unknown value 'everything'; use one of global, layer$/],
    ];
    for (const [args, message] of cases) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), message);
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('help marks the options a command cannot run without', () => {
  const prune = sculpt(['prune', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(prune, /-o, --output <file> where to write the pruned model \(never the input\) \(required\)/);
  assert.match(prune, /-s, --sparsity <s> .*\(required, except that N:M patterns imply it\)/);
  assert.doesNotMatch(prune, /--scope <scope> [^-]*\(required/);
  for (const [cmd, flag] of [['train', '--model'], ['imp', '--rounds'], ['gmp', '--final-sparsity'], ['pack', '--output'], ['run', '--output'], ['export', '--output']] as const) {
    const help = sculpt([cmd, '--help']).stdout.replace(/\s+/g, ' ');
    assert.match(help, new RegExp(`${flag} <[^>]*> [^]*?\\(required`), `${cmd} --help marks ${flag}`);
  }
});

test('withSuggestion and closestChoice: typos within a third of the length, nothing for far or exact values', () => {
  assert.equal(closestChoice('lyer', ['global', 'layer']), 'layer');
  assert.equal(closestChoice('gpu', ['sparse', 'onnxruntime']), undefined);
  assert.equal(withSuggestion('--backend wsm: unknown backend; use auto, tensorflow, wasm or cpu'), '--backend wsm: unknown backend; use auto, tensorflow, wasm or cpu; did you mean \'wasm\'?');
  assert.equal(withSuggestion('--format: unknown value \'onnx-spare\'; use one of sculpt, onnx-sparse'), '--format: unknown value \'onnx-spare\'; use one of sculpt, onnx-sparse; did you mean \'onnx-sparse\'?');
  assert.equal(withSuggestion('fc1.weight: no such tensor'), 'fc1.weight: no such tensor');
});

test('--version and -V print the package version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = sculpt([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
    assert.equal(r.stderr, '');
  }
});
