// Deterministic BERT-base-shaped float32 safetensors checkpoint for the selection benchmark.
// 20 blocks × (4 × [768,768] + [3072,768] + [768,3072]) = 141,557,760 parameters.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';

const H = 768;
const FF = 3072;

/** Tensor names and shapes of `blocks` BERT encoder blocks (PyTorch Linear layout [out, in]). */
export function bertLikeTensors(blocks = 20) {
  const out = [];
  for (let b = 0; b < blocks; b++) {
    const p = `encoder.layer.${b}`;
    out.push({ name: `${p}.attention.self.query.weight`, shape: [H, H] });
    out.push({ name: `${p}.attention.self.key.weight`, shape: [H, H] });
    out.push({ name: `${p}.attention.self.value.weight`, shape: [H, H] });
    out.push({ name: `${p}.attention.output.dense.weight`, shape: [H, H] });
    out.push({ name: `${p}.intermediate.dense.weight`, shape: [FF, H] });
    out.push({ name: `${p}.output.dense.weight`, shape: [H, FF] });
  }
  return out;
}

/** xorshift32 seeded per tensor, Box–Muller normals with std 0.02 (BERT's init). */
function fillNormal(buf, state) {
  let s = state >>> 0 || 1;
  for (let i = 0; i < buf.length; i += 2) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const u1 = (s + 1) / 4294967297;
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const u2 = s / 4294967296;
    const r = 0.02 * Math.sqrt(-2 * Math.log(u1));
    buf[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < buf.length) buf[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return s;
}

/**
 * Writes the checkpoint to `path` unless a file made with the same recipe is already there.
 * Returns { path, bytes, parameters, generated, seconds }.
 */
export function ensureBertLike(path, blocks = 20, seed = 20240601) {
  const tensors = bertLikeTensors(blocks);
  const recipe = JSON.stringify({ version: 1, blocks, seed });
  const stamp = `${path}.recipe`;
  let offset = 0;
  const header = { __metadata__: { format: 'pt', generator: 'sculpt bench/lib/bert-like.mjs', recipe } };
  for (const t of tensors) {
    const n = t.shape[0] * t.shape[1];
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const bytes = 8 + json.length + offset;
  const parameters = offset / 4;
  if (existsSync(path) && existsSync(stamp) && readFileSync(stamp, 'utf8') === recipe && statSync(path).size === bytes) {
    return { path, bytes, parameters, generated: false, seconds: 0 };
  }
  const t0 = performance.now();
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'utf8'));
    const chunk = new Float32Array(1 << 20);
    let state = seed;
    for (const [i, t] of tensors.entries()) {
      let left = t.shape[0] * t.shape[1];
      state = (state ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        const view = chunk.subarray(0, n);
        state = fillNormal(view, state);
        writeSync(fd, new Uint8Array(view.buffer, 0, 4 * n));
        left -= n;
      }
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  writeFileSync(stamp, recipe);
  return { path, bytes, parameters, generated: true, seconds: (performance.now() - t0) / 1000 };
}
