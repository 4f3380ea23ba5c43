/**
 * Calibration statistics of an ONNX model from onnxruntime, for the data criteria (`wanda`,
 * `sparsegpt`): an in-memory copy of the model also outputs the input activation of every pruned
 * MatMul/Gemm weight, runs on the first N examples of a calibration dataset (any reader of the
 * dataset registry: images, npy, IDX, text windows, ...), and per weight yields the ℓ2 norm of
 * each input feature (wanda) and, when asked, H = XᵀX over the examples (sparsegpt). Activations of
 * rank > 2 ([batch, seq, K]) count every leading position as one example row.
 */
import { existsSync, statSync } from 'node:fs';
import type { GraphNode, GraphValueInfo } from '../core/graph.js';
import { SculptError } from '../core/errors.js';
import { resolveTargets, type PruneOptions } from '../core/options.js';
import type { WeightTensor } from '../core/types.js';
import { inputStride } from '../core/criteria-wanda.js';
import type { OnnxModel } from '../formats/onnx.js';
import { editGraph } from '../formats/onnx-edit.js';
import { datasetUsage, openDataset } from '../formats/datasets/registry.js';
import { batches, sampleSize, type DataOptions, type ExampleSet } from '../formats/datasets/types.js';
import { FeedBuilder, openDatasetFor } from './data-feed.js';
import type * as Ort from 'onnxruntime-node';
import { loadOrt } from './sparse-ort.js';
import { ConvStats, convGeometry, geometryKey, type ConvGeometry } from './calibration-conv.js';
import { GramRunner } from './sequential-ort.js';

/** Where calibration data comes from and how many examples. */
export interface CalibrationSource {
  /**
   * A dataset of the registry, `KIND:PATH` (`images:DIR`, `npy:X.npy`, `text:FILE`, `idx:DIR`), or
   * `fashion-mnist`, or a bare folder of MNIST-format IDX files. IDX sets use their train split.
   */
  readonly calibration: string;
  /** Use the first N examples (text: windows). */
  readonly samples: number;
  /** How the dataset is read (image size, tokenizer, sequence length, ...). */
  readonly dataOptions?: DataOptions;
}
/** Statistics of the activation entering one weight. */
export interface LayerActivations {
  /** Input features (K). */
  readonly features: number;
  /** Example rows seen. */
  readonly rows: number;
  /** Σ x_j² per input feature (float64). */
  readonly sumSquares: Float64Array;
  /** XᵀX (K×K, row-major), when asked for. */
  readonly gram?: Float64Array;
  /**
   * Conv weights (im2col): the statistics per group, sumSquares [groups·K] and gram [groups·K·K];
   * group g's output channels [g·M/groups, (g+1)·M/groups) see only its block. Absent: 1.
   */
  readonly groups?: number;
}

/** One weight of the target set and the activation value that multiplies it. */
export interface CalibratedWeight {
  readonly tensor: WeightTensor;
  /** Graph values holding the weight's input activations (several when the weight is shared). */
  readonly activations: readonly string[];
  /** A Conv weight (input W of a Conv): the convolution whose im2col patches its statistics are of. */
  readonly conv?: ConvGeometry;
}

/** Where the statistics of `w`'s activation `a` are kept: the value's name, or the name and the patches' geometry for a Conv. */
export function statKey(w: CalibratedWeight, a: string): string {
  return w.conv ? `${a}\u0000conv${geometryKey(w.conv)}` : a;
}

const BATCH = 256;
const PASS_THROUGH = new Set(['Identity', 'Cast']);

function checkSamples(src: CalibrationSource): void {
  if (!Number.isInteger(src.samples) || src.samples < 1) {
    throw new SculptError(`--calibration-samples must be a positive integer, got ${src.samples}`);
  }
}

/** `--calibration` errors name the flag; the registry's name the spec. */
function asCalibration<T>(src: CalibrationSource, open: () => T): T {
  try {
    return open();
  } catch (e) {
    if (e instanceof SculptError && !e.message.startsWith('--')) throw new SculptError(`--calibration ${e.message}`);
    throw e;
  }
}

/** The first `samples` examples of the calibration set for `model` (its input shape fills in image size and channels). */
export function loadCalibrationSet(src: CalibrationSource, model: OnnxModel): ExampleSet {
  checkSamples(src);
  const inputs = realInputs(model);
  return asCalibration(src, () => openDatasetFor(src.calibration, { ...src.dataOptions, split: 'train', limit: src.samples }, model.path, inputs));
}

/** Calibration images as float32 [N, H·W·C] (an image or feature dataset of the registry), with errors naming `--calibration`. */
export function loadCalibrationImages(src: CalibrationSource): { images: Float32Array; count: number; perImage: number; notes: readonly string[] } {
  checkSamples(src);
  const isSpec = src.calibration === 'fashion-mnist' || /^[a-z-]+:/.test(src.calibration);
  if (!isSpec && !(existsSync(src.calibration) && statSync(src.calibration).isDirectory())) {
    throw new SculptError(`--calibration ${src.calibration}: no such dataset or folder; use fashion-mnist, a folder with MNIST-format IDX files, or KIND:PATH (${datasetUsage()})`);
  }
  const set = asCalibration(src, () => openDataset(src.calibration, { ...src.dataOptions, split: 'train', limit: src.samples }));
  if (!(set.inputs instanceof Float32Array)) throw new SculptError(`--calibration ${src.calibration}: holds integer values, not images or features`);
  return { images: set.inputs, count: set.count, perImage: sampleSize(set), notes: set.notes };
}

/** The model's inputs that are not initializers. */
function realInputs(model: OnnxModel): GraphValueInfo[] {
  const stored = new Set(model.decoded.graph.initializers.map((i) => i.name));
  return model.decoded.inputs.filter((i) => !stored.has(i.name));
}

/**
 * The activation value of every target weight. A weight reaches MatMul as B or Gemm as B (through
 * Identity/Cast), or, with `conv`, a 1-D/2-D Conv as W (statistics of its im2col patches);
 * anything else (a weight as MatMul's A, Gemm with transA, ...) is a SculptError naming the tensor.
 */
export function calibratedWeights(model: OnnxModel, opts: PruneOptions, criterion: string, o: { conv?: boolean } = {}): CalibratedWeight[] {
  const consumers = new Map<string, { node: GraphNode; index: number }[]>();
  for (const node of model.decoded.nodes) {
    node.inputs.forEach((input, index) => {
      const list = consumers.get(input) ?? [];
      list.push({ node, index });
      consumers.set(input, list);
    });
  }
  const out: CalibratedWeight[] = [];
  for (const { tensor } of resolveTargets(model.tensors, opts)) {
    const uses: { node: GraphNode; index: number }[] = [];
    const frontier = [tensor.name];
    const seen = new Set(frontier);
    while (frontier.length) {
      for (const use of consumers.get(frontier.pop()!) ?? []) {
        if (PASS_THROUGH.has(use.node.opType)) {
          for (const o of use.node.outputs) if (!seen.has(o)) { seen.add(o); frontier.push(o); }
        } else uses.push(use);
      }
    }
    const activations = new Set<string>();
    let conv: ConvGeometry | undefined;
    for (const { node, index } of uses) {
      if (o.conv && node.opType === 'Conv' && node.domain === '' && index === 1) {
        const g = convGeometry(node, tensor.shape, tensor.name);
        if (conv !== undefined && geometryKey(conv) !== geometryKey(g)) {
          throw new SculptError(`--criterion ${criterion}: tensor '${tensor.name}' feeds Conv nodes of different geometry; add --exclude '${tensor.name}'`);
        }
        conv = g;
        activations.add(node.inputs[0]);
        continue;
      }
      const linear = (node.opType === 'MatMul' || (node.opType === 'Gemm' && node.attributes.get('transA') !== 1)) && index === 1;
      if (!linear || tensor.shape.length !== 2 || conv !== undefined) {
        throw new SculptError(
          `--criterion ${criterion}: tensor '${tensor.name}' is input ${index} of a ${node.opType} node; ONNX calibration supports MatMul/Gemm weights (input B)${o.conv ? ' and Conv weights' : ''} only; add --exclude '${tensor.name}'`,
        );
      }
      activations.add(node.inputs[0]);
    }
    if (activations.size === 0) throw new SculptError(`--criterion ${criterion}: tensor '${tensor.name}' feeds no node; add --exclude '${tensor.name}'`);
    out.push({ tensor, activations: [...activations], conv });
  }
  return out;
}

/** The model's bytes with `names` appended to the graph's outputs (float tensors, shape left to onnxruntime). */
export function withExtraOutputs(model: OnnxModel, names: readonly string[]): Uint8Array {
  return editGraph(model.bytes, model.path, { addOutputs: names.map((name) => ({ name })) });
}

/**
 * Runs the model on `count` images and accumulates, per activation value, Σx² per feature and
 * (with `gram`) XᵀX. The model's single float input takes the images reshaped to its own shape.
 */
export async function collectActivations(
  model: OnnxModel,
  activations: readonly string[],
  images: Float32Array,
  count: number,
  perImage: number,
  gram: boolean,
): Promise<Map<string, LayerActivations>> {
  const inputs = model.decoded.inputs;
  if (inputs.length !== 1) throw new SculptError(`${model.path}: calibration needs a model with one input, this one has ${inputs.length}`);
  const input = inputs[0];
  const rest = input.dims.slice(1);
  const per = rest.reduce((a, b) => a * b, 1);
  if (input.dtype !== 'float32' || rest.some((d) => d <= 0) || per !== perImage) {
    throw new SculptError(
      `${model.path}: input '${input.name}' has shape [${input.dims.join(', ')}] (${input.dtype}); --calibration images have ${perImage} values each, so it must be [N, ${perImage}] or [N, 1, H, W] float32`,
    );
  }
  function* feeds(ort: typeof Ort): Generator<Record<string, Ort.Tensor>> {
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start);
      const x = images.subarray(start * perImage, (start + n) * perImage);
      yield { [input.name]: new ort.Tensor('float32', Float32Array.from(x), [n, ...rest]) };
    }
  }
  return collectFromFeeds(model, activations, feeds, gram);
}

/**
 * The same statistics from any dataset of the registry: images placed as the model takes them
 * (NCHW or NHWC, resized to its input), features reshaped, text windows fed as input_ids with
 * attention_mask and position_ids. Activations [batch, seq, K] count every position as a row.
 */
export async function collectActivationsFromSet(model: OnnxModel, activations: readonly string[], set: ExampleSet, gram: boolean, convs: readonly CalibratedWeight[] = []): Promise<Map<string, LayerActivations>> {
  const builder = new FeedBuilder(realInputs(model), set, model.path);
  const size = set.text ? Math.max(1, Math.floor(4096 / set.text.seqLen)) : BATCH;
  function* feeds(ort: typeof Ort): Generator<Record<string, Ort.Tensor>> {
    for (const batch of batches(set, size)) {
      const out: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(builder.feeds(batch))) {
        out[name] = t.dtype === 'float32'
          ? new ort.Tensor('float32', t.data as Float32Array, [...t.dims])
          : new ort.Tensor('int64', BigInt64Array.from(t.data as Float64Array, (v) => BigInt(v)), [...t.dims]);
      }
      yield out;
    }
  }
  return collectFromFeeds(model, activations, feeds, gram, convs);
}

/**
 * Runs the model on each feed and accumulates the statistics of `activations` (model inputs
 * included) as rows of their last axis, and of the Conv weights `convs` as im2col patches (keyed by `statKey`).
 */
async function collectFromFeeds(
  model: OnnxModel,
  activations: readonly string[],
  feeds: (ort: typeof Ort) => Iterable<Record<string, Ort.Tensor>>,
  gram: boolean,
  convs: readonly CalibratedWeight[] = [],
): Promise<Map<string, LayerActivations>> {
  const ort = await loadOrt();
  const convProbes = new Map<string, { activation: string; geometry: ConvGeometry; stats?: ConvStats }>();
  for (const w of convs) for (const a of w.activations) convProbes.set(statKey(w, a), { activation: a, geometry: w.conv! });
  const plain = [...new Set(activations)].filter((a) => !convProbes.has(a));
  const unique = [...new Set([...plain, ...[...convProbes.values()].map((p) => p.activation)])];
  const graphOutputs = new Set(model.decoded.outputs.map((o) => o.name));
  const inputNames = new Set(model.decoded.inputs.map((i) => i.name));
  const fetch = unique.filter((n) => !inputNames.has(n));
  const extra = fetch.filter((n) => !graphOutputs.has(n));
  const session = await ort.InferenceSession.create(withExtraOutputs(model, extra), { intraOpNumThreads: 2, interOpNumThreads: 1 });
  const stats = new Map<string, { k: number; rows: number; sumSquares: Float64Array; gram?: Float64Array }>();
  const products = gram && convProbes.size > 0 ? new GramRunner(ort) : undefined;
  const product = (data: Float32Array, rows: number, k: number) => products!.gram(data, rows, k);
  try {
    for (const feed of feeds(ort)) {
      const result = fetch.length > 0 ? await session.run(feed, fetch) : {};
      const tensorOf = (name: string) => {
        const t = inputNames.has(name) ? feed[name] : result[name];
        if (t === undefined || t.type !== 'float32') throw new SculptError(`${model.path}: activation '${name}' is not a float32 tensor in onnxruntime's outputs`);
        return t;
      };
      for (const name of plain) {
        const t = tensorOf(name);
        accumulate(stats, name, t.data as Float32Array, t.dims[t.dims.length - 1], gram);
      }
      for (const probe of convProbes.values()) {
        const t = tensorOf(probe.activation);
        probe.stats ??= new ConvStats(probe.geometry, t.dims[1] ?? 0, gram);
        await probe.stats.add(t.data as Float32Array, t.dims, product);
      }
    }
  } finally {
    await session.release();
    await products?.release();
  }
  const out = new Map<string, LayerActivations>();
  for (const [name, s] of stats) {
    // Only the upper triangle was accumulated; mirror it.
    const g = s.gram;
    if (g) for (let i = 0; i < s.k; i++) for (let j = i + 1; j < s.k; j++) g[j * s.k + i] = g[i * s.k + j];
    out.set(name, { features: s.k, rows: s.rows, sumSquares: s.sumSquares, gram: g });
  }
  for (const [key, probe] of convProbes) if (probe.stats) out.set(key, probe.stats.finish());
  return out;
}

function accumulate(
  stats: Map<string, { k: number; rows: number; sumSquares: Float64Array; gram?: Float64Array }>,
  name: string,
  data: Float32Array,
  k: number,
  gram: boolean,
): void {
  let s = stats.get(name);
  if (!s) {
    s = { k, rows: 0, sumSquares: new Float64Array(k), gram: gram ? new Float64Array(k * k) : undefined };
    stats.set(name, s);
  }
  if (s.k !== k) throw new SculptError(`activation '${name}' changed width between batches (${s.k} then ${k})`);
  const rows = data.length / k;
  const sq = s.sumSquares;
  const g = s.gram;
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    for (let i = 0; i < k; i++) {
      const v = data[o + i];
      sq[i] += v * v;
      if (g && v !== 0) {
        const gi = i * k;
        for (let j = i; j < k; j++) g[gi + j] += v * data[o + j];
      }
    }
  }
  s.rows += rows;
}

/**
 * The statistics of everything `w` multiplies: a shared weight (ALBERT-style) sums those of all
 * its inputs. Fails naming the tensor when an activation's width is not the weight's input axis.
 */
export function weightActivations(w: CalibratedWeight, acts: ReadonlyMap<string, LayerActivations>): LayerActivations {
  if (w.conv) {
    const a = acts.get(statKey(w, w.activations[0]))!;
    const k = w.tensor.shape.slice(1).reduce((x, y) => x * y, 1);
    if (a.features !== k || (a.groups ?? 1) !== w.conv.group) {
      throw new SculptError(`tensor '${w.tensor.name}': its ${k} inputs per output channel do not match the Conv's ${a.features} patch features in ${a.groups ?? 1} groups; add --exclude '${w.tensor.name}'`);
    }
    return a;
  }
  const { size } = inputStride(w.tensor);
  for (const name of w.activations) {
    const a = acts.get(name)!;
    if (a.features !== size) {
      throw new SculptError(`tensor '${w.tensor.name}': its input axis has ${size} features but activation '${name}' has ${a.features}; add --exclude '${w.tensor.name}'`);
    }
  }
  if (w.activations.length === 1) return acts.get(w.activations[0])!;
  const sumSquares = new Float64Array(size);
  const first = acts.get(w.activations[0])!;
  const gram = first.gram ? new Float64Array(size * size) : undefined;
  let rows = 0;
  for (const name of w.activations) {
    const a = acts.get(name)!;
    rows += a.rows;
    for (let i = 0; i < size; i++) sumSquares[i] += a.sumSquares[i];
    if (gram && a.gram) for (let i = 0; i < gram.length; i++) gram[i] += a.gram[i];
  }
  return { features: size, rows, sumSquares, gram };
}
