/**
 * Writes a structurally smaller TF.js layers model: the channels removed from each group of the
 * channel graph (tfjs-depgraph.ts) are cut out of every weight that indexes them, what those
 * channels still carried in the channel-masked model is folded into the consumers' biases, and
 * each producing layer's `units` or `filters` follows its kernel. The folder gets a new model.json
 * and one shard (`weights.bin`), written as a temporary folder renamed into place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import { numel } from '../core/types.js';
import { AtomicFolder, describeWriteError } from './fsutil.js';
import { gather, type ShrinkReport, type ShrunkTensor } from './onnx-shrink.js';
import { slicePositions, type PeriodicSlice, type TfjsChannelGraph } from './tfjs-depgraph.js';
import { checkTfjsOutput, type TfjsFolder } from './tfjs-folder.js';

const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes `src` to the folder `output` without the channels flagged in `removed` (group id → one
 * flag per group channel). Groups absent from the map, or pinned, keep every channel.
 */
export function writeShrunkTfjs(src: TfjsFolder, tg: TfjsChannelGraph, removed: ReadonlyMap<number, Uint8Array>, output: string, replace = false): ShrinkReport {
  if (!(replace && holdsModelOnly(output))) checkTfjsOutput(src.dir, output);
  const { graph } = tg;
  const live = (group: number): Uint8Array | undefined => {
    const g = graph.groups.find((x) => x.id === group);
    return g && g.pinned.length === 0 ? removed.get(group) : undefined;
  };
  const dims = (name: string): readonly number[] => src.entry(name).shape;
  const drops = new Map<string, (Uint8Array | undefined)[]>();
  for (const g of graph.groups) {
    const flags = live(g.id);
    if (!flags) continue;
    for (const s of g.slices as readonly PeriodicSlice[]) {
      const d = dims(s.tensor);
      let perAxis = drops.get(s.tensor);
      if (!perAxis) drops.set(s.tensor, (perAxis = d.map(() => undefined)));
      const a = (perAxis[s.axis] ??= new Uint8Array(d[s.axis]));
      for (let c = s.start; c < s.start + s.length; c++) if (flags[c]) for (const p of slicePositions(s, c, d[s.axis])) a[p] = 1;
    }
  }
  // Folds, from the original values: bias[o] += Σ_c k_c · Σ W[.., positions of c, .., o].
  const deltas = new Map<string, Float64Array>();
  for (const f of tg.folds) {
    const wd = dims(f.weight);
    const coef = new Float64Array(wd[f.inAxis]);
    let any = false;
    for (const { slice, constants } of f.parts) {
      const flags = live(slice.group);
      if (!flags) continue;
      for (let c = slice.start; c < slice.start + slice.length; c++) {
        const k = constants[c - slice.start];
        if (!flags[c] || k === 0) continue;
        for (const p of slicePositions(slice, c, wd[f.inAxis])) coef[p] = k;
        any = true;
      }
    }
    if (!any || f.bias === '') continue;
    const w = src.read(f.weight);
    const delta = deltas.get(f.bias) ?? new Float64Array(wd[f.outAxis]);
    const inStride = numel(wd.slice(f.inAxis + 1));
    const outStride = numel(wd.slice(f.outAxis + 1));
    for (let i = 0; i < w.length; i++) {
      const k = coef[Math.floor(i / inStride) % wd[f.inAxis]];
      if (k !== 0) delta[Math.floor(i / outStride) % wd[f.outAxis]] += k * w[i];
    }
    deltas.set(f.bias, delta);
  }

  const json = JSON.parse(new TextDecoder().decode(src.jsonBytes)) as Record<string, unknown>;
  // Unchanged weights keep their manifest entry as written (quantization included).
  const rawSpecs = new Map<string, unknown>();
  for (const g of json.weightsManifest as { weights: { name: string }[] }[]) for (const w of g.weights) rawSpecs.set(w.name, w);
  const report: ShrunkTensor[] = [];
  const specs: Record<string, unknown>[] = [];
  const parts: Uint8Array[] = [];
  const shapes = new Map<string, number[]>();
  let before = 0;
  let after = 0;
  for (const e of src.entries) {
    const perAxis = drops.get(e.name);
    const delta = deltas.get(e.name);
    const floating = e.dtype === 'float32';
    if (floating) before += numel(e.shape);
    if (!perAxis && !delta) {
      specs.push(rawSpecs.get(e.name) as Record<string, unknown>);
      parts.push(src.bytes(e.name));
      if (floating) after += numel(e.shape);
      continue;
    }
    if (!floating || e.quantization) throw new SculptError(`${src.jsonPath}: weight ${e.name} is ${e.quantization ? 'quantized' : e.dtype}; it cannot be shrunk`);
    const values = src.read(e.name).slice();
    if (delta) for (let i = 0; i < values.length; i++) values[i] += delta[i];
    const { data, shape } = gather(values, e.shape, perAxis ?? e.shape.map(() => undefined));
    specs.push({ name: e.name, shape, dtype: 'float32' });
    parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    shapes.set(e.name, shape);
    after += numel(shape);
    report.push({ name: e.name, before: e.shape, after: shape, ...(delta && { folded: true }) });
  }
  const sizes = new Map(tg.sized.filter((s) => shapes.has(s.kernel)).map((s) => [s.layer, { key: s.key, value: shapes.get(s.kernel)![s.axis] }]));
  setLayerSizes(json.modelTopology, sizes);
  json.weightsManifest = [{ paths: [`./${WEIGHTS_FILE}`], weights: specs }];
  const total = parts.reduce((s, p) => s + p.length, 0);
  const shard = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    shard.set(p, at);
    at += p.length;
  }
  const folder = new AtomicFolder(output);
  try {
    folder.writeFile(path.basename(src.jsonPath), JSON.stringify(json));
    folder.writeFile(WEIGHTS_FILE, shard);
    folder.commit(replace);
  } catch (e) {
    folder.abort();
    if (e instanceof SculptError) throw e;
    throw new SculptError(`${output}: write failed (${describeWriteError(e)}); check free space and permissions`, 1);
  }
  return { tensors: report, parametersBefore: before, parametersAfter: after };
}

/** Whether `dir` is a folder holding nothing but model.json and weights.bin (a model this writer may replace). */
function holdsModelOnly(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).every((n) => n === 'model.json' || n === WEIGHTS_FILE);
  } catch {
    return false;
  }
}

/** Sets `units`/`filters` of the named layers in a (possibly wrapped) Keras topology. */
function setLayerSizes(topology: unknown, sizes: ReadonlyMap<string, { key: string; value: number }>): void {
  const root = topology as Record<string, unknown> | undefined;
  const model = (root?.model_config ?? root) as { config?: unknown } | undefined;
  const config = model?.config as { layers?: unknown } | unknown[] | undefined;
  const list = (Array.isArray(config) ? config : config?.layers) as { config?: Record<string, unknown> }[] | undefined;
  for (const l of list ?? []) {
    const s = typeof l.config?.name === 'string' ? sizes.get(l.config.name) : undefined;
    if (s && l.config) l.config[s.key] = s.value;
  }
}

