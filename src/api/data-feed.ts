/**
 * From a dataset of the registry to a model's inputs: which data options the model implies
 * (image size and channels from its input shape, the tokenizer.json beside it), and each batch
 * as named input tensors — examples reshaped (images transposed to NCHW when the model takes
 * channels first), text windows as `input_ids` with `attention_mask` and `position_ids` as
 * Hugging Face exports take them.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SculptError } from '../core/errors.js';
import type { GraphValueInfo } from '../core/graph.js';
import { openDataset } from '../formats/datasets/registry.js';
import { sampleSize, type Batch, type DataOptions, type ExampleSet } from '../formats/datasets/types.js';
import type { Tensor } from '../sparse/tensor.js';

/** Text model inputs sculpt fills, by name. */
export const TEXT_INPUTS = ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids'] as const;

const FLOATS = new Set(['float32', 'float16', 'float64']);

/** Image size and channels read off a model input [N, C, H, W] or [N, H, W, C] with C 1 or 3. */
export function imageShapeOf(input: GraphValueInfo): { imageSize: [number, number]; channels: 1 | 3 } | undefined {
  const d = input.dims;
  if (d.length !== 4 || d.slice(1).some((x) => x <= 0)) return undefined;
  if (d[1] === 1 || d[1] === 3) return { imageSize: [d[2], d[3]], channels: d[1] as 1 | 3 };
  if (d[3] === 1 || d[3] === 3) return { imageSize: [d[1], d[2]], channels: d[3] as 1 | 3 };
  return undefined;
}

/**
 * Opens `spec` for a model at `modelPath` with inputs `inputs`: flags in `opts` win; images take
 * the model's size and channels otherwise, text the model's `tokenizer.json` when one sits beside it.
 */
export function openDatasetFor(spec: string, opts: DataOptions, modelPath: string, inputs: readonly GraphValueInfo[]): ExampleSet {
  let o = opts;
  const kind = spec.includes(':') ? spec.slice(0, spec.indexOf(':')) : spec;
  if (kind === 'images' && inputs.length === 1 && o.preprocess === undefined) {
    const shape = imageShapeOf(inputs[0]);
    if (shape) o = { ...o, imageSize: o.imageSize ?? shape.imageSize, channels: o.channels ?? shape.channels };
  }
  if (kind === 'text' && o.tokenizer === undefined) {
    const beside = join(dirname(modelPath), 'tokenizer.json');
    if (existsSync(beside)) o = { ...o, tokenizer: beside };
    else throw new SculptError(`${spec}: no tokenizer.json beside ${modelPath}; pass --tokenizer PATH/tokenizer.json or --tokenizer bytes`);
  }
  return openDataset(spec, o);
}

const fits = (want: readonly number[], have: readonly number[]): boolean => want.length === have.length && want.every((d, i) => d <= 0 || d === have[i]);

/** How one example becomes one row of the model's input: its dims after N, and whether HWC goes to CHW. */
interface Placement {
  readonly rest: readonly number[];
  readonly toChw: boolean;
}

function place(input: GraphValueInfo, set: ExampleSet, model: string): Placement {
  const rest = input.dims.slice(1);
  const s = set.sampleShape;
  const per = sampleSize(set);
  if (set.image && s.length === 3 && rest.length === 3) {
    // Channels first when the model names the channel count first (PyTorch exports), else as stored.
    const chw = [s[2], s[0], s[1]];
    if (fits(rest, chw) && rest[0] === s[2]) return { rest: chw, toChw: s[2] > 1 };
    if (fits(rest, s)) return { rest: s, toChw: false };
    if (fits(rest, chw)) return { rest: chw, toChw: s[2] > 1 };
  }
  if (fits(rest, s)) return { rest: s, toChw: false };
  if (rest.length > 0 && rest.every((d) => d > 0) && rest.reduce((a, b) => a * b, 1) === per) return { rest, toChw: false };
  if (rest.length === 1 && rest[0] <= 0) return { rest: [per], toChw: false };
  const hint = set.image && input.dims.length === 4 ? '; pass --image-size H,W and --channels to match it' : '; reshape the data to the model\'s input';
  throw new SculptError(
    `${model}: input '${input.name}' is [${input.dims.map((d) => (d < 0 ? 'N' : d)).join(', ')}] but ${set.source} examples are ${s.join('×') || 'scalars'} (${per} values)${hint}`,
  );
}

/** Builds each batch's named input tensors for a model with `inputs` (its real inputs). */
export class FeedBuilder {
  private readonly placement?: Placement;
  private readonly text: boolean;

  constructor(readonly inputs: readonly GraphValueInfo[], readonly set: ExampleSet, readonly model: string) {
    this.text = set.text !== undefined;
    if (this.text) {
      const ids = inputs.find((i) => i.name === 'input_ids') ?? (inputs.length === 1 ? inputs[0] : undefined);
      if (!ids) throw new SculptError(`${model}: text data needs a model input named input_ids; its inputs are ${inputs.map((i) => i.name).join(', ')}`);
      for (const i of inputs) {
        if (i !== ids && !(TEXT_INPUTS as readonly string[]).includes(i.name)) {
          throw new SculptError(`${model}: input '${i.name}' is not one sculpt fills for text (${TEXT_INPUTS.join(', ')}); export the model without it`);
        }
        if (FLOATS.has(i.dtype) && i.name !== 'attention_mask') throw new SculptError(`${model}: input '${i.name}' takes ${i.dtype}; text feeds integer token ids`);
      }
      const L = set.text!.seqLen;
      if (ids.dims.length !== 2 || (ids.dims[1] > 0 && ids.dims[1] !== L)) {
        throw new SculptError(`${model}: input '${ids.name}' is [${ids.dims.join(', ')}], not [batch, ${L}] for windows of --seq-len ${L}`);
      }
      return;
    }
    if (inputs.length !== 1) throw new SculptError(`${model}: takes ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); ${set.kind} data feeds a model with one input`);
    const input = inputs[0];
    if (!FLOATS.has(input.dtype) && set.inputs instanceof Float32Array) {
      throw new SculptError(`${model}: input '${input.name}' takes ${input.dtype}, ${set.source} holds floating-point values`);
    }
    this.placement = place(input, set, model);
  }

  /** The named tensors of one batch. */
  feeds(batch: Batch): Record<string, Tensor> {
    const n = batch.count;
    if (this.text) {
      const L = this.set.text!.seqLen;
      const out: Record<string, Tensor> = {};
      for (const i of this.inputs) {
        // Some exports take a float attention mask: ones either way.
        if (i.name === 'attention_mask' && FLOATS.has(i.dtype)) { out[i.name] = { dtype: 'float32', dims: [n, L], data: new Float32Array(n * L).fill(1) }; continue; }
        const data = new Float64Array(n * L);
        if (i.name === 'attention_mask') data.fill(1);
        else if (i.name === 'position_ids') for (let r = 0; r < n; r++) for (let j = 0; j < L; j++) data[r * L + j] = j;
        else if (i.name !== 'token_type_ids') data.set(batch.inputs);
        out[i.name] = { dtype: 'int64', dims: [n, L], data };
      }
      return out;
    }
    const input = this.inputs[0];
    const { rest, toChw } = this.placement!;
    const dims = [n, ...rest];
    if (!FLOATS.has(input.dtype)) return { [input.name]: { dtype: 'int64', dims, data: Float64Array.from(batch.inputs) } };
    let data = Float32Array.from(batch.inputs);
    if (toChw) {
      const [c, h, w] = rest;
      const chw = new Float32Array(data.length);
      const per = c * h * w;
      for (let e = 0; e < n; e++) for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) chw[e * per + k * h * w + p] = data[e * per + p * c + k];
      data = chw;
    }
    return { [input.name]: { dtype: 'float32', dims, data } };
  }
}
