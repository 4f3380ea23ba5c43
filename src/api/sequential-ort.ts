/**
 * Sequential calibration on onnxruntime: the same stages and segments as on sculpt's executor
 * (sparsegpt-sequential.ts), each segment extracted as a model of its own (onnx-extract.ts) whose
 * target weights are graph inputs, so the values pruned so far are fed on every run. XᵀX is a
 * MatMul in onnxruntime too (float32 per batch, summed in float64). One segment's session and one
 * stage's statistics are alive at a time.
 */
import type * as Ort from 'onnxruntime-node';
import { SculptError } from '../core/errors.js';
import type { MatMul } from '../core/linalg.js';
import type { Graph } from '../core/graph.js';
import { encodeOnnx } from '../formats/onnx-build.js';
import { ONNX_DTYPE, ELEM } from '../formats/onnx-decode.js';
import { extractModel } from '../formats/onnx-extract.js';
import type { OnnxModel } from '../formats/onnx.js';
import { activationStats, finishStats, planSegments, type SequentialOptions, type SequentialStage, type StageActivation, type StageHandler, type StageResult } from './sparsegpt-sequential.js';
import { loadOrt } from './sparse-ort.js';

// No arena: a session per stage would otherwise leave its high-water mark behind in the process.
const SESSION = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const, enableCpuMemArena: false };

/** Graph inputs of the windows, batch by batch, as onnxruntime tensors. */
export type OrtFeeds = readonly Record<string, Ort.Tensor>[];

/** XᵀX of a [rows, k] float32 matrix, on onnxruntime. */
export class GramRunner {
  private session: Ort.InferenceSession | undefined;
  constructor(private readonly ort: typeof Ort) {}
  async gram(data: Float32Array, rows: number, k: number): Promise<Float32Array> {
    this.session ??= await this.ort.InferenceSession.create(encodeOnnx({
      nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['xt'], attrs: { perm: { ints: [1, 0] } } }, { op: 'MatMul', inputs: ['xt', 'x'], outputs: ['g'] }],
      initializers: [], inputs: [{ name: 'x', dims: ['rows', 'k'] }], outputs: [{ name: 'g', dims: ['k', 'k'] }], opset: 13,
    }), SESSION);
    const r = await this.session.run({ x: new this.ort.Tensor('float32', data, [rows, k]) });
    return r.g.data as Float32Array;
  }
  async release(): Promise<void> {
    await this.session?.release();
  }
}

/**
 * float64 C = A·B on onnxruntime (MLAS DGEMM on all intra-op threads): what SparseGPT's blocked
 * factorisations and lazy updates call (core/linalg.ts `MatMul`). One session for every shape.
 */
export class OrtMatMul {
  private session: Promise<Ort.InferenceSession> | undefined;
  constructor(private readonly ort: typeof Ort) {}
  static async create(): Promise<OrtMatMul> {
    return new OrtMatMul(await loadOrt());
  }
  readonly matmul: MatMul = async (a, b, m, k, n) => {
    this.session ??= this.ort.InferenceSession.create(encodeOnnx({
      nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
      initializers: [],
      inputs: [{ name: 'a', dims: ['m', 'k'], elemType: ONNX_DTYPE.DOUBLE }, { name: 'b', dims: ['k', 'n'], elemType: ONNX_DTYPE.DOUBLE }],
      outputs: [{ name: 'c', dims: ['m', 'n'], elemType: ONNX_DTYPE.DOUBLE }],
      opset: 13,
    }), SESSION);
    const session = await this.session;
    const r = await session.run({ a: new this.ort.Tensor('float64', a, [m, k]), b: new this.ort.Tensor('float64', b, [k, n]) });
    return r.c.data as Float64Array;
  };
  async release(): Promise<void> {
    await (await this.session)?.release();
    this.session = undefined;
  }
}

/** `runSequential` on onnxruntime; `weights` gives each target weight's current values (read once, lazily). */
export async function runSequentialOrt(
  model: OnnxModel,
  graph: Graph,
  stages: readonly SequentialStage[],
  feeds: OrtFeeds,
  handle: StageHandler,
  opts: SequentialOptions,
): Promise<Map<string, StageResult>> {
  const ort = await loadOrt();
  const segs = planSegments(graph, stages);
  const targets = new Map(stages.flatMap((s) => s.weights.map((w) => [w.tensor.name, w.tensor] as const)));
  // A weight's current values: what its stage returned, or (not yet pruned, or stored back into
  // the model by the handler) the model's, read when a segment feeds it and not kept after.
  const results = new Map<string, StageResult>();
  const valueOf = (name: string): Float32Array => results.get(name)?.values ?? model.read(name);
  const kept = feeds.map((f) => new Map<string, Ort.Tensor>(Object.entries(f)));
  const gram = new GramRunner(ort);
  try {
    for (let s = 0; s < stages.length; s++) {
      const seg = segs[s];
      const fed = [...seg.initializers].filter((n) => targets.has(n));
      let session: Ort.InferenceSession | undefined;
      if (seg.nodes.length > 0) {
        const first = kept[0];
        const inputs = seg.inputs.map((name) => {
          const t = first.get(name);
          if (t === undefined) throw new SculptError(`sequential calibration: value '${name}' of stage ${s} was not kept`);
          return { name, elemType: ELEM[t.type] ?? ONNX_DTYPE.FLOAT };
        });
        const bytes = extractModel(model.bytes, model.path, { nodes: seg.indices, inputs, outputs: seg.outputs, feedAsInputs: new Map(fed.map((n) => [n, targets.get(n)!.shape])) });
        session = await ort.InferenceSession.create(bytes, SESSION);
      }
      const weightFeeds = Object.fromEntries(fed.map((n) => [n, new ort.Tensor('float32', valueOf(n), [...targets.get(n)!.shape])]));
      const acts = new Map<string, StageActivation>();
      const pending = new Map<string, PendingRows>();
      for (const values of kept) {
        if (session) {
          const feed: Record<string, Ort.Tensor> = { ...weightFeeds };
          for (const i of seg.inputs) feed[i] = values.get(i)!;
          const out = await session.run(feed, seg.outputs);
          for (const [name, t] of Object.entries(out)) values.set(name, t);
        }
        for (const a of seg.activations) {
          const t = values.get(a);
          if (t === undefined || t.type !== 'float32') throw new SculptError(`sequential calibration: activation '${a}' is not a float32 tensor`);
          await accumulateOrt(acts, a, t.data as Float32Array, t.dims[t.dims.length - 1], opts.gram ? gram : undefined, pending);
        }
        for (const name of [...values.keys()]) if (!seg.live.has(name)) values.delete(name);
      }
      await session?.release();
      for (const [a, p] of pending) await flushGram(acts.get(a)!, p, gram);
      pending.clear();
      finishStats(acts);
      const updates = await handle(stages[s], acts);
      for (const [name, r] of updates) results.set(name, r);
      opts.onStage?.(s + 1, stages.length);
    }
  } finally {
    await gram.release();
  }
  return results;
}

/** Rows of one activation waiting for XᵀX: products of at least k rows, so each k×k result is no larger than its input. */
interface PendingRows {
  data: Float32Array;
  rows: number;
}

async function accumulateOrt(stats: Map<string, StageActivation>, name: string, data: Float32Array, k: number, gram: GramRunner | undefined, pending: Map<string, PendingRows>): Promise<void> {
  const s = activationStats(stats, name, k, gram !== undefined);
  const rows = data.length / k;
  const sq = s.sumSquares;
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    for (let i = 0; i < k; i++) sq[i] += data[o + i] * data[o + i];
  }
  s.rows += rows;
  if (!gram || !s.gram) return;
  let p = pending.get(name);
  if (!p && rows >= k) return addGram(s, await gram.gram(data, rows, k));
  if (!p) {
    p = { data: new Float32Array(k * k), rows: 0 };
    pending.set(name, p);
  }
  for (let at = 0; at < rows;) {
    const take = Math.min(rows - at, k - p.rows);
    p.data.set(data.subarray(at * k, (at + take) * k), p.rows * k);
    p.rows += take;
    at += take;
    if (p.rows === k) await flushGram(s, p, gram);
  }
}

async function flushGram(s: StageActivation, p: PendingRows, gram: GramRunner): Promise<void> {
  if (p.rows === 0) return;
  addGram(s, await gram.gram(p.data.subarray(0, p.rows * s.features), p.rows, s.features));
  p.rows = 0;
}

/** Upper triangle only, as finishStats mirrors it. */
function addGram(s: StageActivation, g: Float32Array): void {
  const k = s.features;
  const acc = s.gram!;
  for (let i = 0; i < k; i++) for (let j = i; j < k; j++) acc[i * k + j] += g[i * k + j];
}
