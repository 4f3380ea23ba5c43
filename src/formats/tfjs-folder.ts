/**
 * TF.js models in all three forms the converter and `tf.LayersModel.save` write:
 * - a layers model folder: `model.json` (`modelTopology` with Keras layer configs + `weightsManifest`);
 * - a graph model: `model.json` (or any `*.json`) with `format: graph-model`, a GraphDef topology and
 *   weights keyed by node names (roles from the consuming nodes: src/formats/tfjs-graph.ts);
 * - a bare weights manifest: `*weights_manifest.json`, a JSON array of `{paths, weights}` groups with
 *   its shards beside it and no topology (roles from names and shapes, as for safetensors).
 * Each manifest group's weights lie back to back over the group's concatenated shards, so a weight
 * may span a shard boundary. Parsed directly (no TensorFlow.js): each group's shards are read into
 * one buffer, pruned weights' bytes are rewritten there, and the shards are written back at their
 * original sizes; the JSON file is copied byte for byte.
 *
 * float32 weights are read as float32; quantized ones (uint8/uint16 affine, float16) are dequantized
 * for reading and pruned by writing the code that decodes to exactly 0 (src/formats/tfjs-quantization.ts);
 * pruning a quantized weight whose code grid has no exact 0 is refused. int32, bool, string and complex
 * weights are copied untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import type { TensorSource } from '../core/plan.js';
import { shapeText } from '../core/limits.js';
import { parseStrictJson } from '../core/strict-json.js';
import { numel, type WeightTensor } from '../core/types.js';
import { safetensorsRole, zeroPruned, type MaskLike } from './safetensors.js';
import { graphWeightRoles, type TfjsWeightRole } from './tfjs-graph.js';
import { dequantize, parseQuantization, QUANT_BYTES, writeQuantizedZeros, zeroCode, type TfjsQuantization } from './tfjs-quantization.js';
import { AtomicFolder, describeWriteError, printable, resolveInside } from './fsutil.js';

export type { TfjsQuantization } from './tfjs-quantization.js';

/** Bytes per element. A Map: a dtype read from a file must not find `constructor` or `toString`. */
const DTYPE_BYTES: ReadonlyMap<string, number> = new Map([['float32', 4], ['int32', 4], ['bool', 1], ['complex64', 8]]);

/** Weights of more dimensions are refused (TensorFlow's own limit is 254; real models stay far below). */
const MAX_RANK = 64;

/** Which of the three TF.js forms a path holds. */
export type TfjsKind = 'layers-model' | 'graph-model' | 'weights-manifest';

const KIND_LABEL: Readonly<Record<TfjsKind, string>> = {
  'layers-model': 'TF.js layers model',
  'graph-model': 'TF.js graph model',
  'weights-manifest': 'TF.js weights manifest',
};
const KIND_FIX: Readonly<Record<TfjsKind, string>> = {
  'layers-model': 're-save the model with tf.LayersModel.save or sculpt train',
  'graph-model': 're-convert the model with tensorflowjs_converter',
  'weights-manifest': 'it must be a JSON array of {paths, weights} groups, as tensorflowjs writes them',
};

/** One weight as the manifest describes it; `begin`/`end` are offsets in its group's concatenated shards. */
export interface TfjsWeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: TfjsQuantization;
  readonly group: number;
  readonly begin: number;
  readonly end: number;
  /** Keras class of the layer owning the weight, when model.json says. */
  readonly layerClass?: string;
}

/** One manifest group: its shard paths (as written in model.json), their sizes and their bytes. */
export interface TfjsWeightGroup {
  readonly paths: readonly string[];
  readonly sizes: readonly number[];
  readonly data: Uint8Array;
}

type Classified = TfjsWeightRole;

/** Role, prunability and output axis of a weight from its layer class and short name (also used by src/train). */
export function classifyTfjsWeight(layerClass: string, name: string, rank: number): Classified {
  const short = (name.split('/').pop() ?? name).replace(/:\d+$/, '');
  if (short === 'bias') return { role: 'bias', op: 'Other', prunable: false, reason: 'bias', outputAxis: 0 };
  if (short === 'gamma' || short === 'beta' || short.startsWith('moving_')) {
    return { role: 'norm', op: 'Other', prunable: false, reason: 'normalisation parameter', outputAxis: 0 };
  }
  if (short === 'embeddings') return { role: 'embedding', op: 'Embedding', prunable: false, reason: 'embedding table', outputAxis: 1 };
  if (short === 'kernel' && layerClass === 'Dense') return { role: 'weight', op: 'Dense', prunable: true, reason: 'Dense kernel [in, out]', outputAxis: rank - 1 };
  if (short === 'kernel' && /^Conv[123]D$/.test(layerClass)) {
    return { role: 'weight', op: 'Conv', prunable: true, reason: `${layerClass} kernel [..., in, out]`, outputAxis: rank - 1 };
  }
  if (short === 'kernel' && /Transpose$/.test(layerClass)) {
    return { role: 'weight', op: 'ConvTranspose', prunable: true, reason: `${layerClass} kernel [..., out, in]`, outputAxis: rank - 2 };
  }
  if (short === 'depthwise_kernel') {
    return { role: 'weight', op: 'Conv', prunable: true, reason: 'depthwise kernel [kh, kw, in, multiplier]', outputAxis: rank - 2 };
  }
  if (short === 'pointwise_kernel') return { role: 'weight', op: 'Conv', prunable: true, reason: 'pointwise kernel [1, 1, in, out]', outputAxis: rank - 1 };
  if (short === 'kernel' && rank >= 2) return { role: 'weight', op: 'Other', prunable: true, reason: `${layerClass} kernel`, outputAxis: rank - 1 };
  return { role: 'other', op: 'Other', prunable: false, reason: `${layerClass} ${short}`, outputAxis: 0 };
}

interface LayerInfo {
  readonly className: string;
  readonly trainable: boolean;
}

/** Calls `fn` on every object in a Keras topology, nested models and wrappers included (depth-limited). */
function forEachConfig(topology: unknown, fn: (o: Record<string, unknown>, config: Record<string, unknown> | undefined) => void): void {
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64 || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const x of node) visit(x, depth + 1);
      return;
    }
    const o = node as Record<string, unknown>;
    const config = typeof o.config === 'object' && o.config !== null ? (o.config as Record<string, unknown>) : undefined;
    fn(o, config);
    for (const v of Object.values(o)) if (typeof v === 'object') visit(v, depth + 1);
  };
  visit(topology, 0);
}

/** Layer name → class, over every layer config in the topology (nested models and wrappers too). */
function layerClasses(topology: unknown): Map<string, LayerInfo> {
  const out = new Map<string, LayerInfo>();
  forEachConfig(topology, (o, config) => {
    if (typeof o.class_name === 'string' && config && typeof config.name === 'string') {
      if (!out.has(config.name)) out.set(config.name, { className: o.class_name, trainable: config.trainable !== false });
    }
  });
  return out;
}

/** The layer owning `weightName`: the innermost name component that is a layer (`model/fc1/kernel` → fc1). */
function layerOf(weightName: string, layers: Map<string, LayerInfo>): LayerInfo | undefined {
  const parts = weightName.split('/');
  for (let i = parts.length - 2; i >= 0; i--) {
    const l = layers.get(parts[i]);
    if (l) return l;
  }
  return undefined;
}

/**
 * Layer name → the one layer that reads its output, over Sequential layer lists (the next layer)
 * and functional models (`inbound_nodes`); a layer read by several has no entry.
 */
function layerSuccessors(topology: unknown): Map<string, string> {
  const readers = new Map<string, Set<string>>();
  const add = (from: string, to: string): void => {
    const set = readers.get(from) ?? new Set<string>();
    set.add(to);
    readers.set(from, set);
  };
  forEachConfig(topology, (o, config) => {
    if (o.class_name === 'Sequential' && config && Array.isArray(config.layers)) {
      const names = (config.layers as { config?: { name?: unknown } }[]).map((l) => l?.config?.name).filter((n): n is string => typeof n === 'string');
      for (let i = 0; i + 1 < names.length; i++) add(names[i], names[i + 1]);
    }
    if (config && typeof config.name === 'string' && Array.isArray(o.inbound_nodes)) {
      const to = config.name;
      const walk = (x: unknown): void => {
        if (!Array.isArray(x)) return;
        if (typeof x[0] === 'string' && typeof x[1] === 'number') add(x[0], to);
        else for (const y of x) walk(y);
      };
      walk(o.inbound_nodes);
    }
  });
  const out = new Map<string, string>();
  for (const [from, to] of readers) if (to.size === 1) out.set(from, [...to][0]);
  return out;
}

/**
 * `input` may be the folder, its model.json (or another .json), or a `*weights_manifest.json`;
 * returns the folder and the JSON file as the user spelled them.
 */
export function tfjsPaths(input: string): { dir: string; jsonPath: string } {
  const isDir = fs.existsSync(input) && fs.statSync(input).isDirectory();
  return isDir ? { dir: input, jsonPath: path.join(input, 'model.json') } : { dir: path.dirname(input), jsonPath: input };
}

/** Whether `file` is named like a bare weights manifest (`*weights_manifest.json`). */
export function isWeightsManifestName(file: string): boolean {
  return /weights_manifest\.json$/i.test(path.basename(file));
}

/**
 * Whether `input` looks like a TF.js model: a folder holding model.json, a file named model.json or
 * `*weights_manifest.json`, or another .json file that mentions `weightsManifest` (a graph model
 * such as `blazeface.json`). Reads no more than the file's first 64 MiB.
 */
export function isTfjsModelPath(input: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch {
    return false;
  }
  if (st.isDirectory()) return fs.existsSync(path.join(input, 'model.json'));
  if (!st.isFile()) return false;
  const base = path.basename(input).toLowerCase();
  if (base === 'model.json' || isWeightsManifestName(input)) return true;
  if (!base.endsWith('.json') || st.size > 64 << 20) return false;
  try {
    return fs.readFileSync(input, 'utf8').includes('"weightsManifest"');
  } catch {
    return false;
  }
}

/** A bare manifest's weight role: from its name and shape (TensorFlow layout: output axis last, depthwise axis 2). */
export function manifestWeightRole(name: string, shape: readonly number[]): Classified {
  const r = safetensorsRole(name.replace(/\//g, '.'), 'float32', shape);
  const rank = shape.length;
  if (r.role !== 'weight') return { ...r, op: r.role === 'embedding' ? 'Embedding' : 'Other', outputAxis: r.role === 'embedding' ? Math.max(0, rank - 1) : 0 };
  const depthwise = /depthwise/i.test(name);
  return {
    role: 'weight', op: rank === 2 ? 'Dense' : rank >= 3 ? 'Conv' : 'Other', prunable: r.prunable,
    reason: `${r.reason} (by name; ${depthwise ? 'depthwise: channel axis 2' : 'output axis last'})`,
    outputAxis: depthwise && rank >= 3 ? rank - 2 : Math.max(0, rank - 1),
  };
}

/**
 * A TF.js model read into memory (its JSON file's bytes and every shard): a layers model folder, a
 * graph model, or a bare weights manifest.
 */
export class TfjsFolder implements TensorSource {
  readonly dir: string;
  readonly jsonPath: string;
  readonly kind: TfjsKind;
  /** The JSON file (model.json or the manifest) exactly as read. */
  readonly jsonBytes: Uint8Array;
  readonly groups: readonly TfjsWeightGroup[];
  /** Every weight in manifest order (floating or not). */
  readonly entries: readonly TfjsWeightEntry[];
  /** Floating weights (float32, possibly quantized) in manifest order, with empty `data`. */
  readonly tensors: readonly WeightTensor[];
  private readonly byName: Map<string, TfjsWeightEntry>;
  private floatBuf: Float32Array | undefined;
  private readonly layers: Map<string, LayerInfo>;
  private readonly successors: Map<string, string>;

  constructor(input: string) {
    const { dir, jsonPath } = tfjsPaths(input);
    this.dir = dir;
    this.jsonPath = jsonPath;
    if (!fs.existsSync(jsonPath)) {
      throw new SculptError(`${input}: no model.json here; give a TF.js model folder (model.json and its weight shards), a model.json, or a *weights_manifest.json`);
    }
    let kind: TfjsKind | undefined = isWeightsManifestName(jsonPath) ? 'weights-manifest' : undefined;
    const bad: (why: string) => never = (why) => {
      const what = kind ? KIND_LABEL[kind] : 'TF.js model';
      const fix = kind ? KIND_FIX[kind] : 'give a TF.js model.json or *weights_manifest.json';
      throw new SculptError(`${jsonPath}: not a ${what} (${printable(why)}); ${fix}`);
    };
    try {
      this.jsonBytes = fs.readFileSync(jsonPath);
    } catch (e) {
      throw new SculptError(`${jsonPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}); check the path and permissions`);
    }
    let json: unknown;
    try {
      // A byte-order mark is dropped (as fetch().json() does for TF.js itself); duplicate keys are refused.
      json = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(this.jsonBytes));
    } catch (e) {
      throw bad(`not valid JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    let manifest: unknown[];
    let topology: unknown;
    if (kind === 'weights-manifest' || Array.isArray(json)) {
      kind = 'weights-manifest';
      if (!Array.isArray(json)) bad('not a JSON array');
      manifest = json as unknown[];
    } else {
      if (typeof json !== 'object' || json === null) bad('not a JSON object');
      const o = json as Record<string, unknown>;
      const graphTopology = typeof o.modelTopology === 'object' && o.modelTopology !== null && Array.isArray((o.modelTopology as { node?: unknown }).node);
      kind = o.format === 'graph-model' || (o.format === undefined && graphTopology) ? 'graph-model' : 'layers-model';
      if (typeof o.modelTopology !== 'object' || o.modelTopology === null) bad('no modelTopology');
      if (kind === 'graph-model' && !graphTopology) bad('modelTopology has no node list');
      if (!Array.isArray(o.weightsManifest)) bad('no weightsManifest array');
      manifest = o.weightsManifest as unknown[];
      topology = o.modelTopology;
    }
    this.kind = kind;
    const layers = kind === 'layers-model' ? layerClasses(topology) : new Map<string, LayerInfo>();
    this.layers = layers;
    this.successors = kind === 'layers-model' ? layerSuccessors(topology) : new Map<string, string>();

    const groups: TfjsWeightGroup[] = [];
    const entries: TfjsWeightEntry[] = [];
    const seen = new Set<string>();
    /** Resolved shard file → the group that lists it: a file shared by two groups would be written twice. */
    const shardOwners = new Map<string, number>();
    manifest.forEach((g, gi) => {
      const group = g as { paths?: unknown; weights?: unknown };
      if (typeof group !== 'object' || group === null) bad(`weightsManifest[${gi}] is not an object`);
      if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string')) bad(`weightsManifest[${gi}].paths is not a list of file names`);
      if (!Array.isArray(group.weights)) bad(`weightsManifest[${gi}].weights is not a list`);
      const paths = group.paths as string[];
      const sizes: number[] = [];
      const files = paths.map((p) => {
        if (!fs.existsSync(path.resolve(dir, p)) && !path.isAbsolute(p)) {
          throw new SculptError(`${jsonPath}: weight shard ${printable(p)} is missing next to ${path.basename(jsonPath)}; copy the whole model folder`);
        }
        const file = resolveInside(dir, p, `${jsonPath}: weight shard`);
        const owner = shardOwners.get(file);
        if (owner !== undefined) {
          bad(owner === gi ? `weightsManifest[${gi}] lists shard ${p} twice` : `shard ${p} is listed by both weightsManifest[${owner}] and weightsManifest[${gi}]`);
        }
        shardOwners.set(file, gi);
        const size = fs.statSync(file).size;
        sizes.push(size);
        return file;
      });
      const total = sizes.reduce((a, b) => a + b, 0);
      let data: Uint8Array;
      try {
        data = new Uint8Array(total);
      } catch {
        throw new SculptError(`${jsonPath}: the shards of weightsManifest[${gi}] hold ${total} bytes, more than this machine can hold in memory at once`);
      }
      let at = 0;
      files.forEach((file, i) => {
        const fd = fs.openSync(file, 'r');
        try {
          let off = 0;
          while (off < sizes[i]) {
            const n = fs.readSync(fd, data, at + off, sizes[i] - off, off);
            if (n === 0) throw new SculptError(`${file}: shard shrank while being read; retry`);
            off += n;
          }
        } finally {
          fs.closeSync(fd);
        }
        at += sizes[i];
      });
      let offset = 0;
      for (const w of group.weights as unknown[]) {
        const spec = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
        if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string') bad(`a weight of weightsManifest[${gi}] has no name`);
        const name = spec.name as string;
        if (seen.has(name)) bad(`weight ${name} is listed twice`);
        seen.add(name);
        if (!Array.isArray(spec.shape) || spec.shape.length > MAX_RANK || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
          bad(`weight ${name} has an invalid shape ${String(JSON.stringify(spec.shape)).slice(0, 60)}`);
        }
        const shape = spec.shape as number[];
        if (!Number.isSafeInteger(numel(shape))) bad(`weight ${name} has shape ${shapeText(shape)}, whose element count is not a safe integer`);
        const quantization = spec.quantization === undefined ? undefined : parseQuantization(spec.quantization, name, bad);
        const dtype = spec.dtype;
        if (typeof dtype !== 'string' || (!DTYPE_BYTES.has(dtype) && dtype !== 'string')) bad(`weight ${name} has unknown dtype ${String(JSON.stringify(dtype)).slice(0, 60)}`);
        if (quantization?.originalDtype !== undefined && quantization.originalDtype !== dtype) {
          bad(`weight ${name} has dtype ${String(dtype)} but quantization.original_dtype ${quantization.originalDtype}`);
        }
        if (quantization?.dtype === 'float16' && dtype !== 'float32') bad(`weight ${name} is float16-quantized but has dtype ${String(dtype)}, not float32`);
        const width = (quantization ? QUANT_BYTES.get(quantization.dtype) : DTYPE_BYTES.get(dtype as string)) ?? 0;
        const n = numel(shape);
        let bytes: number;
        if (dtype === 'string' && !quantization) {
          // Each string: a uint32 byte length, then the bytes.
          bytes = 0;
          const view = new DataView(data.buffer, data.byteOffset, data.length);
          for (let i = 0; i < n; i++) {
            if (offset + bytes + 4 > data.length) break;
            bytes += 4 + view.getUint32(offset + bytes, true);
          }
        } else bytes = n * width;
        if (offset + bytes > data.length) {
          throw new SculptError(
            `${path.join(dir, printable(paths[paths.length - 1] ?? '(no shard)'))}: weight group ${gi} holds ${data.length} bytes but its weights need at least ${offset + bytes} (up to ${printable(name)}); the shard is truncated, re-copy the model folder`,
          );
        }
        const info = layerOf(name, layers);
        entries.push({ name, shape, dtype: dtype as string, quantization, group: gi, begin: offset, end: offset + bytes, layerClass: info?.className });
        offset += bytes;
      }
      groups.push({ paths, sizes, data });
    });
    this.groups = groups;
    this.entries = entries;
    this.byName = new Map(entries.map((e) => [e.name, e]));
    const graphRoles = kind === 'graph-model' ? graphWeightRoles(topology, entries, (n) => this.int32(n)) : undefined;
    this.tensors = entries.filter((e) => e.dtype === 'float32').map((e) => {
      let c: Classified;
      if (graphRoles) c = graphRoles.get(e.name)!;
      else if (kind === 'weights-manifest') c = manifestWeightRole(e.name, e.shape);
      else {
        const info = layerOf(e.name, layers);
        c = classifyTfjsWeight(info?.className ?? 'unknown layer', e.name, e.shape.length);
        if (info && !info.trainable && c.prunable) c = { ...c, prunable: false, reason: `${c.reason} of a frozen layer` };
      }
      let reason = c.reason;
      const q = e.quantization;
      if (q) {
        const z = zeroCode(q);
        if ('why' in z) reason = `${c.reason}; ${q.dtype}-quantized and ${z.why}${c.prunable ? ': prune refuses it, --exclude it' : ''}`;
        else reason = `${c.reason}; ${q.dtype}-quantized${q.dtype === 'float16' ? '' : `, zero code ${z.code}`}`;
      }
      return { name: e.name, shape: e.shape, data: new Float32Array(0), role: c.role, op: c.op, prunable: c.prunable, reason, outputAxis: c.outputAxis };
    });
  }

  /**
   * Layers models: what else an output channel of the kernel `weight` owns — its layer's bias, and
   * the gamma and beta of a BatchNormalization layer that reads the layer's output directly
   * (gamma = beta = 0 makes the channel exactly 0 whatever the moving statistics). The output
   * kernels are `kernel`, a SeparableConv2D's `pointwise_kernel` and a DepthwiseConv2D's
   * `depthwise_kernel` (not a SeparableConv2D's: its channels are the layer's inputs).
   */
  channelCompanions(weight: string): { name: string; axis: number; what: string }[] {
    if (this.kind !== 'layers-model') return [];
    const parts = weight.split('/');
    const short = parts[parts.length - 1];
    const layer = parts.slice(0, -1).reverse().find((p) => this.layers.has(p));
    const owns = short === 'kernel' || short === 'pointwise_kernel' || (short === 'depthwise_kernel' && layer !== undefined && this.layers.get(layer)?.className === 'DepthwiseConv2D');
    if (!owns) return [];
    const prefix = parts.slice(0, -1).join('/');
    const out: { name: string; axis: number; what: string }[] = [];
    const floating = (n: string): boolean => this.tensors.some((t) => t.name === n && t.shape.length === 1);
    if (floating(`${prefix}/bias`)) out.push({ name: `${prefix}/bias`, axis: 0, what: 'bias' });
    const next = layer ? this.successors.get(layer) : undefined;
    if (next && this.layers.get(next)?.className === 'BatchNormalization') {
      const bn = prefix.slice(0, prefix.length - layer!.length) + next;
      if (floating(`${bn}/gamma`)) out.push({ name: `${bn}/gamma`, axis: 0, what: 'norm scale' });
      if (floating(`${bn}/beta`)) out.push({ name: `${bn}/beta`, axis: 0, what: 'norm shift' });
    }
    return out;
  }

  entry(name: string): TfjsWeightEntry {
    const e = this.byName.get(name);
    if (!e) throw new SculptError(`${this.jsonPath}: no weight named ${printable(name)}`);
    return e;
  }

  /** The stored bytes of one weight (a view into its group's buffer). */
  bytes(name: string): Uint8Array {
    const e = this.entry(name);
    return this.groups[e.group].data.subarray(e.begin, e.end);
  }

  /**
   * Values of one float32 weight (quantized ones dequantized). The array is reused: valid until the
   * next `read`; copy it (`.slice()`) to keep it. Modifying it does not change the folder.
   */
  read(name: string): Float32Array {
    const e = this.entry(name);
    if (e.dtype !== 'float32') throw new SculptError(`${this.jsonPath}: weight ${name} has dtype ${e.dtype}, not float32`);
    const n = numel(e.shape);
    if (!this.floatBuf || this.floatBuf.length < n) this.floatBuf = new Float32Array(Math.max(n, this.largest()));
    const out = this.floatBuf.subarray(0, n);
    const src = this.bytes(name);
    const q = e.quantization;
    if (!q) new Uint8Array(out.buffer, 0, n * 4).set(src);
    else dequantize(src, q, n, out);
    return out;
  }

  /** Values of an int32 weight (unquantized), or undefined if `name` is no such weight. */
  int32(name: string): Int32Array | undefined {
    const e = this.byName.get(name);
    if (!e || e.dtype !== 'int32' || e.quantization) return undefined;
    const b = this.groups[e.group].data.slice(e.begin, e.end);
    return new Int32Array(b.buffer, 0, numel(e.shape));
  }

  /**
   * Sets the elements `mask` prunes in weight `name` to exactly 0: zero bytes for float32, the
   * zero code for quantized weights (refused when the quantization has none).
   */
  zero(name: string, mask: MaskLike): void {
    const e = this.entry(name);
    if (e.dtype !== 'float32') {
      throw new SculptError(`${this.jsonPath}: weight ${name} is ${e.dtype}; sculpt prunes only floating weights, drop it from --include`);
    }
    const bytes = this.bytes(name);
    if (e.quantization) {
      writeQuantizedZeros(bytes, e.quantization, numel(e.shape), mask, name, this.jsonPath);
      return;
    }
    if (bytes.byteOffset % 4 === 0) zeroPruned(bytes, 'F32', numel(e.shape), mask, name, this.jsonPath);
    else {
      const copy = bytes.slice();
      zeroPruned(copy, 'F32', numel(e.shape), mask, name, this.jsonPath);
      bytes.set(copy);
    }
  }

  private largest(): number {
    let m = 0;
    for (const e of this.entries) if (e.dtype === 'float32') m = Math.max(m, numel(e.shape));
    return m;
  }

  /** Writes the model as a new folder `output` (see writeTfjsFolder). */
  write(output: string): void {
    writeTfjsFolder(this, output);
  }
}

/**
 * Opens any TF.js form: a layers or graph model folder, its model.json (or a graph model's other
 * .json file), or a `*weights_manifest.json` with its shards beside it.
 */
export function openTfjs(input: string): TfjsFolder {
  return new TfjsFolder(input);
}

/** The same as openTfjs (kept for existing callers): every TF.js form, not only layers folders. */
export function openTfjsFolder(input: string): TfjsFolder {
  return openTfjs(input);
}

/**
 * Refuses an output folder that exists and is not empty, is not a folder, or is the input's folder.
 * Nothing is created.
 */
export function checkTfjsOutput(inputDir: string, output: string): void {
  if (output.toLowerCase().endsWith('.json')) {
    throw new SculptError(`${output}: -o names the folder to write the pruned TF.js model to, not a .json file; drop the file name`);
  }
  const outAbs = path.resolve(output);
  if (fs.existsSync(outAbs)) {
    if (fs.realpathSync(outAbs) === fs.realpathSync(inputDir)) {
      throw new SculptError(`${output}: the output is the input folder; sculpt never overwrites its input, choose a new -o folder`);
    }
    if (!fs.statSync(outAbs).isDirectory()) throw new SculptError(`${output}: exists and is not a folder; choose a new -o folder`);
    if (fs.readdirSync(outAbs).length > 0) throw new SculptError(`${output}: folder exists and is not empty; choose a new -o folder or empty it`);
  }
  const parent = path.dirname(outAbs);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) {
    throw new SculptError(`${output}: folder ${parent} does not exist; create it first`);
  }
}

/**
 * Writes the folder's model.json (verbatim) and its shards (current bytes, original sizes) to a
 * temporary sibling of `output` (each file flushed to disk), then renames it into place as one
 * unit: a reader sees no folder or the whole new one. An interrupted write leaves no folder.
 */
export function writeTfjsFolder(src: TfjsFolder, output: string): void {
  checkTfjsOutput(src.dir, output);
  const folder = new AtomicFolder(output);
  try {
    folder.writeFile(path.basename(src.jsonPath), src.jsonBytes);
    for (const g of src.groups) {
      let at = 0;
      g.paths.forEach((p, i) => {
        folder.writeFile(p, g.data.subarray(at, at + g.sizes[i]));
        at += g.sizes[i];
      });
    }
    folder.commit();
  } catch (e) {
    folder.abort();
    if (e instanceof SculptError) throw e;
    throw new SculptError(`${output}: write failed (${describeWriteError(e)}); check free space and permissions`, 1);
  }
}
