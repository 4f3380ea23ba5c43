/**
 * One model-file interface: every format registers `detect` and `open`, and an opened model
 * exposes its weights as a `TensorSource` and writes a copy with masks or new values applied,
 * every other byte preserved. Commands go through `openModel` and never switch on the format.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import type { TensorSource } from '../core/plan.js';
import type { WeightTensor } from '../core/types.js';
import { assertNotInput } from './fsutil.js';
import { OnnxModel, readOnnx, writeOnnx, writeOnnxMasked } from './onnx.js';
import { channelCompanions, outputWeightNames, type ChannelCompanion } from './onnx-roles.js';
import { buildChannelGraph, type ChannelGraph } from './onnx-depgraph.js';
import { writeShrunkOnnx, type ShrinkReport } from './onnx-shrink.js';
import { openSafetensors, writeSafetensorsStreaming, type MaskLike, type SafetensorsOptions } from './safetensors.js';
import { buildTfjsChannelGraph, type TfjsChannelGraph } from './tfjs-depgraph.js';
import { checkTfjsOutput, isTfjsModelPath, openTfjs, tfjsPaths } from './tfjs-folder.js';
import { writeShrunkTfjs } from './tfjs-shrink.js';

export type ModelFormat = 'onnx' | 'safetensors' | 'tfjs';

/** What to change in the copy. */
export interface ModelEdits {
  /**
   * The mask of a tensor, given its current values; called once per tensor, in file order,
   * before anything is written (a refusal thrown here writes nothing). Undefined: leave it.
   */
  readonly maskFor?: (name: string, values: Float32Array) => MaskLike | undefined;
  /** New values of tensors (SparseGPT's reconstruction), applied after masks. */
  readonly updates?: ReadonlyMap<string, Float32Array>;
  /** Called as tensors are processed: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Channel pruning: an output channel whose weights are all pruned loses its bias and its
   * normalisation scale and shift too, so the model equals the model without that channel.
   */
  readonly removeChannels?: boolean;
}

/** A tensor zeroed along with the output channels its weight lost. */
export interface CompanionEdit {
  readonly tensor: string;
  readonly weight: string;
  /** 'bias', 'norm scale', 'norm shift'. */
  readonly what: string;
  /** Entries set to zero. */
  readonly channels: number;
}

export interface WriteReport {
  /** Quantized weights written back with rounding: the largest error per tensor. */
  readonly quantizationError: ReadonlyMap<string, number>;
  /** With `removeChannels`: what else was zeroed. */
  readonly companions?: readonly CompanionEdit[];
}

export interface ShrinkGraphOptions {
  readonly asStored?: boolean;
  /** Replace an existing output that holds a model only (a training run's OUT/shrunk/ on a rerun). */
  readonly replace?: boolean;
}

/** An opened model file. */
export interface ModelFile extends TensorSource {
  readonly format: ModelFormat;
  /** The path as given. */
  readonly path: string;
  readonly tensors: readonly WeightTensor[];
  /** The ONNX model, for the commands that run it (calibration, pack, run, bench). */
  readonly onnx?: OnnxModel;
  /** Weights whose layer produces a model output (a classifier), where the format knows its graph. */
  readonly outputWeights?: readonly string[];
  /** What else the output channels of `weight` own (bias, norm scale and shift), where the format knows. */
  channelCompanions?(weight: string): readonly ChannelCompanion[];
  /**
   * The groups of coupled channel axes (structural shrinking), where the format knows its graph.
   * `asStored` (TF.js): the model is channel-masked already, constants come from its stored values.
   */
  channelGraph?(options?: ShrinkGraphOptions): ChannelGraph;
  /** Writes a dense copy without the channels flagged in `removed` (group id → a flag per channel), atomically. */
  writeShrunk?(output: string, removed: ReadonlyMap<number, Uint8Array>, options?: ShrinkGraphOptions): ShrinkReport;
  /** Refuses an output path this model cannot be written to (wrong kind, the input itself, no folder). */
  checkOutput(output: string): void;
  /** Writes a copy with `edits` applied to `output`, atomically. */
  write(output: string, edits: ModelEdits): WriteReport;
  close(): void;
}

export interface OpenOptions {
  /** safetensors: keep the data section in memory between passes up to this many bytes. */
  readonly cacheBytes?: number;
}

export interface FormatHandler {
  readonly id: ModelFormat;
  /** What the format is, for messages. */
  readonly describe: string;
  /** Whether `file` (which exists) is this format. */
  detect(file: string): boolean;
  open(file: string, options: OpenOptions): ModelFile;
}

const NO_REPORT: WriteReport = { quantizationError: new Map() };

/** Collects every mask before writing: formats written in one piece. */
function collectMasks(source: TensorSource, edits: ModelEdits): Map<string, MaskLike> {
  const masks = new Map<string, MaskLike>();
  if (!edits.maskFor) return masks;
  let done = 0;
  for (const t of source.tensors) {
    const mask = edits.maskFor(t.name, source.read(t.name));
    if (mask) masks.set(t.name, mask);
    edits.onProgress?.(++done, source.tensors.length);
  }
  return masks;
}

function checkFileOutput(input: string, output: string, ext: string, what: string): void {
  if (path.extname(output).toLowerCase() !== ext) {
    throw new SculptError(`${output}: output format must match the input's (${what}, ${ext}); convert formats separately`);
  }
  const inReal = fs.realpathSync(input);
  const outAbs = path.resolve(output);
  if (inReal === (fs.existsSync(outAbs) ? fs.realpathSync(outAbs) : outAbs)) {
    throw new SculptError(`${output}: the output is the input file; sculpt never overwrites its input, choose another -o path`);
  }
  assertNotInput(output, [input]);
  const dir = path.dirname(path.resolve(output));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new SculptError(`${output}: folder ${dir} does not exist`);
}

const onnxFormat: FormatHandler = {
  id: 'onnx',
  describe: 'ONNX model (.onnx)',
  detect: (file) => path.extname(file).toLowerCase() === '.onnx',
  open(file) {
    const model = readOnnx(file);
    const isStored = (name: string, rank: number): boolean => model.tensors.some((x) => x.name === name && x.shape.length === rank);
    let graph: ChannelGraph | undefined;
    const channelGraph = (): ChannelGraph => (graph ??= buildChannelGraph(model));
    const self: ModelFile = {
      format: 'onnx', path: file, tensors: model.tensors, onnx: model,
      channelCompanions: (weight) => channelCompanions(model.decoded.allNodes, weight, isStored),
      outputWeights: outputWeightNames(model.decoded.nodes, model.decoded.inputs.map((i) => i.name), model.decoded.outputs.map((o) => o.name), new Set(model.tensors.filter((t) => t.prunable).map((t) => t.name))),
      read: (name) => model.read(name),
      channelGraph,
      writeShrunk: (output, removed) => writeShrunkOnnx(model, channelGraph(), removed, output),
      checkOutput: (output) => checkFileOutput(file, output, '.onnx', 'ONNX'),
      write(output, edits) {
        const masks = collectMasks(model, edits);
        const companions = edits.removeChannels ? companionMasks(self, masks) : [];
        if (!edits.updates?.size) return { ...writeOnnxMasked(model, output, masks), companions };
        const updates = new Map(edits.updates);
        for (const [name, mask] of masks) {
          if (updates.has(name)) continue;
          const values = model.read(name);
          for (let i = 0; i < values.length; i++) if (!mask.get(i)) values[i] = 0;
          updates.set(name, values);
        }
        return { ...writeOnnx(model, output, updates), companions };
      },
      close() {},
    };
    return self;
  },
};

/** Adds to `masks` the entries of biases and norms whose channel lost all its weights; returns what it zeroed. */
function companionMasks(model: ModelFile, masks: Map<string, MaskLike>): CompanionEdit[] {
  const out: CompanionEdit[] = [];
  if (!model.channelCompanions) return out;
  for (const t of model.tensors) {
    const mask = masks.get(t.name);
    if (!mask || t.shape.length < 2) continue;
    const axis = t.outputAxis;
    const channels = t.shape[axis];
    let post = 1;
    for (let d = axis + 1; d < t.shape.length; d++) post *= t.shape[d];
    const alive = new Uint8Array(channels);
    const n = mask.length ?? t.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) if (mask.get(i)) alive[Math.floor(i / post) % channels] = 1;
    if (alive.every((a) => a === 1)) continue;
    for (const c of model.channelCompanions(t.name)) {
      const size = model.tensors.find((x) => x.name === c.name)!.shape[0];
      if (size !== channels) continue;
      const prior = masks.get(c.name);
      const keep = new Uint8Array(size);
      let zeroed = 0;
      for (let i = 0; i < size; i++) {
        keep[i] = alive[i] && (!prior || prior.get(i)) ? 1 : 0;
        if (!alive[i]) zeroed++;
      }
      masks.set(c.name, { length: size, get: (i: number) => keep[i] === 1 });
      out.push({ tensor: c.name, weight: t.name, what: c.what, channels: zeroed });
    }
  }
  return out;
}

const safetensorsFormat: FormatHandler = {
  id: 'safetensors',
  describe: 'safetensors checkpoint (.safetensors)',
  detect: (file) => path.extname(file).toLowerCase() === '.safetensors',
  open(file, options) {
    const src = openSafetensors(file, { cacheBytes: options.cacheBytes ?? 0 } satisfies SafetensorsOptions);
    return {
      format: 'safetensors', path: file, tensors: src.tensors,
      read: (name) => src.read(name),
      checkOutput: (output) => checkFileOutput(file, output, '.safetensors', 'safetensors'),
      write(output, edits) {
        if (edits.updates?.size) throw new SculptError(`${file}: safetensors output takes masks only, not new values`);
        // Streamed: each tensor's mask is asked for as it is written, one tensor in memory at a time.
        let done = 0;
        writeSafetensorsStreaming(src, output, (name, values) => {
          const mask = edits.maskFor?.(name, values);
          edits.onProgress?.(++done, src.tensors.length);
          return mask;
        });
        return NO_REPORT;
      },
      close: () => src.close(),
    };
  },
};

const tfjsFormat: FormatHandler = {
  id: 'tfjs',
  describe: 'TF.js model (a folder or model.json of a layers or graph model, or a *weights_manifest.json)',
  detect: (file) => isTfjsModelPath(file),
  open(file) {
    const src = openTfjs(file);
    const graphs = new Map<boolean, TfjsChannelGraph>();
    const tfjsGraph = (o: ShrinkGraphOptions = {}): TfjsChannelGraph => {
      const asStored = o.asStored === true;
      let g = graphs.get(asStored);
      if (!g) graphs.set(asStored, (g = buildTfjsChannelGraph(src, { asStored })));
      return g;
    };
    // Layers models only: a graph model's GraphDef or a bare manifest has no Keras layers to follow.
    const shrinking: Pick<ModelFile, 'channelGraph' | 'writeShrunk'> = src.kind !== 'layers-model' ? {} : {
      channelGraph: (o) => tfjsGraph(o).graph,
      writeShrunk: (output, removed, o) => writeShrunkTfjs(src, tfjsGraph(o), removed, output, o?.replace === true),
    };
    const self: ModelFile = {
      format: 'tfjs', path: file, tensors: src.tensors,
      ...shrinking,
      channelCompanions: (weight) => src.channelCompanions(weight),
      read: (name) => src.read(name),
      checkOutput(output) {
        if (/\.(onnx|safetensors)$/i.test(output)) {
          throw new SculptError(`${output}: output format must match the input's (a TF.js model folder); name a new folder with -o`);
        }
        checkTfjsOutput(tfjsPaths(file).dir, output);
      },
      write(output, edits) {
        if (edits.updates?.size) throw new SculptError(`${file}: TF.js output takes masks only, not new values`);
        // Zeroing waits until every mask is chosen: the plan may re-read tensors it has already seen.
        const masks = collectMasks(src, edits);
        const companions = edits.removeChannels ? companionMasks(self, masks) : [];
        for (const [name, mask] of masks) src.zero(name, mask);
        src.write(output);
        return { ...NO_REPORT, companions };
      },
      close() {},
    };
    return self;
  },
};

const FORMATS: FormatHandler[] = [onnxFormat, safetensorsFormat, tfjsFormat];

/** Registers another format (checked before the built-in ones). */
export function registerFormat(handler: FormatHandler): void {
  FORMATS.unshift(handler);
}

/** The format of an existing model path, or a SculptError naming what sculpt reads. */
export function detectFormat(file: string): FormatHandler {
  if (!fs.existsSync(file)) throw new SculptError(`${file}: no such file or folder`);
  const st = fs.statSync(file);
  if (!st.isFile() && !st.isDirectory()) throw new SculptError(`${file}: not a regular file or folder`);
  for (const f of FORMATS) if (f.detect(file)) return f;
  if (st.isDirectory()) {
    throw new SculptError(`${file}: not a regular file and no model.json here; give an .onnx or .safetensors file, or a TF.js model folder (model.json and its shards)`);
  }
  const ext = path.extname(file);
  throw new SculptError(`${file}: unknown model format '${ext || '(no extension)'}'; sculpt reads ${FORMATS.map((f) => f.describe).join(', ')}`);
}

/** Opens a model file through the format registry. */
export function openModel(file: string, options: OpenOptions = {}): ModelFile {
  return detectFormat(file).open(file, options);
}
