/**
 * Structural channel pruning (`sculpt prune --pattern channel --shrink`): the model's channel
 * graph groups coupled channel axes; each unpinned group's channels are ranked by the L1 or L2
 * norm of every weight slice they index (producing and consuming weights alike), round(S·G) of
 * them go (each group keeps at least one; an attention's group loses round(S·H) whole heads), and the model is written dense and smaller. With
 * `mask: true` the same selection is written as a channel-masked model instead (producing weights
 * zeroed, with their biases and norms), the reference the shrunk model must compute exactly. With
 * `removed` the selection is given (the channels training masks removed, `channelsRemovedByMasks`)
 * and the input is taken as already masked: the shrunk model computes what the input computes.
 */
import { countToPrune } from '../core/counting.js';
import { SculptError } from '../core/errors.js';
import { selectChannels } from '../core/patterns.js';
import { calibrationIndex } from '../core/criteria-wanda.js';
import { numel, type WeightTensor } from '../core/types.js';
import { assertFinite } from '../formats/index.js';
import type { ChannelGraph, ChannelGroup } from '../formats/onnx-depgraph.js';
import { sliceChannel, type PeriodicSlice } from '../formats/tfjs-depgraph.js';
import type { ShrunkTensor } from '../formats/onnx-shrink.js';
import { openModel, type ModelFile, type ModelFormat } from '../formats/registry.js';
import type { ShrunkModel } from '../train/methods.js';
import type { PruneOptions } from '../core/options.js';
import { calibrationInputNorms } from './calibration-prune.js';
import type { CalibrationSource } from './calibration-onnx.js';
import { withFileContext, withFileContextAsync } from './model-file.js';

export interface ShrinkOptions {
  /** Fraction of each group's channels to remove (layer scope) or of all unpinned channels (global). */
  readonly sparsity: number;
  /** 1: Σ|w|, 2: Σw² over the group's weight slices. */
  readonly norm: 1 | 2;
  /** layer: round(S·G) per group; global: round(S·ΣG) over all groups, ranked by importance relative to the group's mean. */
  readonly scope: 'layer' | 'global';
  /** Write the channel-masked model (same selection, nothing removed) instead of the shrunk one. */
  readonly mask?: boolean;
  /**
   * An explicit selection instead of the norm ranking (group id → a flag per channel; flags of
   * pinned groups are ignored). The input is then taken as channel-masked already: what a removed
   * channel carries is read from its stored bias and norms. TF.js layers models only.
   */
  readonly removed?: (graph: ChannelGraph, shape: (tensor: string) => readonly number[]) => ReadonlyMap<number, Uint8Array>;
  /** TF.js: replace an output folder that holds a model only (model.json and weights.bin). */
  readonly replace?: boolean;
  /**
   * How channels are ranked: `magnitude` (default) by the norm of every weight slice; `bn-scale`
   * (network slimming) by |γ| of the group's BatchNorm scales; `wanda` (structured Wanda, as in
   * FLAP's Wanda-sp) by Σ|w|·‖x‖₂ over the consuming weights' slices, with `inputNorms` from
   * calibration data. A group without BatchNorm (or without a calibrated consumer) is ranked by
   * its norm, and the result's `notes` say how many.
   */
  readonly importance?: ShrinkImportance;
  /** `wanda`: per consuming weight, ‖x‖₂ of each input feature (or of each element, for Conv weights). */
  readonly inputNorms?: ReadonlyMap<string, Float32Array>;
}

export const SHRINK_IMPORTANCE = ['magnitude', 'bn-scale', 'wanda'] as const;
export type ShrinkImportance = (typeof SHRINK_IMPORTANCE)[number];

export interface GroupInfo {
  readonly id: number;
  readonly size: number;
  /** Channels removed (0 for pinned groups). */
  readonly removed: number;
  readonly pinned: readonly string[];
  readonly producers: readonly string[];
  /** Tensors (with axis) whose entries the group's channels index. */
  readonly tensors: readonly string[];
  /** Attention heads: channels per head (a head goes whole). */
  readonly headSize?: number;
  /** A fused Q/K/V projection: the group's parts (3), channel c of each one channel. */
  readonly tied?: number;
}

export interface ShrinkFileResult {
  readonly input: string;
  readonly output: string;
  readonly format: ModelFormat;
  readonly mode: 'shrink' | 'mask';
  readonly options: { readonly sparsity: number; readonly norm: 1 | 2; readonly scope: 'layer' | 'global'; readonly importance: ShrinkImportance };
  /** What the ranking could not do as asked (groups ranked by their norm instead). */
  readonly notes: readonly string[];
  readonly groups: readonly GroupInfo[];
  readonly channels: { readonly before: number; readonly removed: number };
  readonly parameters: { readonly before: number; readonly after: number };
  readonly tensors: readonly ShrunkTensor[];
}

/** The channel groups of a model file, without pruning anything (`sculpt inspect --groups`). */
export function channelGroupsOfFile(file: string): GroupInfo[] {
  const model = openModel(file);
  try {
    const graph = requireGraph(model, true);
    return graph.groups.map((g) => describeGroup(g, 0));
  } finally {
    model.close();
  }
}

/** Shrinks (or masks) `input` into `output`; never touches the input. */
export function shrinkFile(input: string, output: string, opts: ShrinkOptions): ShrinkFileResult {
  if (!(opts.sparsity >= 0 && opts.sparsity < 1)) throw new SculptError(`--sparsity must be in [0, 1), got ${opts.sparsity}`);
  const model = openModel(input);
  try {
    if (!(opts.replace && !opts.mask && model.format === 'tfjs')) model.checkOutput(output);
    return withFileContext(input, () => shrinkModel(model, output, opts));
  } finally {
    model.close();
  }
}

/**
 * `shrinkFile` with `--criterion wanda`: the consuming weights of every shrinkable group are
 * calibrated on `source` (ONNX models), then ranked by Σ|w|·‖x‖₂.
 */
export async function shrinkFileWithCalibration(input: string, output: string, opts: ShrinkOptions, source: CalibrationSource, prune: PruneOptions): Promise<ShrinkFileResult & { calibration: { samples: number; notes: readonly string[] } }> {
  if (!(opts.sparsity >= 0 && opts.sparsity < 1)) throw new SculptError(`--sparsity must be in [0, 1), got ${opts.sparsity}`);
  const model = openModel(input);
  try {
    model.checkOutput(output);
    if (!model.onnx) throw new SculptError(`${input}: --criterion wanda with --shrink calibrates ONNX models only (this is a ${model.format} model); use --criterion magnitude or bn-scale`);
    return await withFileContextAsync(input, async () => {
      const graph = requireGraph(model);
      const consumers = new Set(graph.groups.filter((g) => g.pinned.length === 0).flatMap((g) => g.slices.filter((s) => s.kind === 'in').map((s) => s.tensor)));
      const only = { ...prune, exclude: model.tensors.map((t) => t.name).filter((n) => !consumers.has(n)), include: [...consumers] };
      const cal = await calibrationInputNorms(model.onnx!, only, source);
      const result = shrinkModel(model, output, { ...opts, importance: 'wanda', inputNorms: cal.norms });
      return { ...result, calibration: { samples: cal.samples, notes: cal.notes } };
    });
  } finally {
    model.close();
  }
}

function requireGraph(model: ModelFile, inspecting = false, asStored = false): ChannelGraph {
  if (!model.channelGraph || !model.writeShrunk) {
    const what = model.format === 'tfjs' ? 'a TF.js model without a layers topology' : `a ${model.format} model`;
    throw new SculptError(inspecting
      ? `${model.path}: --groups works on ONNX and TF.js layers models only for now (this is ${what})`
      : `${model.path}: --shrink works on ONNX and TF.js layers models only for now (this is ${what}); drop --shrink to mask channels instead`);
  }
  if (asStored && model.format !== 'tfjs') throw new SculptError(`${model.path}: an explicit channel selection is supported for TF.js layers models only`);
  return model.channelGraph({ asStored });
}

function describeGroup(g: ChannelGroup, removed: number): GroupInfo {
  const tensors = [...new Set(g.slices.map((s) => `${s.tensor}[${s.axis}]`))];
  return { id: g.id, size: g.size, removed, pinned: g.pinned, producers: g.producers, tensors, ...(g.headSize !== undefined && { headSize: g.headSize }), ...(g.tied !== undefined && { tied: g.tied }) };
}

function shrinkModel(model: ModelFile, output: string, opts: ShrinkOptions): ShrinkFileResult {
  const asStored = opts.removed !== undefined;
  const graph = requireGraph(model, false, asStored);
  assertFinite(model, model.path);
  const free = graph.groups.filter((g) => g.pinned.length === 0);
  if (free.length === 0) {
    const why = graph.groups.length === 0 ? 'no Conv, Gemm or MatMul reads a float32 weight of its own directly (weights behind Transpose or DequantizeLinear, shared, quantized or in subgraphs are not shrunk)'
      : graph.groups.length === 1 ? `its only channel group is pinned (${graph.groups[0].pinned[0]})`
      : `all ${graph.groups.length} channel groups are pinned (see sculpt inspect --groups)`;
    throw new SculptError(`${model.path}: nothing can be shrunk: ${why}`);
  }
  const scores = new Map<number, Float64Array>();
  const cache = new Map<string, Float32Array>();
  const values = (name: string): Float32Array => {
    let v = cache.get(name);
    // A copy: `read` may reuse its buffer (TF.js does), and several tensors are held at once.
    if (!v) cache.set(name, (v = model.read(name).slice()));
    return v;
  };
  const shape = (name: string): readonly number[] => model.tensors.find((t) => t.name === name)!.shape;
  const importance = opts.importance ?? 'magnitude';
  if (importance === 'wanda' && !opts.inputNorms) throw new SculptError('--criterion wanda with --shrink needs calibration data: pass --calibration KIND:PATH');
  let fallbacks = 0;
  for (const g of free) {
    const data = importance === 'bn-scale' ? scaleImportance(g, graph, values)
      : importance === 'wanda' ? wandaImportance(g, opts.inputNorms!, values, (name) => model.tensors.find((t) => t.name === name))
      : undefined;
    if (importance !== 'magnitude' && !data) fallbacks++;
    scores.set(g.id, data ?? groupImportance(g, opts.norm, values, shape));
  }
  const notes = fallbacks === 0 ? [] : [`${fallbacks} of ${free.length} shrinkable groups have no ${importance === 'bn-scale' ? 'BatchNorm scale' : 'calibrated consuming weight'}: ranked by their L${opts.norm} norm`];
  // Groups of grouped Convs lose the same number in every block: per block, whatever the scope.
  const even = free.filter((g) => g.evenBlock !== undefined);
  // Attention heads go whole: round(S·H) heads of each attention, whatever the scope.
  const heads = free.filter((g) => g.headSize !== undefined);
  const rest = free.filter((g) => g.evenBlock === undefined && g.headSize === undefined);
  let removed: Map<number, Uint8Array>;
  if (opts.removed) {
    const given = opts.removed(graph, shape);
    removed = new Map(free.filter((g) => given.has(g.id)).map((g) => [g.id, given.get(g.id)!.slice()]));
    for (const [id, flags] of removed) {
      const g = free.find((x) => x.id === id)!;
      if (flags.length !== g.size) throw new SculptError(`${model.path}: the selection for channel group ${id} has ${flags.length} flags for ${g.size} channels`);
      // Only channels whose producing weights are all zero are masked already; the others stay.
      for (const s of g.slices as readonly PeriodicSlice[]) {
        if (s.kind !== 'out') continue;
        const dims = shape(s.tensor);
        const w = values(s.tensor);
        const stride = numel(dims.slice(s.axis + 1));
        for (let i = 0; i < w.length; i++) {
          if (w[i] === 0) continue;
          const c = sliceChannel(s, Math.floor(i / stride) % dims[s.axis]);
          if (c >= 0) flags[c] = 0;
        }
      }
      // A group keeps a channel; keeping one the masks emptied is still exact (it computes what it did).
      if (flags.every((f) => f === 1)) flags[0] = 0;
    }
  } else {
    removed = opts.scope === 'global' ? selectGlobal(rest, scores, opts.sparsity) : selectPerGroup(rest, scores, opts.sparsity);
    for (const g of even) removed.set(g.id, selectPerBlock(g, scores.get(g.id)!, opts.sparsity));
    for (const g of heads) removed.set(g.id, selectHeads(g, scores.get(g.id)!, opts.sparsity));
  }
  cache.clear();
  keepEverySplitOutput(graph, removed, scores);
  const groups = graph.groups.map((g) => describeGroup(g, removed.get(g.id)?.reduce((s, f) => s + f, 0) ?? 0));
  const channels = { before: graph.groups.reduce((s, g) => s + g.size, 0), removed: groups.reduce((s, g) => s + g.removed, 0) };
  const base = { input: model.path, output, format: model.format, options: { sparsity: opts.sparsity, norm: opts.norm, scope: opts.scope, importance }, notes, groups, channels };
  if (opts.mask) {
    const masks = maskedSelection(graph, removed, shape);
    model.write(output, { maskFor: (name) => masks.get(name), removeChannels: true });
    const parameters = model.tensors.reduce((s, t) => s + numel(t.shape), 0);
    return { ...base, mode: 'mask', parameters: { before: parameters, after: parameters }, tensors: [] };
  }
  const report = model.writeShrunk!(output, removed, { asStored, replace: opts.replace === true });
  return { ...base, mode: 'shrink', parameters: { before: report.parametersBefore, after: report.parametersAfter }, tensors: report.tensors };
}

/** Per group channel: Σ|w| (norm 1) or Σw² (norm 2) over every weight slice ('out' and 'in') of the group. */
function groupImportance(g: ChannelGroup, norm: 1 | 2, values: (name: string) => Float32Array, shape: (name: string) => readonly number[]): Float64Array {
  const score = new Float64Array(g.size);
  for (const s of g.slices as readonly PeriodicSlice[]) {
    if (s.kind === 'param') continue;
    const dims = shape(s.tensor);
    const w = values(s.tensor);
    const stride = numel(dims.slice(s.axis + 1));
    const n = dims[s.axis];
    for (let i = 0; i < w.length; i++) {
      const c = sliceChannel(s, Math.floor(i / stride) % n);
      if (c < 0) continue;
      const v = w[i];
      score[c] += norm === 1 ? Math.abs(v) : v * v;
    }
  }
  return score;
}

/** Network slimming: Σ|γ| per channel over the group's BatchNorm scales; undefined when it has none. */
function scaleImportance(g: ChannelGroup, graph: ChannelGraph, values: (name: string) => Float32Array): Float64Array | undefined {
  const score = new Float64Array(g.size);
  let found = false;
  for (const s of g.slices as readonly PeriodicSlice[]) {
    const stored = s.kind === 'param' ? graph.normScales?.get(s.tensor) : undefined;
    if (stored === undefined) continue;
    const gamma = values(stored);
    for (let p = 0; p < gamma.length; p++) {
      const c = sliceChannel(s, p);
      if (c >= 0) score[c] += Math.abs(gamma[p]);
    }
    found = true;
  }
  return found ? score : undefined;
}

/** Structured Wanda: Σ|w|·‖x‖₂ per channel over the group's calibrated consuming slices; undefined when it has none. */
function wandaImportance(g: ChannelGroup, norms: ReadonlyMap<string, Float32Array>, values: (name: string) => Float32Array, tensor: (name: string) => WeightTensor | undefined): Float64Array | undefined {
  const score = new Float64Array(g.size);
  let found = false;
  for (const s of g.slices as readonly PeriodicSlice[]) {
    const n = s.kind === 'in' ? norms.get(s.tensor) : undefined;
    const t = tensor(s.tensor);
    if (!n || !t) continue;
    const w = values(s.tensor);
    const at = calibrationIndex(t, w.length, n.length, 'input norms');
    const stride = numel(t.shape.slice(s.axis + 1));
    for (let i = 0; i < w.length; i++) {
      const c = sliceChannel(s, Math.floor(i / stride) % t.shape[s.axis]);
      if (c >= 0) score[c] += Math.abs(w[i]) * n[at(i)];
    }
    found = true;
  }
  return found ? score : undefined;
}

/** round(S·G) channels of each group (half to even), at most G − 1: smallest importance first, ties to the lower index. */
function selectPerGroup(groups: readonly ChannelGroup[], scores: ReadonlyMap<number, Float64Array>, sparsity: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const g of groups) {
    const k = Math.min(countToPrune(sparsity, g.size), g.size - 1);
    out.set(g.id, selectChannels({ sums: scores.get(g.id)!, alive: new Float64Array(g.size).fill(1) }, k));
  }
  return out;
}

/** round(S·B) channels (at most B − 1) of every block of B = `evenBlock` channels: smallest importance first, ties to the lower index. */
function selectPerBlock(g: ChannelGroup, score: Float64Array, sparsity: number): Uint8Array {
  const B = g.evenBlock!;
  const k = Math.min(countToPrune(sparsity, B), B - 1);
  const out = new Uint8Array(g.size);
  for (let b = 0; b < g.size; b += B) {
    const flags = selectChannels({ sums: score.subarray(b, b + B), alive: new Float64Array(B).fill(1) }, k);
    out.set(flags, b);
  }
  return out;
}

/**
 * round(S·H) of the group's H heads (at most H − 1), by the sum of their channels' importance:
 * smallest first, ties to the lower head. A fused projection's group holds `tied` parts whose
 * channel c is one channel: its heads are counted in one part and go from every part.
 */
function selectHeads(g: ChannelGroup, score: Float64Array, sparsity: number): Uint8Array {
  const d = g.headSize!;
  const part = g.size / (g.tied ?? 1);
  const H = part / d;
  const head = (c: number): number => Math.floor((c % part) / d);
  const sums = new Float64Array(H);
  for (let c = 0; c < g.size; c++) sums[head(c)] += score[c];
  const k = Math.min(countToPrune(sparsity, H), H - 1);
  const heads = selectChannels({ sums, alive: new Float64Array(H).fill(1) }, k);
  const out = new Uint8Array(g.size);
  for (let c = 0; c < g.size; c++) out[c] = heads[head(c)];
  return out;
}

/**
 * round(S·ΣG) channels over all groups, ranked by importance divided by the group's mean (so wide
 * and narrow, deep and shallow groups compare); each group keeps at least one channel. Ties: lower
 * group id, then lower channel.
 */
function selectGlobal(groups: readonly ChannelGroup[], scores: ReadonlyMap<number, Float64Array>, sparsity: number): Map<number, Uint8Array> {
  const total = groups.reduce((s, g) => s + g.size, 0);
  const k = countToPrune(sparsity, total);
  const entries: { g: ChannelGroup; c: number; r: number }[] = [];
  for (const g of groups) {
    const s = scores.get(g.id)!;
    const mean = s.reduce((a, b) => a + b, 0) / g.size;
    for (let c = 0; c < g.size; c++) entries.push({ g, c, r: mean > 0 ? s[c] / mean : 0 });
  }
  entries.sort((a, b) => a.r - b.r || a.g.id - b.g.id || a.c - b.c);
  const out = new Map<number, Uint8Array>(groups.map((g) => [g.id, new Uint8Array(g.size)]));
  const left = new Map<number, number>(groups.map((g) => [g.id, g.size]));
  let done = 0;
  for (const e of entries) {
    if (done === k) break;
    if (left.get(e.g.id)! <= 1) continue;
    out.get(e.g.id)![e.c] = 1;
    left.set(e.g.id, left.get(e.g.id)! - 1);
    done++;
  }
  return out;
}

/**
 * A Split output or a channel range cut by a Slice must keep a channel (a zero-sized tensor would
 * reach its consumers): where the selection removed all of one, its most important channel stays.
 */
function keepEverySplitOutput(graph: ChannelGraph, removed: Map<number, Uint8Array>, scores: ReadonlyMap<number, Float64Array>): void {
  for (const segs of [...graph.splits.flatMap((sp) => sp.outputs), ...(graph.cuts ?? [])]) {
    const kept = segs.some((s) => {
      const flags = removed.get(s.group);
      return !flags || flags.subarray(s.start, s.start + s.length).some((f) => f === 0);
    });
    if (kept) continue;
    let best: { group: number; c: number; score: number } | undefined;
    for (const s of segs) {
      for (let c = s.start; c < s.start + s.length; c++) {
        const score = scores.get(s.group)![c];
        if (!best || score > best.score) best = { group: s.group, c, score };
      }
    }
    if (best) removed.get(best.group)![best.c] = 0;
  }
}

/** Masks that zero the producing slices ('out') of removed channels: the channel-masked model's weights. */
function maskedSelection(graph: ChannelGraph, removed: ReadonlyMap<number, Uint8Array>, shape: (name: string) => readonly number[]): Map<string, { length: number; get(i: number): boolean }> {
  const keep = new Map<string, Uint8Array>();
  for (const g of graph.groups) {
    const flags = removed.get(g.id);
    if (!flags || g.pinned.length) continue;
    for (const s of g.slices as readonly PeriodicSlice[]) {
      if (s.kind !== 'out') continue;
      const dims = shape(s.tensor);
      let k = keep.get(s.tensor);
      if (!k) keep.set(s.tensor, (k = new Uint8Array(numel(dims)).fill(1)));
      const stride = numel(dims.slice(s.axis + 1));
      const n = dims[s.axis];
      for (let i = 0; i < k.length; i++) {
        const c = sliceChannel(s, Math.floor(i / stride) % n);
        if (c >= 0 && flags[c]) k[i] = 0;
      }
    }
  }
  return new Map([...keep].map(([name, k]) => [name, { length: k.length, get: (i: number) => k[i] === 1 }]));
}

/**
 * The selection a channel-masked model's masks made (`shrinkFile`'s `removed`): channel c of a group
 * is removed when every producing ('out') weight slice of the group has all its entries of c pruned
 * by `masks` (tensor name → mask over its entries; a producer without a mask keeps every channel).
 */
export function channelsRemovedByMasks(masks: ReadonlyMap<string, { get(i: number): boolean }>): (graph: ChannelGraph, shape: (tensor: string) => readonly number[]) => Map<number, Uint8Array> {
  return (graph, shape) => {
    const out = new Map<number, Uint8Array>();
    for (const g of graph.groups) {
      const outs = (g.slices as readonly PeriodicSlice[]).filter((s) => s.kind === 'out');
      if (outs.length === 0 || outs.some((s) => !masks.has(s.tensor))) continue;
      const covered = new Uint8Array(g.size);
      const kept = new Uint8Array(g.size);
      for (const s of outs) {
        const dims = shape(s.tensor);
        const mask = masks.get(s.tensor)!;
        const stride = numel(dims.slice(s.axis + 1));
        const n = dims[s.axis];
        covered.fill(1, s.start, s.start + s.length);
        for (let i = 0; i < numel(dims); i++) {
          if (!mask.get(i)) continue;
          const c = sliceChannel(s, Math.floor(i / stride) % n);
          if (c >= 0) kept[c] = 1;
        }
      }
      const flags = covered.map((v, c) => (v && !kept[c] ? 1 : 0));
      out.set(g.id, flags);
    }
    return out;
  };
}

/**
 * `imp`/`gmp --pattern channel --shrink`: writes the masked model folder `from` without exactly
 * the channels `masks` emptied (no fresh ranking) as `folder`, replacing an earlier run's; the
 * shrunk model computes what `from` computes.
 */
export function shrinkMaskedFolder(from: string, folder: string, masks: ReadonlyMap<string, { get(i: number): boolean }>): ShrunkModel {
  const r = shrinkFile(from, folder, { sparsity: 0, norm: 2, scope: 'layer', removed: channelsRemovedByMasks(masks), replace: true });
  return { folder, from, parameters: r.parameters, channels: r.channels, groups: r.groups.length, pinned: r.groups.filter((g) => g.pinned.length > 0).length };
}
