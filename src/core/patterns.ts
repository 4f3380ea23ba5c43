/**
 * Sparsity patterns: which shapes of weight groups are removed together.
 * - unstructured: any element (the selection lives in select.ts and plan.ts);
 * - N:M: in every group of M consecutive weights along the reduction dimension keep the N best;
 * - channel: whole output channels with the smallest Ln norm, as torch's ln_structured.
 * Tie rule everywhere: among equal scores the earlier position (or channel) is pruned first.
 */
import { SculptError } from './errors.js';
import type { Mask } from './mask.js';
import { numel, type WeightTensor } from './types.js';

/** A parsed `--pattern`. */
export type PatternSpec =
  | { readonly kind: 'unstructured' }
  | { readonly kind: 'nm'; readonly n: number; readonly m: number }
  | { readonly kind: 'channel'; readonly norm: 1 | 2 };

const ACCEPTED = "'unstructured', 'N:M' (e.g. '2:4'), 'channel', 'channel:l1' or 'channel:l2'";

/** Parses `--pattern`: unstructured | N:M | channel | channel:l1 | channel:l2. */
export function parsePattern(text: string): PatternSpec {
  const t = text.trim().toLowerCase();
  if (t === 'unstructured') return { kind: 'unstructured' };
  if (t === 'channel' || t === 'channel:l2' || t === 'channel:2') return { kind: 'channel', norm: 2 };
  if (t === 'channel:l1' || t === 'channel:1') return { kind: 'channel', norm: 1 };
  const nm = /^(\d+):(\d+)$/.exec(t);
  if (nm !== null) {
    const n = Number(nm[1]);
    const m = Number(nm[2]);
    if (m < 1 || m > 1024 || n < 1 || n > m) {
      throw new SculptError(`options.pattern '${text}': N:M needs 1 <= N <= M <= 1024, e.g. '2:4'`);
    }
    return { kind: 'nm', n, m };
  }
  throw new SculptError(`unknown options.pattern '${text}'; accepted: ${ACCEPTED}`);
}

/** `p` itself if it is a well-formed PatternSpec; otherwise a SculptError naming `options.pattern`. */
export function checkPattern(p: unknown): PatternSpec {
  if (typeof p === 'string') {
    parsePattern(p); // an unknown text is reported as such
    throw new SculptError(`options.pattern must be a PatternSpec, got the string '${p}'; use parsePattern('${p}') (or pass it to pruneOptions, which parses text)`);
  }
  const spec = p as Partial<{ kind: unknown; n: unknown; m: unknown; norm: unknown }> | null;
  const ok = typeof spec === 'object' && spec !== null && (
    spec.kind === 'unstructured'
    || (spec.kind === 'channel' && (spec.norm === 1 || spec.norm === 2))
    || (spec.kind === 'nm' && Number.isInteger(spec.n) && Number.isInteger(spec.m) && (spec.n as number) >= 1 && (spec.n as number) <= (spec.m as number) && (spec.m as number) <= 1024));
  if (!ok) {
    const shown = typeof spec === 'object' && spec !== null ? JSON.stringify(spec) : String(spec);
    throw new SculptError(`options.pattern ${shown} is not a pattern: use { kind: 'unstructured' }, { kind: 'nm', n, m } with 1 <= n <= m <= 1024, { kind: 'channel', norm: 1 | 2 }, or text: ${ACCEPTED}`);
  }
  return p as PatternSpec;
}

/** The canonical text of a pattern (parsePattern(formatPattern(p)) equals p). */
export function formatPattern(p: PatternSpec): string {
  if (p.kind === 'unstructured') return 'unstructured';
  if (p.kind === 'nm') return `${p.n}:${p.m}`;
  return p.norm === 1 ? 'channel:l1' : 'channel:l2';
}

/**
 * How a tensor's elements split into output channels and a reduction dimension. Shape
 * [A..., O, B...] with O at `outputAxis`: element (o, r) with r = p·post + q (p over A, q over B,
 * memory order) sits at flat index (p·O + o)·post + q.
 */
export interface ChannelLayout {
  /** Number of output channels (shape[outputAxis]). */
  readonly channels: number;
  /** Product of the axes before outputAxis. */
  readonly pre: number;
  /** Product of the axes after outputAxis. */
  readonly post: number;
  /** Elements per channel: pre·post, the reduction length. */
  readonly reduction: number;
}

/** The channel layout of a tensor; an outputAxis outside the shape is a SculptError. */
export function channelLayout(t: WeightTensor): ChannelLayout {
  const a = t.outputAxis;
  if (!Number.isInteger(a) || a < 0 || a >= t.shape.length) {
    throw new SculptError(`tensor '${t.name}' has outputAxis ${a} outside its shape [${t.shape.join(', ')}]; channel and N:M patterns need a valid output axis`);
  }
  const pre = numel(t.shape.slice(0, a));
  const post = numel(t.shape.slice(a + 1));
  return { channels: t.shape[a], pre, post, reduction: pre * post };
}

/**
 * N:M mask: in every group of M consecutive reduction elements of each output channel keep the N
 * highest-scoring alive elements (equal scores: the earlier index is pruned first). Pruned
 * elements (bit clear in `alive`) stay pruned; a group with fewer than N alive keeps them all.
 * Writes into `out`, which may be `alive` itself.
 */
export function nmMaskInto(t: WeightTensor, scores: Float32Array, alive: Mask, n: number, m: number, out: Mask): void {
  const L = channelLayout(t);
  if (L.reduction % m !== 0) {
    throw new SculptError(`tensor '${t.name}' has reduction length ${L.reduction} (shape [${t.shape.join(', ')}]), not divisible by M=${m}; exclude it (options.exclude) or choose another options.pattern`);
  }
  if (m === 4 && (L.post % 4 === 0 || L.post === 1)) {
    if (out !== alive) out.words.set(alive.words);
    nm4(scores, out.words, out.words, n, L.post === 1 ? L.channels : 1, scores.length);
    return;
  }
  const idx = new Int32Array(m);
  const sc = new Float32Array(m);
  const on = new Uint8Array(m);
  const aw = alive.words;
  const ow = out.words;
  const O = L.channels;
  const post = L.post;
  for (let o = 0; o < O; o++) {
    // (p, q) walk the reduction dimension in memory order: r = p·post + q.
    let p = 0;
    let q = 0;
    for (let r0 = 0; r0 < L.reduction; r0 += m) {
      for (let j = 0; j < m; j++) {
        const i = (p * O + o) * post + q;
        if (++q === post) {
          q = 0;
          p++;
        }
        idx[j] = i;
        sc[j] = scores[i];
        on[j] = (aw[i >>> 5] >>> (i & 31)) & 1;
      }
      for (let j = 0; j < m; j++) {
        const i = idx[j];
        let keep = false;
        if (on[j] === 1) {
          // Rank = alive elements that beat j: a higher score, or an equal score at a later index.
          let beaten = 0;
          const s = sc[j];
          for (let l = 0; l < m; l++) {
            if (l !== j && on[l] === 1 && (sc[l] > s || (sc[l] === s && l > j))) beaten++;
          }
          keep = beaten < n;
        }
        if (keep) ow[i >>> 5] |= 1 << (i & 31);
        else ow[i >>> 5] &= ~(1 << (i & 31));
      }
    }
  }
}

/**
 * N:4 over groups that are either consecutive runs of 4 in memory (stride 1) or columns of a
 * [reduction, channels] matrix (stride = channels): branch-free ranks, ~10x the generic loop.
 */
function nm4(scores: Float32Array, aw: Uint32Array, ow: Uint32Array, n: number, stride: number, len: number): void {
  const rows = stride === 1 ? len : len / stride;
  const cols = stride === 1 ? 1 : stride;
  for (let o = 0; o < cols; o++) {
    for (let r = 0; r < rows; r += 4) {
      const i0 = r * cols + o;
      const i1 = i0 + stride;
      const i2 = i1 + stride;
      const i3 = i2 + stride;
      // Pruned elements score -Infinity: they never beat an alive one.
      const a = (aw[i0 >>> 5] >>> (i0 & 31)) & 1 ? scores[i0] : -Infinity;
      const b = (aw[i1 >>> 5] >>> (i1 & 31)) & 1 ? scores[i1] : -Infinity;
      const c = (aw[i2 >>> 5] >>> (i2 & 31)) & 1 ? scores[i2] : -Infinity;
      const d = (aw[i3 >>> 5] >>> (i3 & 31)) & 1 ? scores[i3] : -Infinity;
      // Rank = elements that beat this one: a higher score, or an equal score at a later index.
      if (Number(b >= a) + Number(c >= a) + Number(d >= a) >= n) ow[i0 >>> 5] &= ~(1 << (i0 & 31));
      if (Number(a > b) + Number(c >= b) + Number(d >= b) >= n) ow[i1 >>> 5] &= ~(1 << (i1 & 31));
      if (Number(a > c) + Number(b > c) + Number(d >= c) >= n) ow[i2 >>> 5] &= ~(1 << (i2 & 31));
      if (Number(a > d) + Number(b > d) + Number(c > d) >= n) ow[i3 >>> 5] &= ~(1 << (i3 & 31));
    }
  }
}

/** Per-channel sums over alive elements: Σ|score|^norm and the number of alive elements. */
export interface ChannelSums {
  /** Σ|s|^norm over the alive elements of each channel (float64). */
  readonly sums: Float64Array;
  /** Number of alive elements per channel; 0 marks a channel already pruned. */
  readonly alive: Float64Array;
}

/** Per-channel Ln sums of the scores of alive elements, for channel ranking. */
export function channelSums(t: WeightTensor, scores: Float32Array, alive: Mask, norm: 1 | 2): ChannelSums {
  const L = channelLayout(t);
  const sums = new Float64Array(L.channels);
  const live = new Float64Array(L.channels);
  const aw = alive.words;
  const O = L.channels;
  for (let p = 0; p < L.pre; p++) {
    for (let o = 0; o < O; o++) {
      const base = (p * O + o) * L.post;
      let s = 0;
      let c = 0;
      for (let i = base; i < base + L.post; i++) {
        if (((aw[i >>> 5] >>> (i & 31)) & 1) === 0) continue;
        const v = scores[i];
        if (!Number.isFinite(v)) {
          throw new SculptError(`tensor '${t.name}' has NaN or infinite weights or scores; fix or drop it (e.g. --exclude '${t.name}') before pruning`);
        }
        s += norm === 1 ? Math.abs(v) : v * v;
        c++;
      }
      sums[o] += s;
      live[o] += c;
    }
  }
  return { sums, alive: live };
}

/**
 * Channels to prune in one tensor so that `k` channels in total are pruned: channels with no
 * alive element count as pruned already; the rest go smallest norm first, ties to the lower index.
 */
export function selectChannels(sums: ChannelSums, k: number): Uint8Array {
  const C = sums.sums.length;
  const prune = new Uint8Array(C);
  const order: number[] = [];
  let dead = 0;
  for (let c = 0; c < C; c++) {
    if (sums.alive[c] === 0) {
      prune[c] = 1;
      dead++;
    } else order.push(c);
  }
  order.sort((a, b) => sums.sums[a] - sums.sums[b] || a - b);
  for (let j = 0; j < k - dead && j < order.length; j++) prune[order[j]] = 1;
  return prune;
}

/** Number of output channels with at least one element kept in `mask`. */
export function liveChannels(t: WeightTensor, mask: Mask): number {
  const L = channelLayout(t);
  const live = new Uint8Array(L.channels);
  const w = mask.words;
  for (let p = 0; p < L.pre; p++) {
    for (let o = 0; o < L.channels; o++) {
      if (live[o] === 1) continue;
      const base = (p * L.channels + o) * L.post;
      for (let i = base; i < base + L.post; i++) {
        if (((w[i >>> 5] >>> (i & 31)) & 1) === 1) {
          live[o] = 1;
          break;
        }
      }
    }
  }
  let n = 0;
  for (let o = 0; o < L.channels; o++) n += live[o];
  return n;
}

/** Clears, in `out`, every element of the channels flagged in `prune`. */
export function clearChannels(t: WeightTensor, prune: Uint8Array, out: Mask): void {
  const L = channelLayout(t);
  const ow = out.words;
  const O = L.channels;
  for (let p = 0; p < L.pre; p++) {
    for (let o = 0; o < O; o++) {
      if (prune[o] === 0) continue;
      const base = (p * O + o) * L.post;
      for (let i = base; i < base + L.post; i++) ow[i >>> 5] &= ~(1 << (i & 31));
    }
  }
}
