/**
 * The pruning plan: turns a WeightSet (in memory) or a TensorSource (streamed) plus PruneOptions
 * into masks. Both entry points run the same engine, so they give identical masks: global
 * selections make their passes through `read` up front; everything per-tensor happens in `maskFor`.
 * Memory while streaming: one tensor's scores, two histograms, per-channel norms.
 */
import { targetPrunedCount, type CountRequest } from './counting.js';
import { getCriterion, type Criterion, type ScoreContext } from './criteria.js';
import { SculptError } from './errors.js';
import { Mask, fillNonZero } from './mask.js';
import { resolveTargets, validatePruneOptions, type PruneOptions, type TargetEntry } from './options.js';
import { matchNames } from './names.js';
import { channelLayout, channelSums, clearChannels, liveChannels, nmMaskInto, selectChannels, type ChannelSums } from './patterns.js';
import { PRUNE_ALL_KEY, countEqual, markAbove, markKept, scoresToKeys, selectSmallestKeys, type KeyThreshold } from './select.js';
import { numel, type WeightSet, type WeightTensor } from './types.js';

/** Tensors whose values can be read one at a time, possibly more than once (a file on disk). */
export interface TensorSource {
  /** Every tensor in file order; `data` may be empty. */
  readonly tensors: readonly WeightTensor[];
  /** The values of tensor `name`; may be a reused buffer valid until the next read. */
  read(name: string): Float32Array;
}

/** Before/after figures for one tensor. Pruned counts include weights that were zero before. */
export interface TensorStats {
  readonly name: string;
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly count: number;
  /** Whether the tensor was in the target set. */
  readonly pruned: boolean;
  /** Elements zero (or masked by an existing mask) before. */
  readonly zerosBefore: number;
  /** Elements zero or masked after applying the new mask. */
  readonly zerosAfter: number;
  readonly densityBefore: number;
  readonly densityAfter: number;
  /**
   * Set when this run did something to the tensor that usually breaks a model and was let
   * through: pruned to density 0 under `allowCollapse`, or output channels of the model's
   * output layer removed by channel pruning. One line, naming options as `options.NAME`.
   */
  readonly warning?: string;
}

/** Sums of TensorStats over a set of tensors. */
export interface StatsTotal {
  readonly count: number;
  readonly zerosBefore: number;
  readonly zerosAfter: number;
  readonly densityBefore: number;
  readonly densityAfter: number;
}

/** Stats of every tensor, their total, and the total over the target set alone. */
export interface PruneSummary {
  readonly stats: TensorStats[];
  readonly total: StatsTotal;
  readonly targetTotal: StatsTotal;
}

/** Masks of the pruned tensors (and existing masks carried over), with stats. */
export interface PruneResult extends PruneSummary {
  readonly masks: Map<string, Mask>;
}

/** A plan made over a TensorSource; the writer asks it for each tensor's mask in turn. */
export interface StreamingPlan {
  /** Names of the tensors in the target set, in file order. */
  readonly targets: readonly string[];
  /**
   * The new mask of tensor `name` given its values, or undefined if the tensor is untouched.
   * Without `allowCollapse`, a mask of density 0 (a layer collapse) is a SculptError naming it and
   * every later target that collapses too (read through the source), so a writer stops there.
   */
  maskFor(name: string, values: Float32Array): Mask | undefined;
  /** Stats of every tensor; tensors not yet passed to maskFor are read from the source. */
  stats(): PruneSummary;
}

/**
 * Plans pruning over a source, making any global selection passes through `source.read`.
 * `existing` masks (by name) mark elements already pruned; they only ever lose kept bits.
 */
export function planStreaming(source: TensorSource, opts: PruneOptions, existing?: Map<string, Mask>): StreamingPlan {
  return new Planner(source, opts, existing ?? new Map(), false);
}

/** Plans and computes masks for a WeightSet in memory; does not modify the weights. */
export function prune(ws: WeightSet, opts: PruneOptions, existing?: Map<string, Mask>): PruneResult {
  const source: TensorSource = { tensors: ws.tensors, read: (name) => (ws.get(name) as WeightTensor).data };
  // In memory every mask is cheap to finish, so a refused collapse names every tensor at once.
  const plan = new Planner(source, opts, existing ?? new Map(), true);
  const masks = new Map<string, Mask>();
  for (const t of ws.tensors) {
    const m = plan.maskFor(t.name, t.data);
    const old = existing?.get(t.name);
    if (m !== undefined) masks.set(t.name, m);
    else if (old !== undefined) masks.set(t.name, old.clone());
  }
  plan.refuseCollapse();
  return { masks, ...plan.stats() };
}

/** Zeros the pruned weights of `ws` in place. */
export function applyMasks(ws: WeightSet, masks: Map<string, Mask>): void {
  for (const [name, mask] of masks) {
    const t = ws.get(name);
    if (t === undefined) throw new SculptError(`mask for tensor '${name}' but the model has no such tensor`);
    mask.applyTo(t.data);
  }
}

/** Tie allotment meaning "every element equal to the threshold is pruned". */
const ALL_TIES = 0xffffffff;

interface GlobalChannels {
  /** Channels to prune per target name. */
  readonly prune: Map<string, Uint8Array>;
}

class Planner implements StreamingPlan {
  readonly targets: readonly string[];
  private readonly opts: PruneOptions;
  private readonly source: TensorSource;
  private readonly existing: Map<string, Mask>;
  private readonly criterion: Criterion;
  private readonly ctx: ScoreContext;
  private readonly byName = new Map<string, WeightTensor>();
  private readonly entries = new Map<string, TargetEntry>();
  private readonly collected = new Map<string, TensorStats>();
  private buffer = new Float32Array(0);
  /** Global unstructured threshold and the ties each tensor prunes. */
  private globalThreshold?: KeyThreshold;
  private globalNames?: string[];
  /** Whether the global threshold prunes some but not all elements equal to it. */
  private partialTies = false;
  /** Partial ties still to prune, counted off as maskFor visits global tensors in order. */
  private tiesLeft = 0;
  /** Index in globalNames of the tensor whose mask in-order counting expects next. */
  private tieCursor = 0;
  /** Every global tensor's tie share, once an out-of-order maskFor made a counting pass. */
  private tieShares?: Map<string, number>;
  private globalChannels?: GlobalChannels;
  /** Weights whose output channels are the model's outputs (channel pruning them warns). */
  private readonly outputs: Set<string>;
  /** Tensors this run would prune to density 0, refused unless allowCollapse. */
  private readonly collapsed: string[] = [];
  /** Whether a collapse is refused once every mask is made (refuseCollapse) rather than at once. */
  private deferCollapse: boolean;

  constructor(source: TensorSource, opts: PruneOptions, existing: Map<string, Mask>, deferCollapse: boolean) {
    validatePruneOptions(opts);
    this.deferCollapse = deferCollapse;
    this.opts = opts;
    this.source = source;
    this.existing = existing;
    this.criterion = getCriterion(opts.criterion);
    this.ctx = { seed: opts.seed, gradients: opts.gradients, calibration: opts.calibration };
    for (const t of source.tensors) this.byName.set(t.name, t);
    for (const [name, m] of existing) {
      const t = this.byName.get(name);
      if (t === undefined) throw new SculptError(`existing mask for tensor '${name}' but the model has no such tensor`);
      if (m.length !== numel(t.shape)) {
        throw new SculptError(`existing mask for tensor '${name}' covers ${m.length} elements, the tensor has ${numel(t.shape)}`);
      }
    }
    const targets = resolveTargets(source.tensors, opts);
    for (const e of targets) this.entries.set(e.tensor.name, e);
    this.targets = targets.map((e) => e.tensor.name);
    this.outputs = outputWeights(source.tensors, opts);
    const global = targets.filter((e) => e.scope === 'global');
    if (global.length > 0 && opts.pattern.kind === 'unstructured') this.planGlobalThreshold(global);
    if (global.length > 0 && opts.pattern.kind === 'channel') this.planGlobalChannels(global, opts.pattern.norm);
  }

  maskFor(name: string, values: Float32Array): Mask | undefined {
    const t = this.byName.get(name);
    if (t === undefined) throw new SculptError(`tensor '${name}' is not in the planned model`);
    const n = numel(t.shape);
    if (values.length !== n) {
      throw new SculptError(`tensor '${name}' has ${values.length} values but shape [${t.shape.join(', ')}] needs ${n}`);
    }
    const entry = this.entries.get(name);
    if (entry === undefined) {
      const old = this.existing.get(name);
      const zeros = old === undefined ? countZeros(values) : this.alive(name, values).prunedCount();
      this.record(t, false, zeros, zeros);
      return undefined;
    }
    const channelsBefore = this.opts.pattern.kind === 'channel' && this.outputs.has(name) ? liveChannels(t, this.alive(name, values)) : 0;
    const { mask, zerosBefore } = this.opts.pattern.kind === 'unstructured' ? this.unstructuredMask(entry, values) : this.structuredMask(entry, values);
    const zerosAfter = mask.prunedCount();
    let warning: string | undefined;
    if (n > 0 && zerosAfter === n && zerosBefore < n) {
      if (this.opts.allowCollapse === true) {
        warning = `tensor '${name}' pruned to density 0 (options.allowCollapse): its layer now ignores its input`;
      } else {
        if (!this.collapsed.includes(name)) this.collapsed.push(name);
        if (!this.deferCollapse) this.refuseCollapseAfterAll(name);
      }
    }
    if (warning === undefined && channelsBefore > 0) {
      const removed = channelsBefore - liveChannels(t, mask);
      if (removed > 0) {
        const which = this.opts.outputWeights === undefined ? 'the last weight layer, taken as the classifier' : 'an output layer';
        warning = `channel pruning removed ${removed} of ${channelLayout(t).channels} output rows of '${name}' (${which}): those outputs become constant; keep it with options.exclude`;
      }
    }
    this.record(t, true, zerosBefore, zerosAfter, warning);
    return mask;
  }

  /**
   * A streaming caller (a writer) met a collapse: make the masks of the targets it has not
   * reached yet, through `read`, so that the refusal names every collapsed tensor, not only the first.
   */
  private refuseCollapseAfterAll(first: string): void {
    this.deferCollapse = true;
    this.record(this.byName.get(first) as WeightTensor, true, 0, 0);
    for (const n of this.targets) if (!this.collected.has(n)) this.maskFor(n, this.source.read(n));
    this.refuseCollapse();
  }

  /** Throws, naming them, if masks made so far prune any tensor to density 0 (a layer collapse). */
  refuseCollapse(): void {
    const c = this.collapsed;
    if (c.length === 0) return;
    const list = c.slice(0, 6).map((x) => `'${x}'`).join(', ') + (c.length > 6 ? `, ... (${c.length} in all)` : '');
    throw new SculptError(
      `pruning would leave ${c.length === 1 ? 'tensor' : 'tensors'} ${list} with no weights (density 0, layer collapse: the layer would ignore its input); ` +
      `lower options.sparsity, keep ${c.length === 1 ? 'it' : 'them'} with options.exclude or options.overrides, or pass options.allowCollapse: true to allow it`,
    );
  }

  /** Unstructured: the global threshold, or this tensor's own selection in layer scope. */
  private unstructuredMask(entry: TargetEntry, values: Float32Array): { mask: Mask; zerosBefore: number } {
    const t = entry.tensor;
    const mask = new Mask(values.length);
    let key: number;
    let ties: number;
    let keys: Uint32Array;
    if (entry.scope === 'global') {
      const th = this.globalThreshold as KeyThreshold;
      key = th.key;
      if (!this.partialTies) {
        ties = th.key !== 0 && th.key !== PRUNE_ALL_KEY && th.ties > 0 ? ALL_TIES : 0;
        keys = this.keysFor(t, values);
      } else {
        // A counting pass re-reads the source, which may reuse the buffer `values` lives in.
        const inOrder = this.tieShares === undefined && (this.globalNames as string[])[this.tieCursor] === t.name;
        if (!inOrder && this.tieShares === undefined) values = values.slice();
        const share = this.tieShare(t.name);
        keys = this.keysFor(t, values);
        if (share === undefined) {
          this.tieCursor++;
          if (this.tiesLeft > 0) {
            const r = markKept(keys, key, this.tiesLeft, mask.words);
            this.tiesLeft -= r.tiesPruned;
            return { mask, zerosBefore: r.zeros };
          }
        }
        ties = share ?? 0;
      }
    } else {
      keys = this.keysFor(t, values);
      const dead = this.opts.fractionOfRemaining ? countEqual(keys, 0) : 0;
      const k = targetPrunedCount(this.request(entry), values.length, dead, `tensor '${t.name}'`);
      const th = selectSmallestKeys({ length: 1, name: () => t.name, keys: () => keys }, k);
      key = th.key;
      ties = th.ties === th.equal ? ALL_TIES : th.ties;
    }
    if (key === 0 || key === PRUNE_ALL_KEY || ties === 0 || ties === ALL_TIES) {
      // No partial ties: one branch-free comparison per element.
      const above = key === PRUNE_ALL_KEY ? 0x7fffffff : ties === 0 && key > 0 ? key - 1 : key;
      return { mask, zerosBefore: markAbove(keys, above, mask.words) };
    }
    return { mask, zerosBefore: markKept(keys, key, ties, mask.words).zeros };
  }

  /** N:M and channel patterns. */
  private structuredMask(entry: TargetEntry, values: Float32Array): { mask: Mask; zerosBefore: number } {
    const t = entry.tensor;
    const p = this.opts.pattern;
    const mask = this.alive(t.name, values);
    const zerosBefore = mask.prunedCount();
    if (p.kind === 'channel' && entry.scope === 'global') {
      clearChannels(t, (this.globalChannels as GlobalChannels).prune.get(t.name) as Uint8Array, mask);
      return { mask, zerosBefore };
    }
    const scores = this.scoresFor(t, values);
    if (p.kind === 'nm') {
      if (this.criterion.scoresAreMagnitudes !== true) assertFinite(t.name, scores);
      nmMaskInto(t, scores, mask, p.n, p.m, mask);
    } else if (p.kind === 'channel') {
      const sums = channelSums(t, scores, mask, p.norm);
      let dead = 0;
      for (let c = 0; c < sums.alive.length; c++) if (sums.alive[c] === 0) dead++;
      const k = targetPrunedCount(this.request(entry), sums.alive.length, dead, `the channels of tensor '${t.name}'`);
      clearChannels(t, selectChannels(sums, k), mask);
    }
    return { mask, zerosBefore };
  }

  stats(): PruneSummary {
    for (const t of this.source.tensors) {
      if (!this.collected.has(t.name)) this.maskFor(t.name, this.source.read(t.name));
    }
    const stats = this.source.tensors.map((t) => this.collected.get(t.name) as TensorStats);
    return { stats, total: sumStats(stats), targetTotal: sumStats(stats.filter((s) => s.pruned)) };
  }

  /** One threshold over all global tensors: two passes via `read` (one more first for fractionOfRemaining). */
  private planGlobalThreshold(global: TargetEntry[]): void {
    const names = global.map((e) => e.tensor.name);
    const keysOf = (i: number): Uint32Array => this.keysFor(global[i].tensor, this.source.read(names[i]));
    let n = 0;
    for (const e of global) n += numel(e.tensor.shape);
    let dead = 0;
    if (this.opts.fractionOfRemaining) for (let i = 0; i < global.length; i++) dead += countEqual(keysOf(i), 0);
    const k = targetPrunedCount(this.request(global[0]), n, dead, 'the global target set');
    const th = selectSmallestKeys({ length: global.length, name: (i) => names[i], keys: keysOf }, k);
    this.globalThreshold = th;
    this.globalNames = names;
    this.partialTies = th.key !== 0 && th.key !== PRUNE_ALL_KEY && th.ties > 0 && th.ties < th.equal;
    this.tiesLeft = this.partialTies ? th.ties : 0;
  }

  /**
   * Partial ties (some elements equal to the global threshold pruned, some kept) are handed out in
   * visiting order. When maskFor follows that order (a writer going through the file) they are
   * counted off as it goes; otherwise one counting pass through `read` fixes every tensor's share,
   * so masks never depend on the order of maskFor calls. Returns the share, or undefined for
   * "count off as you go".
   */
  private tieShare(name: string): number | undefined {
    const names = this.globalNames as string[];
    if (this.tieShares === undefined && names[this.tieCursor] === name) return undefined;
    if (this.tieShares === undefined) {
      const th = this.globalThreshold as KeyThreshold;
      const shares = new Map<string, number>();
      let left = th.ties;
      for (let i = 0; i < names.length && left > 0; i++) {
        const t = this.byName.get(names[i]) as WeightTensor;
        const c = Math.min(left, countEqual(this.keysFor(t, this.source.read(names[i])), th.key));
        shares.set(names[i], c);
        left -= c;
      }
      this.tieShares = shares;
    }
    return this.tieShares.get(name) ?? 0;
  }

  /**
   * Global channel pruning: channels ranked across tensors by their size-normalised norm,
   * Σ|s|^n / size (the monotone equivalent of RMS for n=2, mean |s| for n=1; size counts pruned
   * elements too), smallest first, ties in tensor then channel order. Takes the prefix whose
   * pruned-weight total comes closest to the target count (the shorter one on a tie).
   */
  private planGlobalChannels(global: TargetEntry[], norm: 1 | 2): void {
    const sums: ChannelSums[] = [];
    let n = 0;
    let dead = 0;
    for (const e of global) {
      const t = e.tensor;
      const values = this.source.read(t.name);
      const scores = this.scoresFor(t, values);
      const s = channelSums(t, scores, this.alive(t.name, values), norm);
      sums.push(s);
      const size = numel(t.shape);
      n += size;
      let live = 0;
      for (let c = 0; c < s.alive.length; c++) live += s.alive[c];
      dead += size - live;
    }
    const k = targetPrunedCount(this.request(global[0]), n, dead, 'the global target set');
    const need = k - dead;
    const cand: { e: number; c: number; score: number }[] = [];
    global.forEach((e, ei) => {
      const size = channelLayout(e.tensor).reduction;
      const s = sums[ei];
      for (let c = 0; c < s.sums.length; c++) if (s.alive[c] > 0) cand.push({ e: ei, c, score: s.sums[c] / size });
    });
    cand.sort((a, b) => a.score - b.score || a.e - b.e || a.c - b.c);
    const prune = global.map((_, ei) => {
      const flags = new Uint8Array(sums[ei].alive.length);
      for (let c = 0; c < flags.length; c++) if (sums[ei].alive[c] === 0) flags[c] = 1;
      return flags;
    });
    let acc = 0;
    for (const x of cand) {
      const size = sums[x.e].alive[x.c];
      if (acc + size <= need) {
        prune[x.e][x.c] = 1;
        acc += size;
        continue;
      }
      if (acc + size - need < need - acc) prune[x.e][x.c] = 1;
      break;
    }
    this.globalChannels = { prune: new Map(global.map((e, ei) => [e.tensor.name, prune[ei]])) };
  }

  private request(e: TargetEntry): CountRequest {
    return {
      sparsity: e.sparsity,
      count: e.overridden ? undefined : this.opts.count,
      fractionOfRemaining: this.opts.fractionOfRemaining,
    };
  }

  /** Selection keys for a tensor: its own float bits for magnitude, else shifted score bits. */
  private keysFor(t: WeightTensor, values: Float32Array): Uint32Array {
    if (this.criterion.scoresAreMagnitudes === true && !this.existing.has(t.name)) {
      return new Uint32Array(values.buffer, values.byteOffset, values.length);
    }
    const scores = this.scoresFor(t, values);
    const keys = new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
    scoresToKeys(t.name, values, scores, this.existing.get(t.name), keys);
    return keys;
  }

  /** Scores of one tensor in the planner's reused buffer; NaN/Inf weights are refused. */
  private scoresFor(t: WeightTensor, values: Float32Array): Float32Array {
    if (this.buffer.length < values.length) this.buffer = new Float32Array(values.length);
    const out = this.buffer.subarray(0, values.length);
    assertFinite(t.name, values);
    this.criterion.scoreInto(t, values, out, this.ctx);
    return out;
  }

  /** Elements not yet pruned: non-zero and kept by any existing mask. */
  private alive(name: string, values: Float32Array): Mask {
    const m = new Mask(values.length);
    fillNonZero(values, m.words);
    const old = this.existing.get(name);
    if (old !== undefined) for (let i = 0; i < m.words.length; i++) m.words[i] &= old.words[i];
    return m;
  }

  private record(t: WeightTensor, pruned: boolean, zerosBefore: number, zerosAfter: number, warning?: string): void {
    const count = numel(t.shape);
    this.collected.set(t.name, {
      ...(warning !== undefined && { warning }),
      name: t.name,
      shape: t.shape,
      count,
      pruned,
      zerosBefore,
      zerosAfter,
      densityBefore: density(count, zerosBefore),
      densityAfter: density(count, zerosAfter),
    });
  }
}

/** `options.outputWeights` matched against the tensors, or the last tensor prunable by default. */
function outputWeights(tensors: readonly WeightTensor[], opts: PruneOptions): Set<string> {
  const out = new Set<string>();
  if (opts.outputWeights === undefined) {
    for (let i = tensors.length - 1; i >= 0; i--) {
      if (tensors[i].prunable) {
        out.add(tensors[i].name);
        break;
      }
    }
    return out;
  }
  const all = tensors.map((t) => t.name);
  for (const p of opts.outputWeights) {
    const m = matchNames(p, all);
    if (m.length === 0) throw new SculptError(`options.outputWeights '${p}' matches no tensor ('sculpt inspect' lists them)`);
    for (const n of m) out.add(n);
  }
  return out;
}

function density(count: number, zeros: number): number {
  return count === 0 ? 1 : 1 - zeros / count;
}

function sumStats(stats: readonly TensorStats[]): StatsTotal {
  let count = 0;
  let zerosBefore = 0;
  let zerosAfter = 0;
  for (const s of stats) {
    count += s.count;
    zerosBefore += s.zerosBefore;
    zerosAfter += s.zerosAfter;
  }
  return { count, zerosBefore, zerosAfter, densityBefore: density(count, zerosBefore), densityAfter: density(count, zerosAfter) };
}

function countZeros(values: Float32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return countEqual(bits, 0);
}

function assertFinite(name: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new SculptError(`tensor '${name}' has NaN or infinite weights or scores; fix or drop it (e.g. --exclude '${name}') before pruning`);
    }
  }
}
