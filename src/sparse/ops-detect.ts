/** What detector exports end with: NonMaxSuppression, RoiAlign and GridSample (2-D). */
import { SculptError } from '../core/errors.js';
import { at, attrFloat, attrInt, attrString, float, need, type OpFn } from './ops-common.js';
import { roundHalfEven } from './ops-quant.js';
import { floatTensor, intTensor } from './tensor.js';

/** Greedy per batch and class, scores descending (ties: lower box index first), as onnxruntime. */
export const nonMaxSuppression: OpFn = (inputs, attrs, node) => {
  const boxesT = need(inputs[0], node, 0), scoresT = need(inputs[1], node, 1);
  const boxes = float(boxesT, node), scores = float(scoresT, node);
  const maxOut = inputs[2] && inputs[2].data.length > 0 ? inputs[2].data[0] : 0;
  const iouThreshold = inputs[3] && inputs[3].data.length > 0 ? inputs[3].data[0] : 0;
  const scoreThreshold = inputs[4] && inputs[4].data.length > 0 ? inputs[4].data[0] : -Infinity;
  const center = attrInt(attrs, 'center_point_box', 0) === 1;
  const [batches, classes, n] = scoresT.dims;
  if (boxesT.dims[0] !== batches || boxesT.dims[1] !== n || boxesT.dims[2] !== 4) throw new SculptError(`${at(node)} boxes [${boxesT.dims.join(', ')}] do not match scores [${scoresT.dims.join(', ')}]`);
  // Corners as [y1, x1, y2, x2] with y1 ≤ y2, x1 ≤ x2.
  const corner = new Float64Array(batches * n * 4);
  for (let i = 0; i < batches * n; i++) {
    const b = boxes.subarray(i * 4, i * 4 + 4);
    if (center) {
      corner[i * 4] = b[1] - b[3] / 2; corner[i * 4 + 1] = b[0] - b[2] / 2; corner[i * 4 + 2] = b[1] + b[3] / 2; corner[i * 4 + 3] = b[0] + b[2] / 2;
    } else {
      corner[i * 4] = Math.min(b[0], b[2]); corner[i * 4 + 1] = Math.min(b[1], b[3]); corner[i * 4 + 2] = Math.max(b[0], b[2]); corner[i * 4 + 3] = Math.max(b[1], b[3]);
    }
  }
  const iou = (p: number, q: number) => {
    const y1 = Math.max(corner[p * 4], corner[q * 4]), x1 = Math.max(corner[p * 4 + 1], corner[q * 4 + 1]);
    const y2 = Math.min(corner[p * 4 + 2], corner[q * 4 + 2]), x2 = Math.min(corner[p * 4 + 3], corner[q * 4 + 3]);
    const inter = Math.max(0, y2 - y1) * Math.max(0, x2 - x1);
    const area = (k: number) => (corner[k * 4 + 2] - corner[k * 4]) * (corner[k * 4 + 3] - corner[k * 4 + 1]);
    const union = area(p) + area(q) - inter;
    return inter <= 0 || union <= 0 ? 0 : inter / union;
  };
  const selected: number[] = [];
  for (let b = 0; b < batches; b++) {
    for (let c = 0; c < classes; c++) {
      const s = scores.subarray((b * classes + c) * n, (b * classes + c + 1) * n);
      const order = Array.from({ length: n }, (_, i) => i).filter((i) => s[i] > scoreThreshold).sort((i, j) => s[j] - s[i] || i - j);
      const kept: number[] = [];
      for (const i of order) {
        if (kept.length >= maxOut) break;
        if (kept.every((k) => iou(b * n + i, b * n + k) <= iouThreshold)) kept.push(i);
      }
      for (const i of kept) selected.push(b, c, i);
    }
  }
  return [intTensor([selected.length / 3, 3], selected)];
};

/** Bilinear sample of one plane at (y, x), zero outside [-1, size] (Caffe2/onnxruntime RoiAlign rules). */
function roiSample(plane: Float32Array, base: number, h: number, w: number, y: number, x: number, maxMode: boolean): number {
  if (y < -1 || y > h || x < -1 || x > w) return 0;
  y = Math.max(y, 0); x = Math.max(x, 0);
  let y0 = Math.floor(y), x0 = Math.floor(x), y1: number, x1: number;
  if (y0 >= h - 1) { y0 = y1 = h - 1; y = y0; } else y1 = y0 + 1;
  if (x0 >= w - 1) { x0 = x1 = w - 1; x = x0; } else x1 = x0 + 1;
  const ly = y - y0, lx = x - x0, hy = 1 - ly, hx = 1 - lx;
  const v = [hy * hx * plane[base + y0 * w + x0], hy * lx * plane[base + y0 * w + x1], ly * hx * plane[base + y1 * w + x0], ly * lx * plane[base + y1 * w + x1]];
  return maxMode ? Math.max(...v) : v[0] + v[1] + v[2] + v[3];
}

export const roiAlign: OpFn = (inputs, attrs, node, ctx) => {
  const xT = need(inputs[0], node, 0), roisT = need(inputs[1], node, 1), idxT = need(inputs[2], node, 2);
  const x = float(xT, node), rois = float(roisT, node);
  const [, c, h, w] = xT.dims;
  const oh = attrInt(attrs, 'output_height', 1), ow = attrInt(attrs, 'output_width', 1);
  const ratio = attrInt(attrs, 'sampling_ratio', 0);
  const scale = attrFloat(attrs, 'spatial_scale', 1);
  const maxMode = attrString(attrs, 'mode', 'avg') === 'max';
  const halfPixel = attrString(attrs, 'coordinate_transformation_mode', (ctx?.opset ?? 16) < 16 ? 'output_half_pixel' : 'half_pixel') === 'half_pixel';
  const num = roisT.dims[0];
  const out = new Float32Array(num * c * oh * ow);
  const offset = halfPixel ? 0.5 : 0;
  for (let r = 0; r < num; r++) {
    const b = idxT.data[r];
    const x1 = rois[r * 4] * scale - offset, y1 = rois[r * 4 + 1] * scale - offset;
    let rw = rois[r * 4 + 2] * scale - offset - x1, rh = rois[r * 4 + 3] * scale - offset - y1;
    if (!halfPixel) { rw = Math.max(rw, 1); rh = Math.max(rh, 1); }
    const bh = rh / oh, bw = rw / ow;
    const gh = ratio > 0 ? ratio : Math.ceil(rh / oh), gw = ratio > 0 ? ratio : Math.ceil(rw / ow);
    const count = Math.max(gh * gw, 1);
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * h * w;
      for (let py = 0; py < oh; py++) {
        for (let px = 0; px < ow; px++) {
          let acc = maxMode ? -Infinity : 0;
          for (let iy = 0; iy < gh; iy++) {
            const yy = y1 + py * bh + ((iy + 0.5) * bh) / gh;
            for (let ix = 0; ix < gw; ix++) {
              const xx = x1 + px * bw + ((ix + 0.5) * bw) / gw;
              const v = roiSample(x, base, h, w, yy, xx, maxMode);
              acc = maxMode ? Math.max(acc, v) : acc + v;
            }
          }
          out[((r * c + ch) * oh + py) * ow + px] = maxMode ? (gh * gw > 0 ? acc : 0) : acc / count;
        }
      }
    }
  }
  return [floatTensor([num, c, oh, ow], out)];
};

/** A coordinate reflected into [lo, hi] (PyTorch's reflect_coordinates, bounds doubled). */
function reflect(v: number, twiceLo: number, twiceHi: number): number {
  if (twiceLo === twiceHi) return 0;
  const min = twiceLo / 2, span = (twiceHi - twiceLo) / 2;
  v = Math.abs(v - min);
  const extra = v % span, flips = Math.floor(v / span);
  return flips % 2 === 0 ? extra + min : span - extra + min;
}

export const gridSample: OpFn = (inputs, attrs, node) => {
  const xT = need(inputs[0], node, 0), gT = need(inputs[1], node, 1);
  if (xT.dims.length !== 4) throw new SculptError(`${at(node)} supports 2-D sampling only (input rank ${xT.dims.length})`);
  const x = float(xT, node), grid = float(gT, node);
  const [n, c, h, w] = xT.dims;
  const [, ho, wo] = gT.dims;
  // Opset 20 renamed bilinear/bicubic to linear/cubic.
  const named = attrString(attrs, 'mode', 'bilinear');
  const mode = named === 'linear' ? 'bilinear' : named === 'cubic' ? 'bicubic' : named;
  const padding = attrString(attrs, 'padding_mode', 'zeros');
  const align = attrInt(attrs, 'align_corners', 0) === 1;
  const unnormalize = (v: number, size: number) => (align ? ((v + 1) / 2) * (size - 1) : ((v + 1) * size - 1) / 2);
  const adjust = (v: number, size: number) => {
    if (padding === 'border') return Math.min(Math.max(v, 0), size - 1);
    if (padding === 'reflection') {
      const r = align ? reflect(v, 0, 2 * (size - 1)) : reflect(v, -1, 2 * size - 1);
      return Math.min(Math.max(r, 0), size - 1);
    }
    return v;
  };
  const out = new Float32Array(n * c * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho * wo; i++) {
      const gx = grid[(b * ho * wo + i) * 2], gy = grid[(b * ho * wo + i) * 2 + 1];
      const ixRaw = unnormalize(gx, w), iyRaw = unnormalize(gy, h);
      for (let ch = 0; ch < c; ch++) {
        const base = (b * c + ch) * h * w;
        const at_ = (yy: number, xx: number) => (yy >= 0 && yy < h && xx >= 0 && xx < w ? x[base + yy * w + xx] : 0);
        let v: number;
        if (mode === 'nearest') {
          v = at_(roundHalfEven(adjust(iyRaw, h)), roundHalfEven(adjust(ixRaw, w)));
        } else if (mode === 'bilinear') {
          const ix = adjust(ixRaw, w), iy = adjust(iyRaw, h);
          const x0 = Math.floor(ix), y0 = Math.floor(iy), tx = ix - x0, ty = iy - y0;
          v = at_(y0, x0) * (1 - tx) * (1 - ty) + at_(y0, x0 + 1) * tx * (1 - ty) + at_(y0 + 1, x0) * (1 - tx) * ty + at_(y0 + 1, x0 + 1) * tx * ty;
        } else if (mode === 'bicubic') {
          // Taps are bounded one by one through the padding mode.
          const x0 = Math.floor(ixRaw), y0 = Math.floor(iyRaw), tx = ixRaw - x0, ty = iyRaw - y0;
          const cw = (t: number) => { const A = -0.75; const f1 = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1, f2 = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; return [f2(t + 1), f1(t), f1(1 - t), f2(2 - t)]; };
          const wx = cw(tx), wy = cw(ty);
          const tap = (yy: number, xx: number) => {
            if (padding === 'zeros') return at_(yy, xx);
            return at_(Math.trunc(adjust(yy, h)), Math.trunc(adjust(xx, w)));
          };
          v = 0;
          for (let p = 0; p < 4; p++) for (let q = 0; q < 4; q++) v += wy[p] * wx[q] * tap(y0 - 1 + p, x0 - 1 + q);
        } else throw new SculptError(`${at(node)} mode ${mode} is not supported`);
        out[(b * c + ch) * ho * wo + i] = v;
      }
    }
  }
  return [floatTensor([n, c, ho, wo], out)];
};

/** AffineGrid (opset 20): the sampling grid of theta [N, 2, 3] (2-D) or [N, 3, 4] (3-D) for GridSample. */
export const affineGrid: OpFn = (inputs, attrs, node) => {
  const thetaT = need(inputs[0], node, 0);
  const theta = float(thetaT, node);
  const sizeT = need(inputs[1], node, 1);
  const dims = Array.from(sizeT.data);
  const align = attrInt(attrs, 'align_corners', 0) === 1;
  const sp = dims.slice(2);
  const r = sp.length;
  if (r !== 2 && r !== 3) throw new SculptError(`${at(node)} supports 2-D and 3-D grids, got size [${dims.join(', ')}]`);
  const n = dims[0];
  // Base coordinates per axis in [-1, 1]; output order is (x, y[, z]) with x the last axis.
  const base = sp.map((s) => Float64Array.from({ length: s }, (_, i) => (s === 1 ? 0 : align ? -1 + (2 * i) / (s - 1) : (2 * i + 1) / s - 1)));
  const points = sp.reduce((p, s) => p * s, 1);
  const out = new Float32Array(n * points * r);
  const coord = new Array<number>(r + 1).fill(1);
  const counter = new Array<number>(r).fill(0);
  for (let b = 0; b < n; b++) {
    counter.fill(0);
    for (let q = 0; q < points; q++) {
      // (x, y, z, 1): x from the last spatial axis.
      for (let d = 0; d < r; d++) coord[d] = base[r - 1 - d][counter[r - 1 - d]];
      for (let row = 0; row < r; row++) {
        let v = 0;
        for (let k = 0; k <= r; k++) v += theta[(b * r + row) * (r + 1) + k] * coord[k];
        out[(b * points + q) * r + row] = v;
      }
      for (let d = r - 1; d >= 0; d--) {
        if (++counter[d] < sp[d]) break;
        counter[d] = 0;
      }
    }
  }
  return [floatTensor([n, ...sp, r], out)];
};
