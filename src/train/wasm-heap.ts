/**
 * sculpt's WebAssembly modules instantiated over the TF.js wasm backend's own heap, so that they
 * work on its tensors where they live instead of copying them out and back: the fused optimizer
 * (train/optimizer.ts) and the dense products of training (train/wasm-kernels.ts). Each such module
 * imports its memory (env.memory) and has no data segment or start function, so instantiating it
 * writes nothing into the backend's heap; every pointer it is given comes from the backend (a
 * tensor's offset) or from the backend's malloc.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's BackendWasm these modules use. */
export interface WasmHeapBackend {
  readonly wasm: { readonly asm: { readonly memory: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** `backend` as tfjs-backend-wasm's BackendWasm, if it is one (else undefined). */
export function wasmHeap(backend: unknown): WasmHeapBackend | undefined {
  const b = backend as Partial<WasmHeapBackend> | undefined;
  const ok = b?.wasm?.asm?.memory instanceof WebAssembly.Memory && typeof b.wasm._malloc === 'function' && typeof b.getMemoryOffset === 'function' && typeof b.makeOutput === 'function';
  return ok ? (b as WasmHeapBackend) : undefined;
}

/** An instance of `module` (which imports env.memory) over the backend's heap; its exports. */
export function overHeap<T>(module: WebAssembly.Module, backend: WasmHeapBackend): T {
  return new WebAssembly.Instance(module, { env: { memory: backend.wasm.asm.memory } }).exports as T;
}

/** A float32 view of the heap (made afresh: growing the heap replaces its buffer). */
export function heapF32(backend: WasmHeapBackend, ptr: number, n: number): Float32Array {
  return new Float32Array(backend.wasm.asm.memory.buffer, ptr, n);
}
