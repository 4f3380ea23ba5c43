/** Speech front ends (opset 17): Hann/Hamming/Blackman windows, DFT, STFT and MelWeightMatrix. */
import { SculptError } from '../core/errors.js';
import { at, attrInt, float, need, normAxisOf, type Attrs, type OpFn } from './ops-common.js';
import { allocLike, floatTensor, intValues, size, type Tensor } from './tensor.js';

function windowOp(f: (n: number, N: number) => number): OpFn {
  return (inputs, attrs, node) => {
    const len = intValues(need(inputs[0], node, 0), `${node.opType} size`)[0];
    const periodic = attrInt(attrs, 'periodic', 1) === 1;
    const N = periodic ? len : len - 1;
    const out = new Float32Array(len);
    for (let n = 0; n < len; n++) out[n] = f(n, N);
    return [typed(floatTensor([len], out), attrs)];
  };
}

/** output_datatype: float (1, 10, 11) stays float; integer types truncate. */
function typed(t: Tensor, attrs: Attrs): Tensor {
  const dt = attrInt(attrs, 'output_datatype', 1);
  if (dt === 1 || dt === 10 || dt === 11 || dt === 16) return t;
  const out = allocLike('int64', t.dims);
  for (let i = 0; i < t.data.length; i++) out.data[i] = Math.trunc(t.data[i]);
  return out;
}

export const hannWindow = windowOp((n, N) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N));
export const hammingWindow = windowOp((n, N) => 25 / 46 - (21 / 46) * Math.cos((2 * Math.PI * n) / N));
export const blackmanWindow = windowOp((n, N) => 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / N) + 0.08 * Math.cos((4 * Math.PI * n) / N));

/**
 * One transform of `len` complex values (re, im at stride `stride` from `base`), zero-padded or
 * truncated to `n`, into `bins` outputs written to `out` at `outBase` with stride `outStride`.
 */
function dft1(re: Float64Array, im: Float64Array, n: number, bins: number, inverse: boolean, outRe: Float64Array, outIm: Float64Array): void {
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < bins; k++) {
    let sr = 0, si = 0;
    for (let t = 0; t < n; t++) {
      const a = (sign * 2 * Math.PI * ((k * t) % n)) / n;
      const c = Math.cos(a), s = Math.sin(a);
      sr += re[t] * c - im[t] * s;
      si += re[t] * s + im[t] * c;
    }
    outRe[k] = inverse ? sr / n : sr;
    outIm[k] = inverse ? si / n : si;
  }
}

export const dft: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0);
  const xs = float(x, node);
  const r = x.dims.length;
  const complex = x.dims[r - 1] === 2;
  if (x.dims[r - 1] !== 1 && !complex) throw new SculptError(`${at(node)} needs a last axis of 1 (real) or 2 (complex), got ${x.dims[r - 1]}`);
  // Opset 20 moved axis from an attribute to input 2.
  const axisIn = inputs[2] && inputs[2].data.length > 0 ? intValues(inputs[2], `${node.opType} axis`)[0] : attrInt(attrs, 'axis', 1);
  const axis = normAxisOf(axisIn < 0 ? axisIn + r : axisIn, r - 1, node);
  const inverse = attrInt(attrs, 'inverse', 0) === 1;
  const onesided = attrInt(attrs, 'onesided', 0) === 1;
  const len = x.dims[axis];
  const n = inputs[1] && inputs[1].data.length > 0 ? intValues(inputs[1], `${node.opType} dft_length`)[0] : len;
  const bins = onesided ? Math.floor(n / 2) + 1 : n;
  const outer = size(x.dims.slice(0, axis)), inner = size(x.dims.slice(axis + 1, r - 1));
  const cIn = x.dims[r - 1];
  const dims = [...x.dims.slice(0, r - 1), 2];
  dims[axis] = bins;
  const out = new Float32Array(size(dims));
  const re = new Float64Array(n), im = new Float64Array(n), oRe = new Float64Array(bins), oIm = new Float64Array(bins);
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      re.fill(0); im.fill(0);
      for (let t = 0; t < Math.min(n, len); t++) {
        const i = ((p * len + t) * inner + q) * cIn;
        re[t] = xs[i];
        im[t] = complex ? xs[i + 1] : 0;
      }
      dft1(re, im, n, bins, inverse, oRe, oIm);
      for (let k = 0; k < bins; k++) {
        const o = ((p * bins + k) * inner + q) * 2;
        out[o] = oRe[k];
        out[o + 1] = oIm[k];
      }
    }
  }
  return [floatTensor(dims, out)];
};

export const stft: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0);
  const xs = float(x, node);
  const [batch, len, cIn] = x.dims;
  const step = intValues(need(inputs[1], node, 1), `${node.opType} frame_step`)[0];
  const window = inputs[2] && inputs[2].data.length > 0 ? float(inputs[2], node) : undefined;
  const frameLength = inputs[3] && inputs[3].data.length > 0 ? intValues(inputs[3], `${node.opType} frame_length`)[0] : window ? window.length : len;
  const onesided = attrInt(attrs, 'onesided', 1) === 1;
  if (!(step >= 1) || !(frameLength >= 1) || frameLength > len) throw new SculptError(`${at(node)} frame_step ${step} and frame_length ${frameLength} do not fit a signal of ${len}`);
  const frames = Math.floor((len - frameLength) / step) + 1;
  const bins = onesided ? Math.floor(frameLength / 2) + 1 : frameLength;
  const out = new Float32Array(batch * frames * bins * 2);
  const re = new Float64Array(frameLength), im = new Float64Array(frameLength), oRe = new Float64Array(bins), oIm = new Float64Array(bins);
  for (let b = 0; b < batch; b++) {
    for (let f = 0; f < frames; f++) {
      for (let t = 0; t < frameLength; t++) {
        const i = (b * len + f * step + t) * cIn;
        const w = window ? window[t] : 1;
        re[t] = xs[i] * w;
        im[t] = cIn === 2 ? xs[i + 1] * w : 0;
      }
      dft1(re, im, frameLength, bins, false, oRe, oIm);
      for (let k = 0; k < bins; k++) {
        const o = ((b * frames + f) * bins + k) * 2;
        out[o] = oRe[k];
        out[o + 1] = oIm[k];
      }
    }
  }
  return [floatTensor([batch, frames, bins, 2], out)];
};

/** Triangular mel filters as onnx's reference builds them: [dft_length/2 + 1, num_mel_bins]. */
export const melWeightMatrix: OpFn = (inputs, attrs, node) => {
  const [bins, dftLength, rate] = [0, 1, 2].map((i) => intValues(need(inputs[i], node, i), `${node.opType} input ${i}`)[0]);
  const lower = need(inputs[3], node, 3).data[0], upper = need(inputs[4], node, 4).data[0];
  const spectrogramBins = Math.floor(dftLength / 2) + 1;
  const lowMel = 2595 * Math.log10(1 + lower / 700), highMel = 2595 * Math.log10(1 + upper / 700);
  const melStep = (highMel - lowMel) / (bins + 2);
  const points = Array.from({ length: bins + 2 }, (_, i) => {
    const hz = 700 * (10 ** ((i * melStep + lowMel) / 2595) - 1);
    return Math.trunc(Math.floor(((dftLength + 1) * hz) / rate));
  });
  const out = new Float32Array(spectrogramBins * bins);
  for (let i = 0; i < bins; i++) {
    const lo = points[i], center = points[i + 1], hi = points[i + 2];
    if (center - lo === 0) out[center * bins + i] = 1;
    else for (let j = lo; j <= center; j++) out[j * bins + i] = (j - lo) / (center - lo);
    if (hi - center > 0) for (let j = center; j < hi; j++) out[j * bins + i] = (hi - j) / (hi - center);
  }
  return [typed(floatTensor([spectrogramBins, bins], out), attrs)];
};
