/**
 * Keras activations (the `activation` option of Dense/Conv layers and the Activation layer) and
 * the activation layers (ReLU, LeakyReLU, ELU, ThresholdedReLU, Softmax, PReLU) as ONNX opset-13
 * nodes, computed as TF.js computes them (gelu through erf, gelu_new through tanh, ...).
 */
import type { AttrValue } from '../formats/onnx-build.js';
import { required, storedAxis, type LayerCall, type LayerConverter, type Val } from './export-onnx-graph.js';

/** Applies a Keras activation (by its serialized name) to `v`. */
export function activate(c: LayerCall, v: Val, activation: unknown, axis = -1): Val {
  const name = typeof activation === 'string' ? activation : activation === null || activation === undefined ? 'linear' : '';
  const key = name.replace(/_/g, '').toLowerCase();
  const g = c.g;
  const hint = `${c.name}/${key}`;
  const unary = (op: string, attrs?: Record<string, AttrValue>): Val => ({ ...v, name: g.node(op, [v.name], hint, attrs) });
  switch (key) {
    case 'linear': return v;
    case 'relu': return unary('Relu');
    case 'relu6': return { ...v, name: g.node('Clip', [v.name, g.scalar(`${hint}/min`, 0), g.scalar(`${hint}/max`, 6)], hint) };
    case 'sigmoid': return unary('Sigmoid');
    case 'tanh': return unary('Tanh');
    case 'elu': return unary('Elu', { alpha: { float: 1 } });
    case 'selu': return unary('Selu');
    case 'softplus': return unary('Softplus');
    case 'softsign': return unary('Softsign');
    case 'hardsigmoid': return unary('HardSigmoid', { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case 'softmax': return unary('Softmax', { axis: { int: storedAxis(v, axis) } });
    case 'logsoftmax': return unary('LogSoftmax', { axis: { int: storedAxis(v, axis) } });
    case 'swish': return { ...v, name: g.node('Mul', [v.name, g.node('Sigmoid', [v.name], `${hint}/sigmoid`)], hint) };
    case 'mish': {
      const t = g.node('Tanh', [g.node('Softplus', [v.name], `${hint}/softplus`)], `${hint}/tanh`);
      return { ...v, name: g.node('Mul', [v.name, t], hint) };
    }
    case 'gelu': {
      // 0.5·x·(1 + erf(x/√2)), as TF.js computes it.
      const e = g.node('Erf', [g.node('Div', [v.name, g.scalar(`${hint}/sqrt2`, Math.SQRT2)], `${hint}/scaled`)], `${hint}/erf`);
      const p = g.node('Add', [e, g.scalar(`${hint}/one`, 1)], `${hint}/cdf2`);
      const h = g.node('Mul', [v.name, g.scalar(`${hint}/half`, 0.5)], `${hint}/half_x`);
      return { ...v, name: g.node('Mul', [h, p], hint) };
    }
    case 'gelunew': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
      const x3 = g.node('Mul', [g.node('Mul', [v.name, v.name], `${hint}/x2`), v.name], `${hint}/x3`);
      const inner = g.node('Add', [v.name, g.node('Mul', [x3, g.scalar(`${hint}/c`, 0.044715)], `${hint}/cx3`)], `${hint}/inner`);
      const t = g.node('Tanh', [g.node('Mul', [inner, g.scalar(`${hint}/k`, Math.sqrt(2 / Math.PI))], `${hint}/kinner`)], `${hint}/tanh`);
      const p = g.node('Add', [t, g.scalar(`${hint}/one`, 1)], `${hint}/one_plus`);
      const h = g.node('Mul', [v.name, g.scalar(`${hint}/half`, 0.5)], `${hint}/half_x`);
      return { ...v, name: g.node('Mul', [h, p], hint) };
    }
    default:
      return c.fail(`activation ${JSON.stringify(activation)} is not supported`);
  }
}

const activationLayer: LayerConverter = (c) => activate(c, c.inputs[0], c.config.activation);

const reluLayer: LayerConverter = (c) => {
  if ((c.config.negative_slope ?? 0) !== 0 || (c.config.threshold ?? 0) !== 0) c.fail(`negative_slope and threshold other than 0 are not supported`);
  const x = c.inputs[0];
  const max = c.config.max_value;
  if (max === null || max === undefined) return { ...x, name: c.g.node('Relu', [x.name], `${c.name}/relu`) };
  const g = c.g;
  return { ...x, name: g.node('Clip', [x.name, g.scalar(`${c.name}/min`, 0), g.scalar(`${c.name}/max`, max)], `${c.name}/clip`) };
};

function unaryWithAlpha(op: string, key: string, fallback: number): LayerConverter {
  return (c) => {
    const x = c.inputs[0];
    const alpha = typeof c.config[key] === 'number' ? c.config[key] : fallback;
    return { ...x, name: c.g.node(op, [x.name], `${c.name}/${op.toLowerCase()}`, { alpha: { float: alpha } }) };
  };
}

const softmaxLayer: LayerConverter = (c) => {
  let axis = c.config.axis ?? -1;
  if (Array.isArray(axis)) axis = axis.length === 1 ? axis[0] : c.fail(`axis ${JSON.stringify(axis)}: only one axis is supported`);
  return activate(c, c.inputs[0], 'softmax', axis);
};

const preluLayer: LayerConverter = (c) => {
  const x = c.g.cl(c.inputs[0]);
  const a = required(c, 'alpha');
  if (a.shape.length !== x.shape.length - 1) c.fail(`alpha [${a.shape.join(', ')}] does not fit an input of shape [${x.shape.join(', ')}]`);
  // alpha has the input's shape without the batch (1 on shared axes): it broadcasts channels-last.
  return { ...x, name: c.g.node('PRelu', [x.name, c.g.float(a.name, a.shape, a.data)], `${c.name}/prelu`) };
};

/** The activation layers by Keras class name. */
export const ACTIVATION_LAYERS: Readonly<Record<string, LayerConverter>> = {
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: unaryWithAlpha('LeakyRelu', 'alpha', 0.3),
  ELU: unaryWithAlpha('Elu', 'alpha', 1),
  ThresholdedReLU: unaryWithAlpha('ThresholdedRelu', 'theta', 1),
  Softmax: softmaxLayer,
  PReLU: preluLayer,
};
