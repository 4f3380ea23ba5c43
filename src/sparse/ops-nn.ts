/** Softmax and the window geometry (output size, pads) that convolution and pooling share. */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrInt, attrInts, attrString, float, need, nodeLabel, type Attrs, type OpFn } from './ops-common.js';
import { vectorSized } from './ops-elementwise.js';
import { softmaxRows } from './ops-vector.js';
import { floatTensor, normAxis, size } from './tensor.js';


export function softmax(log: boolean): OpFn {
  return (inputs, attrs, node, ctx) => {
    const a = need(inputs[0], node, 0);
    const x = float(a, node);
    const old = (ctx?.opset ?? 13) < 13;
    const axis = normAxis(attrInt(attrs, 'axis', old ? 1 : -1), a.dims.length, `${nodeLabel(node)} (${node.opType})`);
    // Before opset 13 the input is coerced to 2-D at `axis` and each row is one softmax.
    const n = old ? size(a.dims.slice(axis)) : a.dims[axis];
    const inner = old ? 1 : size(a.dims.slice(axis + 1));
    const outer = size(a.dims.slice(0, axis));
    if (!log && inner === 1 && a.dtype === 'float32' && vectorSized(x.length)) return [floatTensor(a.dims, softmaxRows(x, outer, n))];
    const o = new Float32Array(x.length);
    if (!log && inner === 1) {
      // Rows along the last axis (attention scores): each exp computed once, kept in double.
      const e = new Float64Array(n);
      for (let p = 0; p < outer; p++) {
        const base = p * n;
        let m = -Infinity;
        for (let j = 0; j < n; j++) m = Math.max(m, x[base + j]);
        let s = 0;
        for (let j = 0; j < n; j++) s += (e[j] = Math.exp(x[base + j] - m));
        for (let j = 0; j < n; j++) o[base + j] = e[j] / s;
      }
      return [floatTensor(a.dims, o)];
    }
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        const base = p * n * inner + q;
        let m = -Infinity;
        for (let j = 0; j < n; j++) m = Math.max(m, x[base + j * inner]);
        let s = 0;
        for (let j = 0; j < n; j++) s += Math.exp(x[base + j * inner] - m);
        const ls = Math.log(s);
        for (let j = 0; j < n; j++) {
          const v = x[base + j * inner] - m;
          o[base + j * inner] = log ? v - ls : Math.exp(v) / s;
        }
      }
    }
    return [floatTensor(a.dims, o)];
  };
}

/** Output size of one spatial axis (ONNX pooling/conv), honouring ceil_mode and auto_pad. */
export function spatialOut(inSize: number, k: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil: boolean): number {
  const span = (k - 1) * dilation + 1;
  const v = (inSize + padBegin + padEnd - span) / stride + 1;
  let out = ceil ? Math.ceil(v) : Math.floor(v);
  // With ceil_mode the last window must start inside the input or left padding.
  if (ceil && (out - 1) * stride >= inSize + padBegin) out--;
  return out;
}

/** Begin/end pads per spatial axis from `pads` or `auto_pad`. */
export function resolvePads(attrs: Attrs, inSizes: readonly number[], kernel: readonly number[], strides_: readonly number[], dilations: readonly number[], node: GraphNode): { begin: number[]; end: number[] } {
  const pads = checkWindow(attrs, inSizes, kernel, strides_, dilations, node);
  return windowPads(attrs, inSizes, kernel, strides_, dilations, node, pads);
}

/** Largest window geometry sculpt accepts per axis (kernel span, pad): far beyond any real model. */
const MAX_WINDOW = 1 << 16;

/** One window attribute (`count` integers from `min` to 65536), refused in one line naming the node otherwise. */
export function checkAxisInts(name: string, v: readonly number[], count: number, min: number, node: GraphNode, unit = 'spatial axes'): void {
  const text = `${name} [${v.slice(0, 8).join(', ')}${v.length > 8 ? ', …' : ''}]`;
  if (v.length !== count) throw new SculptError(`${at(node)} has ${text} for ${count} ${unit}; the model is malformed`);
  for (const x of v) if (!Number.isInteger(x) || x < min || x > MAX_WINDOW) throw new SculptError(`${at(node)} has ${text} (each must be an integer from ${min} to ${MAX_WINDOW}); the model is malformed`);
}

/**
 * Window attributes checked before any loop or allocation depends on them: one entry per spatial
 * axis, kernel ≥ 1, stride ≥ 1, dilation ≥ 1, pads ≥ 0, none absurdly large (a stride of 0 would
 * loop forever, a pad of 65535 allocate gigabytes), and at least one output position per axis.
 */
function checkWindow(attrs: Attrs, inSizes: readonly number[], kernel: readonly number[], strides_: readonly number[], dilations: readonly number[], node: GraphNode): number[] | undefined {
  const r = inSizes.length;
  const bad = (what: string): never => {
    throw new SculptError(`${at(node)} has ${what}; the model is malformed`);
  };
  const list = (name: string, v: readonly number[], min: number): void => checkAxisInts(name, v, r, min, node);
  list('kernel', kernel, 1);
  list('strides', strides_, 1);
  list('dilations', dilations, 1);
  const pads = attrInts(attrs, 'pads');
  if (pads) {
    if (pads.length !== 2 * r) bad(`pads [${pads.slice(0, 8).join(', ')}] for ${r} spatial axes (needs ${2 * r})`);
    for (const p of pads) if (!Number.isInteger(p) || p < 0 || p > MAX_WINDOW) bad(`pads [${pads.slice(0, 8).join(', ')}] (each must be an integer from 0 to ${MAX_WINDOW})`);
  }
  for (let i = 0; i < r; i++) {
    if ((kernel[i] - 1) * dilations[i] + 1 > MAX_WINDOW) bad(`a window of ${(kernel[i] - 1) * dilations[i] + 1} along axis ${i} (kernel × dilation)`);
    const span = (kernel[i] - 1) * dilations[i] + 1;
    const padded = inSizes[i] + (pads ? pads[i] + pads[i + r] : 0);
    if (attrString(attrs, 'auto_pad', 'NOTSET') === 'NOTSET' && padded < span) bad(`a window of ${span} along axis ${i}, larger than the padded input (${padded})`);
  }
  return pads;
}

function windowPads(attrs: Attrs, inSizes: readonly number[], kernel: readonly number[], strides_: readonly number[], dilations: readonly number[], node: GraphNode, padsAttr: number[] | undefined): { begin: number[]; end: number[] } {
  const r = kernel.length;
  const autoPad = attrString(attrs, 'auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [], end: number[] = [];
    for (let i = 0; i < r; i++) {
      const out = Math.ceil(inSizes[i] / strides_[i]);
      const total = Math.max(0, (out - 1) * strides_[i] + (kernel[i] - 1) * dilations[i] + 1 - inSizes[i]);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return { begin, end };
  }
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new SculptError(`sparse executor: node ${nodeLabel(node)} has auto_pad ${autoPad}, which is not supported`);
  const pads = padsAttr ?? new Array<number>(2 * r).fill(0);
  return { begin: pads.slice(0, r), end: pads.slice(r, 2 * r) };
}

