/**
 * `text:FILE`: plain `.txt` (the whole file) or JSONL (`{"text": ...}` per line, each record
 * tokenised on its own and the ids concatenated), tokenised by a Hugging Face `tokenizer.json`
 * through @huggingface/tokenizers, or `bytes` (UTF-8 bytes are the ids). The stream is cut into
 * windows of `seqLen` tokens every `stride` tokens (default: non-overlapping); a tail shorter than
 * a window is dropped. With overlapping windows only the tokens no earlier window scored are
 * scored, as in Hugging Face's perplexity recipe.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SculptError } from '../../core/errors.js';
import type { DatasetReader, TextWindows } from './types.js';

/** Text to token ids. */
export interface TextTokenizer {
  /** `bytes` or the tokenizer.json path. */
  readonly name: string;
  readonly vocabSize: number;
  encode(text: string): ArrayLike<number>;
}

export const BYTE_TOKENIZER: TextTokenizer = {
  name: 'bytes',
  vocabSize: 256,
  encode: (text) => new TextEncoder().encode(text),
};

/** `bytes`, or a tokenizer.json file (with tokenizer_config.json beside it when there is one). */
export function loadTokenizer(spec: string): TextTokenizer {
  if (spec === 'bytes') return BYTE_TOKENIZER;
  if (!existsSync(spec) || !statSync(spec).isFile()) {
    throw new SculptError(`--tokenizer ${spec}: unknown tokenizer; give the path of a Hugging Face tokenizer.json, or bytes (UTF-8 bytes as ids)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (e) {
    throw new SculptError(`--tokenizer ${spec}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const configPath = join(dirname(spec), 'tokenizer_config.json');
  const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as object, config);
  } catch (e) {
    throw new SculptError(`--tokenizer ${spec}: not a tokenizer.json this reader understands (${(e as Error).message.split('\n')[0]})`);
  }
  let max = -1;
  for (const id of tok.get_vocab(true).values()) if (id > max) max = id;
  return { name: spec, vocabSize: max + 1, encode: (text) => tok.encode(text, { add_special_tokens: false }).ids };
}

/** The texts of a .txt (one) or .jsonl file (one per record). */
export function readTexts(path: string, source: string): string[] {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SculptError(`${source}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!['.jsonl', '.ndjson'].includes(extname(path).toLowerCase())) return [raw];
  const texts: string[] = [];
  raw.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new SculptError(`${path}: line ${i + 1} is not JSON; JSONL takes one {"text": "..."} object per line`);
    }
    const text = (rec as { text?: unknown })?.text;
    if (typeof text !== 'string') throw new SculptError(`${path}: line ${i + 1} has no "text" string`);
    texts.push(text);
  });
  return texts;
}

/** Windows over a token stream of `n` tokens. */
export function textWindows(n: number, seqLen: number, stride: number, what: string): { starts: Int32Array; scoreFrom: Int32Array } {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new SculptError(`--seq-len must be an integer ≥ 2, got ${seqLen}`);
  if (!Number.isInteger(stride) || stride < 1) throw new SculptError(`--stride must be a positive integer, got ${stride}`);
  if (n < seqLen) throw new SculptError(`${what}: ${n} tokens, fewer than one window of --seq-len ${seqLen}; give more text or a smaller --seq-len`);
  const count = Math.floor((n - seqLen) / stride) + 1;
  const starts = new Int32Array(count);
  const scoreFrom = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    starts[k] = k * stride;
    scoreFrom[k] = k === 0 ? 1 : Math.max(1, seqLen - stride);
  }
  return { starts, scoreFrom };
}

export const textReader: DatasetReader = {
  kind: 'text',
  usage: 'text:FILE',
  describe: 'plain .txt or JSONL ({"text": ...}) tokenised by --tokenizer (tokenizer.json or bytes), in windows of --seq-len',
  open(path, opts, source) {
    if (opts.tokenizer === undefined) throw new SculptError(`${source}: text needs a tokenizer: pass --tokenizer PATH/tokenizer.json or --tokenizer bytes`);
    const tok = loadTokenizer(opts.tokenizer);
    const parts = readTexts(path, source).map((t) => tok.encode(t));
    const n = parts.reduce((a, p) => a + p.length, 0);
    if (n === 0) throw new SculptError(`${source}: no text in ${path}; the dataset is empty`);
    const stream = new Int32Array(n);
    let o = 0;
    for (const p of parts) { stream.set(p, o); o += p.length; }
    const seqLen = opts.seqLen ?? 128;
    const stride = opts.stride ?? seqLen;
    const w = textWindows(n, seqLen, stride, source);
    const count = Math.min(w.starts.length, opts.limit ?? Infinity);
    const inputs = new Int32Array(count * seqLen);
    for (let k = 0; k < count; k++) inputs.set(stream.subarray(w.starts[k], w.starts[k] + seqLen), k * seqLen);
    let max = 0;
    for (let i = 0; i < n; i++) if (stream[i] > max) max = stream[i];
    const text: TextWindows = { seqLen, stride, tokens: n, scoreFrom: w.scoreFrom.slice(0, count), tokenizer: tok.name, vocabSize: Math.max(tok.vocabSize, max + 1) };
    return {
      kind: 'text', source, count, sampleShape: [seqLen], inputs, text,
      notes: [`${path}: ${n} tokens (${tok.name}), ${count} windows of ${seqLen} every ${stride}${w.starts.length * stride + seqLen - stride < n ? ', the short tail dropped' : ''}`],
    };
  },
};
