/**
 * Roles of the weights of a TF.js graph model (`format: graph-model`: `modelTopology` is a
 * GraphDef in JSON, weights are keyed by the names of their `Const` nodes). A weight's role comes
 * from the node that consumes it, found through the pass-through nodes exporters insert
 * (Identity, Cast, Reshape, ExpandDims, Squeeze, Transpose…). Axes are TensorFlow's:
 * Conv2D filter [kh, kw, in, out] → output axis 3; DepthwiseConv2dNative filter
 * [kh, kw, in, multiplier] → axis 2 (the input channel, as for Keras DepthwiseConv2D: a channel
 * there is a group of `multiplier` outputs); MatMul b [in, out] → axis 1, or 0 with transpose_b.
 */
import type { Role, WeightOp } from '../core/types.js';

/** What a weight is, whether it is pruned by default, and its output (channel) axis in the stored layout. */
export interface TfjsWeightRole {
  role: Role;
  op: WeightOp;
  prunable: boolean;
  reason: string;
  outputAxis: number;
}

interface GraphNode {
  readonly name: string;
  readonly op: string;
  readonly input: readonly string[];
  readonly attr: Record<string, unknown>;
}

/** How a consumer sees the weight: `toStored[a]` is the stored axis behind view axis a (undefined once reshaped). */
interface View {
  readonly toStored?: readonly number[];
  readonly rank?: number;
  readonly via: readonly string[];
}

interface Use {
  readonly role: Role;
  readonly op: WeightOp;
  /** Output axis in the consumer's view. */
  readonly viewAxis: number;
  readonly what: string;
  readonly consumer: string;
}

const PASS_THROUGH = new Set(['Identity', 'Cast', 'StopGradient', 'Snapshot', 'PreventGradient', 'CheckNumerics', 'EnsureShape', 'Enter']);
const RESHAPING = new Set(['Reshape', 'ExpandDims', 'Squeeze']);
/** Ops that read only a tensor's shape, not its values. */
const SHAPE_ONLY = new Set(['Shape', 'ShapeN', 'Size', 'Rank']);
const FUNCTION_CALLS = new Set(['StatefulPartitionedCall', 'PartitionedCall', 'If', 'StatelessIf', 'While', 'StatelessWhile']);

function attrBool(n: GraphNode, key: string): boolean {
  const a = n.attr[key] as { b?: unknown } | undefined;
  return a?.b === true;
}

/** A list-of-strings attribute (the converter stores strings base64-encoded). */
function attrStrings(n: GraphNode, key: string): string[] {
  const a = n.attr[key] as { list?: { s?: unknown } } | undefined;
  const s = a?.list?.s;
  if (!Array.isArray(s)) return [];
  return s.map((x) => (typeof x === 'string' ? Buffer.from(x, 'base64').toString('utf8') : ''));
}

function parseNodes(topology: unknown): GraphNode[] {
  const list = (topology as { node?: unknown } | null)?.node;
  if (!Array.isArray(list)) return [];
  const out: GraphNode[] = [];
  for (const x of list) {
    const o = x as { name?: unknown; op?: unknown; input?: unknown; attr?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.name !== 'string' || typeof o.op !== 'string') continue;
    const input = Array.isArray(o.input) ? o.input.filter((s): s is string => typeof s === 'string') : [];
    const attr = typeof o.attr === 'object' && o.attr !== null ? (o.attr as Record<string, unknown>) : {};
    out.push({ name: o.name, op: o.op, input, attr });
  }
  return out;
}

/** `node:1` → node; control inputs (`^node`) are not data and are dropped by the caller. */
function sourceOf(input: string): string {
  const i = input.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(input.slice(i + 1)) ? input.slice(0, i) : input;
}

/** The role a consumer gives its data input `k` (the weight, seen with rank `rank` if known). */
function useOf(n: GraphNode, k: number, rank: number | undefined): Omit<Use, 'consumer'> {
  const other = (what: string): Omit<Use, 'consumer'> => ({ role: 'other', op: 'Other', viewAxis: 0, what });
  const extra = (): Omit<Use, 'consumer'> => {
    // Fused ops' arguments after the filter: BiasAdd's bias, FusedBatchNorm's four, Prelu's alpha.
    const fused = attrStrings(n, 'fused_ops');
    if (fused[0] === 'FusedBatchNorm') return { role: 'norm', op: 'Other', viewAxis: 0, what: `batch-norm argument of ${n.op}` };
    if (k === 2 && fused[0] === 'BiasAdd') return { role: 'bias', op: 'Other', viewAxis: 0, what: `bias of ${n.op}` };
    return other(`fused ${fused.join('+') || 'op'} argument ${k} of ${n.op}`);
  };
  switch (n.op) {
    case 'Conv2D':
    case '_FusedConv2D':
      if (k === 1) return { role: 'weight', op: 'Conv', viewAxis: 3, what: `${n.op} filter [kh, kw, in, out]` };
      return k >= 2 && n.op === '_FusedConv2D' ? extra() : other(`input ${k} of ${n.op}`);
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2dNative':
      if (k === 1) return { role: 'weight', op: 'Conv', viewAxis: 2, what: `${n.op} filter [kh, kw, in, multiplier]` };
      return k >= 2 && n.op === 'FusedDepthwiseConv2dNative' ? extra() : other(`input ${k} of ${n.op}`);
    case 'Conv3D':
      return k === 1 ? { role: 'weight', op: 'Conv', viewAxis: 4, what: 'Conv3D filter [kd, kh, kw, in, out]' } : other(`input ${k} of Conv3D`);
    case 'Conv2DBackpropInput':
      return k === 1 ? { role: 'weight', op: 'ConvTranspose', viewAxis: 2, what: 'Conv2DBackpropInput filter [kh, kw, out, in]' } : other(`input ${k} of ${n.op}`);
    case 'MatMul':
    case '_FusedMatMul': {
      const ta = attrBool(n, 'transpose_a');
      const tb = attrBool(n, 'transpose_b');
      if (k === 1) return { role: 'weight', op: 'Dense', viewAxis: tb ? 0 : 1, what: `${n.op} b ${tb ? '[out, in] (transpose_b)' : '[in, out]'}` };
      if (k === 0) return { role: 'weight', op: 'Dense', viewAxis: ta ? 1 : 0, what: `${n.op} a ${ta ? '[in, out] (transpose_a)' : '[out, in]'}` };
      return n.op === '_FusedMatMul' ? extra() : other(`input ${k} of MatMul`);
    }
    case 'BatchMatMul':
    case 'BatchMatMulV2':
    case 'BatchMatMulV3': {
      if (rank === undefined || rank < 2) return other(`${n.op} operand of unknown rank`);
      const adj = attrBool(n, k === 1 ? 'adj_y' : 'adj_x');
      if (k === 1) return { role: 'weight', op: 'Dense', viewAxis: adj ? rank - 2 : rank - 1, what: `${n.op} y${adj ? ' (adj_y)' : ''}` };
      if (k === 0) return { role: 'weight', op: 'Dense', viewAxis: adj ? rank - 1 : rank - 2, what: `${n.op} x${adj ? ' (adj_x)' : ''}` };
      return other(`input ${k} of ${n.op}`);
    }
    case 'GatherV2':
    case 'Gather':
    case 'ResourceGather':
      return k === 0 ? { role: 'embedding', op: 'Embedding', viewAxis: Math.max(0, (rank ?? 2) - 1), what: `${n.op} params (embedding table)` } : other(`indices of ${n.op}`);
    case 'BiasAdd':
      return k === 1 ? { role: 'bias', op: 'Other', viewAxis: 0, what: 'BiasAdd bias' } : other('BiasAdd value');
    case 'FusedBatchNorm':
    case 'FusedBatchNormV2':
    case 'FusedBatchNormV3':
      return k >= 1 ? { role: 'norm', op: 'Other', viewAxis: 0, what: `${n.op} argument` } : other(`${n.op} input`);
    case 'Add':
    case 'AddV2':
      return rank !== undefined && rank <= 1 ? { role: 'bias', op: 'Other', viewAxis: 0, what: `rank-${rank} operand of ${n.op}` } : other(`operand of ${n.op}`);
    case 'Prelu':
      return other('PReLU alpha');
    default:
      if (FUNCTION_CALLS.has(n.op)) return other(`argument of ${n.op} (a function body; roles inside are not traced)`);
      return other(`input ${k} of ${n.op}`);
  }
}

/**
 * Roles of `weights` (manifest entries) from the graph. `int32Of` gives an int32 weight's values
 * (to follow Transpose permutations); it may return undefined.
 */
export function graphWeightRoles(
  topology: unknown,
  weights: readonly { name: string; shape: readonly number[] }[],
  int32Of: (name: string) => Int32Array | undefined,
): Map<string, TfjsWeightRole> {
  const nodes = parseNodes(topology);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, { node: GraphNode; k: number }[]>();
  for (const n of nodes) {
    n.input.forEach((inp, k) => {
      if (inp.startsWith('^')) return;
      const src = sourceOf(inp);
      let list = consumers.get(src);
      if (!list) consumers.set(src, (list = []));
      list.push({ node: n, k });
    });
  }

  const usesOf = (start: string, rank: number): Use[] => {
    const uses: Use[] = [];
    const seen = new Set<string>();
    const visit = (name: string, view: View, depth: number): void => {
      if (depth > 32 || seen.has(name)) return;
      seen.add(name);
      for (const { node, k } of consumers.get(name) ?? []) {
        if (SHAPE_ONLY.has(node.op)) continue;
        if (PASS_THROUGH.has(node.op) && k === 0) visit(node.name, { ...view, via: [...view.via, node.op] }, depth + 1);
        else if (node.op === 'IdentityN') visit(node.name, { ...view, via: [...view.via, node.op] }, depth + 1);
        else if (RESHAPING.has(node.op) && k === 0) visit(node.name, { via: [...view.via, node.op] }, depth + 1);
        else if (node.op === 'Transpose' && k === 0) {
          const permNode = sourceOf(node.input[1] ?? '');
          const perm = byName.has(permNode) ? int32Of(permNode) : undefined;
          const ok = perm && view.toStored && perm.length === view.toStored.length;
          visit(node.name, { toStored: ok ? Array.from(perm, (p) => view.toStored![p]) : undefined, rank: view.rank, via: [...view.via, 'Transpose'] }, depth + 1);
        } else {
          const u = useOf(node, k, view.rank);
          const through = view.via.length > 0 ? ` (through ${view.via.join(', ')})` : '';
          uses.push({ ...u, consumer: node.name, what: u.what + through, viewAxis: view.toStored ? (view.toStored[u.viewAxis] ?? -1) : -1 });
        }
      }
    };
    const identity = Array.from({ length: rank }, (_, i) => i);
    visit(start, { toStored: identity, rank, via: [] }, 0);
    return uses;
  };

  const out = new Map<string, TfjsWeightRole>();
  for (const w of weights) {
    const rank = w.shape.length;
    if (!byName.has(w.name)) {
      out.set(w.name, { role: 'other', op: 'Other', prunable: false, reason: 'no graph node of this name (used inside a function body?)', outputAxis: 0 });
      continue;
    }
    const uses = usesOf(w.name, rank);
    if (uses.length === 0) {
      out.set(w.name, { role: 'other', op: 'Other', prunable: false, reason: 'not consumed by any graph node', outputAxis: 0 });
      continue;
    }
    const first = uses[0];
    const disagree = uses.find((u) => u.role !== first.role || u.viewAxis !== first.viewAxis);
    if (disagree) {
      out.set(w.name, {
        role: 'other', op: 'Other', prunable: false, outputAxis: 0,
        reason: `${first.what} of ${first.consumer} and ${disagree.what} of ${disagree.consumer}; prune it with --include`,
      });
      continue;
    }
    // Unknown stored axis (through a Reshape): assume the last, TensorFlow's usual output axis.
    const axis = first.viewAxis >= 0 && first.viewAxis < rank ? first.viewAxis : Math.max(0, rank - 1);
    const prunable = first.role === 'weight' && rank >= 2;
    const reason = first.role === 'weight' && rank < 2 ? `${first.what}, rank ${rank}` : first.what;
    out.set(w.name, { role: first.role, op: first.op, prunable, reason, outputAxis: first.role === 'weight' || first.role === 'embedding' ? axis : 0 });
  }
  return out;
}
