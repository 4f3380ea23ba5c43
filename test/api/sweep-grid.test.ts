// Grid files and job keys of `sculpt sweep`: parsing, line-numbered errors, canonical hashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseSweepGrid, splitCommandLine } from '../../src/api/sweep-grid.js';
import { canonicalJson, jobKey, sweepJobs, type CommandShape } from '../../src/api/sweep-jobs.js';
import { SculptError } from '../../src/core/errors.js';
import { redisAddress } from '../../src/api/sweep-queue.js';

const PRUNE: CommandShape = {
  name: 'prune',
  options: [
    { long: 'output', short: 'o', takesValue: true }, { long: 'sparsity', short: 's', takesValue: true },
    { long: 'criterion', takesValue: true }, { long: 'seed', takesValue: true }, { long: 'json', takesValue: false },
    { long: 'of-remaining', takesValue: false }, { long: 'exclude', takesValue: true },
  ],
};

function errorOf(text: string): string {
  try {
    parseSweepGrid(text, 'g.yaml');
  } catch (e) {
    assert.ok(e instanceof SculptError);
    return e.message;
  }
  return 'no error';
}

test('a grid file: command words, grid options in order, compare', () => {
  const g = parseSweepGrid('command: sculpt prune "my model.onnx" --criterion random\ngrid:\n  sparsity: [0.3, 0.6]\n  --of-remaining: [true, false]\ncompare: [a.x, b.y]\n', 'g.yaml');
  assert.deepEqual(g.command, ['prune', 'my model.onnx', '--criterion', 'random']);
  assert.deepEqual(g.grid, [['sparsity', [0.3, 0.6]], ['of-remaining', [true, false]]]);
  assert.deepEqual(g.compare, ['a.x', 'b.y']);
  assert.deepEqual(g.lines, { sparsity: 3, 'of-remaining': 4 });
  assert.deepEqual(splitCommandLine(`a 'b c'  "d'e" ''`), ['a', 'b c', "d'e", '']);
});

test('compare: one pair, or a list of pairs in file order; a bad pair names its line', () => {
  const one = parseSweepGrid('command: imp --rounds 2\ncompare: [a.x, b.x]\n', 'g.yaml');
  assert.deepEqual(one.comparisons, [['a.x', 'b.x']]);
  const many = parseSweepGrid('command: imp --rounds 2\ncompare:\n  - [a.x, b.x]\n  - [rounds.5.testAccuracy, rounds.0.testAccuracy]\n', 'g.yaml');
  assert.deepEqual(many.compare, ['a.x', 'b.x']);
  assert.deepEqual(many.comparisons, [['a.x', 'b.x'], ['rounds.5.testAccuracy', 'rounds.0.testAccuracy']]);
  assert.equal(parseSweepGrid('command: imp --rounds 2\n', 'g.yaml').comparisons, undefined);
  assert.match(errorOf('command: prune m.onnx\ncompare:\n  - [a.x, b.x]\n  - [c.x]\n'), /^g\.yaml:4: compare: give two metric names, /);
  assert.match(errorOf('command: prune m.onnx\ncompare: [a.x, b.x, c.x]\n'), /^g\.yaml:2: compare: give two metric names, /);
});

test('bad grid files: one line naming the file and the line', () => {
  assert.equal(errorOf('command: prune m.onnx\ngrid:\n  sparsity: [0.5]\nseeds: 3\n'), 'g.yaml:4: unknown key "seeds"; a grid file has command, grid, compare');
  assert.equal(errorOf('command: prune m.onnx\ngrid:\n  sparsity: [0.5]\n  criterion: []\n'), 'g.yaml:4: grid: criterion: the list of values is empty');
  assert.equal(errorOf('command: prune m.onnx\n\ngrid:\n  out: [a, b]\n'), 'g.yaml:4: grid: --out is set by sculpt sweep for every job; remove it from the grid');
  assert.equal(errorOf('command: prune m.onnx\ngrid:\n  seed: [0, -1]\n'), 'g.yaml:3: grid: seed: -1 is not a whole number >= 0');
  assert.equal(errorOf('grid:\n  sparsity: [0.5]\n'), 'g.yaml:1: missing "command:": the sculpt command line every job runs');
  assert.match(errorOf('command: prune m.onnx\ngrid:\n  sparsity: [0.5\n'), /^g\.yaml:\d+: not valid YAML: /);
  assert.equal(errorOf('command: prune m.onnx\ngrid:\n  sparsity: [0.5, 0.5]\n'), 'g.yaml:3: grid: sparsity: a value is listed twice');
  for (const text of ['command: prune m.onnx\ngrid:\n  a: [1]\n  b: []\n', 'x: 1\n']) assert.ok(!errorOf(text).includes('\n'));
});

test('job keys: SHA-256 of canonical JSON, the same for the same resolved job however it is written', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 'x' }], c: true } }), '{"a":{"c":true,"d":[1,{"y":"x","z":0}]},"b":1}');
  const resolved = { command: 'prune', operands: ['m.onnx'], options: { sparsity: '0.5', seed: '1' } };
  assert.equal(jobKey(resolved), createHash('sha256').update('{"command":"prune","operands":["m.onnx"],"options":{"seed":"1","sparsity":"0.5"}}').digest('hex'));
  // The same cell from the command line or from the grid, short or long flag: one key, one folder.
  const a = sweepJobs(parseSweepGrid('command: prune m.onnx -s 0.5 --criterion random\n', 'a.yaml'), PRUNE, 'D', 'a.yaml', 2);
  const b = sweepJobs(parseSweepGrid('command: prune m.onnx --criterion=random\ngrid:\n  sparsity: [0.5, 0.7]\n  seed: [1, 0]\n', 'b.yaml'), PRUNE, 'D', 'b.yaml');
  assert.equal(a.length, 2);
  assert.equal(b.length, 4);
  assert.deepEqual(new Set(a.map((j) => j.key)), new Set(b.filter((j) => j.options.sparsity === 0.5).map((j) => j.key)));
  assert.equal(new Set(b.map((j) => j.key)).size, 4);
  const j = b[0]!;
  assert.equal(j.dir, `D/jobs/${j.key}`);
  assert.deepEqual(j.argv, ['prune', 'm.onnx', '--criterion', 'random', '--sparsity', '0.5', '--seed', '1', '--output', `D/jobs/${j.key}/m.onnx`, '--json']);
  assert.deepEqual([j.options, j.seed, j.cellKey], [{ sparsity: 0.5 }, 1, '{"sparsity":0.5}']);
  // Switches: true adds the flag, false leaves it out.
  const s = sweepJobs(parseSweepGrid('command: prune m.onnx -s 0.5\ngrid:\n  of-remaining: [true, false]\n', 's.yaml'), PRUNE, 'D', 's.yaml');
  assert.deepEqual(s.map((x) => x.argv.includes('--of-remaining')), [true, false]);
});

test('jobs that cannot be formed: line-numbered errors', () => {
  const jobsError = (text: string, seeds?: number): string => {
    try {
      sweepJobs(parseSweepGrid(text, 'g.yaml'), PRUNE, 'D', 'g.yaml', seeds);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.equal(jobsError('command: prune m.onnx -o x.onnx\n'), 'g.yaml:1: command: drop --output: sculpt sweep sets it for every job');
  assert.equal(jobsError('\ncommand: prune m.onnx --seed 3\n'), 'g.yaml:2: command: drop --seed: sculpt sweep sets it for every job (use --seeds N or seed: [...] in the grid)');
  assert.equal(jobsError('command: prune m.onnx\ngrid:\n  sparsity: [0.1]\n  bogus: [1]\n'), 'g.yaml:4: grid: sculpt prune has no option --bogus; see sculpt prune --help');
  assert.equal(jobsError('command: prune m.onnx\ngrid:\n  seed: [0, 1]\n', 3), 'g.yaml:3: grid: seed is given both here and by --seeds; keep one');
  assert.equal(jobsError('command: prune m.onnx --wrong\n'), 'g.yaml:1: sculpt prune has no option --wrong; see sculpt prune --help');
});

test('queue addresses: redis://HOST:PORT, anything else one line', () => {
  assert.deepEqual(redisAddress('redis://10.0.0.5:6380'), { host: '10.0.0.5', port: 6380 });
  assert.deepEqual(redisAddress('redis://[::1]:6379/'), { host: '::1', port: 6379 });
  for (const bad of ['localhost:6379', 'redis://h', 'redis://h:0', 'redis://h:70000', 'http://h:1']) {
    assert.throws(() => redisAddress(bad), (e: Error) => e instanceof SculptError && e.message === `--queue ${bad}: give redis://HOST:PORT, e.g. redis://127.0.0.1:6379`);
  }
});
