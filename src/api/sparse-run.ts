/**
 * `runFile`: a model (`.onnx` or `.sculpt`) on NumPy inputs, through sculpt's sparse executor or
 * onnxruntime; outputs as `.npy`. Nothing is written unless the whole run succeeded.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { SculptError } from '../core/errors.js';
import type { Graph, GraphValueInfo } from '../core/graph.js';
import { assertNotInput, writeFileAtomic } from '../formats/fsutil.js';
import { SparseExecutor, type WeightLayer } from '../sparse/executor.js';
import type { Kernels } from '../sparse/kernels.js';
import { parseNpy, writeNpy } from '../sparse/npy.js';
import { threadedKernels } from '../sparse/threads.js';
import type { Tensor } from '../sparse/tensor.js';
import { checkInput } from './model-file.js';
import { readMachineCache } from './sparse-machine.js';
import { HybridRunner } from './hybrid.js';
import { createOrtSession } from './sparse-ort.js';
import { loadSparseModel, type SparseModelFile } from './sparse-model.js';
import { withFileContext } from './model-file.js';

/** 'hybrid': the sparse layers on sculpt's kernels, the rest on onnxruntime (hybrid.ts). */
export type RunEngine = 'sparse' | 'onnxruntime' | 'hybrid';

export interface RunFileResult {
  readonly model: string;
  readonly engine: RunEngine;
  readonly inputs: readonly { readonly name: string; readonly file: string; readonly dims: readonly number[] }[];
  readonly outputs: readonly { readonly name: string; readonly file: string; readonly dims: readonly number[]; readonly dtype: string }[];
  /** Outputs computed but not written (`-o Y.npy` takes the first; a folder takes all). */
  readonly notWritten: readonly string[];
  /** Wall-clock milliseconds of the inference itself (model loading excluded). */
  readonly ms: number;
  /** Sparse engine: the kernel chosen for each weight layer. */
  readonly layers?: readonly WeightLayer[];
}

/** The graph's real inputs (initializers listed as inputs are not). */
export function modelInputs(graph: Graph): GraphValueInfo[] {
  return graph.inputs.filter((i) => !graph.initializers.has(i.name));
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);

/** Checks a tensor read from `file` against the model's input `info`. */
export function checkInputTensor(t: Tensor, info: GraphValueInfo, file: string): void {
  const wantFloat = FLOAT_TYPES.has(info.dtype);
  if (wantFloat !== (t.dtype === 'float32') || (info.dtype === 'bool') !== (t.dtype === 'bool')) {
    throw new SculptError(`${file}: holds ${t.dtype === 'float32' ? 'floating-point' : t.dtype} values, model input ${info.name} takes ${info.dtype}; convert the array`);
  }
  const expected = `[${info.dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]`;
  if (info.dims.length > 0 && (info.dims.length !== t.dims.length || info.dims.some((d, i) => d >= 0 && d !== t.dims[i]))) {
    throw new SculptError(`${file}: shape (${t.dims.join(', ')}) does not fit model input ${info.name} ${expected}; reshape the array`);
  }
}

/**
 * Input files: `X.npy` feeds the model's first input; `NAME=X.npy` feeds the input NAME. Every
 * input the model takes must be given.
 */
export function readInputs(graph: Graph, specs: readonly string[]): { tensors: Record<string, Tensor>; files: Record<string, string> } {
  const inputs = modelInputs(graph);
  if (specs.length === 0) throw new SculptError(`--input: missing; give X.npy (or NAME=X.npy) for the model's input ${inputs[0]?.name ?? ''}`);
  const tensors: Record<string, Tensor> = {};
  const files: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && !existsSync(spec);
    const name = named ? spec.slice(0, eq) : inputs[0]?.name;
    const file = named ? spec.slice(eq + 1) : spec;
    const info = inputs.find((i) => i.name === name);
    if (!info) throw new SculptError(`--input ${spec}: the model has no input named ${name}; its inputs are ${inputs.map((i) => i.name).join(', ')}`);
    if (name! in tensors) throw new SculptError(`--input ${spec}: input ${name} is given twice`);
    checkInput(file);
    const buf = readFileSync(file);
    const t = parseNpy(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
    checkInputTensor(t, info, file);
    tensors[info.name] = t;
    files[info.name] = file;
  }
  const missing = inputs.filter((i) => !(i.name in tensors)).map((i) => i.name);
  if (missing.length > 0) throw new SculptError(`--input: the model also takes ${missing.join(', ')}; give each as --input NAME=X.npy`);
  return { tensors, files };
}

/**
 * How many rows each weight product multiplies, as the kernels are chosen, predicted and profiled
 * for it: a token model's every token (batch × sequence of its integer inputs), a [batch,
 * sequence, features] input's batch × sequence, else the first dimension (the batch).
 */
export function rowsPerProduct(inputs: Readonly<Record<string, Tensor>>): number {
  let rows = 1;
  for (const t of Object.values(inputs)) {
    const n = t.dims.length === 0 ? 1 : t.dtype === 'int64' ? t.dims.reduce((a, b) => a * b, 1) : t.dims.length === 3 ? t.dims[0] * t.dims[1] : t.dims[0];
    rows = Math.max(rows, n);
  }
  return rows;
}

/** Kernels for `threads` threads: worker threads splitting the weight products beyond one. */
export function kernelsFor(threads: number): Kernels | undefined {
  return threads > 1 ? threadedKernels(threads) : undefined;
}

/** Runs the model on either engine. */
export async function runModel(model: SparseModelFile, inputs: Readonly<Record<string, Tensor>>, engine: RunEngine, threads = 1): Promise<{ outputs: Record<string, Tensor>; ms: number; layers?: WeightLayer[] }> {
  if (engine === 'onnxruntime') {
    const session = await createOrtSession(model.ortSource, model.path, threads);
    try {
      const start = performance.now();
      const outputs = await session.run(inputs);
      return { outputs, ms: performance.now() - start };
    } finally {
      await session.release();
    }
  }
  // The cached machine profile (sculpt bench --machine) when there is one; else a quick measurement.
  const ex = new SparseExecutor(model.graph, { engine: 'auto', batchHint: rowsPerProduct(inputs), machine: readMachineCache()?.machine, kernels: kernelsFor(threads) });
  await ex.ready();
  if (engine === 'hybrid') {
    const plan = await withFileContext(model.path, () => HybridRunner.create(model.onnx, ex, inputs, threads));
    if (typeof plan === 'string') throw new SculptError(`${model.path}: no hybrid plan: ${plan}; run it with --engine sparse or --engine onnxruntime`);
    try {
      const start = performance.now();
      const outputs = await plan.run(inputs);
      return { outputs, ms: performance.now() - start, layers: ex.layers };
    } finally {
      await plan.release();
    }
  }
  const start = performance.now();
  const outputs = withFileContext(model.path, () => ex.run(inputs));
  return { outputs, ms: performance.now() - start, layers: ex.layers };
}


/**
 * Where outputs go: `-o Y.npy` takes the first output; any other `-o` is a folder (created if
 * missing) that receives every output as `NAME.npy`.
 */
export function outputFiles(output: string, names: readonly string[]): string[] {
  if (extname(output).toLowerCase() === '.npy') return [output];
  if (existsSync(output) && !statSync(output).isDirectory()) throw new SculptError(`${output}: not a folder; name the output X.npy for the first output, or a folder for all of them`);
  return names.map((n) => join(output, `${n.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`));
}

export async function runFile(modelPath: string, inputSpecs: readonly string[], output: string, engine: RunEngine = 'sparse', threads = 1): Promise<RunFileResult> {
  const model = withFileContext(modelPath, () => loadSparseModel(modelPath));
  const graph = model.graph;
  const { tensors, files } = readInputs(graph, inputSpecs);
  const names = graph.outputs.map((o) => o.name);
  const targets = outputFiles(output, names);
  for (const t of targets) assertNotInput(t, [modelPath, ...Object.values(files)]);
  // Sparse engine: unsupported operators fail here, before anything is written.
  const { outputs, ms, layers } = await runModel(model, tensors, engine, threads);
  if (extname(output).toLowerCase() !== '.npy' && !existsSync(output)) mkdirSync(output);
  const written = targets.map((file, i) => {
    const t = outputs[names[i]];
    if (!t) throw new SculptError(`${modelPath}: the run produced no output ${names[i]}`, 1);
    writeFileAtomic(file, writeNpy(t));
    return { name: names[i], file, dims: t.dims, dtype: t.dtype };
  });
  return {
    model: modelPath, engine, ms, layers,
    inputs: Object.entries(files).map(([name, file]) => ({ name, file, dims: tensors[name].dims })),
    outputs: written,
    notWritten: names.slice(written.length),
  };
}
