/**
 * LSTM, GRU and RNN as ONNX defines them: forward, reverse or bidirectional; layout 0 or 1;
 * sequence_lens, initial states, peepholes, clip, input_forget, linear_before_reset and the
 * named activation functions with their alpha/beta.
 */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrFloat, attrFloats, attrInt, attrString, float, need, nodeLabel, type Attrs, type OpFn } from './ops-common.js';
import { floatTensor, intValues, type Tensor } from './tensor.js';

type Act = (x: number) => number;

function activation(name: string, alpha: number | undefined, beta: number | undefined, node: GraphNode): Act {
  switch (name.toLowerCase()) {
    case 'sigmoid': return (x) => 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh;
    case 'relu': return (x) => (x > 0 ? x : 0);
    case 'affine': { const a = alpha ?? 1, b = beta ?? 0; return (x) => a * x + b; }
    case 'leakyrelu': { const a = alpha ?? 0.01; return (x) => (x >= 0 ? x : a * x); }
    case 'thresholdedrelu': { const a = alpha ?? 1; return (x) => (x > a ? x : 0); }
    case 'scaledtanh': { const a = alpha ?? 1, b = beta ?? 1; return (x) => a * Math.tanh(b * x); }
    case 'hardsigmoid': { const a = alpha ?? 0.2, b = beta ?? 0.5; return (x) => Math.max(0, Math.min(1, a * x + b)); }
    case 'elu': { const a = alpha ?? 1; return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)); }
    case 'softsign': return (x) => x / (1 + Math.abs(x));
    case 'softplus': return (x) => Math.log1p(Math.exp(x));
    default: throw new SculptError(`${at(node)} activation ${name} is not supported`);
  }
}

/** The activations per direction: `perDir` names each (defaults when the attribute is absent). */
function activations(attrs: Attrs, defaults: readonly string[], dirs: number, node: GraphNode): Act[][] {
  const v = attrs.get('activations');
  const names = Array.isArray(v) && v.length > 0 ? (v as string[]) : [...defaults, ...(dirs === 2 ? defaults : [])];
  const alphas = attrFloats(attrs, 'activation_alpha') ?? [], betas = attrFloats(attrs, 'activation_beta') ?? [];
  // alpha/beta are consumed in order by the functions that take them.
  let ai = 0, bi = 0;
  const takesAlpha = new Set(['affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'hardsigmoid', 'elu']);
  const takesBeta = new Set(['affine', 'scaledtanh', 'hardsigmoid']);
  const fns = names.map((name) => {
    const l = name.toLowerCase();
    const alpha = takesAlpha.has(l) ? alphas[ai++] : undefined;
    const beta = takesBeta.has(l) ? betas[bi++] : undefined;
    return activation(name, alpha, beta, node);
  });
  const k = defaults.length;
  return Array.from({ length: dirs }, (_, d) => fns.slice(d * k, d * k + k));
}

/** y[m, n] = Σ_k a[m, k]·b[n, k] + (bias[n]) for a row-major a [m, k] and b [n, k] at offsets. */
function matmulT(a: Float32Array | Float64Array, aOff: number, b: Float32Array, bOff: number, m: number, n: number, k: number, y: Float64Array): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const ai = aOff + i * k, bj = bOff + j * k;
      for (let q = 0; q < k; q++) s += a[ai + q] * b[bj + q];
      y[i * n + j] += s;
    }
  }
}

type Kind = 'LSTM' | 'GRU' | 'RNN';
const GATES: Readonly<Record<Kind, number>> = { LSTM: 4, GRU: 3, RNN: 1 };
const DEFAULT_ACTS: Readonly<Record<Kind, readonly string[]>> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

function recurrent(kind: Kind): OpFn {
  return (inputs, attrs, node) => {
    const xT = need(inputs[0], node, 0), wT = need(inputs[1], node, 1), rT = need(inputs[2], node, 2);
    const layout = attrInt(attrs, 'layout', 0);
    const direction = attrString(attrs, 'direction', 'forward');
    const dirs = direction === 'bidirectional' ? 2 : 1;
    const hidden = attrInt(attrs, 'hidden_size', rT.dims[2]);
    const G = GATES[kind];
    const clip = attrs.has('clip') ? attrFloat(attrs, 'clip', Infinity) : Infinity;
    const inputForget = attrInt(attrs, 'input_forget', 0) === 1;
    const linearBeforeReset = attrInt(attrs, 'linear_before_reset', 0) === 1;
    const acts = activations(attrs, DEFAULT_ACTS[kind], dirs, node);
    const xs = float(xT, node), w = float(wT, node), r = float(rT, node);
    const [seq, batch, inSize] = layout === 0 ? xT.dims : [xT.dims[1], xT.dims[0], xT.dims[2]];
    if (wT.dims[0] !== dirs || wT.dims[1] !== G * hidden || wT.dims[2] !== inSize) {
      throw new SculptError(`${at(node)} W has dims [${wT.dims.join(', ')}], expected [${dirs}, ${G * hidden}, ${inSize}]`);
    }
    const bias = inputs[3] ? float(inputs[3], node) : undefined;
    const lens = inputs[4] ? intValues(inputs[4], `${nodeLabel(node)} sequence_lens`) : new Array<number>(batch).fill(seq);
    const h0 = inputs[5] ? float(inputs[5], node) : undefined;
    const c0 = kind === 'LSTM' && inputs[6] ? float(inputs[6], node) : undefined;
    const peep = kind === 'LSTM' && inputs[7] ? float(inputs[7], node) : undefined;
    const H = hidden;
    // Y [seq, dirs, batch, H] (layout 0) — built in that order, transposed at the end for layout 1.
    const y = new Float32Array(seq * dirs * batch * H);
    const yh = new Float32Array(dirs * batch * H), yc = new Float32Array(dirs * batch * H);
    // X as [seq, batch, in].
    const x = layout === 0 ? xs : transposeSeqBatch(xs, batch, seq, inSize);
    for (let d = 0; d < dirs; d++) {
      const reverse = direction === 'reverse' || d === 1;
      const [f, g, h] = acts[d];
      const wOff = d * G * H * inSize, rOff = d * G * H * H;
      const hState = new Float64Array(batch * H), cState = new Float64Array(batch * H);
      if (h0) for (let i = 0; i < batch * H; i++) hState[i] = h0[d * batch * H + i];
      if (c0) for (let i = 0; i < batch * H; i++) cState[i] = c0[d * batch * H + i];
      // Input projections for every step at once: [seq·batch, G·H].
      const xw = new Float64Array(seq * batch * G * H);
      matmulT(x, 0, w, wOff, seq * batch, G * H, inSize, xw);
      const gates = new Float64Array(batch * G * H);
      const hzr = new Float64Array(batch * 2 * H), rh = new Float64Array(batch * H), masked = new Float64Array(batch * H);
      const hrAll = new Float64Array(batch * G * H);
      for (let step = 0; step < seq; step++) {
        const t = reverse ? seq - 1 - step : step;
        gates.set(xw.subarray(t * batch * G * H, (t + 1) * batch * G * H));
        if (bias) {
          for (let b = 0; b < batch; b++) {
            for (let j = 0; j < G * H; j++) {
              const wb = bias[d * 2 * G * H + j], rb = bias[d * 2 * G * H + G * H + j];
              // GRU with linear_before_reset keeps Rb of the hidden gate inside the reset product.
              gates[b * G * H + j] += kind === 'GRU' && j >= 2 * H ? wb + (linearBeforeReset ? 0 : rb) : wb + rb;
            }
          }
        }
        if (kind === 'GRU') {
          // z and r gates see H·R^T; the hidden gate sees (r ⊙ H)·Rh^T or r ⊙ (H·Rh^T + Rbh).
          hzr.fill(0);
          matmulT(hState, 0, r, rOff, batch, 2 * H, H, hzr);
          for (let b = 0; b < batch; b++) {
            for (let j = 0; j < H; j++) {
              const gi = b * G * H;
              let z = gates[gi + j] + hzr[b * 2 * H + j], rr = gates[gi + H + j] + hzr[b * 2 * H + H + j];
              if (clip !== Infinity) { z = clamp(z, clip); rr = clamp(rr, clip); }
              gates[gi + j] = f(z);
              gates[gi + H + j] = f(rr);
            }
          }
          rh.fill(0);
          if (linearBeforeReset) {
            matmulT(hState, 0, r, rOff + 2 * H * H, batch, H, H, rh);
            for (let b = 0; b < batch; b++) {
              for (let j = 0; j < H; j++) {
                const rb = bias ? bias[d * 2 * G * H + G * H + 2 * H + j] : 0;
                gates[b * G * H + 2 * H + j] += gates[b * G * H + H + j] * (rh[b * H + j] + rb);
              }
            }
          } else {
            for (let b = 0; b < batch; b++) for (let j = 0; j < H; j++) masked[b * H + j] = gates[b * G * H + H + j] * hState[b * H + j];
            matmulT(masked, 0, r, rOff + 2 * H * H, batch, H, H, rh);
            for (let b = 0; b < batch; b++) for (let j = 0; j < H; j++) gates[b * G * H + 2 * H + j] += rh[b * H + j];
          }
        } else {
          hrAll.fill(0);
          matmulT(hState, 0, r, rOff, batch, G * H, H, hrAll);
          for (let i = 0; i < gates.length; i++) gates[i] += hrAll[i];
        }
        for (let b = 0; b < batch; b++) {
          const active = t < lens[b];
          const gi = b * G * H;
          for (let j = 0; j < H; j++) {
            const s = b * H + j;
            let hNew: number;
            if (kind === 'LSTM') {
              const cPrev = cState[s];
              let iG = gates[gi + j], oG = gates[gi + H + j], fG = gates[gi + 2 * H + j], cG = gates[gi + 3 * H + j];
              if (peep) { iG += peep[d * 3 * H + j] * cPrev; fG += peep[d * 3 * H + 2 * H + j] * cPrev; }
              if (clip !== Infinity) { iG = clamp(iG, clip); fG = clamp(fG, clip); cG = clamp(cG, clip); }
              const iv = f(iG);
              const fv = inputForget ? 1 - iv : f(fG);
              const c = fv * cPrev + iv * g(cG);
              if (peep) oG += peep[d * 3 * H + H + j] * c;
              if (clip !== Infinity) oG = clamp(oG, clip);
              hNew = f(oG) * h(c);
              if (active) cState[s] = c;
            } else if (kind === 'GRU') {
              let hh = gates[gi + 2 * H + j];
              if (clip !== Infinity) hh = clamp(hh, clip);
              const z = gates[gi + j];
              hNew = (1 - z) * g(hh) + z * hState[s];
            } else {
              let v = gates[gi + j];
              if (clip !== Infinity) v = clamp(v, clip);
              hNew = f(v);
            }
            if (active) {
              hState[s] = hNew;
              y[((t * dirs + d) * batch + b) * H + j] = hNew;
            }
          }
        }
      }
      for (let i = 0; i < batch * H; i++) { yh[d * batch * H + i] = hState[i]; yc[d * batch * H + i] = cState[i]; }
    }
    const outs: Tensor[] = [];
    if (layout === 0) outs.push(floatTensor([seq, dirs, batch, H], y), floatTensor([dirs, batch, H], yh));
    else outs.push(floatTensor([batch, seq, dirs, H], permute(y, [seq, dirs, batch, H], [2, 0, 1, 3])), floatTensor([batch, dirs, H], permute(yh, [dirs, batch, H], [1, 0, 2])));
    if (kind === 'LSTM') outs.push(layout === 0 ? floatTensor([dirs, batch, H], yc) : floatTensor([batch, dirs, H], permute(yc, [dirs, batch, H], [1, 0, 2])));
    return outs;
  };
}

function clamp(v: number, c: number): number {
  return v > c ? c : v < -c ? -c : v;
}

function transposeSeqBatch(x: Float32Array, batch: number, seq: number, inSize: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) out.set(x.subarray((b * seq + t) * inSize, (b * seq + t + 1) * inSize), (t * batch + b) * inSize);
  return out;
}

function permute(x: Float32Array, dims: readonly number[], perm: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  const r = dims.length;
  const s = new Array<number>(r);
  for (let d = r - 1, acc = 1; d >= 0; d--) { s[d] = acc; acc *= dims[d]; }
  const od = perm.map((p) => dims[p]);
  const c = new Array<number>(r).fill(0);
  for (let k = 0; k < x.length; k++) {
    let off = 0;
    for (let d = 0; d < r; d++) off += c[d] * s[perm[d]];
    out[k] = x[off];
    for (let d = r - 1; d >= 0; d--) { if (++c[d] < od[d]) break; c[d] = 0; }
  }
  return out;
}

export const lstm = recurrent('LSTM');
export const gru = recurrent('GRU');
export const rnn = recurrent('RNN');
