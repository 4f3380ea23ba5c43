/**
 * The one path policy for external data and TF.js shards: a `location` must resolve, links followed, to a regular
 * file inside the model's folder. Hostile locations (absolute paths, `..`, a link out of the folder,
 * a FIFO, a device, a folder) are refused with one line naming the tensor — by inspect and prune —
 * and nothing is written or copied.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readOnnx } from '../../src/formats/onnx.js';
import { spliceWithLengthFixup } from '../../src/formats/protobuf.js';
import { FIXTURES, sculpt, tempDir } from '../cli/helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** mlp-external.onnx with every tensor's `location` set to `location`, written into a fresh folder. */
function hostile(location: string): { dir: string; model: string } {
  const dir = tempDir();
  dirs.push(dir);
  const m = readOnnx(path.join(FIXTURES, 'mlp-external.onnx'));
  const edits = m.initializers.flatMap((t) => (t.storage.kind === 'external'
    ? [{ start: t.storage.locationValue.start, end: t.storage.locationValue.end, bytes: new TextEncoder().encode(location), enclosing: [...t.storage.enclosing, t.storage.locationValue] }]
    : []));
  const model = path.join(dir, 'evil.onnx');
  fs.writeFileSync(model, spliceWithLengthFixup(m.bytes, edits));
  return { dir, model };
}

const outside = tempDir();
dirs.push(outside);
fs.writeFileSync(path.join(outside, 'secret.data'), fs.readFileSync(path.join(FIXTURES, 'mlp-external.data')));

const cases: { name: string; location: string; setup?: (dir: string) => void; message: RegExp }[] = [
  { name: 'an absolute path (/etc/passwd)', location: '/etc/passwd', message: /must be a relative path inside the model's folder/ },
  { name: 'a path out of the folder (..)', location: `../${path.basename(outside)}/secret.data`, message: /outside the model's folder/ },
  { name: 'a symlink to a file outside', location: 'link.data', setup: (d) => fs.symlinkSync(path.join(outside, 'secret.data'), path.join(d, 'link.data')), message: /outside the model's folder/ },
  { name: 'a FIFO', location: 'pipe.data', setup: (d) => execFileSync('mkfifo', [path.join(d, 'pipe.data')]), message: /not a regular file/ },
  { name: 'a symlink to /dev/zero', location: 'zero.data', setup: (d) => fs.symlinkSync('/dev/zero', path.join(d, 'zero.data')), message: /outside the model's folder/ },
  { name: 'a folder', location: 'sub', setup: (d) => fs.mkdirSync(path.join(d, 'sub')), message: /not a regular file/ },
];

for (const c of cases) {
  test(`external data at ${c.name} is refused by inspect and prune, nothing written`, () => {
    const { dir, model } = hostile(c.location);
    c.setup?.(dir);
    for (const args of [['inspect', model], ['prune', model, '-o', path.join(dir, 'out.onnx'), '--sparsity', '0.5']]) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0, `${args[0]} accepted it`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], c.message);
      assert.match(lines[0], /tensor fc1\.weight/);
    }
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('out')), []);
  });
}

test('a symlink to a data file inside the folder is fine', () => {
  const { dir, model } = hostile('link.data');
  fs.copyFileSync(path.join(FIXTURES, 'mlp-external.data'), path.join(dir, 'real.data'));
  fs.symlinkSync('real.data', path.join(dir, 'link.data'));
  const r = sculpt(['prune', model, '-o', path.join(dir, 'out.onnx'), '--sparsity', '0.5']);
  assert.equal(r.code, 0, r.stderr);
});

/** A copy of the float32 TF.js graph-model fixture whose shard path is `shard`. */
function hostileTfjs(shard: string): string {
  const dir = tempDir();
  dirs.push(dir);
  const src = path.join(FIXTURES, 'tfjs-graph-ops', 'float32');
  const json = JSON.parse(fs.readFileSync(path.join(src, 'model.json'), 'utf8'));
  const [real] = json.weightsManifest[0].paths;
  fs.copyFileSync(path.join(src, real), path.join(outside, 'stolen.bin'));
  json.weightsManifest[0].paths = [shard];
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

for (const [name, shard, setup, message] of [
  ['a path out of the folder', `../${path.basename(outside)}/stolen.bin`, undefined, /outside the model's folder/],
  ['an absolute path', path.join(outside, 'stolen.bin'), undefined, /must be a relative path/],
  ['a symlink to a file outside', 'w.bin', (d: string) => fs.symlinkSync(path.join(outside, 'stolen.bin'), path.join(d, 'w.bin')), /outside the model's folder/],
] as const) {
  test(`TF.js shard at ${name} is refused by inspect and prune, nothing written`, () => {
    const dir = hostileTfjs(shard);
    (setup as ((d: string) => void) | undefined)?.(dir);
    for (const args of [['inspect', dir], ['prune', dir, '-o', path.join(dir, 'out'), '--sparsity', '0.5']]) {
      const r = sculpt(args);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'out')));
  });
}
