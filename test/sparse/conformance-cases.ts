/**
 * The ONNX backend conformance cases (Debian's libonnx-testdata: data/node/<case>/model.onnx with
 * test_data_set_0/input_N.pb and output_N.pb) run on the sparse executor.
 *
 * A case is *claimed* when every node of its graph (subgraphs included) is an operator the
 * executor lists in supportedOps(), in the default domain. Its data is read as the graph's inputs
 * and outputs are typed: tensors (bfloat16 ones stored as uint16 bits), sequences and optionals;
 * data sculpt cannot read (strings) makes the case a failure, not a case apart. A claimed case
 * passes when every output has the expected dims and values within onnx's own backend-test
 * tolerance (|got − want| ≤ atol + rtol·|want|, rtol 1e-3, atol 1e-7; NaN matches NaN), item by
 * item for sequences and optionals. A SculptError from a claimed case is a failure; any other
 * exception is a crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../../src/core/errors.js';
import { isGraph, type Graph, type GraphTensor, type GraphValue, type GraphValueInfo } from '../../src/core/graph.js';
import { ONNX_DTYPE, readValueProto } from '../../src/formats/onnx-decode.js';
import { readOnnx } from '../../src/formats/onnx.js';
import { SparseExecutor, supportedOps } from '../../src/sparse/executor.js';
import { fromGraphTensor, fromGraphValue, type Tensor } from '../../src/sparse/tensor.js';

export const RTOL = 1e-3;
export const ATOL = 1e-7;

/** The suites run: onnx's operator cases and the ones converted from PyTorch's module and operator tests. */
export const KINDS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;

/**
 * The `data` folder holding `node/` and its siblings: $SCULPT_ONNX_TESTDATA (that folder, its
 * `node/` folder, or where the .deb was unpacked), else Debian's path.
 */
export function conformanceDir(): string | undefined {
  const candidates = [process.env.SCULPT_ONNX_TESTDATA, '/usr/share/libonnx-testdata/data'].filter((p): p is string => !!p);
  for (const c of candidates) {
    for (const p of [c, path.dirname(c), path.join(c, 'data'), path.join(c, 'usr/share/libonnx-testdata/data')]) {
      if (fs.existsSync(path.join(p, 'node', 'test_abs', 'model.onnx'))) return p;
    }
  }
  return undefined;
}

export type Outcome =
  | { readonly kind: 'unclaimed'; readonly why: string }
  | { readonly kind: 'pass' }
  | { readonly kind: 'fail'; readonly why: string }
  | { readonly kind: 'crash'; readonly why: string };

/** Operator types of a graph and its subgraphs, as `domain.op` outside the default domain. */
export function graphOps(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    into.add(n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}.${n.opType}`);
    for (const v of n.attributes.values()) if (isGraph(v)) graphOps(v, into);
  }
  return into;
}

function pbFiles(dir: string, prefix: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => path.join(dir, f));
}

/** A `.pb` file as the graph value `info` says it is: a TensorProto, SequenceProto or OptionalProto. */
function readPb(file: string, info: GraphValueInfo | undefined): GraphValue {
  const buf = fs.readFileSync(file);
  const v = readValueProto(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file, info?.kind ?? 'tensor');
  return info?.elemType === ONNX_DTYPE.BFLOAT16 ? bfloat16Bits(v) : v;
}

/** onnx's test data holds bfloat16 tensors as their uint16 bits: read them as the values they stand for. */
function bfloat16Bits(v: GraphValue): GraphValue {
  if (v.kind === 'sequence') return { ...v, items: v.items.map(bfloat16Bits) };
  if (v.kind === 'optional') return v.value ? { ...v, value: bfloat16Bits(v.value) } : v;
  if (v.tensor.dtype !== 'uint16') return v;
  const bits = v.tensor.data as Uint16Array;
  const words = Uint32Array.from(bits, (b) => b << 16);
  return { kind: 'tensor', tensor: { ...v.tensor, dtype: 'float32', data: new Float32Array(words.buffer) } };
}

function kindOf(t: Tensor): string {
  return t.items ? (t.optional ? 'an optional' : 'a sequence') : 'a tensor';
}

/** Why the executor's value `got` differs from `want` (a tensor, sequence or optional), or undefined when it matches. */
export function compareValue(got: Tensor, want: GraphValue): string | undefined {
  if (want.kind === 'tensor') return compare(got, want.tensor);
  const items = want.kind === 'sequence' ? want.items : want.value ? [want.value] : [];
  if (!got.items || !!got.optional !== (want.kind === 'optional')) return `${kindOf(got)}, expected ${want.kind === 'optional' ? 'an optional' : 'a sequence'}`;
  if (got.items.length !== items.length) return `${want.kind} of ${got.items.length} values, expected ${items.length}`;
  for (let i = 0; i < items.length; i++) {
    const why = compareValue(got.items[i], items[i]);
    if (why) return `item ${i}: ${why}`;
  }
  return undefined;
}

/** Why tensor `got` differs from `want`, or undefined when it matches. */
export function compare(got: Tensor, want: GraphTensor): string | undefined {
  if (got.items) return `${kindOf(got)}, expected a tensor`;
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return `dims [${got.dims.join(', ')}], expected [${want.dims.join(', ')}]`;
  }
  const w = fromGraphTensor(want).data;
  const exact = want.dtype !== 'float32' && want.dtype !== 'float16' && want.dtype !== 'float64';
  if (exact && got.dtype === 'float32') return `float32 values, expected ${want.dtype}`;
  if (!exact && got.dtype !== 'float32') return `${got.dtype} values, expected ${want.dtype}`;
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < w.length; i++) {
    const a = got.data[i], b = w[i];
    if (Number.isNaN(b) ? Number.isNaN(a) : exact ? a === b : a === b || Math.abs(a - b) <= ATOL + RTOL * Math.abs(b)) continue;
    const excess = Number.isNaN(a - b) ? Infinity : Math.abs(a - b);
    if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
  }
  return worst < 0 ? undefined : `element ${worst} is ${got.data[worst]}, expected ${w[worst]}`;
}

export function runCase(caseDir: string, claimed: ReadonlySet<string> = new Set(supportedOps())): Outcome {
  let graph: Graph;
  try {
    graph = readOnnx(path.join(caseDir, 'model.onnx')).graph();
  } catch (e) {
    if (e instanceof SculptError) return { kind: 'unclaimed', why: `model not readable: ${e.message}` };
    return { kind: 'crash', why: `reading the model: ${String((e as Error).stack ?? e)}` };
  }
  const missing = [...graphOps(graph)].filter((op) => !claimed.has(op));
  if (missing.length > 0) return { kind: 'unclaimed', why: `operators ${missing.join(', ')}` };
  const data = path.join(caseDir, 'test_data_set_0');
  const inputFiles = pbFiles(data, 'input_'), outputFiles = pbFiles(data, 'output_');
  const feedInfos = graph.inputs.filter((i) => !graph.initializers.has(i.name));
  if (outputFiles.length !== graph.outputs.length || inputFiles.length > feedInfos.length) {
    return { kind: 'fail', why: `test data holds ${inputFiles.length} inputs/${outputFiles.length} outputs for a graph of ${feedInfos.length}/${graph.outputs.length}` };
  }
  let inputs: GraphValue[], outputs: GraphValue[];
  try {
    inputs = inputFiles.map((f, i) => readPb(f, feedInfos[i]));
    outputs = outputFiles.map((f, i) => readPb(f, graph.outputs[i]));
  } catch (e) {
    if (e instanceof SculptError) return { kind: 'fail', why: e.message };
    return { kind: 'crash', why: `reading test data: ${String((e as Error).stack ?? e)}` };
  }
  try {
    const feeds: Record<string, Tensor> = {};
    inputs.forEach((v, i) => { feeds[feedInfos[i].name] = fromGraphValue(v); });
    const result = new SparseExecutor(graph, { engine: 'dense' }).run(feeds);
    for (let i = 0; i < outputs.length; i++) {
      const why = compareValue(result[graph.outputs[i].name], outputs[i]);
      if (why) return { kind: 'fail', why: `output ${graph.outputs[i].name}: ${why}` };
    }
    return { kind: 'pass' };
  } catch (e) {
    if (e instanceof SculptError) return { kind: 'fail', why: e.message };
    return { kind: 'crash', why: String((e as Error).stack ?? e) };
  }
}

export interface Summary {
  readonly total: number;
  readonly claimed: number;
  readonly passed: number;
  readonly outcomes: ReadonlyMap<string, Outcome>;
}

/** Every case of every suite in KINDS under `dir`, by `kind/case`. */
export function runAll(dir: string): Summary {
  const outcomes = new Map<string, Outcome>();
  const claimed = new Set(supportedOps());
  for (const kind of KINDS) {
    const kindDir = path.join(dir, kind);
    if (!fs.existsSync(kindDir)) continue;
    for (const name of fs.readdirSync(kindDir).sort()) {
      const caseDir = path.join(kindDir, name);
      if (!fs.existsSync(path.join(caseDir, 'model.onnx'))) continue;
      outcomes.set(`${kind}/${name}`, runCase(caseDir, claimed));
    }
  }
  const all = [...outcomes.values()];
  return {
    total: all.length,
    claimed: all.filter((o) => o.kind !== 'unclaimed').length,
    passed: all.filter((o) => o.kind === 'pass').length,
    outcomes,
  };
}

/**
 * Robustness: every claimed node case run again with each input's shape changed (last axis one
 * longer, first axis one shorter, an extra leading axis) and made-up values. Whatever happens must
 * be a result or a SculptError; returns the cases that threw anything else.
 */
export function perturbedCrashes(dir: string): string[] {
  const crashes: string[] = [];
  const claimed = new Set(supportedOps());
  const nodeDir = path.join(dir, 'node');
  for (const name of fs.readdirSync(nodeDir).sort()) {
    const caseDir = path.join(nodeDir, name);
    if (!fs.existsSync(path.join(caseDir, 'model.onnx'))) continue;
    let graph: Graph, inputs: GraphValue[];
    let feedInfos: GraphValueInfo[];
    try {
      graph = readOnnx(path.join(caseDir, 'model.onnx')).graph();
      if ([...graphOps(graph)].some((op) => !claimed.has(op))) continue;
      feedInfos = graph.inputs.filter((i) => !graph.initializers.has(i.name));
      inputs = pbFiles(path.join(caseDir, 'test_data_set_0'), 'input_').map((f, i) => readPb(f, feedInfos[i]));
    } catch {
      continue;
    }
    let executor: SparseExecutor;
    try {
      executor = new SparseExecutor(graph, { engine: 'dense' });
    } catch (e) {
      if (!(e instanceof SculptError)) crashes.push(`${name}: ${String(e)}`);
      continue;
    }
    for (const change of ['longer', 'shorter', 'rank'] as const) {
      const feeds: Record<string, Tensor> = {};
      inputs.forEach((v, i) => {
        if (!feedInfos[i]) return;
        // Sequences and optionals go in as they are; tensors change shape.
        if (v.kind !== 'tensor') { feeds[feedInfos[i].name] = fromGraphValue(v); return; }
        const t = v.tensor;
        let dims = [...t.dims];
        if (change === 'longer' && dims.length > 0) dims[dims.length - 1] += 1;
        if (change === 'shorter' && dims.length > 0 && dims[0] > 1) dims[0] -= 1;
        if (change === 'rank') dims = [1, ...dims];
        const n = dims.reduce((a, b) => a * b, 1);
        const dtype = fromGraphTensor(t).dtype;
        const data = dtype === 'float32' ? Float32Array.from({ length: n }, (_, k) => Math.sin(k)) : dtype === 'bool' ? new Uint8Array(n) : Float64Array.from({ length: n }, (_, k) => k % 3);
        feeds[feedInfos[i].name] = { dtype, dims, data };
      });
      try {
        executor.run(feeds);
      } catch (e) {
        if (!(e instanceof SculptError)) crashes.push(`${name} (${change}): ${String(e)}`);
      }
    }
  }
  return crashes;
}

// `npx tsx test/sparse/conformance-cases.ts [filter]` lists every case's outcome.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const dir = conformanceDir();
  if (!dir) throw new Error('no conformance data: set SCULPT_ONNX_TESTDATA or install libonnx-testdata');
  const filter = process.argv[2];
  const s = runAll(dir);
  for (const [name, o] of s.outcomes) {
    if (filter && !name.includes(filter) && o.kind !== filter) continue;
    console.log(`${o.kind.padEnd(9)} ${name}${'why' in o ? `: ${o.why.split('\n').slice(0, 3).join(' | ')}` : ''}`);
  }
  console.log(`${s.passed}/${s.claimed} claimed cases pass (${s.total} cases)`);
}
