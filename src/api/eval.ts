/**
 * `evalFile`: a model measured on a dataset of the registry. ONNX through onnxruntime (or sculpt's
 * sparse engine), `.sculpt` through the sparse engine, TF.js layers folders through TF.js.
 * Metrics: accuracy and top-5 (the label among the 5 largest outputs; ties counted against the
 * label) over examples; perplexity exp(mean NLL) over the scored tokens of text windows, the
 * log-softmax in float64.
 */
import { SculptError } from '../core/errors.js';
import type { GraphValueInfo } from '../core/graph.js';
import { isTfjsModelPath } from '../formats/tfjs-folder.js';
import { batches, type DataOptions, type ExampleSet } from '../formats/datasets/types.js';
import { SparseExecutor } from '../sparse/executor.js';
import type { Tensor } from '../sparse/tensor.js';
import { FeedBuilder, openDatasetFor } from './data-feed.js';
import { withFileContext } from './model-file.js';
import { readMachineCache } from './sparse-machine.js';
import { createOrtSession } from './sparse-ort.js';
import { loadSparseModel } from './sparse-model.js';
import { modelInputs } from './sparse-run.js';

export type EvalMetric = 'accuracy' | 'top5' | 'perplexity';
export type EvalEngine = 'onnxruntime' | 'sparse' | 'tfjs';

export interface EvalOptions {
  /** The dataset, `KIND:PATH`. */
  readonly data: string;
  /** Default: perplexity for text, accuracy otherwise. */
  readonly metric?: EvalMetric;
  /** Default: onnxruntime for .onnx, sparse for .sculpt, tfjs for TF.js folders. */
  readonly engine?: EvalEngine;
  /** Examples (or windows) per run. Default 32; text: 1024 tokens' worth (logits are batch × seq × vocab floats). */
  readonly batchSize?: number;
  /** How the dataset is read (image size, tokenizer, ...). */
  readonly dataOptions?: DataOptions;
  /** Called after each batch: (done, total) examples. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface EvalResult {
  readonly model: string;
  readonly data: string;
  readonly engine: EvalEngine;
  readonly metric: EvalMetric;
  readonly value: number;
  /** Examples scored (accuracy, top5) or windows (perplexity). */
  readonly examples: number;
  /** Perplexity: tokens scored. */
  readonly tokens?: number;
  /** Accuracy and top5: examples counted correct. */
  readonly correct?: number;
  /** Wall-clock milliseconds of inference and scoring (loading excluded). */
  readonly ms: number;
  readonly notes: readonly string[];
}

/** One loaded model, whatever runs it. */
interface Runner {
  readonly inputs: readonly GraphValueInfo[];
  /** The output scored: `logits` when there is one, else the first. */
  readonly output: string;
  run(feeds: Record<string, Tensor>): Promise<Tensor>;
  release(): Promise<void>;
}

async function onnxRunner(path: string, engine: 'onnxruntime' | 'sparse', batchHint: number): Promise<Runner> {
  const model = withFileContext(path, () => loadSparseModel(path));
  const graph = model.graph;
  const inputs = modelInputs(graph);
  const names = graph.outputs.map((o) => o.name);
  const output = names.includes('logits') ? 'logits' : names[0];
  if (engine === 'onnxruntime') {
    const session = await createOrtSession(model.ortSource, path, 2);
    return { inputs, output, run: async (feeds) => (await session.run(feeds))[output], release: () => session.release() };
  }
  const ex = new SparseExecutor(graph, { engine: 'auto', batchHint, machine: readMachineCache()?.machine });
  return { inputs, output, run: async (feeds) => withFileContext(path, () => ex.run(feeds))[output], release: async () => {} };
}

async function tfjsRunner(path: string): Promise<Runner> {
  const [{ setupBackend }, { loadModelFolder }, tf] = await Promise.all([import('../train/backend.js'), import('../train/model-io.js'), import('@tensorflow/tfjs-core')]);
  await setupBackend('auto');
  const model = await loadModelFolder(path);
  if (model.inputs.length !== 1) throw new SculptError(`${path}: takes ${model.inputs.length} inputs; eval feeds TF.js models with one input`);
  const shape = model.inputs[0].shape.map((d) => d ?? -1);
  const inputs: GraphValueInfo[] = [{ name: model.inputs[0].name, dtype: 'float32', dims: shape }];
  return {
    inputs,
    output: model.outputs[0].name,
    run: async (feeds) => {
      const x = Object.values(feeds)[0];
      const out = tf.tidy(() => {
        const y = model.predict(tf.tensor(x.data as Float32Array, [...x.dims], 'float32'));
        return Array.isArray(y) ? y[0] : y;
      });
      const data = Float32Array.from(await out.data());
      const dims = [...out.shape];
      out.dispose();
      return { dtype: 'float32', dims, data };
    },
    release: async () => { model.dispose(); },
  };
}

function defaultEngine(path: string): EvalEngine {
  if (isTfjsModelPath(path)) return 'tfjs';
  return path.toLowerCase().endsWith('.sculpt') ? 'sparse' : 'onnxruntime';
}

/** Evaluates `modelPath` on `opts.data`. */
export async function evalFile(modelPath: string, opts: EvalOptions): Promise<EvalResult> {
  const engine = opts.engine ?? defaultEngine(modelPath);
  if (engine === 'tfjs' && !isTfjsModelPath(modelPath)) throw new SculptError(`--engine tfjs: ${modelPath} is not a TF.js model folder`);
  if (engine !== 'tfjs' && isTfjsModelPath(modelPath)) throw new SculptError(`--engine ${engine}: ${modelPath} is a TF.js model; use --engine tfjs (the default for TF.js folders)`);
  if (opts.batchSize !== undefined && (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)) throw new SculptError(`--batch-size must be a positive integer, got ${opts.batchSize}`);
  const runner = engine === 'tfjs' ? await tfjsRunner(modelPath) : await onnxRunner(modelPath, engine, opts.batchSize ?? 32);
  try {
    const set = openDatasetFor(opts.data, opts.dataOptions ?? {}, modelPath, runner.inputs);
    const batchSize = opts.batchSize ?? (set.text ? Math.max(1, Math.floor(1024 / set.text.seqLen)) : 32);
    const metric = opts.metric ?? (set.text ? 'perplexity' : 'accuracy');
    checkMetric(metric, set);
    const feed = new FeedBuilder(runner.inputs, set, modelPath);
    const start = performance.now();
    const score = metric === 'perplexity' ? new PerplexityScore(set, modelPath, runner.output) : new ClassScore(set, metric, modelPath, runner.output);
    for (const batch of batches(set, batchSize)) {
      score.add(await runner.run(feed.feeds(batch)), batch);
      opts.onProgress?.(batch.start + batch.count, set.count);
    }
    const ms = performance.now() - start;
    return { model: modelPath, data: opts.data, engine, metric, ms, notes: set.notes, ...score.result() };
  } finally {
    await runner.release();
  }
}

function checkMetric(metric: EvalMetric, set: ExampleSet): void {
  if (metric === 'perplexity' && !set.text) throw new SculptError(`--metric perplexity needs text data (text:FILE); ${set.source} is ${set.kind} data`);
  if (metric !== 'perplexity' && set.text) throw new SculptError(`--metric ${metric} needs labelled data; text:FILE takes --metric perplexity`);
  if (metric !== 'perplexity' && !set.labels) throw new SculptError(`--metric ${metric}: ${set.source} has no labels; give them (npy:X.npy,Y.npy, a label column, class folders)`);
}

class ClassScore {
  private correct = 0;
  private seen = 0;
  constructor(private readonly set: ExampleSet, private readonly metric: 'accuracy' | 'top5', private readonly model: string, private readonly output: string) {}

  add(out: Tensor | undefined, batch: { count: number; start: number; labels?: Int32Array }): void {
    if (!out || out.dtype !== 'float32') throw new SculptError(`${this.model}: output '${this.output}' is not a float tensor of class scores`);
    const n = batch.count;
    const classes = out.data.length / n;
    if (out.dims[0] !== n || !Number.isInteger(classes)) {
      throw new SculptError(`${this.model}: output '${this.output}' is [${out.dims.join(', ')}] for a batch of ${n}; eval scores outputs of shape [N, classes]`);
    }
    const k = this.metric === 'top5' ? 5 : 1;
    const labels = batch.labels!;
    for (let i = 0; i < n; i++) {
      const label = labels[i];
      if (label >= classes) {
        throw new SculptError(`${this.set.source}: label ${label} of example ${batch.start + i} is out of range: the model has ${classes} outputs (classes 0-${classes - 1})`);
      }
      const row = out.data.subarray(i * classes, (i + 1) * classes) as Float32Array;
      const v = row[label];
      let above = 0;
      for (let j = 0; j < classes; j++) if (row[j] > v || (row[j] === v && j < label)) above++;
      if (above < k) this.correct++;
    }
    this.seen += n;
  }

  result(): { value: number; examples: number; correct: number } {
    return { value: this.correct / this.seen, examples: this.seen, correct: this.correct };
  }
}

class PerplexityScore {
  private nll = 0;
  private tokens = 0;
  private windows = 0;
  constructor(private readonly set: ExampleSet, private readonly model: string, private readonly output: string) {}

  add(out: Tensor | undefined, batch: { count: number; start: number; inputs: Float32Array | Int32Array; scoreFrom?: Int32Array }): void {
    const L = this.set.text!.seqLen;
    const n = batch.count;
    if (!out || out.dtype !== 'float32' || out.dims.length !== 3 || out.dims[0] !== n || out.dims[1] !== L) {
      throw new SculptError(`${this.model}: output '${this.output}' is [${out?.dims.join(', ')}]; perplexity needs logits [batch, ${L}, vocab]`);
    }
    const V = out.dims[2];
    const ids = batch.inputs;
    const logits = out.data as Float32Array;
    for (let w = 0; w < n; w++) {
      for (let j = batch.scoreFrom![w]; j < L; j++) {
        const target = ids[w * L + j];
        if (target >= V) throw new SculptError(`${this.set.source}: token id ${target} is outside the model's vocabulary of ${V}; the tokenizer does not match the model`);
        const row = logits.subarray((w * L + j - 1) * V, (w * L + j) * V);
        let max = -Infinity;
        for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(row[v] - max);
        this.nll += max + Math.log(sum) - row[target];
        this.tokens++;
      }
    }
    this.windows += n;
  }

  result(): { value: number; examples: number; tokens: number } {
    return { value: Math.exp(this.nll / this.tokens), examples: this.windows, tokens: this.tokens };
  }
}
