/**
 * Writes a structurally smaller ONNX model: the channels removed from each group of the channel
 * graph (onnx-depgraph.ts) are cut out of every tensor that indexes them, the constants those
 * channels still carried in the channel-masked model are folded into their consumers' biases
 * (creating a bias input where a Conv/Gemm has none), Reshape shape constants that name a
 * features or head count are rewritten, and value_info entries whose channel count changed are
 * dropped. Replaced tensors become main-graph initializers (float32, raw_data); a
 * graph input of the same name (models before IR 4 list every initializer as one) is removed.
 */
import { SculptError } from '../core/errors.js';
import { numel } from '../core/types.js';
import { writeFileAtomic } from './fsutil.js';
import type { TensorSpec } from './onnx-build.js';
import { ONNX_FLOAT_DTYPE } from './onnx-decode.js';
import type { ChannelGraph } from './onnx-depgraph.js';
import { editGraph } from './onnx-edit.js';
import type { OnnxModel } from './onnx.js';

/** A tensor whose shape (or values, for a folded bias) changed. */
export interface ShrunkTensor {
  readonly name: string;
  readonly before: readonly number[];
  readonly after: readonly number[];
  /** Whether removed channels' constants were folded into it (a bias), and whether sculpt created it (a new bias, or a copy of a shared parameter). */
  readonly folded?: boolean;
  readonly created?: boolean;
}

export interface ShrinkReport {
  readonly tensors: readonly ShrunkTensor[];
  /** Floating stored values before and after. */
  readonly parametersBefore: number;
  readonly parametersAfter: number;
}

/**
 * Writes `model` to `output` without the channels flagged in `removed` (group id → one flag per
 * group channel). Groups absent from the map, or pinned, keep every channel.
 */
export function writeShrunkOnnx(model: OnnxModel, graph: ChannelGraph, removed: ReadonlyMap<number, Uint8Array>, output: string): ShrinkReport {
  if (model.initializers.some((t) => t.storage.kind === 'external')) {
    throw new SculptError(`${model.path}: --shrink does not yet write models with external data; re-save the model with its tensors inside the .onnx file`);
  }
  // Per tensor and axis: positions to drop.
  const drops = new Map<string, (Uint8Array | undefined)[]>();
  // Parameters a node reads from a shared tensor are cut in a copy of their own (see ChannelGraph.copies).
  const copies = new Map(graph.copies.map((c) => [c.tensor, c]));
  const source = (name: string): string => copies.get(name)?.source ?? name;
  const dims = (name: string): readonly number[] => model.stored(source(name))!.dims;
  const mark = (tensor: string, axis: number, position: number): void => {
    let perAxis = drops.get(tensor);
    if (!perAxis) drops.set(tensor, (perAxis = dims(tensor).map(() => undefined)));
    const a = (perAxis[axis] ??= new Uint8Array(dims(tensor)[axis]));
    a[position] = 1;
  };
  for (const g of graph.groups) {
    const flags = removed.get(g.id);
    if (!flags || g.pinned.length) continue;
    for (const s of g.slices) {
      for (let c = s.start; c < s.start + s.length; c++) {
        if (!flags[c]) continue;
        const base = s.at + (c - s.start) * s.block;
        for (let j = 0; j < s.block; j++) mark(s.tensor, s.axis, base + j);
      }
    }
  }
  // Folds, from the original values: bias[o] += scale · Σ_c k_c · Σ W[o, positions of c].
  const biasDelta = new Map<number, { fold: ChannelGraph['folds'][number]; delta: Float64Array }>();
  for (const f of graph.folds) {
    const wd = dims(f.weight);
    const coef = new Float64Array(wd[f.inAxis]);
    let any = false;
    for (const { slice, constants } of f.parts) {
      const flags = removed.get(slice.group);
      if (!flags || graph.groups.find((g) => g.id === slice.group)!.pinned.length) continue;
      for (let c = slice.start; c < slice.start + slice.length; c++) {
        const k = constants[c - slice.start];
        if (!flags[c] || k === 0) continue;
        const base = slice.at + (c - slice.start) * slice.block;
        for (let j = 0; j < slice.block; j++) coef[base + j] = k;
        any = true;
      }
    }
    if (!any) continue;
    const w = model.read(f.weight);
    const delta = new Float64Array(wd[f.outAxis]);
    const inStride = numel(wd.slice(f.inAxis + 1));
    const outStride = numel(wd.slice(f.outAxis + 1));
    for (let i = 0; i < w.length; i++) {
      const k = coef[Math.floor(i / inStride) % wd[f.inAxis]];
      if (k !== 0) delta[Math.floor(i / outStride) % wd[f.outAxis]] += f.scale * k * w[i];
    }
    biasDelta.set(f.node, { fold: f, delta });
  }

  // Grouped Convs whose input lost channels: each row block keeps its own input columns.
  const groupedInputs = new Map<string, { co: number; columns: number[][] }>();
  for (const gc of graph.grouped) {
    const seg = gc.input[0];
    const flags = graph.groups.find((g) => g.id === seg.group)!.pinned.length ? undefined : removed.get(seg.group);
    if (!flags || !flags.some((f) => f === 1)) continue;
    const columns: number[][] = [];
    for (let b = 0; b < gc.groups; b++) {
      const keep: number[] = [];
      for (let j = 0; j < gc.ci; j++) if (!flags[seg.start + b * gc.ci + j]) keep.push(j);
      if (columns.length && keep.length !== columns[0].length) throw new Error(`shrink: uneven removal in the groups of ${gc.weight}`);
      columns.push(keep);
    }
    groupedInputs.set(gc.weight, { co: gc.co, columns });
    if (!drops.has(gc.weight)) drops.set(gc.weight, dims(gc.weight).map(() => undefined));
  }
  const add: TensorSpec[] = [];
  const report: ShrunkTensor[] = [];
  const replaced = new Set<string>();
  const setNodeInputs: { node: number; index: number; value: string }[] = [];
  const taken = new Set<string>([...model.initializers.map((t) => t.name), ...model.decoded.allNodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const folded = new Map<string, Float64Array>();
  for (const { fold, delta } of biasDelta.values()) {
    if (fold.bias) {
      folded.set(fold.bias, delta);
      continue;
    }
    // A new bias, cut like the weight's output axis.
    let name = `${fold.weight}_sculpt_bias`;
    for (let i = 1; taken.has(name); i++) name = `${fold.weight}_sculpt_bias_${i}`;
    taken.add(name);
    const keep = drops.get(fold.weight)?.[fold.outAxis];
    const values = Float32Array.from(delta).filter((_, o) => !keep?.[o]);
    add.push({ name, dims: [values.length], data: values });
    setNodeInputs.push({ node: fold.node, index: fold.biasIndex, value: name });
    report.push({ name, before: [], after: [values.length], folded: true, created: true });
  }
  for (const name of new Set([...drops.keys(), ...folded.keys()])) {
    const t = model.stored(source(name))!;
    if (!ONNX_FLOAT_DTYPE.has(t.dataType)) throw new SculptError(`${model.path}: tensor ${name} is not floating point; it cannot be shrunk`);
    let values = model.read(source(name));
    const delta = folded.get(name);
    if (delta) for (let i = 0; i < values.length; i++) values[i] += delta[i];
    const perAxis = drops.get(name) ?? t.dims.map(() => undefined);
    const gc = groupedInputs.get(name);
    const { data, shape } = gc ? gatherGrouped(values, t.dims, perAxis[0], gc) : gather(values, t.dims, perAxis);
    values = data;
    add.push({ name, dims: shape, data: values });
    const copy = copies.get(name);
    if (copy) setNodeInputs.push({ node: copy.node, index: copy.index, value: name });
    else replaced.add(name);
    report.push({ name, before: t.dims, after: shape, ...(delta && { folded: true }), ...(copy && { created: true }) });
  }
  const stale = new Set<string>();
  for (const [value, segs] of graph.values) {
    if (segs.some((s) => {
      const flags = removed.get(s.group);
      return flags && flags.subarray(s.start, s.start + s.length).some((f) => f === 1);
    })) stale.add(value);
  }
  const removedIn = (segs: readonly { group: number; start: number; length: number }[]): number => segs.reduce((sum, s) => {
    const flags = removed.get(s.group);
    const pinned = graph.groups.find((g) => g.id === s.group)!.pinned.length > 0;
    return sum + (flags && !pinned ? flags.subarray(s.start, s.start + s.length).reduce((a, f) => a + f, 0) : 0);
  }, 0);
  const setNodeInts = graph.depthwise
    .filter((d) => removedIn(d.segs) > 0)
    .map((d) => ({ node: d.node, name: 'group', value: d.segs.reduce((a, s) => a + s.length, 0) - removedIn(d.segs) }));
  for (const sp of graph.splits) {
    const before = sp.outputs.map((segs) => segs.reduce((a, s) => a + s.length, 0));
    const sizes = sp.outputs.map((segs, i) => before[i] - removedIn(segs));
    if (sizes.every((v, i) => v === before[i])) continue;
    let name = sp.input;
    if (name) replaced.add(name);
    else {
      name = `${sp.nodeName}_sculpt_split`;
      for (let i = 1; taken.has(name); i++) name = `${sp.nodeName}_sculpt_split_${i}`;
      taken.add(name);
      setNodeInputs.push({ node: sp.node, index: 1, value: name });
    }
    add.push({ name, dims: [sizes.length], data: BigInt64Array.from(sizes, (v) => BigInt(v)) });
  }
  for (const rs of graph.reshapes) {
    const C = rs.segs.reduce((a, s) => a + s.length, 0);
    const gone = removedIn(rs.segs);
    if (gone === 0) continue;
    const block = rs.shape[1] / C;
    replaced.add(rs.input);
    add.push({ name: rs.input, dims: [2], data: BigInt64Array.from([rs.shape[0], (C - gone) * block], (v) => BigInt(v)) });
  }
  // Attention Reshapes with the head count baked in: H (or H·d) less the removed heads (or features).
  for (const hs of graph.headShapes) {
    const gone = removedIn(hs.segs);
    if (gone === 0) continue;
    const shape = hs.shape.map((v, a) => (a === hs.axis ? v - gone / hs.unit : v));
    let name = hs.input;
    if (name) replaced.add(name);
    else {
      name = `${hs.nodeName}_sculpt_shape`;
      for (let i = 1; taken.has(name); i++) name = `${hs.nodeName}_sculpt_shape_${i}`;
      taken.add(name);
      setNodeInputs.push({ node: hs.node, index: hs.index, value: name });
    }
    add.push({ name, dims: [shape.length], data: BigInt64Array.from(shape, (v) => BigInt(v)) });
  }
  const bytes = editGraph(model.bytes, model.path, { dropInitializers: replaced, addInitializers: add, setNodeInputs, setNodeInts, dropValueInfo: stale, dropInputs: replaced });
  writeFileAtomic(output, bytes);
  const floating = model.initializers.filter((t) => ONNX_FLOAT_DTYPE.has(t.dataType));
  const before = floating.reduce((s, t) => s + numel(t.dims), 0);
  const after = before + report.reduce((s, r) => s + numel(r.after) - (r.created ? 0 : numel(r.before)), 0);
  return { tensors: report, parametersBefore: before, parametersAfter: after };
}

/** A grouped Conv weight [g·co, ci, ...]: rows not flagged in `dropRows`, each with its row block's own kept columns. */
function gatherGrouped(values: Float32Array, dims: readonly number[], dropRows: Uint8Array | undefined, g: { co: number; columns: number[][] }): { data: Float32Array; shape: number[] } {
  const inner = numel(dims.slice(2));
  const rows: number[] = [];
  for (let o = 0; o < dims[0]; o++) if (!dropRows?.[o]) rows.push(o);
  const width = g.columns[0].length;
  const data = new Float32Array(rows.length * width * inner);
  let at = 0;
  for (const o of rows) {
    for (const j of g.columns[Math.floor(o / g.co)]) {
      data.set(values.subarray((o * dims[1] + j) * inner, (o * dims[1] + j + 1) * inner), at);
      at += inner;
    }
  }
  return { data, shape: [rows.length, width, ...dims.slice(2)] };
}

/** The entries of `values` (shape `dims`) whose index on each axis is not flagged in `drop[axis]`. */
export function gather(values: Float32Array, dims: readonly number[], drop: readonly (Uint8Array | undefined)[]): { data: Float32Array; shape: number[] } {
  const keep = dims.map((d, a) => {
    const out: number[] = [];
    for (let i = 0; i < d; i++) if (!drop[a]?.[i]) out.push(i);
    return out;
  });
  const shape = keep.map((k) => k.length);
  const data = new Float32Array(numel(shape));
  if (data.length === 0) return { data, shape };
  const strides = dims.map((_, a) => numel(dims.slice(a + 1)));
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let a = 0; a < rank; a++) src += keep[a][idx[a]] * strides[a];
    data[o] = values[src];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return { data, shape };
}
