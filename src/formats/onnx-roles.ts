/**
 * Works out what each ONNX initializer is (weight, bias, norm, embedding, other) from the nodes
 * that consume it, looking through chains of Identity nodes (PyTorch's way of sharing a weight).
 *
 * Rule: MatMul A/B and Gemm A/B → weight; Conv/ConvTranspose W → weight; LSTM/GRU/RNN W and R,
 * Einsum operands, com.microsoft Attention weights, and the weights of the quantized ops
 * (MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv) → weight; Gemm C and the third
 * input of Conv/ConvTranspose → bias, as is an initializer of rank ≤ 1 added (Add) to the output
 * of MatMul/Gemm/Conv; scale, bias and statistics of Batch/Layer/Instance/GroupNormalization →
 * norm; Gather's data → embedding; anything else → other. When uses disagree, the first of
 * embedding, weight, bias, norm, other wins (a tied embedding/output matrix stays an embedding).
 * Prunable by default: floating tensors of rank ≥ 2 whose role is weight.
 */
import type { GraphNode } from '../core/graph.js';
import type { Role, WeightOp } from '../core/types.js';

export interface RoleInfo {
  readonly role: Role;
  readonly op?: WeightOp;
  readonly prunable: boolean;
  readonly reason: string;
  readonly outputAxis: number;
}

interface Use {
  readonly role: Role;
  readonly op?: WeightOp;
  readonly outputAxis: number;
  readonly reason: string;
}

const NORM_OPS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization']);
const PRODUCES_LINEAR = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'MatMulInteger', 'QLinearMatMul', 'FusedMatMul']);
const ROLE_ORDER: readonly Role[] = ['embedding', 'weight', 'bias', 'norm', 'other'];

function intAttr(node: GraphNode, name: string, fallback: number): number {
  const v = node.attributes.get(name);
  return typeof v === 'number' ? v : fallback;
}

/** Values of a constant integer tensor (Unsqueeze/Squeeze axes given as an input, opset ≥ 13), if it is one. */
export type ConstantInts = (name: string) => number[] | undefined;

const DEFAULT_DOMAIN = (node: GraphNode): boolean => node.domain === '' || node.domain === 'ai.onnx';

/**
 * Nodes a weight passes through on its way to its real consumer: Identity (PyTorch's shared
 * weights), Cast (float16 models), Transpose, Reshape/Flatten/Squeeze/Unsqueeze (exporters'
 * reshaping of biases and weights) and DequantizeLinear (QDQ models), each on its data input.
 * Returns the axis permutation after the node (axis k of the value is axis perm[k] of the
 * initializer, -1 for an axis the initializer does not have), or undefined if the node is a real
 * consumer.
 */
function passThrough(node: GraphNode, index: number, perm: number[], ints: ConstantInts = () => undefined): number[] | undefined {
  // Concat joins slices of a weight (PyTorch reorders LSTM gates with Slice + Concat): every input passes.
  if (node.opType === 'Concat' && DEFAULT_DOMAIN(node)) return perm;
  if (index !== 0) return undefined;
  if (!DEFAULT_DOMAIN(node) && !(node.domain === 'com.microsoft' && node.opType === 'DequantizeLinear')) return undefined;
  switch (node.opType) {
    case 'Identity':
    case 'Cast':
    case 'DequantizeLinear':
    case 'Reshape':
    case 'Flatten':
    case 'Slice':
    case 'Split':
      return perm;
    case 'Transpose': {
      const p = node.attributes.get('perm');
      const order = Array.isArray(p) && p.length === perm.length ? (p as number[]) : perm.map((_, k) => perm.length - 1 - k);
      return order.map((k) => perm[k]);
    }
    case 'Unsqueeze': {
      const axes = node.attributes.get('axes') ?? ints(node.inputs[1] ?? '');
      if (!Array.isArray(axes)) return perm;
      const rank = perm.length + axes.length;
      const inserted = new Set((axes as number[]).map((a) => (a < 0 ? a + rank : a)));
      const out: number[] = [];
      let k = 0;
      for (let d = 0; d < rank; d++) out.push(inserted.has(d) ? -1 : perm[k++] ?? -1);
      return out;
    }
    case 'Squeeze': {
      const axes = node.attributes.get('axes') ?? ints(node.inputs[1] ?? '');
      if (!Array.isArray(axes)) return perm;
      const removed = new Set((axes as number[]).map((a) => (a < 0 ? a + perm.length : a)));
      return perm.filter((_, d) => !removed.has(d));
    }
  }
  return undefined;
}

/** Axis of an Einsum operand that survives into the output and no other operand has. */
function einsumOutputAxis(node: GraphNode, index: number): number {
  const eq = node.attributes.get('equation');
  if (typeof eq !== 'string') return 0;
  const [lhs, rhs = ''] = eq.replace(/\s/g, '').split('->');
  const terms = lhs.split(',');
  const mine = terms[index] ?? '';
  const others = terms.filter((_, k) => k !== index).join('');
  for (let a = 0; a < mine.length; a++) if (rhs.includes(mine[a]) && !others.includes(mine[a])) return a;
  return 0;
}

function classifyUse(node: GraphNode, index: number, rank: number, producer: (value: string) => GraphNode | undefined): Use {
  const op = node.opType;
  if (DEFAULT_DOMAIN(node) || node.domain === 'com.microsoft') {
    switch (op) {
      case 'MatMul':
      case 'FusedMatMul':
        return { role: 'weight', op: 'MatMul', outputAxis: index === 1 ? Math.max(0, rank - 1) : Math.max(0, rank - 2), reason: `${op} weight` };
      case 'MatMulInteger':
        if (index <= 1) return { role: 'weight', op: 'MatMul', outputAxis: index === 1 ? Math.max(0, rank - 1) : Math.max(0, rank - 2), reason: 'MatMulInteger weight (quantized)' };
        break;
      case 'QLinearMatMul':
        if (index === 0 || index === 3) return { role: 'weight', op: 'MatMul', outputAxis: index === 3 ? Math.max(0, rank - 1) : Math.max(0, rank - 2), reason: 'QLinearMatMul weight (quantized)' };
        break;
      case 'Gemm':
        if (index === 1) return { role: 'weight', op: 'Gemm', outputAxis: intAttr(node, 'transB', 0) === 1 ? 0 : 1, reason: 'Gemm weight' };
        if (index === 0) return { role: 'weight', op: 'Gemm', outputAxis: intAttr(node, 'transA', 0) === 1 ? 1 : 0, reason: 'Gemm weight' };
        return { role: 'bias', op: 'Gemm', outputAxis: 0, reason: 'bias of Gemm' };
      case 'Conv':
      case 'ConvTranspose':
      case 'FusedConv':
        if (index === 1) return { role: 'weight', op: op === 'ConvTranspose' ? op : 'Conv', outputAxis: op === 'ConvTranspose' ? 1 : 0, reason: `${op} weight` };
        if (index === 2) return { role: 'bias', op: op === 'ConvTranspose' ? op : 'Conv', outputAxis: 0, reason: `bias of ${op}` };
        break;
      case 'ConvInteger':
        if (index === 1) return { role: 'weight', op: 'Conv', outputAxis: 0, reason: 'ConvInteger weight (quantized)' };
        break;
      case 'QLinearConv':
        if (index === 3) return { role: 'weight', op: 'Conv', outputAxis: 0, reason: 'QLinearConv weight (quantized)' };
        if (index === 8) return { role: 'bias', op: 'Conv', outputAxis: 0, reason: 'bias of QLinearConv' };
        break;
      case 'LSTM':
      case 'GRU':
      case 'RNN':
        // W [directions, gates·hidden, input], R [directions, gates·hidden, hidden], B [directions, 2·gates·hidden].
        if (index === 1 || index === 2) return { role: 'weight', op: 'Recurrent', outputAxis: 1, reason: `${op} ${index === 1 ? 'input' : 'recurrent'} weight` };
        if (index === 3) return { role: 'bias', op: 'Recurrent', outputAxis: 1, reason: `bias of ${op}` };
        break;
      case 'Einsum':
        return { role: 'weight', op: 'Einsum', outputAxis: einsumOutputAxis(node, index), reason: 'Einsum weight' };
      case 'Attention':
        if (node.domain === 'com.microsoft' && index === 1) return { role: 'weight', op: 'Attention', outputAxis: 1, reason: 'Attention QKV weight' };
        if (node.domain === 'com.microsoft' && index === 2) return { role: 'bias', op: 'Attention', outputAxis: 0, reason: 'bias of Attention' };
        break;
      case 'Gather':
        if (index === 0) return { role: 'embedding', op: 'Embedding', outputAxis: 0, reason: 'embedding (Gather data)' };
        break;
      case 'Add':
        if (rank <= 1) {
          const other = producer(node.inputs[1 - index] ?? '');
          if (other && PRODUCES_LINEAR.has(other.opType)) {
            return { role: 'bias', op: other.opType as WeightOp, outputAxis: 0, reason: `bias of ${other.opType} (Add)` };
          }
        }
        break;
    }
    if (NORM_OPS.has(op) && index >= 1) return { role: 'norm', op: 'Other', outputAxis: 0, reason: `norm (${op})` };
  }
  return { role: 'other', op: 'Other', outputAxis: 0, reason: `input of ${op}` };
}

/** Roles of the named initializers; `ranks` and `floating` describe them. */
export function initializerRoles(
  nodes: readonly GraphNode[],
  initializers: readonly { readonly name: string; readonly rank: number; readonly floating: boolean }[],
  ints: ConstantInts = () => undefined,
): Map<string, RoleInfo> {
  const consumers = new Map<string, { node: GraphNode; index: number }[]>();
  const producers = new Map<string, GraphNode>();
  for (const node of nodes) {
    node.inputs.forEach((input, index) => {
      if (input === '') return;
      let list = consumers.get(input);
      if (!list) consumers.set(input, (list = []));
      list.push({ node, index });
    });
    for (const out of node.outputs) producers.set(out, node);
  }
  const producer = (v: string) => producers.get(v);

  const roles = new Map<string, RoleInfo>();
  for (const init of initializers) {
    const uses: Use[] = [];
    const seen = new Set<string>([init.name]);
    // Each value reached carries `perm`: axis k of the value is axis perm[k] of the initializer.
    const identityPerm = Array.from({ length: init.rank }, (_, k) => k);
    const frontier: { value: string; perm: number[] }[] = [{ value: init.name, perm: identityPerm }];
    const via = new Set<string>();
    while (frontier.length) {
      const { value, perm } = frontier.pop()!;
      for (const { node, index } of consumers.get(value) ?? []) {
        const passPerm = passThrough(node, index, perm, ints);
        if (passPerm) {
          via.add(node.opType);
          for (const out of node.outputs) if (!seen.has(out)) {
            seen.add(out);
            frontier.push({ value: out, perm: passPerm });
          }
        } else {
          const use = classifyUse(node, index, init.rank, producer);
          const mapped = perm[use.outputAxis];
          uses.push({ ...use, outputAxis: mapped === undefined || mapped < 0 ? use.outputAxis : mapped });
        }
      }
    }
    const viaIdentity = via.size > 0 ? [...via].sort().join('/') : '';
    roles.set(init.name, combine(uses, init.rank, init.floating, viaIdentity));
  }
  return roles;
}

function combine(uses: readonly Use[], rank: number, floating: boolean, via: string): RoleInfo {
  if (uses.length === 0) return { role: 'other', op: 'Other', prunable: false, reason: 'unused', outputAxis: 0 };
  let best = uses[0];
  for (const u of uses) if (ROLE_ORDER.indexOf(u.role) < ROLE_ORDER.indexOf(best.role)) best = u;
  let reason = best.reason;
  const sameRole = uses.filter((u) => u.role === best.role).length;
  if (sameRole > 1) reason += `, shared by ${sameRole} nodes`;
  if (via) reason += ` (through ${via})`;
  if (uses.some((u) => u.role !== best.role)) reason += `, also ${uses.find((u) => u.role !== best.role)!.reason}`;
  let prunable = best.role === 'weight';
  if (prunable && !floating) {
    prunable = false;
    reason = `not floating point (${reason})`;
  } else if (prunable && rank < 2) {
    prunable = false;
    reason = `rank ${rank} (${reason})`;
  } else if (!prunable && best.role === 'other' && rank < 2) reason = `rank ${rank}`;
  return { role: best.role, op: best.op, prunable, reason, outputAxis: best.outputAxis };
}

/** A tensor whose entries along `axis` belong to the output channels of a weight. */
export interface ChannelCompanion {
  readonly name: string;
  readonly axis: number;
  /** 'bias', 'norm scale', 'norm shift'. */
  readonly what: string;
}

/**
 * What else an output channel of `weight` owns, so that removing the channel removes its whole
 * contribution: the bias of its Conv/ConvTranspose/Gemm (or the rank-1 Add after its MatMul), and
 * the scale and shift of a BatchNormalization that reads the result (scale = shift = 0 makes the
 * channel exactly 0 whatever its running statistics). Tensors used by more than one node are left out.
 */
export function channelCompanions(nodes: readonly GraphNode[], weight: string, isStored: (name: string, rank: number) => boolean): ChannelCompanion[] {
  const consumers = new Map<string, { node: GraphNode; index: number }[]>();
  for (const node of nodes) {
    node.inputs.forEach((input, index) => {
      if (input === '') return;
      let list = consumers.get(input);
      if (!list) consumers.set(input, (list = []));
      list.push({ node, index });
    });
  }
  const sole = (value: string): { node: GraphNode; index: number } | undefined => {
    const c = consumers.get(value);
    return c && c.length === 1 ? c[0] : undefined;
  };
  const ownBias = (name: string): boolean => name !== '' && isStored(name, 1) && (consumers.get(name)?.length ?? 0) === 1;
  // Follow the weight through pass-through nodes to the one node that uses it.
  let use = sole(weight);
  for (let hops = 0; use && hops < 8 && passThrough(use.node, use.index, [0, 1]); hops++) use = sole(use.node.outputs[0]);
  if (!use) return [];
  const { node, index } = use;
  const out: ChannelCompanion[] = [];
  let value = node.outputs[0];
  const op = node.opType;
  if ((op === 'Conv' || op === 'ConvTranspose') && index === 1) {
    if (ownBias(node.inputs[2] ?? '')) out.push({ name: node.inputs[2], axis: 0, what: 'bias' });
  } else if (op === 'Gemm' && index === 1) {
    if (ownBias(node.inputs[2] ?? '')) out.push({ name: node.inputs[2], axis: 0, what: 'bias' });
  } else if (op === 'MatMul' && index === 1) {
    const add = sole(value);
    if (add && add.node.opType === 'Add') {
      const other = add.node.inputs[1 - add.index] ?? '';
      if (ownBias(other)) {
        out.push({ name: other, axis: 0, what: 'bias' });
        value = add.node.outputs[0];
      }
    }
  } else return [];
  const bn = sole(value);
  if (bn && bn.node.opType === 'BatchNormalization' && bn.index === 0) {
    const [, scale, shift] = bn.node.inputs;
    if (ownBias(scale ?? '')) out.push({ name: scale, axis: 0, what: 'norm scale' });
    if (ownBias(shift ?? '')) out.push({ name: shift, axis: 0, what: 'norm shift' });
  }
  return out;
}

const LINEAR_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'MatMulInteger', 'QLinearMatMul', 'ConvInteger', 'QLinearConv', 'FusedMatMul', 'FusedConv', 'Einsum', 'LSTM', 'GRU', 'RNN', 'Attention']);

/** Elementwise ops that sum, scale or select between their inputs: where two data paths merge. */
const MERGE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Sum', 'Mean', 'Max', 'Min', 'Pow', 'Where']);

/**
 * The weights whose layer's output reaches a graph output without passing another weight layer:
 * a classifier's logits, whose output channels must not be channel-pruned away unnoticed.
 * The walk stops where two data paths merge (a residual `Add`, a gating `Mul`): the last
 * projection of a residual branch is not an output layer, though nothing but adds and norms lie
 * between it and the output. `Concat` does not stop it: each detection head is an output layer.
 */
export function outputWeightNames(nodes: readonly GraphNode[], inputs: readonly string[], outputs: readonly string[], weights: ReadonlySet<string>): string[] {
  const consumers = new Map<string, GraphNode[]>();
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (i === '') continue;
      let list = consumers.get(i);
      if (!list) consumers.set(i, (list = []));
      list.push(n);
    }
    for (const o of n.outputs) producer.set(o, n);
  }
  // Values computed from a graph input, not from weights and constants alone (nodes are in order).
  const data = new Set(inputs);
  for (const n of nodes) if (n.inputs.some((i) => data.has(i))) for (const o of n.outputs) data.add(o);
  // Backwards from the outputs through non-weight nodes; a weight node met there is an output layer.
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const n = producer.get(v);
    if (!n) continue;
    if (LINEAR_OPS.has(n.opType)) {
      // The weight may reach the node through pass-through nodes: walk its inputs back to a stored weight.
      for (const input of n.inputs) {
        let x = input;
        for (let hops = 0; hops < 8 && !weights.has(x); hops++) {
          const p = producer.get(x);
          if (!p || LINEAR_OPS.has(p.opType) || p.inputs.length === 0) break;
          x = p.inputs[0];
        }
        if (weights.has(x)) found.add(x);
      }
      continue;
    }
    if (MERGE_OPS.has(n.opType) && n.inputs.filter((i) => data.has(i)).length >= 2) continue;
    for (const i of n.inputs) if (i !== '') stack.push(i);
  }
  return [...found];
}
