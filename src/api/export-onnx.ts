/**
 * `sculpt export`: a TF.js layers model folder (model.json + shards) as an ONNX file. Read straight
 * from the folder (no TensorFlow.js needed), converted layer by layer (export-onnx-layers.ts) and
 * encoded by the one ONNX builder.
 *
 * Layout: the ONNX model takes and returns the same arrays as TF.js's `model.predict` —
 * channels-last (NHWC) inputs and outputs. Internally Conv and pooling run channels-first: a
 * Transpose follows the input where the first Conv needs it, Conv kernels are stored transposed
 * ([kh, kw, in, out] → [out, in, kh, kw]), and a Transpose back precedes Flatten, so the Dense
 * kernel after it keeps TF.js's order. Weights are float32 raw_data, zeros kept bit for bit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import { encodeOnnx, type ValueSpec } from '../formats/onnx-build.js';
import { assertNotInput, writeFileAtomic } from '../formats/fsutil.js';
import { openTfjsFolder, type TfjsFolder } from '../formats/tfjs-folder.js';
import { OnnxGraph, type Dim, type Val } from './export-onnx-graph.js';
import { LAYER_CONVERTERS, type LayerCall, type LayerWeight } from './export-onnx-layers.js';

export const EXPORT_OPSETS = [13, 14, 15, 16, 17] as const;

export interface ExportOnnxOptions {
  /** Default-domain opset of the file, 13 (default) to 17: the operators used mean the same in all. */
  readonly opset?: number;
}

export interface ExportedWeight {
  readonly name: string;
  /** Shape in the TF.js folder. */
  readonly tfjsShape: readonly number[];
  /** Shape of the ONNX initializer (Conv kernels are transposed to [out, in, k...]). */
  readonly onnxShape: readonly number[];
  readonly count: number;
  readonly zeros: number;
}

export interface ExportedValue {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

export interface ExportOnnxResult {
  /** The ONNX file. */
  readonly bytes: Uint8Array;
  readonly input: string;
  readonly model: string;
  readonly opset: number;
  readonly irVersion: number;
  readonly inputs: readonly ExportedValue[];
  readonly outputs: readonly ExportedValue[];
  /** Layers in conversion order with the ONNX ops each became (none: identity at inference). */
  readonly layers: readonly { readonly name: string; readonly className: string; readonly ops: readonly string[] }[];
  readonly weights: readonly ExportedWeight[];
  readonly parameters: number;
  readonly zeros: number;
  readonly nodes: number;
  /** Layout Transposes the graph needed (NHWC ↔ NCHW). */
  readonly transposes: number;
  /** Float weights in the folder no layer used (not exported). */
  readonly unusedWeights: readonly string[];
}

interface KerasLayer {
  readonly name: string;
  readonly className: string;
  readonly config: Record<string, any>;
  /** Per call of the layer: the [layer, node, tensor] it reads. */
  readonly inbound: readonly (readonly Ref[])[];
}

interface Ref {
  readonly layer: string;
  readonly node: number;
  readonly tensor: number;
}

interface Topology {
  readonly name: string;
  readonly layers: ReadonlyMap<string, KerasLayer>;
  readonly inputs: readonly Ref[];
  readonly outputs: readonly Ref[];
}

type Fail = (why: string) => never;

function asObject(v: unknown): Record<string, any> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : undefined;
}

/** The Keras model config in model.json: `modelTopology` itself or its `model_config`. */
function modelConfig(json: Record<string, any>, fail: Fail): { className: string; config: any } {
  if (json.format === 'graph-model') fail('it is a TF.js graph model; sculpt export takes layers models (format layers-model)');
  let topo = asObject(json.modelTopology) ?? fail('no modelTopology');
  if (asObject(topo.model_config)) topo = topo.model_config;
  if (typeof topo.class_name !== 'string') fail('modelTopology has no class_name');
  return { className: topo.class_name, config: topo.config };
}

const isInputLayer = (l: { class_name?: unknown }) => l.class_name === 'InputLayer';

/** The config holding the input shape of a layer that starts a model: nested models searched. */
function firstInputConfig(layer: Record<string, any>, depth: number): Record<string, any> | undefined {
  const config = asObject(layer.config) ?? (Array.isArray(layer.config) ? { layers: layer.config } : undefined);
  if (!config || depth > 32) return undefined;
  if (layer.class_name === 'Sequential') {
    const first = asObject(Array.isArray(config.layers) ? config.layers[0] : undefined);
    return first ? firstInputConfig(first, depth + 1) : undefined;
  }
  if (MODEL_CLASSES.has(String(layer.class_name))) {
    const name = Array.isArray(config.input_layers) ? (Array.isArray(config.input_layers[0]) ? config.input_layers[0][0] : config.input_layers[0]) : undefined;
    const input = (Array.isArray(config.layers) ? config.layers : []).find((l: any) => l?.name === name || l?.config?.name === name);
    return input ? asObject(input.config) : undefined;
  }
  return config;
}

function sequentialTopology(config: any, fail: Fail): Topology {
  const list: any[] = Array.isArray(config) ? config : Array.isArray(config?.layers) ? config.layers : fail('Sequential config has no layers');
  if (list.length === 0) fail('the Sequential model has no layers');
  const layers = new Map<string, KerasLayer>();
  const first = asObject(list[0]) ?? fail('a layer config is not an object');
  let inputName: string;
  let rest = list;
  let inputConfig: Record<string, any>;
  if (isInputLayer(first)) {
    inputConfig = first.config ?? {};
    inputName = String(inputConfig.name ?? 'input');
    rest = list.slice(1);
  } else {
    // TF.js names a Sequential model's input after its first layer (which may be a model itself).
    inputName = `${String(first.config?.name)}_input`;
    inputConfig = firstInputConfig(first, 0) ?? first.config ?? {};
  }
  layers.set(inputName, { name: inputName, className: 'InputLayer', config: { ...inputConfig, name: inputName }, inbound: [] });
  let prev = inputName;
  for (const l of rest) {
    const o = asObject(l) ?? fail('a layer config is not an object');
    const name = String(o.config?.name ?? fail(`a ${String(o.class_name)} layer has no name`));
    if (layers.has(name)) fail(`two layers are named ${name}`);
    layers.set(name, { name, className: String(o.class_name), config: o.config ?? {}, inbound: [[{ layer: prev, node: 0, tensor: 0 }]] });
    prev = name;
  }
  return { name: String(config?.name ?? 'sequential'), layers, inputs: [{ layer: inputName, node: 0, tensor: 0 }], outputs: [{ layer: prev, node: 0, tensor: 0 }] };
}

function parseRef(r: unknown, fail: Fail): Ref {
  if (Array.isArray(r) && typeof r[0] === 'string') return { layer: r[0], node: Number(r[1] ?? 0), tensor: Number(r[2] ?? 0) };
  return fail(`layer reference ${JSON.stringify(r)} is not [name, node, tensor] (Keras 3 configs are not supported: save the model with TF.js)`);
}

function functionalTopology(config: any, fail: Fail): Topology {
  const list: any[] = Array.isArray(config?.layers) ? config.layers : fail('the functional model config has no layers');
  const layers = new Map<string, KerasLayer>();
  for (const l of list) {
    const o = asObject(l) ?? fail('a layer config is not an object');
    const name = String(o.name ?? o.config?.name ?? fail(`a ${String(o.class_name)} layer has no name`));
    const nodes = Array.isArray(o.inbound_nodes) ? o.inbound_nodes : [];
    const inbound: Ref[][] = nodes.map((n: unknown) => (Array.isArray(n) ? n.map((r) => parseRef(r, fail)) : [parseRef(n, fail)]));
    // A nested model's node 0 is the one that built it; the calls listed here are nodes 1, 2, ...
    if (MODEL_CLASSES.has(String(o.class_name))) inbound.unshift([]);
    layers.set(name, { name, className: String(o.class_name), config: o.config ?? {}, inbound });
  }
  const refs = (v: unknown, what: string): Ref[] => {
    if (!Array.isArray(v) || v.length === 0) fail(`the model config has no ${what}`);
    // A single [name, node, tensor] or a list of them.
    return typeof (v as unknown[])[0] === 'string' ? [parseRef(v, fail)] : (v as unknown[]).map((r) => parseRef(r, fail));
  };
  return { name: String(config?.name ?? 'model'), layers, inputs: refs(config.input_layers, 'input_layers'), outputs: refs(config.output_layers, 'output_layers') };
}

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

function topologyOf(className: string, config: any, fail: Fail): Topology {
  if (className === 'Sequential') return sequentialTopology(config, fail);
  if (className === 'Model' || className === 'Functional') return functionalTopology(config, fail);
  return fail(`the model class is ${className}, not Sequential or Model`);
}

function symbolicDims(shape: readonly Dim[], base: string): (number | string)[] {
  return shape.map((d, i) => (d !== null ? d : i === 0 ? 'N' : `${base}_d${i}`));
}

function countZeros(a: Float32Array): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return z;
}

/** Converts the TF.js layers model at `folder` (or its model.json) to ONNX bytes. */
export function exportTfjsToOnnx(folder: string, options: ExportOnnxOptions = {}): ExportOnnxResult {
  return convert(openFolder(folder), folder, options);
}

/** The folder, or a one-line error that says what to give instead (a training run's round-K/). */
function openFolder(folder: string): TfjsFolder {
  if (fs.existsSync(folder) && fs.statSync(folder).isDirectory() && !fs.existsSync(path.join(folder, 'model.json'))) {
    const rounds = fs.readdirSync(folder).filter((n) => /^round-\d+$/.test(n) && fs.existsSync(path.join(folder, n, 'model.json')));
    if (rounds.length > 0) {
      rounds.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
      throw new SculptError(`${folder}: a training run folder, not a model; export one of its rounds, e.g. ${path.join(folder, rounds[rounds.length - 1])}`);
    }
  }
  return openTfjsFolder(folder);
}

function convert(src: TfjsFolder, folder: string, options: ExportOnnxOptions): ExportOnnxResult {
  const opset = options.opset ?? 13;
  if (!(EXPORT_OPSETS as readonly number[]).includes(opset)) throw new SculptError(`--opset ${opset} is not supported; sculpt export writes opset 13 to 17`);
  const file = src.jsonPath;
  const fail: Fail = (why) => {
    throw new SculptError(`${file}: cannot export: ${why}`);
  };
  if (src.kind !== 'layers-model') {
    const what = src.kind === 'graph-model' ? 'a TF.js graph model (no Keras layers to convert)' : 'a bare weights manifest (weights without a graph)';
    fail(`it is ${what}; sculpt export takes TF.js layers models, as tf.LayersModel.save and sculpt train write them`);
  }
  const json = JSON.parse(new TextDecoder().decode(src.jsonBytes)) as Record<string, any>;
  const { className, config } = modelConfig(json, fail);
  const topo = topologyOf(className, config, fail);

  const g = new OnnxGraph();
  const byName = new Map(src.entries.map((e) => [e.name, e]));
  const used = new Set<string>();
  const weights: ExportedWeight[] = [];
  const inputs: ValueSpec[] = [];
  const inputVals: Val[] = [];
  const layerOps: { name: string; className: string; ops: string[] }[] = [];

  const findWeight = (layer: string, short: string) => {
    const exact = byName.get(`${layer}/${short}`);
    if (exact) return exact;
    return src.entries.find((e) => e.name.endsWith(`/${layer}/${short}`));
  };

  for (const ref of topo.inputs) {
    const l = topo.layers.get(ref.layer) ?? fail(`input layer ${ref.layer} is not among the layers`);
    if (l.className !== 'InputLayer') fail(`input ${ref.layer} is a ${l.className}, not an InputLayer`);
    const shape = l.config.batch_input_shape ?? l.config.batch_shape ?? l.config.batchInputShape ?? (Array.isArray(l.config.input_shape) ? [null, ...l.config.input_shape] : undefined);
    if (!Array.isArray(shape) || shape.length < 2) fail(`input ${ref.layer} has no batch_input_shape; build the model with an input shape`);
    const dtype = l.config.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'int32') fail(`input ${ref.layer} has dtype ${dtype}; only float32 and int32 inputs are supported`);
    const keras: Dim[] = [null, ...(shape as Dim[]).slice(1)];
    g.reserve(l.name);
    inputVals.push({ name: l.name, shape: keras, cf: false });
    inputs.push({ name: l.name, dims: symbolicDims(keras, l.name), elemType: dtype === 'int32' ? 7 : 1 });
  }

  /** The outputs of `model` applied to `given` (its inputs, in order); nested models recurse. */
  const walk = (model: Topology, given: readonly Val[], depth: number): Val[] => {
    if (depth > 32) fail(`models are nested more than 32 deep`);
    if (given.length !== model.inputs.length) fail(`model ${model.name} takes ${model.inputs.length} inputs, it is given ${given.length}`);
    const values = new Map<string, Val>();
    const nested = new Map<string, Val[]>();
    const visiting = new Set<string>();
    model.inputs.forEach((ref, i) => values.set(`${ref.layer}#0#0`, given[i]));
    const evaluate = (ref: Ref): Val => {
      const key = `${ref.layer}#${ref.node}#${ref.tensor}`;
      const done = values.get(key);
      if (done) return done;
      const layer = model.layers.get(ref.layer) ?? fail(`a layer reads ${ref.layer}, which is not among the layers`);
      if (layer.className === 'InputLayer') fail(`input layer ${layer.name} is not listed among the model's inputs`);
      if (visiting.has(key)) fail(`the layers form a cycle through ${layer.name}`);
      visiting.add(key);
      const inbound = layer.inbound[ref.node] ?? fail(`layer ${layer.name} has no call ${ref.node}`);
      const ins = inbound.map(evaluate);
      let out: Val;
      if (MODEL_CLASSES.has(layer.className)) {
        // One inlined copy per call, whichever of its outputs are read.
        const call = `${layer.name}#${ref.node}`;
        const outs = nested.get(call) ?? walk(topologyOf(layer.className, layer.config, fail), ins, depth + 1);
        nested.set(call, outs);
        out = outs[ref.tensor] ?? fail(`model ${layer.name} has ${outs.length} outputs, output ${ref.tensor} is read`);
      } else {
        if (ref.tensor !== 0) fail(`layer ${layer.name} (${layer.className}) has one output, output ${ref.tensor} is read`);
        out = apply(layer, ins);
      }
      visiting.delete(key);
      values.set(key, out);
      return out;
    };
    return model.outputs.map(evaluate);
  };

  const apply = (layer: KerasLayer, ins: Val[]): Val => {
    const convert = LAYER_CONVERTERS[layer.className];
    const where = `layer ${layer.name} (${layer.className})`;
    if (!convert) fail(`${where} is not supported; supported: ${Object.keys(LAYER_CONVERTERS).join(', ')}`);
    const before = g.nodes.length;
    const call: LayerCall = {
      name: layer.name,
      className: layer.className,
      config: layer.config,
      inputs: ins,
      g,
      fail: (why) => fail(`${where}: ${why}`),
      weight: (short): LayerWeight | undefined => {
        const e = findWeight(layer.name, short);
        if (!e) return undefined;
        if (e.dtype !== 'float32') fail(`${where}: weight ${e.name} has dtype ${e.dtype}, expected float32`);
        const data = src.read(e.name).slice();
        for (let i = 0; i < data.length; i++) {
          if (!Number.isFinite(data[i])) fail(`weight ${e.name} holds ${data[i]} at index ${i}; fix or retrain the model before exporting`);
        }
        if (!used.has(e.name)) {
          used.add(e.name);
          weights.push({ name: e.name, tfjsShape: e.shape, onnxShape: e.shape, count: data.length, zeros: countZeros(data) });
        }
        return { name: e.name, shape: e.shape, data };
      },
    };
    let out = convert(call);
    // Name the layer's result after the layer, as TF.js does.
    if (out.name !== layer.name && g.nodes.slice(before).some((n) => n.outputs.includes(out.name))) {
      const name = g.unique(layer.name);
      g.rename(out.name, name);
      out = { ...out, name };
    }
    layerOps.push({ name: layer.name, className: layer.className, ops: g.nodes.slice(before).map((n) => n.op) });
    return out;
  };

  const outputs: ValueSpec[] = [];
  const seen = new Set<string>();
  // The whole graph first: renaming an output must not change what a later layer reads.
  const results = walk(topo, inputVals, 0);
  for (const [k, ref] of topo.outputs.entries()) {
    const val = g.current(results[k]);
    let v = g.cl(val);
    const desired = seen.has(ref.layer) ? g.unique(ref.layer) : ref.layer;
    seen.add(ref.layer);
    if (v.name !== val.name && val.name === desired) {
      // The channels-first value carries the layer's name: hand the name to the NHWC output.
      g.rename(val.name, g.unique(`${desired}/nchw`));
      g.rename(v.name, desired);
      v = { ...v, name: desired };
    } else if (inputs.some((i) => i.name === v.name) || outputs.some((o) => o.name === v.name)) {
      v = { ...v, name: g.node('Identity', [v.name], `${desired}/identity`) };
    }
    outputs.push({ name: v.name, dims: symbolicDims(v.shape, v.name) });
  }

  // ONNX shapes of the initializers (Conv kernels were transposed on the way).
  const initDims = new Map(g.initializers.map((t) => [t.name, t.dims]));
  const order = new Map(src.entries.map((e, i) => [e.name, i]));
  const exported = weights
    .map((w) => ({ ...w, onnxShape: initDims.get(w.name) ?? w.onnxShape }))
    .sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  const irVersion = opset === 13 ? 7 : 8;
  const bytes = encodeOnnx({
    nodes: g.nodes,
    initializers: g.initializers,
    inputs,
    outputs,
    opset,
    irVersion,
    producer: 'sculpt export',
    graphName: topo.name,
    // No paths in the file: the same model gives the same bytes wherever it lies.
    docString: `TF.js layers model ${topo.name} exported by sculpt; inputs and outputs are channels-last (NHWC) as in TF.js`,
    metadata: { 'sculpt.source': 'tfjs-layers-model', 'sculpt.layout': 'NHWC inputs and outputs; Conv kernels stored [out, in, k...]' },
  });
  return {
    bytes,
    input: folder,
    model: topo.name,
    opset,
    irVersion,
    inputs: inputs.map((i) => ({ name: i.name, dims: i.dims ?? [] })),
    outputs: outputs.map((o) => ({ name: o.name, dims: o.dims ?? [] })),
    layers: layerOps,
    weights: exported,
    parameters: exported.reduce((s, w) => s + w.count, 0),
    zeros: exported.reduce((s, w) => s + w.zeros, 0),
    nodes: g.nodes.length,
    transposes: g.layoutTransposes,
    unusedWeights: src.tensors.map((t) => t.name).filter((n) => !used.has(n)),
  };
}

/** Exports `folder` and writes the ONNX file to `output` (a new .onnx path, written atomically). */
export function exportTfjsFile(folder: string, output: string, options: ExportOnnxOptions = {}): ExportOnnxResult & { readonly output: string } {
  if (!output.toLowerCase().endsWith('.onnx')) throw new SculptError(`${output}: -o must name an .onnx file`);
  const src = openFolder(folder);
  const shards = src.groups.flatMap((g) => g.paths.map((p) => path.join(src.dir, p)));
  assertNotInput(output, [src.jsonPath, ...shards]);
  const result = convert(src, folder, options);
  writeFileAtomic(output, result.bytes);
  return { ...result, output };
}
