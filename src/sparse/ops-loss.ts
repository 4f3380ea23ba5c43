/** Losses as exporters of training graphs write them: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. */
import { SculptError } from '../core/errors.js';
import type { GraphNode } from '../core/graph.js';
import { at, attrInt, attrString, float, need, type Attrs, type OpFn } from './ops-common.js';
import { floatTensor, size, type Tensor } from './tensor.js';

/** loss[n, d…] = −x[n, target, d…]·w[target], reduced by `reduction`; ignore_index contributes nothing. */
function nll(x: Float32Array, dims: readonly number[], target: Tensor, weight: Float32Array | undefined, attrs: Attrs, node: GraphNode): Tensor {
  const n = dims[0], c = dims[1];
  const inner = size(dims.slice(2));
  const ignore = attrs.has('ignore_index') ? attrInt(attrs, 'ignore_index', -1) : undefined;
  const reduction = attrString(attrs, 'reduction', 'mean');
  const loss = new Float32Array(n * inner);
  let sum = 0, wsum = 0;
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < inner; j++) {
      const t = target.data[b * inner + j];
      if (t === ignore) continue;
      if (t < 0 || t >= c) throw new SculptError(`${at(node)} target ${t} is out of range for ${c} classes`);
      const w = weight ? weight[t] : 1;
      const v = -x[(b * c + t) * inner + j] * w;
      loss[b * inner + j] = v;
      sum += v;
      wsum += w;
    }
  }
  if (reduction === 'none') return floatTensor([n, ...dims.slice(2)], loss);
  if (reduction === 'sum') return floatTensor([], Float32Array.of(sum));
  if (reduction === 'mean') return floatTensor([], Float32Array.of(wsum === 0 ? 0 : sum / wsum));
  throw new SculptError(`${at(node)} reduction ${reduction} is not supported`);
}

export const negativeLogLikelihoodLoss: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  return [nll(float(a, node), a.dims, need(inputs[1], node, 1), inputs[2] ? float(inputs[2], node) : undefined, attrs, node)];
};

export const softmaxCrossEntropyLoss: OpFn = (inputs, attrs, node) => {
  const a = need(inputs[0], node, 0);
  const x = float(a, node);
  const c = a.dims[1], n = a.dims[0];
  const inner = size(a.dims.slice(2));
  const logp = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < inner; j++) {
      const base = b * c * inner + j;
      let m = -Infinity;
      for (let k = 0; k < c; k++) m = Math.max(m, x[base + k * inner]);
      let s = 0;
      for (let k = 0; k < c; k++) s += Math.exp(x[base + k * inner] - m);
      const ls = Math.log(s) + m;
      for (let k = 0; k < c; k++) logp[base + k * inner] = x[base + k * inner] - ls;
    }
  }
  const loss = nll(logp, a.dims, need(inputs[1], node, 1), inputs[2] ? float(inputs[2], node) : undefined, attrs, node);
  return [loss, floatTensor(a.dims, logp)];
};
