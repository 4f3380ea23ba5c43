/**
 * Roles of the weights of a TF.js graph model (`format: graph-model`: `modelTopology` is a
 * GraphDef in JSON, weights are keyed by the names of their `Const` nodes). A weight's role comes
 * from the node that consumes it, found through the pass-through nodes exporters insert
 * (Identity, IdentityN, Cast, Reshape, ExpandDims, Squeeze, Transpose…) and into the function
 * bodies of `modelTopology.library` that call nodes (PartitionedCall, If, While) pass it to.
 * A weight whose consumers disagree (two roles or two output axes) is not pruned by default.
 * Axes are TensorFlow's:
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

/**
 * The producing node and output index of an input reference: `node` and `node:1` in the main
 * graph, `node:output:1` or an argument name inside a function body. Control inputs (`^node`) are
 * not data and are dropped by the caller.
 */
function sourceOf(input: string): { node: string; output: number } {
  const parts = input.split(':');
  const last = Number(parts[parts.length - 1]);
  return { node: parts[0], output: parts.length > 1 && Number.isInteger(last) ? last : 0 };
}

interface Graph {
  readonly byName: ReadonlyMap<string, GraphNode>;
  readonly consumers: ReadonlyMap<string, readonly { node: GraphNode; k: number; output: number }[]>;
  /** Names of the function's arguments, in order (a function body only). */
  readonly args: readonly string[];
}

function graphOf(nodes: readonly GraphNode[], args: readonly string[] = []): Graph {
  const consumers = new Map<string, { node: GraphNode; k: number; output: number }[]>();
  for (const n of nodes) {
    n.input.forEach((inp, k) => {
      if (inp.startsWith('^')) return;
      const src = sourceOf(inp);
      let list = consumers.get(src.node);
      if (!list) consumers.set(src.node, (list = []));
      list.push({ node: n, k, output: src.output });
    });
  }
  return { byName: new Map(nodes.map((n) => [n.name, n])), consumers, args };
}

/** The converter's `modelTopology.library.function` list: name → body. */
function parseFunctions(topology: unknown): Map<string, { nodes: GraphNode[]; args: string[] }> {
  const out = new Map<string, { nodes: GraphNode[]; args: string[] }>();
  const list = (topology as { library?: { function?: unknown } } | null)?.library?.function;
  if (!Array.isArray(list)) return out;
  for (const f of list) {
    const sig = (f as { signature?: { name?: unknown; inputArg?: unknown } })?.signature;
    if (typeof sig?.name !== 'string') continue;
    const args = Array.isArray(sig.inputArg) ? sig.inputArg.map((a) => String((a as { name?: unknown })?.name ?? '')) : [];
    out.set(sig.name, { nodes: parseNodes({ node: (f as { nodeDef?: unknown }).nodeDef }), args });
  }
  return out;
}

/** Function bodies a call node runs with its input `k`, and which of their arguments that input becomes. */
function calleesOf(n: GraphNode, k: number): { fn: string; arg: number }[] {
  const fn = (key: string): string | undefined => {
    const name = (n.attr[key] as { func?: { name?: unknown } } | undefined)?.func?.name;
    return typeof name === 'string' ? name : undefined;
  };
  const keys = n.op === 'If' || n.op === 'StatelessIf' ? ['then_branch', 'else_branch']
    : n.op === 'While' || n.op === 'StatelessWhile' ? ['body', 'cond'] : ['f'];
  const arg = keys[0] === 'then_branch' ? k - 1 : k; // If's input 0 is the condition
  if (arg < 0) return [];
  return keys.map(fn).filter((f): f is string => f !== undefined).map((f) => ({ fn: f, arg }));
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
      if (FUNCTION_CALLS.has(n.op)) return other(`argument of ${n.op} whose function body is not in the model`);
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
  const main = graphOf(parseNodes(topology));
  const bodies = parseFunctions(topology);
  const graphs = new Map<string, Graph>();
  const bodyGraph = (fn: string): Graph | undefined => {
    let g = graphs.get(fn);
    const b = bodies.get(fn);
    if (!g && b) graphs.set(fn, (g = graphOf(b.nodes, b.args)));
    return g;
  };

  const usesOf = (start: string, rank: number): Use[] => {
    const uses: Use[] = [];
    const seen = new Set<string>();
    const visit = (g: Graph, scope: string, name: string, output: number | undefined, view: View, depth: number): void => {
      const key = `${scope}\u0000${name}\u0000${output ?? '*'}`;
      if (depth > 32 || seen.has(key)) return;
      seen.add(key);
      for (const { node, k, output: o } of g.consumers.get(name) ?? []) {
        if (output !== undefined && o !== output) continue;
        const via = (op: string): readonly string[] => [...view.via, op];
        if (SHAPE_ONLY.has(node.op)) continue;
        if (PASS_THROUGH.has(node.op) && k === 0) visit(g, scope, node.name, undefined, { ...view, via: via(node.op) }, depth + 1);
        else if (node.op === 'IdentityN') visit(g, scope, node.name, k, { ...view, via: via(node.op) }, depth + 1);
        else if (RESHAPING.has(node.op) && k === 0) visit(g, scope, node.name, undefined, { via: via(node.op) }, depth + 1);
        else if (node.op === 'Transpose' && k === 0) {
          const permNode = sourceOf(node.input[1] ?? '').node;
          const perm = g === main && main.byName.has(permNode) ? int32Of(permNode) : undefined;
          const ok = perm && view.toStored && perm.length === view.toStored.length;
          visit(g, scope, node.name, undefined, { toStored: ok ? Array.from(perm, (p) => view.toStored![p]) : undefined, rank: view.rank, via: via('Transpose') }, depth + 1);
        } else if (FUNCTION_CALLS.has(node.op) && calleesOf(node, k).some((c) => bodyGraph(c.fn)?.args[c.arg])) {
          // Into the function body: the input becomes the body's argument of the same position.
          for (const c of calleesOf(node, k)) {
            const body = bodyGraph(c.fn);
            const arg = body?.args[c.arg];
            if (body && arg) visit(body, c.fn, arg, undefined, { ...view, via: via(`${node.op} ${c.fn}`) }, depth + 1);
          }
        } else {
          const u = useOf(node, k, view.rank);
          const through = view.via.length > 0 ? ` (through ${view.via.join(', ')})` : '';
          uses.push({ ...u, consumer: node.name, what: u.what + through, viewAxis: view.toStored ? (view.toStored[u.viewAxis] ?? -1) : -1 });
        }
      }
    };
    const identity = Array.from({ length: rank }, (_, i) => i);
    visit(main, '', start, undefined, { toStored: identity, rank, via: [] }, 0);
    return uses;
  };

  const out = new Map<string, TfjsWeightRole>();
  for (const w of weights) {
    const rank = w.shape.length;
    if (!main.byName.has(w.name)) {
      out.set(w.name, { role: 'other', op: 'Other', prunable: false, reason: 'no graph node of this name', outputAxis: 0 });
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
