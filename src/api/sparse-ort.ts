/** onnxruntime-node as sculpt's dense reference: sessions, tensor conversion, timing. */
import type * as Ort from 'onnxruntime-node';
import { SculptError } from '../core/errors.js';
import type { Tensor } from '../sparse/tensor.js';

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/**
 * Loaded on first use: commands that never call onnxruntime do not pay for its start-up. It is an
 * optional dependency (npm leaves it out when its installer cannot download its CUDA files, e.g.
 * offline), so its absence is a one-line error saying how to install it, not a crash.
 */
export function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-node').catch((e: NodeJS.ErrnoException) => {
    ortModule = undefined;
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('onnxruntime-node')) throw e;
    throw new SculptError(
      'onnxruntime-node is not installed (npm skips it when its installer cannot download its optional CUDA files); ' +
        'install it with `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`, or use sculpt\'s own engine (sculpt run --engine sparse)',
    );
  });
  return ortModule;
}

/**
 * How long to wait between one engine's run and the next when they alternate on more than one
 * thread (ms). onnxruntime's intra-op threads spin for a while after a run, and sculpt's workers
 * for 10 ms (sparse/threads.ts), taking a core from whatever runs next: on a BERT-base encoder at
 * 90% on 2 threads, sculpt's run took 1.5× its own time right after onnxruntime's, 1.2× after a
 * 20 ms pause and its own time after 30 ms (measured here); onnxruntime's took 1.1× its own right
 * after sculpt's. On one thread neither has threads that spin.
 */
export const ENGINE_SETTLE_MS = 50;

/** The pause ENGINE_SETTLE_MS describes before the next engine's run (none on one thread). */
export function settle(threads: number): Promise<void> {
  return threads > 1 ? new Promise((r) => setTimeout(r, ENGINE_SETTLE_MS)) : Promise.resolve();
}

export interface OrtSession {
  readonly run: (inputs: Readonly<Record<string, Tensor>>) => Promise<Record<string, Tensor>>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly release: () => Promise<void>;
  /** With a profile prefix: writes onnxruntime's trace (PREFIX_DATE.json). */
  readonly endProfiling: () => void;
}

export interface OrtSessionOptions {
  /** Writes onnxruntime's trace (PREFIX_DATE.json) on endProfiling. */
  readonly profilePrefix?: string;
  /**
   * false: the intra-op threads sleep as soon as a run ends instead of spinning (for the parts of
   * a hybrid plan, which take turns with sculpt's kernels and with each other: every part's
   * session has its own threads). Default true, onnxruntime's own default.
   */
  readonly spin?: boolean;
}

/** A single-threaded (or `threads`-threaded) sequential session, full graph optimisation. */
export async function createOrtSession(source: string | Uint8Array, what: string, threads = 1, { profilePrefix, spin = true }: OrtSessionOptions = {}): Promise<OrtSession> {
  const ort = await loadOrt();
  const options: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    // onnxruntime's own log would print a second, coloured line for an error sculpt reports in one.
    logSeverityLevel: 4,
    ...(profilePrefix !== undefined && { enableProfiling: true, profileFilePrefix: profilePrefix }),
    ...(!spin && threads > 1 && { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  };
  let session: Ort.InferenceSession;
  try {
    session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
  } catch (e) {
    throw new SculptError(`${what}: onnxruntime cannot load the model (${firstLine(e)})`);
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    release: () => session.release(),
    endProfiling: () => session.endProfiling(),
    run: async (inputs) => {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrt(ort, t);
      let out: Ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(feeds);
      } catch (e) {
        throw new SculptError(`${what}: onnxruntime failed (${firstLine(e)})`);
      }
      const result: Record<string, Tensor> = {};
      for (const name of session.outputNames) result[name] = fromOrt(out[name] as Ort.Tensor, name, what);
      return result;
    },
  };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

function toOrt(ort: OrtModule, t: Tensor): Ort.Tensor {
  const dims = [...t.dims];
  if (t.dtype === 'float32') return new ort.Tensor('float32', t.data as Float32Array, dims);
  if (t.dtype === 'bool') return new ort.Tensor('bool', t.data as Uint8Array, dims);
  return new ort.Tensor('int64', BigInt64Array.from(t.data as Float64Array, (v) => BigInt(v)), dims);
}

function fromOrt(t: Ort.Tensor, name: string, what: string): Tensor {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32': return { dtype: 'float32', dims, data: t.data as Float32Array };
    case 'float64': return { dtype: 'float32', dims, data: Float32Array.from(t.data as Float64Array) };
    case 'bool': return { dtype: 'bool', dims, data: t.data as Uint8Array };
    case 'int64': case 'uint64': return { dtype: 'int64', dims, data: Float64Array.from(t.data as BigInt64Array, Number) };
    case 'int32': case 'int16': case 'int8': case 'uint8': case 'uint16': case 'uint32':
      return { dtype: 'int64', dims, data: Float64Array.from(t.data as Int32Array) };
    default: throw new SculptError(`${what}: output ${name} has type ${t.type}, which sculpt cannot write as .npy`);
  }
}
