/**
 * The fuzzing targets: every parser sculpt exposes to files from strangers, each with its seeds
 * (the committed fixtures, plus a few inputs built here for forms no fixture has) and a `run` that
 * parses an input and uses everything it yields (all weights read, the graph built, the container
 * unpacked and decoded again). An input is a set of files (a TF.js folder, an ONNX model with its
 * external data); `main` is the one the parser is given.
 *
 * What counts as a finding (see `classify`): any exception that is not a SculptError, a SculptError
 * whose message is not one printable line (or is over 1000 characters) or whose exit code is not 2.
 * Hangs and memory blow-ups are caught by the harness around `run` (bench/fuzz/main.ts).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SculptError, isPrintableLine } from '../../src/core/errors.js';
import { packSculpt, unpackSculpt } from '../../src/api/sculpt-file.js';
import { channelGroupsOfFile, shrinkFile } from '../../src/api/shrink-file.js';
import { parseIdx, encodeIdxUint8 } from '../../src/formats/idx.js';
import { OnnxModel } from '../../src/formats/onnx.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { openTfjs } from '../../src/formats/tfjs-folder.js';
import { readSculptHeader } from '../../src/sparse/container.js';
import { SparseExecutor } from '../../src/sparse/executor.js';
import { parseNpy } from '../../src/sparse/npy.js';
import { mix, mutateBytes, mutateProtobuf, mutateJsonText, mutateNpyHeader, mutateSafetensorsHeader, mutateSculptHeader, Rng } from './mutate.js';

export interface FuzzInput {
  /** Relative path → bytes. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** The file (or folder, '.') given to the parser. */
  readonly main: string;
}

export interface Target {
  readonly name: string;
  /** Seeds, built once per process. */
  seeds(): FuzzInput[];
  /** Whether the first seed is picked 30% of the time (a small synthetic seed dense in what to test). */
  readonly favourFirst?: boolean;
  /** A mutation that knows the file's structure, or undefined to use byte mutations only. */
  structural?(file: string, bytes: Uint8Array, rng: Rng): Uint8Array | undefined;
  /** Parses the input (written under `dir` when the parser reads files) and uses what it yields. */
  run(input: FuzzInput, dir: string): void;
}

export const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const fixture = (p: string) => new Uint8Array(readFileSync(join(ROOT, p)));

/** Every file under `dir` (relative paths), for seeds that are folders. */
function folderInput(dir: string, main: string): FuzzInput {
  const files = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name !== 'LICENSE') files.set(relative(dir, p), new Uint8Array(readFileSync(p)));
    }
  };
  walk(dir);
  return { files, main };
}

function single(name: string, bytes: Uint8Array): FuzzInput {
  return { files: new Map([[name, bytes]]), main: name };
}

/** Writes the input's files under `dir` (emptied first). */
export function writeInput(input: FuzzInput, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of input.files) {
    const p = join(dir, name);
    // A name that leaves the folder stays a seed's own business: inputs never rename files.
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function jsonStructural(file: string, bytes: Uint8Array, rng: Rng): Uint8Array | undefined {
  if (!file.endsWith('.json')) return undefined;
  return enc.encode(mutateJsonText(dec.decode(bytes), rng));
}

/** Uses everything an ONNX model yields: every weight's values, the graph, external data. */
function useOnnx(path: string, bytes: Uint8Array): void {
  const model = new OnnxModel(path, bytes);
  model.weights();
  model.graph();
  model.externalFiles();
}

// ---- an ONNX model with every way a TensorProto stores values (exporters mostly write raw_data) ----

function pbVarint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const pbInt = (field: number, v: number | bigint) => [...pbVarint(field << 3), ...pbVarint(v)];
const pbLen = (field: number, payload: ArrayLike<number>) => [...pbVarint((field << 3) | 2), ...pbVarint(payload.length), ...Array.from(payload)];
const pbText = (x: string) => [...enc.encode(x)];
const pbTensor = (name: string, dims: number[], dataType: number, ...payload: number[][]) => [
  ...dims.flatMap((d) => pbInt(1, d)), ...pbInt(2, dataType), ...pbLen(8, pbText(name)), ...payload.flat(),
];
const packedVarints = (field: number, xs: (number | bigint)[]) => pbLen(field, xs.flatMap((x) => pbVarint(x)));
const f32Bytes = (...xs: number[]) => [...new Uint8Array(Float32Array.from(xs).buffer)];
const f64Bytes = (...xs: number[]) => [...new Uint8Array(Float64Array.from(xs).buffer)];
const i64Bytes = (...xs: number[]) => [...new Uint8Array(BigInt64Array.from(xs.map(BigInt)).buffer)];

/** Gemm(x, w_float_data, b_double_data) etc.: typed-data fields, sparse initializers (flat and COO), a Constant. */
function onnxTypedSeed(): Uint8Array {
  const node = (op: string, inputs: string[], outputs: string[], ...attrs: number[][]) => pbLen(1, [
    ...inputs.flatMap((i) => pbLen(1, pbText(i))), ...outputs.flatMap((o) => pbLen(2, pbText(o))), ...pbLen(4, pbText(op)), ...attrs.flatMap((a) => pbLen(5, a)),
  ]);
  const valueInfo = (name: string, dims: number[]) => [...pbLen(1, pbText(name)), ...pbLen(2, pbLen(1, [...pbInt(1, 1), ...pbLen(2, dims.flatMap((d) => pbLen(1, pbInt(1, d))))]))];
  const graph = [
    ...node('Gemm', ['x', 'w', 'b'], ['h'], [...pbLen(1, pbText('transB')), ...pbInt(20, 2), ...pbInt(3, 1)]),
    ...node('Add', ['h', 'w16'], ['h2']),
    ...node('Constant', [], ['c'], [...pbLen(1, pbText('value')), ...pbInt(20, 4), ...pbLen(5, pbTensor('', [2], 1, pbLen(4, f32Bytes(0.5, 2))))]),
    ...node('Mul', ['h2', 'c'], ['h3']),
    ...node('MatMul', ['h3', 'sw'], ['h4']),
    ...node('MatMul', ['h4', 'cw'], ['y']),
    ...node('Reshape', ['y', 'shape'], ['z']),
    ...pbLen(2, pbText('typed')),
    ...pbLen(5, pbTensor('w', [2, 3], 1, pbLen(4, f32Bytes(1, -2, 3, -4, 5, -6)))),
    ...pbLen(5, pbTensor('b', [2], 11, pbLen(10, f64Bytes(0.25, -0.5)))),
    ...pbLen(5, pbTensor('w16', [2], 10, packedVarints(5, [0x3c00, 0xc000]))),
    ...pbLen(5, pbTensor('shape', [2], 7, packedVarints(7, [1, -1]))),
    ...pbLen(5, pbTensor('ids', [3], 6, packedVarints(5, [1, 2, 3]))),
    ...pbLen(5, pbTensor('u', [2], 13, packedVarints(11, [7, 9]))),
    ...pbLen(15, [...pbLen(1, pbTensor('sw', [2], 1, pbLen(9, f32Bytes(1.5, -1)))), ...pbLen(2, pbTensor('', [2], 7, pbLen(9, i64Bytes(0, 3)))), ...pbInt(3, 2), ...pbInt(3, 2)]),
    ...pbLen(15, [...pbLen(1, pbTensor('cw', [2], 1, pbLen(9, f32Bytes(2, 3)))), ...pbLen(2, pbTensor('', [2, 2], 7, pbLen(9, i64Bytes(0, 1, 1, 0)))), ...pbInt(3, 2), ...pbInt(3, 2)]),
    ...pbLen(11, valueInfo('x', [1, 3])),
    ...pbLen(12, valueInfo('z', [1, 2])),
  ];
  return Uint8Array.from([...pbInt(1, 8), ...pbLen(8, pbInt(2, 17)), ...pbLen(7, graph)]);
}

const onnxSeeds = (): FuzzInput[] => {
  const names = [
    'test/fixtures/bias-only.onnx', 'test/fixtures/cnn.onnx', 'test/fixtures/transformer.onnx', 'test/fixtures/mlp.onnx',
    ...readdirSync(join(ROOT, 'test/fixtures/exporters')).filter((f) => f.endsWith('.onnx')).map((f) => `test/fixtures/exporters/${f}`),
    ...readdirSync(join(ROOT, 'test/fixtures/third-party')).filter((f) => f.endsWith('.onnx')).map((f) => `test/fixtures/third-party/${f}`),
  ];
  const seeds = [single('model.onnx', onnxTypedSeed()), ...names.map((n) => single('model.onnx', fixture(n)))];
  seeds.push({
    files: new Map([['mlp-external.onnx', fixture('test/fixtures/mlp-external.onnx')], ['mlp-external.data', fixture('test/fixtures/mlp-external.data')]]),
    main: 'mlp-external.onnx',
  });
  return seeds;
};

// ---- safetensors seeds: the fixture, and headers with every dtype, metadata and empty tensors ----

function safetensorsBytes(tensors: { name: string; dtype: string; shape: number[]; bytesPer: number }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let at = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * t.bytesPer;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + n] };
    at += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const h = enc.encode(json);
  const out = new Uint8Array(8 + h.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  for (let i = 8 + h.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

// ---- a TF.js layers model folder (no fixture has one) ----

function tfjsLayersSeed(): FuzzInput {
  const layer = (className: string, name: string) => ({ class_name: className, config: { name, trainable: true } });
  const specs = [
    { name: 'conv/kernel', shape: [3, 3, 1, 4], dtype: 'float32' },
    { name: 'conv/bias', shape: [4], dtype: 'float32' },
    { name: 'step', shape: [1], dtype: 'int32' },
    { name: 'dense/kernel', shape: [3, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
    { name: 'dw/depthwise_kernel', shape: [3, 3, 4, 1], dtype: 'float32', quantization: { dtype: 'float16' } },
    { name: 'bn/gamma', shape: [4], dtype: 'float32' },
    { name: 'dense2/kernel', shape: [4, 3], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: -2 } },
  ];
  const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1) * (s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : 2) : 4));
  const total = sizes.reduce((a, b) => a + b, 0);
  const data = Uint8Array.from({ length: total }, (_, i) => (i * 29) & 0x3f);
  const cut = 100;
  const model = {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'seed', layers: [layer('Conv2D', 'conv'), layer('DepthwiseConv2D', 'dw'), layer('BatchNormalization', 'bn'), layer('Dense', 'dense'), layer('Dense', 'dense2')] },
    },
    weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: specs }],
  };
  return {
    files: new Map([
      ['model.json', enc.encode(JSON.stringify(model))],
      ['group1-shard1of2.bin', data.slice(0, cut)],
      ['group1-shard2of2.bin', data.slice(cut)],
    ]),
    main: 'model.json',
  };
}

function useTfjs(path: string): void {
  const f = openTfjs(path);
  for (const t of f.tensors) f.read(t.name);
  for (const e of f.entries) {
    f.bytes(e.name);
    if (e.dtype === 'int32') f.int32(e.name);
  }
}

const tfjsStructural = (file: string, bytes: Uint8Array, rng: Rng) => jsonStructural(file, bytes, rng);

// ---- .sculpt seeds: a small model packed with every storage ----

function sculptSeeds(): FuzzInput[] {
  const onnx = fixture('test/fixtures/cnn.onnx');
  const model = new OnnxModel('cnn.onnx', onnx);
  const weights = model.weights();
  const out: FuzzInput[] = [];
  const pattern = (kind: string, data: Float32Array, rows: number, cols: number): Float32Array => {
    const d = data.slice();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const keep =
          kind === 'csr' ? (i * 2654435761) % 100 < 3
          : kind === 'bitmask' ? (i * 2654435761) % 100 < 40
          : kind === 'nm' ? c % 4 === 0
          : kind === 'block' ? ((Math.floor(r / 2) * 7 + Math.floor(c / 2)) % 8) === 0
          : true;
        if (!keep) d[i] = 0;
        else if (d[i] === 0) d[i] = 0.5;
      }
    }
    return d;
  };
  const kinds = ['csr', 'bitmask', 'nm', 'block', 'dense'];
  for (const fp16 of [false, true]) {
    const map = new Map<string, { dims: readonly number[]; data: Float32Array; scope?: string }>();
    let k = 0;
    for (const t of weights.tensors) {
      if (t.shape.length < 2) continue;
      const rows = t.shape[0];
      const cols = t.data.length / rows;
      map.set(t.name, { dims: t.shape, data: pattern(kinds[k++ % kinds.length], t.data, rows, cols) });
    }
    out.push(single('model.sculpt', packSculpt(onnx, map, { fp16, nm: { n: 1, m: 4 }, block: { rows: 2, cols: 2 } }).bytes));
  }
  return out;
}

function idxSeeds(): FuzzInput[] {
  const labels = fixture('data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz');
  const images = gunzipSync(fixture('data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz'));
  const few = new Uint8Array(images.subarray(16, 16 + 8 * 784));
  const plain = encodeIdxUint8([8, 28, 28], few);
  const f32 = new Uint8Array(4 + 8 + 4 * 6);
  const v = new DataView(f32.buffer);
  f32[2] = 0x0d;
  f32[3] = 2;
  v.setUint32(4, 2);
  v.setUint32(8, 3);
  for (let i = 0; i < 6; i++) v.setFloat32(12 + 4 * i, i - 2.5);
  return [
    single('labels.gz', labels),
    single('images.idx', plain),
    single('images.gz', new Uint8Array(gzipSync(plain))),
    single('values.idx', f32),
  ];
}

/** Structural shrinking's channel graph and writers on the shrink fixtures (small ones) and the MLP. */
function shrinkSeeds(): FuzzInput[] {
  return ['shrink/slicenet-bn.onnx', 'shrink/inception.onnx', 'shrink/yolo-bn.onnx', 'shrink/resnet-bn.onnx', 'shrink/encoder.onnx', 'shrink/bert.onnx', 'shrink/densenet-bn.onnx', 'mlp.onnx']
    .map((f) => single('model.onnx', fixture(`test/fixtures/${f}`)));
}

export const TARGETS: readonly Target[] = [
  {
    name: 'shrink',
    seeds: shrinkSeeds,
    structural(file, bytes, rng) {
      return file.endsWith('.onnx') ? mutateProtobuf(bytes, rng) : undefined;
    },
    run(input, dir) {
      writeInput(input, dir);
      const file = join(dir, input.main);
      channelGroupsOfFile(file);
      for (const scope of ['layer', 'global'] as const) {
        for (const mask of [false, true]) {
          const out = join(dir, `out-${scope}-${mask}.onnx`);
          shrinkFile(file, out, { sparsity: 0.5, norm: 2, scope, mask });
          // What was written must read back as an ONNX model.
          new OnnxModel(out, new Uint8Array(readFileSync(out))).weights();
        }
      }
    },
  },
  {
    name: 'onnx',
    seeds: onnxSeeds,
    favourFirst: true,
    structural(file, bytes, rng) {
      return file.endsWith('.onnx') ? mutateProtobuf(bytes, rng) : undefined;
    },
    run(input, dir) {
      if (input.files.size > 1) writeInput(input, dir);
      useOnnx(join(dir, input.main), input.files.get(input.main)!);
    },
  },
  {
    name: 'safetensors',
    seeds: () => [
      single('model.safetensors', fixture('test/fixtures/tiny.safetensors')),
      single('model.safetensors', safetensorsBytes([
        { name: 'a.weight', dtype: 'F16', shape: [4, 3], bytesPer: 2 },
        { name: 'b.weight', dtype: 'BF16', shape: [2, 2], bytesPer: 2 },
        { name: 'c.weight', dtype: 'F64', shape: [2, 3], bytesPer: 8 },
        { name: 'ids', dtype: 'I64', shape: [3], bytesPer: 8 },
        { name: 'empty.weight', dtype: 'F32', shape: [0, 4], bytesPer: 4 },
        { name: 'scalar', dtype: 'F32', shape: [], bytesPer: 4 },
      ], { format: 'pt' })),
    ],
    structural(_file, bytes, rng) {
      return mutateSafetensorsHeader(bytes, rng);
    },
    run(input, dir) {
      writeInput(input, dir);
      for (const cacheBytes of [0, 1 << 20]) {
        const f = openSafetensors(join(dir, input.main), { cacheBytes });
        try {
          for (const e of f.entries) f.readBytes(e.name);
          for (const t of f.tensors) f.read(t.name);
        } finally {
          f.close();
        }
      }
    },
  },
  {
    name: 'tfjs-layers',
    seeds: () => [tfjsLayersSeed()],
    structural: tfjsStructural,
    run(input, dir) {
      writeInput(input, dir);
      useTfjs(join(dir, input.main));
    },
  },
  {
    name: 'tfjs-graph',
    seeds: () => [
      ...['float32', 'float16', 'uint8', 'uint16', 'uint8-unnudged'].map((q) => folderInput(join(ROOT, 'test/fixtures/tfjs-graph-ops', q), 'model.json')),
      folderInput(join(ROOT, 'test/fixtures/tfjs-blazeface'), 'blazeface.json'),
    ],
    structural: tfjsStructural,
    run(input, dir) {
      writeInput(input, dir);
      useTfjs(join(dir, input.main));
    },
  },
  {
    name: 'tfjs-manifest',
    seeds: () => [folderInput(join(ROOT, 'test/fixtures/tfjs-face-landmark-tiny'), 'face_landmark_68_tiny_model-weights_manifest.json')],
    structural: tfjsStructural,
    run(input, dir) {
      writeInput(input, dir);
      useTfjs(join(dir, input.main));
    },
  },
  {
    name: 'npy',
    seeds: () => {
      const names = readdirSync(join(ROOT, 'test/fixtures')).filter((f) => f.endsWith('.npy')).map((f) => `test/fixtures/${f}`);
      names.push(...readdirSync(join(ROOT, 'test/fixtures/exporters')).filter((f) => f.endsWith('.npy')).slice(0, 4).map((f) => `test/fixtures/exporters/${f}`));
      return names.map((n) => single('input.npy', fixture(n)));
    },
    structural(_file, bytes, rng) {
      return mutateNpyHeader(bytes, rng);
    },
    run(input) {
      parseNpy(input.files.get(input.main)!, input.main);
    },
  },
  {
    name: 'idx',
    seeds: idxSeeds,
    structural(file, bytes, rng) {
      // Mutate the decompressed stream and compress it again, so the IDX parser sees the change.
      if (!file.endsWith('.gz') || bytes.length < 2) return undefined;
      let plain: Uint8Array;
      try {
        plain = gunzipSync(bytes);
      } catch {
        return undefined;
      }
      const c = plain.slice(0, Math.min(plain.length, 1 << 20));
      const at = rng.int(Math.min(c.length, 16));
      c[at] = rng.pick([0, 1, 2, 8, 0x0d, 0x0e, 0xff, 0x7f]);
      return new Uint8Array(gzipSync(c, { level: 1 }));
    },
    run(input) {
      parseIdx(input.files.get(input.main)!, input.main);
    },
  },
  {
    name: 'sculpt',
    seeds: sculptSeeds,
    structural(_file, bytes, rng) {
      return mutateSculptHeader(bytes, rng);
    },
    run(input, dir) {
      const bytes = input.files.get(input.main)!;
      readSculptHeader(bytes, input.main);
      const onnx = unpackSculpt(bytes);
      useOnnx(join(dir, 'unpacked.onnx'), onnx);
    },
  },
];

/**
 * The executor target's per-tensor budget (the executor's own `maxTensorBytes` check). The seeds'
 * largest activation is 49 KiB; a mutated pad or scale can make one 10^4 times larger, which at the
 * default 512 MiB is bounded but takes seconds per node (a hang to this harness). At 16 MiB those
 * models are refused by the budget check itself, and an allocation that skips the check stands out.
 */
const FUZZ_TENSOR_BYTES = 16 * 2 ** 20;

/**
 * The sparse executor on mutated models (attributes such as strides, pads, kernel_shape, axes and
 * shapes changed by the protobuf mutations), each run on its fixture input. Not a parser, so not in
 * TARGETS (whose findings are this harness's own business): `npm run fuzz` runs it after them.
 */
export const EXECUTOR: Target = {
  name: 'executor',
  seeds: () => {
    const pairs: [string, string][] = [['test/fixtures/cnn.onnx', 'test/fixtures/cnn.input.npy'], ['test/fixtures/transformer.onnx', 'test/fixtures/transformer.input.npy']];
    for (const f of readdirSync(join(ROOT, 'test/fixtures/exporters')).filter((x) => x.endsWith('.onnx')).sort()) {
      const npyName = `test/fixtures/exporters/${f.replace(/\.onnx$/, '.input.npy')}`;
      pairs.push([`test/fixtures/exporters/${f}`, npyName]);
    }
    return pairs.map(([m, x]) => ({ files: new Map([['model.onnx', fixture(m)], ['input.npy', fixture(x)]]), main: 'model.onnx' }));
  },
  structural(file, bytes, rng) {
    return file.endsWith('.onnx') ? mutateProtobuf(bytes, rng) : undefined;
  },
  run(input, dir) {
    const model = new OnnxModel(join(dir, input.main), input.files.get(input.main)!);
    const graph = model.graph();
    const x = parseNpy(input.files.get('input.npy')!, 'input.npy');
    const name = graph.inputs[0]?.name ?? 'input';
    new SparseExecutor(graph, { engine: 'sparse', maxTensorBytes: FUZZ_TENSOR_BYTES }).run({ [name]: x });
  },
};

/**
 * A target with planted bugs, to check the harness itself (test/formats/fuzz-smoke.test.ts): the
 * first byte of its input picks a crash (a TypeError), a hang (an endless loop), a memory blow-up
 * (2 GiB touched) or a clean SculptError. Not in TARGETS: only named explicitly.
 */
export const CANARY: Target = {
  name: 'canary',
  seeds: () => [single('x.bin', Uint8Array.of(0, 0, 0, 0))],
  structural: (_file, bytes, rng) => Uint8Array.of(rng.int(6), ...bytes.subarray(1)),
  run(input) {
    const b = input.files.get(input.main)!;
    switch (b[0]) {
      case 1: throw new TypeError('planted crash');
      case 2: for (;;) b[1] ^= 1;
      case 3: {
        const big = new Uint8Array(2 ** 31);
        for (let i = 0; i < big.length; i += 4096) big[i] = 1;
        return;
      }
      case 4: throw new SculptError('canary: a clean refusal');
      default: return;
    }
  },
};

export function targetNamed(name: string): Target {
  if (name === 'canary') return CANARY;
  if (name === 'executor') return EXECUTOR;
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target ${name}; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}

export type Outcome =
  | { readonly ok: true; readonly refused: boolean }
  | { readonly ok: false; readonly kind: 'crash' | 'message' | 'exit-code'; readonly signature: string; readonly detail: string };

/** The first stack frame inside the project's source, for grouping findings. */
function topFrame(e: Error): string {
  const line = (e.stack ?? '').split('\n').find((l) => l.includes('/src/'));
  return line ? line.trim().replace(/^at /, '').replace(/.*\/src\//, 'src/').replace(/\)$/, '') : '(no frame in src)';
}

/** Digits and quoted parts removed: messages that differ only in numbers or names group together. */
const normalize = (m: string) => m.replace(/'[^']*'|"[^"]*"/g, 'S').replace(/\d+/g, 'N').slice(0, 120);

/** What an exception from `run` means (undefined: `run` returned). */
export function classify(e: unknown): Outcome {
  if (e === undefined) return { ok: true, refused: false };
  if (e instanceof SculptError) {
    if (!isPrintableLine(e.message) || e.message.length > 1000) {
      // Grouped by where the message is made: its text varies with the bytes it (wrongly) carries.
      return { ok: false, kind: 'message', signature: `message @ ${topFrame(e)}`, detail: e.message.slice(0, 2000) };
    }
    if (e.exitCode !== 2) return { ok: false, kind: 'exit-code', signature: `exit ${e.exitCode}: ${normalize(e.message)}`, detail: e.message };
    return { ok: true, refused: true };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { ok: false, kind: 'crash', signature: `${err.name}: ${normalize(err.message.split('\n')[0])} @ ${topFrame(err)}`, detail: `${err.stack ?? err.message}`.slice(0, 4000) };
}

/** Runs `target` on `input` and classifies the result. */
export function runOne(target: Target, input: FuzzInput, dir: string): Outcome {
  try {
    target.run(input, dir);
  } catch (e) {
    return classify(e);
  }
  return classify(undefined);
}

/** Reads a corpus case: every file under `dir`; the main file is the one `main.txt` names, else the target's usual one. */
export function readCase(dir: string): FuzzInput {
  const input = folderInput(dir, '');
  const files = new Map(input.files);
  let main = files.has('main.txt') ? dec.decode(files.get('main.txt')!).trim() : '';
  files.delete('main.txt');
  files.delete('finding.txt');
  if (main === '') main = [...files.keys()][0] ?? '';
  return { files, main };
}

/** Writes a corpus case (the files, main.txt, and a finding.txt describing it). */
export function writeCase(dir: string, input: FuzzInput, note: string): void {
  writeInput(input, dir);
  writeFileSync(join(dir, 'main.txt'), `${input.main}\n`);
  writeFileSync(join(dir, 'finding.txt'), `${note}\n`);
}

/** Input `i` of a run: a seed, one of its files mutated 1–6 times (structure-aware or byte-level). */
export function makeInput(target: Target, seeds: readonly FuzzInput[], runSeed: number, i: number): { input: FuzzInput; mutated: string } {
  const rng = new Rng(mix(runSeed, i));
  // A target may put a small, dense seed first and have it picked more often (`favourFirst`).
  const base = target.favourFirst && rng.chance(0.3) ? seeds[0] : rng.pick(seeds);
  const names = [...base.files.keys()];
  const mutated = rng.chance(0.75) || names.length === 1 ? base.main : rng.pick(names);
  let bytes = base.files.get(mutated)!;
  const other = rng.pick(seeds);
  const otherBytes = other.files.get(other.main)!;
  const rounds = 1 + Math.min(5, Math.floor(-Math.log2(1 - rng.next() * 0.999)));
  for (let r = 0; r < rounds; r++) {
    const s = target.structural && rng.chance(0.5) ? target.structural(mutated, bytes, rng) : undefined;
    bytes = s ?? mutateBytes(bytes, rng, otherBytes, 1);
  }
  const files = new Map(base.files);
  files.set(mutated, bytes);
  return { input: { files, main: base.main }, mutated };
}

/** A short stable name for a finding's signature (its corpus folder). */
export const caseName = (signature: string): string => createHash('sha256').update(signature).digest('hex').slice(0, 12);
