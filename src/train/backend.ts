/**
 * Backend choice for training: `tensorflow` (tfjs-node, native) when the user has installed it,
 * else `wasm` (XNNPACK, SIMD), else `cpu` (plain JS). tfjs-node is imported dynamically so it is
 * never a dependency. The wasm backend gets the gradient kernels it lacks (see wasm-kernels.ts).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-layers registers every op's gradient function as a side effect.
import '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import { registerWasmGradientKernels } from './wasm-kernels.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto' | 'tfjs-node';

export interface BackendInfo {
  readonly name: BackendName;
  /** One line for the user: what was chosen and why. */
  readonly note: string;
}

let wasmPrepared = false;
let chosen: BackendInfo | undefined;

/** The folder holding the wasm binaries of @tensorflow/tfjs-backend-wasm. */
export function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
}

async function prepareWasm(): Promise<void> {
  if (wasmPrepared) return;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = wasmBinaryFolder();
  // In Node tfjs picks the SIMD binary when WebAssembly SIMD validates; the threaded one is
  // disabled in Node by tfjs itself (no worker script is shipped), so all three map explicitly.
  wasm.setWasmPaths({
    'tfjs-backend-wasm.wasm': join(dir, 'tfjs-backend-wasm.wasm'),
    'tfjs-backend-wasm-simd.wasm': join(dir, 'tfjs-backend-wasm-simd.wasm'),
    'tfjs-backend-wasm-threaded-simd.wasm': join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'),
  });
  registerWasmGradientKernels();
  wasmPrepared = true;
}

async function tryTfjsNode(): Promise<boolean> {
  try {
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return tf.findBackend('tensorflow') !== null || tf.engine().registryFactory['tensorflow'] !== undefined;
  } catch {
    return false;
  }
}

/**
 * Selects and initialises the backend. `auto` tries tfjs-node, then wasm, then cpu. Calling it
 * again with the same request is cheap; a different request switches backends.
 */
export async function setupBackend(request: BackendRequest = 'auto'): Promise<BackendInfo> {
  const want = request === 'tfjs-node' ? 'tensorflow' : request;
  if (chosen !== undefined && (want === 'auto' || want === chosen.name) && tf.getBackend() === chosen.name) return chosen;
  if (want === 'tensorflow' || want === 'auto') {
    if (await tryTfjsNode()) {
      await tf.setBackend('tensorflow');
      await tf.ready();
      chosen = { name: 'tensorflow', note: 'backend: tensorflow (@tensorflow/tfjs-node, native)' };
      return chosen;
    }
    if (want === 'tensorflow') {
      throw new SculptError('--backend tensorflow: @tensorflow/tfjs-node is not installed; install it or use --backend wasm');
    }
  }
  if (want === 'wasm' || want === 'auto') {
    try {
      await prepareWasm();
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        chosen = { name: 'wasm', note: `backend: wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread)` };
        return chosen;
      }
    } catch (e) {
      if (want === 'wasm') throw new SculptError(`--backend wasm: could not start the wasm backend (${(e as Error).message}); try --backend cpu`);
    }
  }
  if (want === 'cpu' || want === 'auto') {
    await tf.setBackend('cpu');
    await tf.ready();
    chosen = { name: 'cpu', note: want === 'cpu' ? 'backend: cpu (plain JavaScript)' : 'backend: cpu (wasm unavailable; slow)' };
    return chosen;
  }
  throw new SculptError(`--backend ${request}: unknown backend; use auto, tensorflow, wasm or cpu`);
}

/** Parses a --backend value. */
export function parseBackend(value: string): BackendRequest {
  if (value === 'auto' || value === 'tensorflow' || value === 'tfjs-node' || value === 'wasm' || value === 'cpu') return value;
  throw new SculptError(`--backend ${value}: unknown backend; use auto, tensorflow, wasm or cpu`);
}
