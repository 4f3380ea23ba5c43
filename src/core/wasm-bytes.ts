// Helpers for the embedded WebAssembly modules: their bytes, and the runtime features they need.

/** The bytes of a WebAssembly module embedded as base64 (the generated `*-wasm.ts` files). */
export function wasmBytes(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * A Node built-in module, through `process.getBuiltinModule` (no `node:` import, so the browser
 * bundle stays free of them); undefined in a browser or before Node 20.16.
 */
export function nodeBuiltin<T>(id: 'node:v8' | 'node:worker_threads'): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.(id) as T | undefined;
}

/** V8's flags, where the runtime lets sculpt set them (Node). */
export function v8Flags(): { setFlagsFromString(flags: string): void } | undefined {
  return nodeBuiltin('node:v8');
}

/**
 * Whether this runtime compiles `bytes`, a module using relaxed SIMD: browsers since 2023; Node 20
 * behind V8's --experimental-wasm-relaxed-simd, which this switches on (it only widens what
 * validates).
 */
export function validatesWithRelaxedSimd(bytes: Uint8Array<ArrayBuffer>): boolean {
  if (!WebAssembly.validate(bytes)) v8Flags()?.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes);
}

/** Whether SCULPT_KERNELS=simd asks for the plain-SIMD kernels (no relaxed SIMD) everywhere. */
export function plainSimdForced(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SCULPT_KERNELS === 'simd';
}
