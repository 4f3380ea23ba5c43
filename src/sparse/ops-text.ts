/** TfIdfVectorizer over integer token ids (as sklearn-onnx text pipelines write it); string pools are refused. */
import { SculptError } from '../core/errors.js';
import { at, attrFloats, attrInt, attrInts, attrString, need, type OpFn } from './ops-common.js';
import { floatTensor } from './tensor.js';

/**
 * Counts the pool's n-grams (min_gram_length ≤ n ≤ max_gram_length) in each row; n-grams of two
 * or more tokens may skip up to max_skip_count tokens between neighbours, counted once per skip
 * distance; unigrams are counted once. TF: counts, IDF: weight where present, TFIDF: count·weight.
 */
export const tfIdfVectorizer: OpFn = (inputs, attrs, node) => {
  const x = need(inputs[0], node, 0);
  if (x.dtype === 'float32') throw new SculptError(`${at(node)} takes integer token ids, got float values`);
  const pool = attrInts(attrs, 'pool_int64s');
  if (!pool) throw new SculptError(`${at(node)} has a string pool (pool_strings), which sculpt's engine does not run; run the model with \`sculpt run --engine onnxruntime\``);
  const counts = attrInts(attrs, 'ngram_counts') ?? [0];
  const indexes = attrInts(attrs, 'ngram_indexes') ?? [];
  const weights = attrFloats(attrs, 'weights');
  const mode = attrString(attrs, 'mode', 'TF');
  const minN = attrInt(attrs, 'min_gram_length', 1), maxN = attrInt(attrs, 'max_gram_length', 1);
  const maxSkip = attrInt(attrs, 'max_skip_count', 0);
  // Pool n-grams by key "n:a,b,…" → their position in pool order.
  const lookup = new Map<string, number>();
  let k = 0;
  for (let level = 0; level < counts.length; level++) {
    const n = level + 1;
    const start = counts[level], end = level + 1 < counts.length ? counts[level + 1] : pool.length;
    for (let p = start; p + n <= end; p += n, k++) lookup.set(`${n}:${pool.slice(p, p + n).join(',')}`, k);
  }
  const width = indexes.length > 0 ? Math.max(...indexes) + 1 : 0;
  const rows = x.dims.length === 2 ? x.dims[0] : 1;
  const cols = x.dims.length === 2 ? x.dims[1] : x.dims[0] ?? 0;
  const out = new Float32Array(rows * width);
  const gram = new Array<number>(maxN);
  for (let r = 0; r < rows; r++) {
    const row = x.data.subarray(r * cols, (r + 1) * cols);
    const hit = (key: string) => {
      const j = lookup.get(key);
      if (j !== undefined) out[r * width + indexes[j]] += 1;
    };
    for (let n = Math.max(minN, 1); n <= maxN; n++) {
      for (let skip = 0; skip <= (n === 1 ? 0 : maxSkip); skip++) {
        const step = skip + 1;
        for (let i = 0; i + (n - 1) * step < cols; i++) {
          for (let t = 0; t < n; t++) gram[t] = row[i + t * step];
          hit(`${n}:${gram.slice(0, n).join(',')}`);
        }
      }
    }
    if (mode !== 'TF') {
      for (let j = 0; j < indexes.length; j++) {
        const o = r * width + indexes[j], w = weights ? weights[j] : 1;
        out[o] = mode === 'IDF' ? (out[o] > 0 ? w : 0) : out[o] * w;
      }
    }
  }
  return [floatTensor(x.dims.length === 2 ? [rows, width] : [width], out)];
};
