/**
 * Adam and SGD (with momentum) as one fused pass per weight, with the pruning mask applied in the
 * same pass to the weight and to the optimizer state. On the wasm backend tfjs's own Adam runs ~14
 * element-wise kernels per weight per step, about a third of a LeNet step; this is one pass over
 * the weight, its gradient and its state. It runs in WebAssembly SIMD
 * (asm/optimizer.ts), in float32 as tfjs's and PyTorch's optimizers do: the same loop in
 * JavaScript took a fifth of a LeNet-300-100 epoch (12 ns per weight per step).
 *
 * On the wasm backend the pass runs inside the backend's own heap: a second instance of the module
 * imports that memory, the state is allocated there, and the pass reads the weight and gradient
 * tensors where they live and writes the new weights into a fresh tensor of the backend (no
 * download, no upload: the copies took half the optimizer's time, about a second of a
 * LeNet-300-100 epoch). Not in place: the backend's XNNPACK products cache each weight tensor packed,
 * by tensor, until it is disposed. On any other backend the state lives in the module's memory
 * and each step copies the gradient in and the new weights out. A backend switch moves the state.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SculptError } from '../core/errors.js';
import { wasmBytes } from '../core/wasm-bytes.js';
import { OPTIMIZER_HEAP_WASM_BASE64, OPTIMIZER_WASM_BASE64 } from './wasm/optimizer-wasm.js';
import { heapF32, overHeap, wasmHeap, type WasmHeapBackend } from './wasm-heap.js';

export interface OptimizerConfig {
  readonly kind: 'adam' | 'sgd';
  readonly lr: number;
  /** SGD momentum (0: plain SGD). */
  readonly momentum?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  /** Adam's ε; tfjs's default for float32. */
  readonly epsilon?: number;
}

interface OptimizerExports {
  adam(n: number, m: number, v: number, w: number, out: number, g: number, mask: number, b1: number, b2: number, stepSize: number, invSqrtC2: number, eps: number): void;
  momentum(n: number, m: number, w: number, out: number, g: number, mask: number, mu: number, lr: number): void;
  sgd(n: number, w: number, out: number, g: number, mask: number, lr: number): void;
  readonly memory: WebAssembly.Memory;
}

let compiled: WebAssembly.Module | undefined;
let compiledHeap: WebAssembly.Module | undefined;

/** Where an optimizer's arrays live and its kernels run. */
interface Store {
  readonly exports: OptimizerExports;
  /** `n` floats, zero-filled. */
  alloc(n: number): number;
  f32(ptr: number, n: number): Float32Array;
  /** Frees what `alloc` gave (the store is not used after). */
  release(): void;
}

/** The kernels over the wasm backend's heap (the module has no data or start: instantiating writes nothing). */
class HeapStore implements Store {
  readonly exports: OptimizerExports;
  private readonly owned: number[] = [];

  constructor(readonly backend: WasmHeapBackend) {
    compiledHeap ??= new WebAssembly.Module(wasmBytes(OPTIMIZER_HEAP_WASM_BASE64));
    this.exports = overHeap<OptimizerExports>(compiledHeap, backend);
  }

  alloc(n: number): number {
    const ptr = this.backend.wasm._malloc(Math.max(1, n) * 4);
    if (!ptr) throw new SculptError(`optimizer: the wasm backend could not allocate ${n * 4} bytes`);
    this.owned.push(ptr);
    this.f32(ptr, n).fill(0);
    return ptr;
  }

  f32(ptr: number, n: number): Float32Array {
    return heapF32(this.backend, ptr, n);
  }

  release(): void {
    for (const p of this.owned.splice(0)) this.backend.wasm._free(p);
  }
}

/** One instance of the optimizer kernels, with a bump allocator over its memory. */
class Arena implements Store {
  readonly exports: OptimizerExports;
  private top = 64;

  constructor() {
    if (!compiled) {
      compiled = new WebAssembly.Module(wasmBytes(OPTIMIZER_WASM_BASE64));
    }
    this.exports = new WebAssembly.Instance(compiled, {}).exports as unknown as OptimizerExports;
  }

  release(): void {}

  /** `n` floats, zero-filled, 64-byte aligned; never freed (an optimizer's arrays live as long as it). */
  alloc(n: number): number {
    const at = this.top;
    this.top = Math.ceil((at + n * 4) / 64) * 64;
    const memory = this.exports.memory;
    if (this.top > memory.buffer.byteLength) memory.grow(Math.ceil((this.top - memory.buffer.byteLength) / 65536));
    return at;
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, n);
  }
}

/**
 * A variable's arrays in the store: weight and gradient (copied in per step; 0 in the heap store,
 * which works on the tensors themselves), moments, mask.
 */
interface Slot {
  readonly n: number;
  w: number;
  g: number;
  /** Adam first moment, or the momentum accumulator (0: none yet). */
  m: number;
  /** Adam second moment (0: none yet). */
  v: number;
  /** The mask, copied in per masked step (0: none yet). */
  mask: number;
}

export class FusedOptimizer {
  readonly kind: 'adam' | 'sgd';
  learningRate: number;
  private readonly momentum: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly slots = new Map<string, Slot>();
  private iterations = 0;
  private store: Store = new Arena();

  constructor(c: OptimizerConfig) {
    if (c.kind !== 'adam' && c.kind !== 'sgd') throw new SculptError(`--optimizer ${String(c.kind)}: use adam or sgd`);
    this.kind = c.kind;
    this.learningRate = c.lr;
    this.momentum = c.momentum ?? 0;
    this.beta1 = c.beta1 ?? 0.9;
    this.beta2 = c.beta2 ?? 0.999;
    this.epsilon = c.epsilon ?? 1e-7;
  }

  /** Steps taken so far. */
  get step(): number {
    return this.iterations;
  }

  /** The state arrays of a variable (by its registered name), for inspection and tests: copies. */
  state(variableName: string): { m?: Float32Array; v?: Float32Array } {
    const s = this.slots.get(variableName);
    const copy = (p: number | undefined) => (s && p ? this.store.f32(p, s.n).slice() : undefined);
    return { m: copy(s?.m), v: copy(s?.v) };
  }

  /** Zeros the state entries a mask prunes (mask: 1 kept, 0 pruned). */
  maskState(variableName: string, mask: Float32Array): void {
    const s = this.slots.get(variableName);
    if (s === undefined) return;
    for (const p of [s.m, s.v]) {
      if (!p) continue;
      const arr = this.store.f32(p, s.n);
      for (let i = 0; i < arr.length; i++) if (mask[i] === 0) arr[i] = 0;
    }
  }

  /**
   * One update of every variable with a gradient; where `masks` has an entry for the variable,
   * the new weight and its state are multiplied by it in the same pass.
   */
  apply(variables: readonly tf.Variable[], grads: tf.NamedTensorMap, masks?: ReadonlyMap<string, Float32Array>): void {
    this.iterations++;
    const t = this.iterations;
    const lr = this.learningRate;
    const c1 = 1 - Math.pow(this.beta1, t);
    const c2 = 1 - Math.pow(this.beta2, t);
    const heap = this.storeFor(tf.backend());
    const a = this.store;
    const e = a.exports;
    // The wasm backend copies new values into its heap; another backend may keep the array itself.
    const copies = tf.getBackend() === 'wasm';
    for (const variable of variables) {
      const g = grads[variable.name];
      if (g === undefined) continue;
      const n = variable.size;
      let slot = this.slots.get(variable.name);
      if (slot === undefined) {
        slot = { n, w: 0, g: 0, m: 0, v: 0, mask: 0 };
        this.slots.set(variable.name, slot);
      }
      if (slot.n !== n || g.size !== n) throw new SculptError(`optimizer: variable ${variable.name} has ${n} values and a gradient of ${g.size}, its state ${slot.n}`);
      const mask = masks?.get(variable.name);
      if (mask) slot.mask ||= a.alloc(n);
      if (this.kind === 'adam' || this.momentum > 0) slot.m ||= a.alloc(n);
      if (this.kind === 'adam') slot.v ||= a.alloc(n);
      let w: number, gp: number, out: number;
      let fresh: tf.TensorInfo | undefined;
      if (heap) {
        w = heap.backend.getMemoryOffset(variable.dataId);
        gp = heap.backend.getMemoryOffset(g.dataId);
        fresh = heap.backend.makeOutput([...variable.shape], 'float32');
        out = heap.backend.getMemoryOffset(fresh.dataId);
      } else {
        slot.w ||= a.alloc(n);
        slot.g ||= a.alloc(n);
        // Views after every allocation: growing the memory replaces its buffer.
        a.f32(slot.w, n).set(variable.dataSync() as Float32Array);
        a.f32(slot.g, n).set(g.dataSync() as Float32Array);
        w = out = slot.w;
        gp = slot.g;
      }
      if (mask) a.f32(slot.mask, n).set(mask);
      const mp = mask ? slot.mask : 0;
      if (this.kind === 'adam') e.adam(n, slot.m, slot.v, w, out, gp, mp, this.beta1, this.beta2, lr / c1, 1 / Math.sqrt(c2), this.epsilon);
      else if (this.momentum > 0) e.momentum(n, slot.m, w, out, gp, mp, this.momentum, lr);
      else e.sgd(n, w, out, gp, mp, lr);
      if (fresh) {
        const t = tf.engine().makeTensorFromTensorInfo(fresh);
        variable.assign(t);
        t.dispose();
      } else {
        const values = a.f32(slot.w, n);
        tf.tidy(() => variable.assign(tf.tensor(copies ? values : values.slice(), variable.shape, 'float32')));
      }
    }
  }

  /** Frees the state the optimizer holds in the wasm backend's heap (it may not be used after). */
  release(): void {
    this.store.release();
    this.slots.clear();
  }

  /**
   * The store for `backend`: its heap where it is the wasm backend's, else the module's own memory;
   * moves the state over when the backend changed. Returns the heap store, or undefined.
   */
  private storeFor(backend: tf.KernelBackend): HeapStore | undefined {
    const b = tf.getBackend() === 'wasm' ? wasmHeap(backend) : undefined;
    const current = this.store instanceof HeapStore ? this.store.backend : undefined;
    if (b !== current) {
      const next: Store = b ? new HeapStore(b) : new Arena();
      for (const slot of this.slots.values()) {
        for (const key of ['m', 'v', 'mask'] as const) {
          if (!slot[key]) continue;
          const ptr = next.alloc(slot.n);
          next.f32(ptr, slot.n).set(this.store.f32(slot[key], slot.n));
          slot[key] = ptr;
        }
        slot.w = 0;
        slot.g = 0;
      }
      this.store.release();
      this.store = next;
    }
    return this.store instanceof HeapStore ? this.store : undefined;
  }
}
