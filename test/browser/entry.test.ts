// The browser entry in Node (no browser needed): bytes in, outputs out, refusals as one-line SculptErrors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSculptContainer, loadModel, OnnxModel as BytesModel, SculptError } from '../../src/browser.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { readNpy } from '../fixtures/npy.js';
import { ROOT } from './page.js';

const FIXTURES = join(ROOT, 'test/fixtures');
const machine = JSON.parse(readFileSync(join(FIXTURES, 'machine-profile.json'), 'utf8')).machine;

test('loadModel takes ONNX bytes (ArrayBuffer or Uint8Array view) and runs them as the Node executor does', async () => {
  const file = readFileSync(join(FIXTURES, 'mlp.onnx'));
  const x = readNpy(join(FIXTURES, 'mlp.input.npy'));
  const view = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  assert.equal(isSculptContainer(view), false);
  const copy = view.slice().buffer;
  const model = await loadModel(copy, { machine, batchHint: 4 });
  assert.deepEqual(model.inputs.map((i) => i.name), ['input']);
  assert.deepEqual(model.outputs.map((o) => o.name), ['output']);
  const y = model.run({ input: { dims: [4, 784], data: x.data } }).output;
  assert.deepEqual(y.dims, [4, 10]);
  const ref = new SparseExecutor(readOnnx(join(FIXTURES, 'mlp.onnx')).graph(), { batchHint: 4, machine }).run({ input: { dtype: 'float32', dims: [4, 784], data: x.data } }).output;
  assert.deepEqual(Array.from(y.data), Array.from(ref.data));
  assert.deepEqual(Array.from((await loadModel(view, { machine, batchHint: 4 })).run({ input: { dims: [4, 784], data: x.data } }).output.data), Array.from(ref.data));
});

test('the browser entry refuses what it cannot do with one line naming the model and the fix', async () => {
  const model = await loadModel(readFileSync(join(FIXTURES, 'mlp.onnx')), { machine });
  assert.throws(() => model.run({}), (e: unknown) => e instanceof SculptError && e.message === 'model.onnx: input input is missing; the model takes input');
  assert.throws(() => model.run({ input: { dims: [1, 784], data: new Float32Array(784) }, extra: { dims: [1], data: new Float32Array(1) } }),
    (e: unknown) => e instanceof SculptError && /no input named extra/.test(e.message));
  assert.throws(() => model.run({ input: { dims: [1, 784], data: new Float32Array(783) } }),
    (e: unknown) => e instanceof SculptError && e.message === 'model.onnx: input input has 783 values, its dims [1, 784] need 784');
  assert.throws(() => model.run({ input: { dims: [28, 28], data: new Float32Array(784) } }),
    (e: unknown) => e instanceof SculptError && e.message === "model.onnx: input input of dims [28, 28] does not fit the model's [?, 784]; reshape it");
  // External data cannot be reached from bytes: refused where it is read, naming the data file.
  const external = readFileSync(join(FIXTURES, 'mlp-external.onnx'));
  assert.throws(() => new BytesModel('mlp-external.onnx', external).weights(),
    (e: unknown) => e instanceof SculptError && /^mlp-external\.onnx: tensor \S+ is stored in the external data file mlp-external\.data, which a model given as bytes cannot read; save the model with its weights inside/.test(e.message));
  await assert.rejects(loadModel(external, { name: 'mlp-external.onnx' }), (e: unknown) => e instanceof SculptError && /^mlp-external\.onnx: .*external/.test(e.message));
  await assert.rejects(loadModel(new Uint8Array([1, 2, 3]), { name: 'x.onnx' }), (e: unknown) => e instanceof SculptError && /^x\.onnx/.test(e.message) && !e.message.includes('\n'));
  await assert.rejects(loadModel('mlp.sculpt' as unknown as ArrayBuffer), (e: unknown) => e instanceof SculptError && /ArrayBuffer or Uint8Array/.test(e.message));
});

test('build:browser bundles src/browser.ts and fails, naming the importer, when a Node built-in or global is reachable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-bundle-'));
  const build = (entry: string, out: string) => spawnSync(process.execPath, ['scripts/build-browser.mjs', '--entry', entry, '--outfile', out], { cwd: ROOT, encoding: 'utf8' });
  try {
    const ok = build('src/browser.ts', join(dir, 'ok.mjs'));
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /no Node built-ins/);
    const text = readFileSync(join(dir, 'ok.mjs'), 'utf8');
    assert.ok(text.includes('KERNELS_WASM_BASE64') && text.includes('export {'), 'an ES module with the kernels inside');

    // The Node-side ONNX module reads files: reachable from an entry, it fails the build.
    writeFileSync(join(dir, 'fs.ts'), `export { readOnnx } from ${JSON.stringify(join(ROOT, 'src/formats/onnx.ts'))};\n`);
    const fsBuild = build(join(dir, 'fs.ts'), join(dir, 'fs.mjs'));
    assert.equal(fsBuild.status, 1);
    assert.match(fsBuild.stderr, /^ {2}src\/formats\/onnx\.ts: imports node:fs$/m);
    assert.match(fsBuild.stderr, /^ {2}src\/formats\/fsutil\.ts: imports node:child_process$/m);
    assert.equal(existsSync(join(dir, 'fs.mjs')), false, 'nothing written');

    writeFileSync(join(dir, 'env.ts'), 'export const home = process.env.HOME;\n');
    const envBuild = build(join(dir, 'env.ts'), join(dir, 'env.mjs'));
    assert.equal(envBuild.status, 1);
    assert.match(envBuild.stderr, /uses the Node global process/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
