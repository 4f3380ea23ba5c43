/**
 * sculpt in a web page: load a `.sculpt` container (or a plain `.onnx` model) from bytes, run it
 * on the WebAssembly SIMD kernels, read the outputs; and the pruning core on in-memory weights
 * (an ONNX model's from `new OnnxModel(name, bytes).weights()`).
 * Nothing here reaches `node:`; `npm run build:browser` bundles it to dist/browser/sculpt.mjs and
 * fails if a Node built-in slips in. The kernels' wasm bytes travel inside the bundle.
 *
 *   import { loadModel } from './sculpt.mjs';
 *   const model = await loadModel(await (await fetch('mlp-90.sculpt')).arrayBuffer());
 *   const { output } = model.run({ input: { dims: [1, 784], data: new Float32Array(784) } });
 */
import { SculptError } from './core/errors.js';
import type { Graph, GraphValueInfo } from './core/graph.js';
import { unpackSculpt } from './api/sculpt-file.js';
import { OnnxBytesModel } from './formats/onnx-model.js';
import { SparseExecutor, type ExecutorOptions, type WeightLayer } from './sparse/executor.js';
import { prepareKernels } from './sparse/kernels.js';
import { threadedKernels } from './sparse/threads.js';
import type { MachineProfile } from './sparse/roofline.js';
import type { Tensor } from './sparse/tensor.js';

export * from './core/index.js';
export { SculptError } from './core/errors.js';
export { WeightSet, numel, type WeightTensor } from './core/types.js';
export type { Graph, GraphValueInfo } from './core/graph.js';
export {
  SparseExecutor, supportedOps, prepareKernels, measureMachine, parseNpy, writeNpy, readSculptHeader, packContainer, unpackWeights,
  chooseFormat, toSparse, toDense, countNonzeros,
  type ExecutorOptions, type WeightLayer, type MachineProfile, type Tensor, type DType, type SculptHeader, type PackReport,
} from './sparse/index.js';
export { unpackSculpt, packSculpt } from './api/sculpt-file.js';
/** An ONNX model from bytes (`new OnnxModel('model.onnx', bytes).weights()`), as in Node but without external data. */
export { OnnxBytesModel as OnnxModel } from './formats/onnx-model.js';

/** What `run` takes for one input: a float32 tensor (or int64 held as float64, or bool as bytes). */
export interface InputTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Uint8Array;
  readonly dtype?: Tensor['dtype'];
}

export interface LoadOptions {
  /** Kernel choice per weight layer (see ExecutorOptions.engine); default 'auto'. */
  readonly engine?: ExecutorOptions['engine'];
  /** Batch size the per-layer kernel choice is made for; default 1. */
  readonly batchHint?: number;
  /** Machine numbers for 'auto' (from `sculpt bench --machine --json`); measured in the page when omitted. */
  readonly machine?: MachineProfile;
  /** Name used in error messages; default 'model.sculpt' or 'model.onnx'. */
  readonly name?: string;
  /**
   * Threads that share each large product (default 1): Web Workers over one shared memory, so the
   * page must be cross-origin isolated (Cross-Origin-Opener-Policy: same-origin and
   * Cross-Origin-Embedder-Policy: require-corp).
   */
  readonly threads?: number;
}

const SCULPT_MAGIC = [0x53, 0x43, 0x55, 0x4c, 0x50, 0x54]; // "SCULPT"

function toBytes(source: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer as ArrayBuffer, source.byteOffset, source.byteLength);
  throw new SculptError('loadModel: give the model as an ArrayBuffer or Uint8Array (fetch(url).then((r) => r.arrayBuffer()))');
}

/** Whether `bytes` start like a `.sculpt` container (else they are taken as ONNX). */
export function isSculptContainer(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SCULPT_MAGIC.every((b, i) => bytes[i] === b);
}

/** A loaded model: its graph, its inputs and outputs, and `run`. */
export class BrowserModel {
  readonly name: string;
  readonly graph: Graph;
  private readonly executor: SparseExecutor;

  constructor(name: string, graph: Graph, options: LoadOptions = {}) {
    this.name = name;
    this.graph = graph;
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new SculptError(`${name}: threads must be a whole number ≥ 1, got ${threads}`);
    this.executor = new SparseExecutor(graph, {
      engine: options.engine ?? 'auto', batchHint: options.batchHint ?? 1, machine: options.machine,
      kernels: threads > 1 ? threadedKernels(threads) : undefined,
    });
  }

  /** Threads the products run on (LoadOptions.threads). */
  get threads(): number {
    return this.executor.threads;
  }

  /** Resolves once every worker thread runs (loadModel waits for it). */
  ready(): Promise<void> {
    return this.executor.ready();
  }

  /** The graph's real inputs (initializers listed as inputs are not). */
  get inputs(): readonly GraphValueInfo[] {
    return this.graph.inputs.filter((i) => !this.graph.initializers.has(i.name));
  }

  get outputs(): readonly GraphValueInfo[] {
    return this.graph.outputs;
  }

  /** The kernel chosen for each weight layer (CSR, dense, kept rows). */
  get layers(): readonly WeightLayer[] {
    return this.executor.layers;
  }

  /** Runs the model; every input the model takes must be given, by name. */
  run(inputs: Readonly<Record<string, InputTensor>>): Record<string, Tensor> {
    const feed: Record<string, Tensor> = {};
    for (const info of this.inputs) {
      const t = inputs[info.name];
      if (!t) throw new SculptError(`${this.name}: input ${info.name} is missing; the model takes ${this.inputs.map((i) => i.name).join(', ')}`);
      const dtype = t.dtype ?? (t.data instanceof Float32Array ? 'float32' : t.data instanceof Float64Array ? 'int64' : 'bool');
      const n = t.dims.reduce((a, d) => a * d, 1);
      if (t.data.length !== n) throw new SculptError(`${this.name}: input ${info.name} has ${t.data.length} values, its dims [${t.dims.join(', ')}] need ${n}`);
      if (info.dims.length > 0 && (info.dims.length !== t.dims.length || info.dims.some((d, i) => d >= 0 && d !== t.dims[i]))) {
        throw new SculptError(`${this.name}: input ${info.name} of dims [${t.dims.join(', ')}] does not fit the model's [${info.dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]; reshape it`);
      }
      feed[info.name] = { dtype, dims: [...t.dims], data: t.data };
    }
    const unknown = Object.keys(inputs).filter((n) => !this.inputs.some((i) => i.name === n));
    if (unknown.length > 0) throw new SculptError(`${this.name}: the model has no input named ${unknown.join(', ')}; its inputs are ${this.inputs.map((i) => i.name).join(', ')}`);
    return this.executor.run(feed);
  }
}

/**
 * Loads a `.sculpt` container or a plain ONNX model from its bytes and prepares it for the sparse
 * engine. Compiles the wasm kernels asynchronously first: browsers may refuse synchronous
 * compilation on the main thread.
 */
export async function loadModel(source: ArrayBuffer | ArrayBufferView, options: LoadOptions = {}): Promise<BrowserModel> {
  const bytes = toBytes(source);
  const sculpt = isSculptContainer(bytes);
  const name = options.name ?? (sculpt ? 'model.sculpt' : 'model.onnx');
  await prepareKernels();
  const onnx = sculpt ? unpackSculpt(bytes) : bytes;
  const model = new BrowserModel(name, new OnnxBytesModel(name, onnx).graph(), options);
  await model.ready();
  return model;
}
