import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneOptions } from '../../src/core/options.js';
import { pruneFile } from '../../src/api/prune-file.js';
import { packFile } from '../../src/api/sparse-pack.js';
import { loadSparseModel } from '../../src/api/sparse-model.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { readNpy } from '../fixtures/npy.js';
import { maxRelError } from '../fixtures/compare.js';
import { buildBundle, chromiumMissing, openBrowser, ROOT, serve } from './page.js';

const FIXTURES = join(ROOT, 'test/fixtures');

/** The README's page ("In the browser"), as written. */
function readmePage(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### In the browser'));
  const html = /^```html\n([\s\S]*?)^```$/m.exec(section)?.[1];
  assert.ok(html, 'README.md: an html block under "### In the browser"');
  return html;
}

// The page: the bundle, the packed model and the input fetched from the test's server, run at load.
const PAGE = `<!doctype html><meta charset="utf-8"><title>sculpt in the browser</title><link rel="icon" href="data:,">
<script type="module">
import { loadModel } from '/sculpt.mjs';
try {
  const get = (path) => fetch(path).then((r) => r.arrayBuffer());
  const { machine } = JSON.parse(new TextDecoder().decode(await get('/machine.json')));
  const model = await loadModel(await get('/mlp-90.sculpt'), { machine, batchHint: 4 });
  const x = new Float32Array(await get('/input.f32'));
  const input = model.inputs[0].name, output = model.outputs[0].name;
  const y4 = model.run({ [input]: { dims: [4, 784], data: x } })[output];
  const y1 = model.run({ [input]: { dims: [1, 784], data: x.subarray(0, 784) } })[output];
  window.result = { input, dims: y4.dims, y4: Array.from(y4.data), y1: Array.from(y1.data), layers: model.layers.map((l) => l.kind) };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script>`;

test('the browser bundle loads a .sculpt file in Chromium, runs it on the wasm kernels and matches the Node run; pruning in the page matches pruneFile', {
  skip: chromiumMissing,
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sculpt-browser-'));
  const pruned = join(dir, 'mlp-90.onnx');
  const packed = join(dir, 'mlp-90.sculpt');
  pruneFile(join(FIXTURES, 'mlp.onnx'), pruned, pruneOptions({ sparsity: 0.9 }));
  packFile(pruned, packed);

  // Node's reference: the same executor options (a fixed machine profile, so the same kernels).
  const machineJson = readFileSync(join(FIXTURES, 'machine-profile.json'));
  const machine = JSON.parse(machineJson.toString()).machine;
  const x = readNpy(join(FIXTURES, 'mlp.input.npy'));
  assert.deepEqual(x.shape, [4, 784]);
  const node = new SparseExecutor(loadSparseModel(packed).graph, { engine: 'auto', batchHint: 4, machine });
  const y4 = node.run({ input: { dtype: 'float32', dims: [4, 784], data: x.data } }).output.data as Float32Array;
  const y1 = node.run({ input: { dtype: 'float32', dims: [1, 784], data: x.data.subarray(0, 784) } }).output.data as Float32Array;
  const zerosNode = new Map(readOnnx(pruned).weights().tensors.map((t) => [t.name, t.data.filter((v) => v === 0).length]));

  const site = await serve({
    '/index.html': PAGE,
    '/sculpt.mjs': buildBundle(),
    '/mlp-90.sculpt': readFileSync(packed),
    '/mlp.onnx': readFileSync(join(FIXTURES, 'mlp.onnx')),
    '/input.f32': new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength),
    '/machine.json': machineJson,
    '/readme/index.html': readmePage(),
    '/readme/sculpt.mjs': readFileSync(join(ROOT, 'dist/browser/sculpt.mjs')),
    '/readme/mlp-90.sculpt': readFileSync(packed),
    '/favicon.ico': new Uint8Array(0), // the README's page names no icon
  });
  const { browser, page, problems } = await openBrowser();
  try {
    await page.goto(`${site.url}/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 20_000 });
    const r = await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result) as {
      error?: string; input: string; dims: number[]; y4: number[]; y1: number[]; layers: string[];
    };
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.input, 'input');
    assert.deepEqual(r.dims, [4, 10]);
    assert.deepEqual(r.layers, node.layers.map((l) => l.kind), 'the same kernel per layer as in Node');
    const e4 = maxRelError(r.y4, y4), e1 = maxRelError(r.y1, y1);
    t.diagnostic(`browser vs Node: max relative error ${e4} (batch 4), ${e1} (batch 1); kernels ${r.layers.join(', ')}`);
    assert.ok(e4 <= 1e-6 && e1 <= 1e-6, `browser vs Node: max relative error ${e4} (batch 4), ${e1} (batch 1)`);
    // Same kernels, same order of operations: float32 for float32.
    assert.deepEqual(r.y4, Array.from(y4), 'batch 4 outputs bit-identical to Node');
    assert.deepEqual(r.y1, Array.from(y1), 'batch 1 outputs bit-identical to Node');

    // The pruning core in the page, on the dense model's weights read from its bytes (roles from
    // the graph, as in Node): global 90% magnitude pruning, applied, packed, loaded and run; the
    // same zeros and outputs as Node's pruneFile + packFile above.
    const inPage = await page.evaluate(async ({ machine }) => {
      const s = await import('/sculpt.mjs' as string);
      const bytes = new Uint8Array(await (await fetch('/mlp.onnx')).arrayBuffer());
      const ws = new s.OnnxModel('mlp.onnx', bytes).weights();
      const tensors = ws.tensors as { name: string; shape: number[]; data: Float32Array }[];
      const { masks } = s.prune(ws, s.pruneOptions({ sparsity: 0.9 }));
      s.applyMasks(ws, masks);
      const packed = s.packSculpt(bytes, new Map(tensors.map((t) => [t.name, { dims: t.shape, data: t.data }]))).bytes;
      const model = await s.loadModel(packed, { machine, batchHint: 4 });
      const x = new Float32Array(await (await fetch('/input.f32')).arrayBuffer());
      const y = model.run({ input: { dims: [4, 784], data: x } }).output.data;
      return { zeros: tensors.map((t) => [t.name, t.data.filter((v: number) => v === 0).length]), y: Array.from(y as Float32Array) };
    }, { machine });
    assert.deepEqual(new Map(inPage.zeros as [string, number][]), zerosNode, 'zeros per tensor as pruneFile leaves them');
    assert.deepEqual(inPage.y, Array.from(y4), 'pruned, packed and run in the page: Node\'s outputs');

    // The README's page as written (the machine profile measured in the page): Node's class.
    await page.goto(`${site.url}/readme/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => /^class \d+$/.test(document.body?.textContent ?? ''), undefined, { timeout: 20_000 });
    const half = node.run({ input: { dtype: 'float32', dims: [1, 784], data: new Float32Array(784).fill(0.5) } }).output.data as Float32Array;
    assert.equal(await page.evaluate(() => document.body.textContent), `class ${half.indexOf(Math.max(...half))}`);

    assert.deepEqual(problems, []);
    assert.deepEqual(site.requests.filter((p) => p !== '/favicon.ico'), [
      '/index.html', '/sculpt.mjs', '/machine.json', '/mlp-90.sculpt', '/input.f32', '/mlp.onnx', '/input.f32',
      '/readme/index.html', '/readme/sculpt.mjs', '/readme/mlp-90.sculpt',
    ]);
  } finally {
    await browser.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in a cross-origin isolated page, threads: 2 and 3 run the products on Web Workers over one shared memory, bit-identical to one thread and to Node (CSR and dense kernels)', {
  skip: chromiumMissing,
  timeout: 60_000,
}, async () => {
  const { mlpModel } = await import('../../bench/sparse-onnx-writer.js');
  const { Rng } = await import('../../src/core/rng.js');
  const { OnnxModel } = await import('../../src/formats/onnx.js');
  // 1024-1024-1024-256 at about 90% zeros, 16 rows: the first two products (1024·1024·0.1·16
  // multiply-adds, and 1024·1024·16 dense) are large enough to be split between the threads.
  const rng = new Rng(7);
  const u = () => rng.nextUint32() / 2 ** 32;
  const sizes = [1024, 1024, 1024, 256];
  const weights = sizes.slice(1).map((n, l) => Float32Array.from({ length: n * sizes[l] }, () => (u() < 0.1 ? u() - 0.5 : 0)));
  const biases = sizes.slice(1).map((n) => Float32Array.from({ length: n }, () => u() - 0.5));
  const bytes = mlpModel(sizes, weights, biases, 'gemm');
  const x = Float32Array.from({ length: 16 * sizes[0] }, () => u() * 2 - 1);
  const node: Record<string, number[]> = {};
  for (const engine of ['sparse', 'dense'] as const) {
    const ex = new SparseExecutor(new OnnxModel('mlp.onnx', bytes).graph(), { engine });
    node[engine] = Array.from(ex.run({ x: { dtype: 'float32', dims: [16, sizes[0]], data: x } }).y.data as Float32Array);
  }
  const site = await serve({
    '/index.html': '<!doctype html><meta charset="utf-8"><title>threads</title><link rel="icon" href="data:,">',
    '/sculpt.mjs': buildBundle(),
    '/mlp.onnx': bytes,
    '/input.f32': new Uint8Array(x.buffer),
  });
  const { browser, page, problems } = await openBrowser();
  try {
    await page.goto(`${site.url}/index.html`, { waitUntil: 'load' });
    const r = await page.evaluate(async () => {
      const s = await import('/sculpt.mjs' as string);
      const bytes = await (await fetch('/mlp.onnx')).arrayBuffer();
      const x = new Float32Array(await (await fetch('/input.f32')).arrayBuffer());
      const out: { engine: string; threads: number; isolated: boolean; y: number[] }[] = [];
      for (const engine of ['sparse', 'dense']) {
        for (const threads of [1, 2, 3]) {
          const model = await s.loadModel(bytes, { engine, threads });
          // Twice: the second run's values live in the shared memory (the executor's arena).
          model.run({ x: { dims: [16, 1024], data: x } });
          const y = model.run({ x: { dims: [16, 1024], data: x } }).y.data as Float32Array;
          out.push({ engine, threads: model.threads, isolated: crossOriginIsolated, y: Array.from(y) });
        }
      }
      let refused = '';
      try { await s.loadModel(bytes, { threads: 1.5 }); } catch (e) { refused = String((e as Error).message); }
      return { out, refused };
    });
    assert.equal(r.out.length, 6);
    for (const o of r.out) {
      assert.equal(o.isolated, true);
      assert.deepEqual(o.y, node[o.engine], `${o.engine} kernels on ${o.threads} threads: Node's one-thread outputs`);
    }
    assert.deepEqual(r.out.map((o) => o.threads), [1, 2, 3, 1, 2, 3]);
    assert.equal(r.refused, 'model.onnx: threads must be a whole number ≥ 1, got 1.5');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await site.close();
  }
});
