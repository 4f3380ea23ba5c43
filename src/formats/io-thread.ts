/**
 * Positioned reads and writes on a helper thread, into and out of one shared, page-aligned wasm
 * memory: the disk (or the page-cache copy of a read) works while this thread computes. Jobs run
 * in submission order; `wait(ticket)` blocks until one is done. Where threads or shared memory are
 * missing, the same calls run at once on this thread (`threaded` is false).
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { attachSelectKernels, noteGrown } from '../core/select-kernels.js';

const SLOTS = 8;
/** Per slot in `ctl`: state, op, fd, offset, length, result, (2 spare); positions in `pos`. */
const INTS = 8;
const EMPTY = 0;
const QUEUED = 1;
const DONE = 2;
const STOP = 3;
const READ = 1;
const WRITE = 2;

const HELPER = `
const fs = require('fs');
const { workerData } = require('worker_threads');
const ctl = new Int32Array(workerData.ctl, 0, ${SLOTS * INTS});
const pos = new Float64Array(workerData.ctl, ${SLOTS * INTS * 4}, ${SLOTS});
let mem = new Uint8Array(workerData.memory.buffer);
for (let k = 0; ; k = (k + 1) % ${SLOTS}) {
  const b = k * ${INTS};
  let s;
  while ((s = Atomics.load(ctl, b)) !== ${QUEUED} && s !== ${STOP}) Atomics.wait(ctl, b, s);
  if (s === ${STOP}) break;
  const op = ctl[b + 1], fd = ctl[b + 2], off = ctl[b + 3], len = ctl[b + 4], at = pos[k];
  if (off + len > mem.length) mem = new Uint8Array(workerData.memory.buffer);
  let failed = 0;
  try {
    for (let d = 0; d < len; ) {
      const n = op === ${READ} ? fs.readSync(fd, mem, off + d, len - d, at + d) : fs.writeSync(fd, mem, off + d, len - d, at + d);
      if (n <= 0) { failed = 1; break; }
      d += n;
    }
  } catch {
    failed = 1;
  }
  ctl[b + 5] = failed;
  Atomics.store(ctl, b, ${DONE});
  Atomics.notify(ctl, b);
}
`;

const WASM_PAGE = 65536;

export class IoThread {
  /** The shared memory every job's bytes live in (grows with `alloc`). */
  private readonly memory?: WebAssembly.Memory;
  private plain?: ArrayBuffer;
  private used = 0;
  private worker?: Worker;
  private ctl?: Int32Array;
  private pos?: Float64Array;
  private seq = 0;
  /** Results of jobs already collected (slot reused) or run at once and failed. */
  private readonly results = new Map<number, boolean>();

  /** `memoryOf`: use that thread's memory (its `alloc` buffers), so two threads share the jobs' bytes. */
  constructor(memoryOf?: IoThread) {
    try {
      // Address space is reserved for `maximum`, memory is committed as pages are touched.
      this.memory = memoryOf?.memory ?? new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
      const ctl = new SharedArrayBuffer(SLOTS * INTS * 4 + SLOTS * 8);
      this.worker = new Worker(HELPER, { eval: true, workerData: { ctl, memory: this.memory } });
      this.worker.unref();
      this.worker.on('error', () => { /* a job it never does times out in wait() and is redone here */ });
      this.ctl = new Int32Array(ctl, 0, SLOTS * INTS);
      this.pos = new Float64Array(ctl, SLOTS * INTS * 4, SLOTS);
      // The selection kernels run on the chunks in place (core/select-kernels.ts).
      if (!memoryOf) attachSelectKernels(this.memory, (bytes) => this.alloc(bytes).byteOffset);
    } catch {
      this.worker = undefined;
    }
  }

  /** Whether jobs run on the helper thread (else at once, on this one). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** A page-aligned buffer of `bytes` in the shared memory (or plain memory without the helper). */
  alloc(bytes: number): Uint8Array {
    const size = Math.ceil(bytes / WASM_PAGE) * WASM_PAGE;
    if (this.memory && this.worker) {
      const have = this.memory.buffer.byteLength;
      if (this.used + size > have) {
        this.memory.grow(Math.ceil((this.used + size - have) / WASM_PAGE));
        noteGrown(this.memory);
      }
      const view = new Uint8Array(this.memory.buffer, this.used, bytes);
      this.used += size;
      return view;
    }
    this.plain = new ArrayBuffer(size);
    return new Uint8Array(this.plain, 0, bytes);
  }

  /** Reads `into.length` bytes of `fd` at `position` into `into` (from `alloc`). Returns a ticket. */
  read(fd: number, into: Uint8Array, position: number): number {
    return this.submit(READ, fd, into, position);
  }

  /** Writes `data` (from `alloc`) to `fd` at `position`. Returns a ticket. */
  write(fd: number, data: Uint8Array, position: number): number {
    return this.submit(WRITE, fd, data, position);
  }

  /** Waits for job `ticket`; true if it did all its bytes (false: the caller redoes it its own way). */
  wait(ticket: number): boolean {
    const early = this.results.get(ticket);
    if (early !== undefined) {
      this.results.delete(ticket);
      return early;
    }
    if (!this.worker || ticket < this.seq - SLOTS) return true; // done at once, or collected before
    return this.collect(ticket % SLOTS);
  }

  /** Waits for the job in slot `k` and frees the slot; false if it failed or the helper is gone. */
  private collect(k: number): boolean {
    const ctl = this.ctl as Int32Array;
    const b = k * INTS;
    let s;
    while ((s = Atomics.load(ctl, b)) === QUEUED) {
      // A helper that died never answers: after 60 s, take the job back.
      if (Atomics.wait(ctl, b, QUEUED, 60_000) === 'timed-out') {
        this.stopHelper();
        return false;
      }
    }
    if (s !== DONE) return s === EMPTY;
    Atomics.store(ctl, b, EMPTY);
    return ctl[b + 5] === 0;
  }

  /** Stops the helper once its jobs are done (jobs not waited for are not checked). */
  close(): void {
    if (this.worker) {
      for (let t = Math.max(0, this.seq - SLOTS); t < this.seq; t++) if (!this.collect(t % SLOTS)) this.results.set(t, false);
      this.stopHelper();
    }
  }

  private stopHelper(): void {
    const ctl = this.ctl as Int32Array;
    // Jobs still queued will not run: their waits report failure, and the caller redoes them.
    for (let t = Math.max(0, this.seq - SLOTS); t < this.seq; t++) if (Atomics.load(ctl, (t % SLOTS) * INTS) === QUEUED) this.results.set(t, false);
    for (let k = 0; k < SLOTS; k++) {
      Atomics.store(ctl, k * INTS, STOP);
      Atomics.notify(ctl, k * INTS);
    }
    this.worker = undefined;
  }

  private submit(op: number, fd: number, view: Uint8Array, position: number): number {
    const ticket = this.seq;
    if (this.worker && ticket >= SLOTS) {
      // The slot's previous job must be finished; its result is kept for its own wait.
      const prev = ticket - SLOTS;
      const ok = this.collect(prev % SLOTS);
      if (!ok) this.results.set(prev, false);
    }
    this.seq++;
    if (!this.worker) {
      let d = 0;
      try {
        while (d < view.length) {
          const n = op === READ ? fs.readSync(fd, view, d, view.length - d, position + d) : fs.writeSync(fd, view, d, view.length - d, position + d);
          if (n <= 0) break;
          d += n;
        }
      } catch {
        // reported below
      }
      if (d < view.length) this.results.set(ticket, false);
      return ticket;
    }
    const ctl = this.ctl as Int32Array;
    const k = ticket % SLOTS;
    const b = k * INTS;
    ctl[b + 1] = op;
    ctl[b + 2] = fd;
    ctl[b + 3] = view.byteOffset;
    ctl[b + 4] = view.length;
    ctl[b + 5] = 0;
    (this.pos as Float64Array)[k] = position;
    Atomics.store(ctl, b, QUEUED);
    Atomics.notify(ctl, b);
    return ticket;
  }
}
