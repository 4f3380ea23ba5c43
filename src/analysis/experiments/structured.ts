/**
 * `structured`: Conv-2 trained dense, then a fraction f of the channels of every hidden layer
 * (conv filters, Dense neurons; the classifier's outputs stay) removed by the L1 norm of their
 * filters or at random, fine-tuned with the masks and shrunk to a smaller dense model; against
 * unstructured global magnitude pruning at the same number of remaining parameters, fine-tuned the
 * same way. Latency of the dense, shrunk and unstructured models is measured in onnxruntime.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { countToPrune } from '../../core/counting.js';
import { SculptError } from '../../core/errors.js';
import { Mask } from '../../core/mask.js';
import { selectChannels } from '../../core/patterns.js';
import { Rng } from '../../core/rng.js';
import type { Split } from '../../train/data.js';
import { trainModel, type BatchProgress } from '../../train/loop.js';
import { modelWeights, toWeightSet } from '../../train/weights.js';
import { lineChart, round } from './charts.js';
import { applyMasksToModel, evaluate, fineTune, masksOf, pruneOptions, restoreWeights, snapshotWeights, trainConfig } from './training.js';
import type { Experiment, ExperimentContext, StructuredTools } from './types.js';

export const STRUCTURED_MODEL = 'conv-2';
export const FRACTIONS = [0.25, 0.5, 0.75] as const;
export const BATCHES = [1, 64] as const;
export type ChannelCriterion = 'l1' | 'random';

export interface StructuredSizes {
  readonly trainLimit: number;
  readonly testLimit: number;
  /** Dense training epochs. */
  readonly epochs: number;
  /** Fine-tuning: one epoch over the first `fineTuneExamples` training examples, for every method. */
  readonly fineTuneExamples: number;
  /** Timed runs per model and batch size. */
  readonly runs: number;
}

export function structuredSizes(quick: boolean): StructuredSizes {
  return quick
    ? { trainLimit: 120, testLimit: 100, epochs: 1, fineTuneExamples: 60, runs: 5 }
    : { trainLimit: 30000, testLimit: 2000, epochs: 1, fineTuneExamples: 3000, runs: 31 };
}

/** The layers whose output channels may go: every layer with a kernel but the last (the classifier). */
export function hiddenLayers(model: tfl.LayersModel): string[] {
  const withKernel = modelWeights(model).filter((w) => w.name.endsWith('/kernel')).map((w) => w.name.slice(0, -'/kernel'.length));
  return withKernel.slice(0, -1);
}

/**
 * Channel masks over the kernels and biases of `layers`: round(f·C) output channels of each (at
 * most C − 1), those whose filter (the kernel's slice along its last, output axis) has the smallest
 * L1 norm, ties to the lower index; or chosen uniformly at random. The bias goes with its channel,
 * so a removed channel outputs exactly zero and the shrunk model has nothing to fold.
 */
export function channelMasks(model: tfl.LayersModel, layers: readonly string[], fraction: number, criterion: ChannelCriterion, rng: Rng): Map<string, Mask> {
  const masks = new Map<string, Mask>();
  const byName = new Map(modelWeights(model).map((w) => [w.name, w.variable]));
  for (const layer of layers) {
    const kernel = byName.get(`${layer}/kernel`)!;
    const w = kernel.dataSync() as Float32Array;
    const C = kernel.shape[kernel.shape.length - 1];
    const sums = new Float64Array(C);
    if (criterion === 'l1') for (let i = 0; i < w.length; i++) sums[i % C] += Math.abs(w[i]);
    else for (let c = 0; c < C; c++) sums[c] = rng.next();
    const removed = selectChannels({ sums, alive: new Float64Array(C).fill(1) }, Math.min(countToPrune(fraction, C), C - 1));
    const k = Mask.full(w.length);
    for (let i = 0; i < w.length; i++) if (removed[i % C]) k.set(i, false);
    masks.set(`${layer}/kernel`, k);
    if (byName.has(`${layer}/bias`)) {
      const b = Mask.full(C);
      for (let c = 0; c < C; c++) if (removed[c]) b.set(c, false);
      masks.set(`${layer}/bias`, b);
    }
  }
  return masks;
}

/**
 * Global magnitude masks over the prunable kernels leaving exactly `target` parameters (biases
 * all kept): n = (kernels + other weights) − target kernel weights go, at sparsity n/K over the K
 * kernel weights; the core prunes round(n/K · K) = n of them. Returns the masks and the count.
 */
export function unstructuredAtCount(model: tfl.LayersModel, target: number): { masks: Map<string, Mask>; sparsity: number; parameters: number } {
  const ws = toWeightSet(model);
  const total = ws.tensors.reduce((s, t) => s + t.data.length, 0);
  const K = ws.tensors.filter((t) => t.prunable).reduce((s, t) => s + t.data.length, 0);
  const n = total - target;
  if (!(n >= 0 && n < K)) throw new SculptError(`structured: ${target} parameters cannot be reached by pruning ${K} kernel weights of ${total}`);
  const sparsity = n / K;
  const masks = masksOf(model, pruneOptions(sparsity, 'global'));
  const pruned = [...masks.values()].reduce((s, m) => s + m.prunedCount(), 0);
  return { masks, sparsity, parameters: total - pruned };
}

interface MethodResult {
  readonly oneShot: number;
  readonly fineTuned: number;
}

function tools(ctx: ExperimentContext): StructuredTools {
  if (!ctx.structured) throw new SculptError('experiment structured needs the shrinking and onnxruntime tools (run it from the sculpt CLI)');
  return ctx.structured;
}

function firstExamples(split: Split, n: number): Split {
  const count = Math.min(n, split.count);
  const per = split.images.length / Math.max(split.count, 1);
  return { images: split.images.subarray(0, count * per), labels: split.labels.subarray(0, count), count };
}

export const structuredExperiment: Experiment = {
  name: 'structured',
  description: 'Conv-2: channels removed by filter L1 norm or at random, fine-tuned and shrunk, against unstructured magnitude pruning at equal parameters; accuracy and onnxruntime latency',
  needsTraining: true,
  async run(ctx) {
    const t = tools(ctx);
    const sz = structuredSizes(ctx.quick);
    const data = ctx.loadData(sz.trainLimit, sz.testLimit);
    const model = await ctx.buildModel(STRUCTURED_MODEL, data, ctx.seed);
    const progress = { progressEvery: 100, onProgress: (p: BatchProgress) => { if (!p.done) ctx.log(`structured: dense epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(4)}`); } };
    const dense = trainModel(model, data.train, trainConfig(sz.epochs, ctx.seed), undefined, progress).trainAccuracy;
    const denseAcc = evaluate(model, data.test);
    ctx.log(`structured: dense ${STRUCTURED_MODEL}, ${sz.epochs} epoch(s) on ${data.train.count}: train ${dense.toFixed(4)}, test ${denseAcc.toFixed(4)}`);
    const trained = snapshotWeights(model);
    const denseParameters = [...trained.values()].reduce((s, v) => s + v.length, 0);
    const denseOnnx = await t.exportOnnx(model);
    const layers = hiddenLayers(model);
    const ft = firstExamples(data.train, sz.fineTuneExamples);
    const ftConfig = trainConfig(1, ctx.seed + 7);
    const fineTuneSteps = Math.ceil(ft.count / ftConfig.batchSize);

    const rows = [];
    const onnx: { channel: string; unstructured: string }[] = [];
    for (const [fi, fraction] of FRACTIONS.entries()) {
      const channel: Partial<Record<ChannelCriterion, MethodResult & { shrunk: number }>> = {};
      let shrunkParameters = 0;
      let groups: { layer: string; size: number; removed: number; pinned: boolean }[] = [];
      let channelOnnx = '';
      for (const criterion of ['l1', 'random'] as const) {
        restoreWeights(model, trained);
        const masks = channelMasks(model, layers, fraction, criterion, new Rng(ctx.seed * 1009 + fi + 1));
        applyMasksToModel(model, masks);
        const oneShot = evaluate(model, data.test);
        fineTune(model, ft, masks, ftConfig);
        const fineTuned = evaluate(model, data.test);
        const s = await t.shrink(model, masks);
        const shrunk = evaluate(s.model, data.test);
        s.model.dispose();
        if (shrunk !== fineTuned) throw new SculptError(`structured: the shrunk model's test accuracy ${shrunk} differs from the channel-masked model's ${fineTuned} (${criterion}, f = ${fraction})`);
        if (criterion === 'l1') {
          shrunkParameters = s.parameters.after;
          groups = s.groups;
          channelOnnx = s.onnx;
        } else if (s.parameters.after !== shrunkParameters) {
          throw new SculptError(`structured: random selection shrank to ${s.parameters.after} parameters, L1 to ${shrunkParameters} (f = ${fraction})`);
        }
        channel[criterion] = { oneShot, fineTuned, shrunk };
        ctx.log(`structured: f ${fraction} ${criterion}: one-shot ${oneShot.toFixed(4)}, fine-tuned ${fineTuned.toFixed(4)} (shrunk: ${shrunk.toFixed(4)}, ${s.parameters.after} parameters)`);
      }
      restoreWeights(model, trained);
      const u = unstructuredAtCount(model, shrunkParameters);
      if (u.parameters !== shrunkParameters) throw new SculptError(`structured: unstructured pruning left ${u.parameters} parameters, the shrunk model has ${shrunkParameters}`);
      applyMasksToModel(model, u.masks);
      const uOneShot = evaluate(model, data.test);
      fineTune(model, ft, u.masks, ftConfig);
      const uFineTuned = evaluate(model, data.test);
      onnx.push({ channel: channelOnnx, unstructured: await t.exportOnnx(model) });
      ctx.log(`structured: f ${fraction} unstructured (sparsity ${u.sparsity.toFixed(4)} of the kernels): one-shot ${uOneShot.toFixed(4)}, fine-tuned ${uFineTuned.toFixed(4)}`);
      rows.push({
        fraction,
        channels: groups.map((g) => ({ layer: g.layer, size: g.size, removed: g.removed, pinned: g.pinned })),
        parameters: { dense: denseParameters, channel: shrunkParameters, unstructured: u.parameters },
        unstructuredSparsity: u.sparsity,
        l1: channel.l1!,
        random: channel.random!,
        unstructured: { oneShot: uOneShot, fineTuned: uFineTuned },
        latencyMs: {} as Record<string, { dense: number; channel: number; unstructured: number }>,
        speedup: {} as Record<string, { channel: number; unstructured: number }>,
      });
    }
    model.dispose();

    const shape = data.imageShape;
    const latency: { batch: number; runs: number; denseMs: number }[] = [];
    for (const batch of BATCHES) {
      const ms = await t.latency([denseOnnx, ...onnx.flatMap((o) => [o.channel, o.unstructured])], shape, batch, sz.runs);
      latency.push({ batch, runs: sz.runs, denseMs: ms[0] });
      rows.forEach((r, i) => {
        const c = ms[1 + 2 * i];
        const u = ms[2 + 2 * i];
        r.latencyMs[`batch${batch}`] = { dense: ms[0], channel: c, unstructured: u };
        r.speedup[`batch${batch}`] = { channel: ms[0] / c, unstructured: ms[0] / u };
      });
      ctx.log(`structured: batch ${batch}: dense ${ms[0].toFixed(3)} ms; ${rows.map((r) => `f ${r.fraction}: channel ${r.latencyMs[`batch${batch}`].channel.toFixed(3)}, unstructured ${r.latencyMs[`batch${batch}`].unstructured.toFixed(3)}`).join('; ')}`);
    }

    const points = [
      ...rows.flatMap((r) => [
        { method: 'channel L1, fine-tuned', parameters: r.parameters.channel, accuracy: r.l1.fineTuned },
        { method: 'channel random, fine-tuned', parameters: r.parameters.channel, accuracy: r.random.fineTuned },
        { method: 'unstructured magnitude, fine-tuned', parameters: r.parameters.unstructured, accuracy: r.unstructured.fineTuned },
        { method: 'channel L1, one-shot', parameters: r.parameters.channel, accuracy: r.l1.oneShot },
        { method: 'unstructured magnitude, one-shot', parameters: r.parameters.unstructured, accuracy: r.unstructured.oneShot },
      ]),
      { method: 'dense', parameters: denseParameters, accuracy: denseAcc },
    ];
    const speedPoints = rows.flatMap((r) => BATCHES.flatMap((b) => [
      { series: `channel-shrunk, batch ${b}`, fraction: r.fraction, speedup: r.speedup[`batch${b}`].channel },
      { series: `unstructured, batch ${b}`, fraction: r.fraction, speedup: r.speedup[`batch${b}`].unstructured },
    ]));
    const pct = (x: number): string => (100 * x).toFixed(2);
    return {
      result: {
        experiment: 'structured', model: STRUCTURED_MODEL, train: data.train.count, test: data.test.count, epochs: sz.epochs,
        fineTune: { examples: ft.count, steps: fineTuneSteps, batchSize: ftConfig.batchSize, lr: ftConfig.lr },
        layers, denseTestAccuracy: denseAcc, denseParameters, parameterTolerance: 0, latency, rows,
      },
      report: {
        title: 'Channel pruning against unstructured pruning at equal parameters',
        subtitle: `${STRUCTURED_MODEL} on Fashion-MNIST, ${data.train.count} train examples, ${sz.epochs} epoch(s), fine-tuning ${fineTuneSteps} steps`,
        settings: { denseTestAccuracy: round(denseAcc), denseParameters, seed: ctx.seed },
        summary: rows.map((r) => `f ${r.fraction}: ${r.parameters.channel} parameters; fine-tuned L1 ${pct(r.l1.fineTuned)}%, random ${pct(r.random.fineTuned)}%, unstructured ${pct(r.unstructured.fineTuned)}%; batch 64 speed-up channel ${r.speedup.batch64.channel.toFixed(2)}×, unstructured ${r.speedup.batch64.unstructured.toFixed(2)}×`),
        charts: [
          { title: 'Test accuracy against remaining parameters', spec: lineChart(points, 'parameters', 'accuracy', 'method', { xLog: true }) },
          { title: 'onnxruntime speed-up over dense (1 thread)', spec: lineChart(speedPoints, 'fraction', 'speedup', 'series', { xTitle: 'fraction of channels removed' }) },
        ],
        tables: [{
          title: 'Accuracy (fine-tuned; one-shot in brackets) and latency',
          columns: ['fraction', 'parameters', 'L1 channels', 'random channels', 'unstructured', 'unstructured sparsity', ...BATCHES.flatMap((b) => [`batch ${b} dense ms`, `batch ${b} channel ms`, `batch ${b} unstructured ms`])],
          rows: rows.map((r) => [
            r.fraction, r.parameters.channel,
            `${pct(r.l1.fineTuned)} (${pct(r.l1.oneShot)})`, `${pct(r.random.fineTuned)} (${pct(r.random.oneShot)})`, `${pct(r.unstructured.fineTuned)} (${pct(r.unstructured.oneShot)})`,
            round(r.unstructuredSparsity),
            ...BATCHES.flatMap((b) => [round(r.latencyMs[`batch${b}`].dense, 3), round(r.latencyMs[`batch${b}`].channel, 3), round(r.latencyMs[`batch${b}`].unstructured, 3)]),
          ]),
        }],
      },
    };
  },
};
