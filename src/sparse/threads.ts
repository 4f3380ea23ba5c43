/**
 * Worker threads for the weight kernels: one shared WebAssembly memory, the same kernels
 * instantiated over it in each worker, and a product's output rows split between the threads
 * (by nonzero count for CSR, evenly for dense), each part with its epilogue (GELU, the transpose
 * back). The calling thread runs the first part itself and waits on the others with Atomics: no
 * message per call, so a split costs about 30 µs when the workers are awake. Idle workers spin for
 * a while before they sleep, since waking a sleeping one took far longer here (`wake` starts them
 * spinning before a product is prepared).
 *
 * Node only (worker_threads); in a browser, shared memory needs cross-origin isolation and a
 * worker script of its own, which this does not provide yet. Workers are unref'd: they never keep
 * a process alive.
 */
import { SculptError } from '../core/errors.js';
import { nodeBuiltin, v8Flags } from '../core/wasm-bytes.js';
import { Kernels, SHARED_MAX_PAGES, kernelBuild, kernelBytes, kernelModule, runCalls } from './kernels.js';

type WorkerThreads = typeof import('node:worker_threads');

/**
 * One worker's control block: int32 slots (0: state, −1 starting, 0 idle, 1 go, 2 done, 3 failed,
 * 6 asleep; 1: how many calls; then per call its function and argument count), then the calls'
 * arguments as float64, MAX_ARGS per call.
 */
const MAX_CALLS = 8;
const MAX_ARGS = 16;
const SLOT_INTS = 2 + 2 * MAX_CALLS;
const ARGS_AT = Math.ceil((SLOT_INTS * 4) / 64) * 64; // bytes: the int32 slots fit before it
const IDLE = 0;
const GO = 1;
const DONE = 2;
const FAILED = 3;
const ASLEEP = 6;
/**
 * How long an idle worker spins for its next job before it sleeps (ms). Waking a sleeping thread
 * took 10–100 µs here, now and then 2–5 ms (measured in this VM): as long as a model runs, the
 * products come closer together than this, and the workers never sleep between them.
 */
const SPIN_MS = 10;
/** Spins between two readings of the clock (a reading allocates: a heap number). */
const SPIN_CHECK = 1024;
/** How long the calling thread spins for a worker's part to finish before it sleeps on it (ms). */
const COLLECT_SPIN_MS = 2;
const FUNCTIONS = ['spmmCsr', 'spmmCsrStrips', 'gemm', 'spmvCsr16', 'spmvCsr32', 'gemv', 'convCsr', 'geluRows', 'transposeIn', 'transposeOut', 'softmaxRows', 'layerNormRows', 'transposeMany', 'copyRows', 'binaryRows'] as const;
export type SplitFunction = (typeof FUNCTIONS)[number];
/** A kernel call: its function and arguments. */
export type KernelCall = readonly [SplitFunction, readonly number[]];

// The worker: instantiate the kernels over the shared memory, then run the calls its control block says, in order.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const names = ${JSON.stringify(FUNCTIONS)};
const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
const state = new Int32Array(memory.buffer, control, ${SLOT_INTS});
const args = new Float64Array(memory.buffer, control + ${ARGS_AT}, ${MAX_CALLS * MAX_ARGS});
Atomics.store(state, 0, ${IDLE});
const fns = names.map((n) => e[n]);
// Nothing in the loop allocates (the clock is read every ${SPIN_CHECK} spins; the arguments are passed
// from the control block one by one, a kernel ignoring those past its own): with a subarray and a
// clock reading per spin, the worker collected garbage every 10–30 ms (node --trace-gc).
for (;;) {
  let s = Atomics.load(state, 0);
  let end = performance.now() + ${SPIN_MS};
  let spins = 0;
  while (s !== ${GO}) {
    if (s === ${ASLEEP}) {
      Atomics.wait(state, 0, ${ASLEEP});
      end = performance.now() + ${SPIN_MS};
    } else if (s === ${IDLE} && ++spins % ${SPIN_CHECK} === 0 && performance.now() > end) {
      // Idle long enough: sleep, unless a job came in meanwhile (the exchange then fails).
      Atomics.compareExchange(state, 0, ${IDLE}, ${ASLEEP});
    }
    s = Atomics.load(state, 0);
  }
  try {
    for (let c = 0; c < state[1]; c++) {
      const b = c * ${MAX_ARGS};
      fns[state[2 + 2 * c]](${Array.from({ length: MAX_ARGS }, (_, i) => `args[b + ${i}]`).join(', ')});
    }
    Atomics.store(state, 0, ${DONE});
  } catch (err) {
    Atomics.store(state, 0, ${FAILED});
  }
  Atomics.notify(state, 0);
}
`;

function workerThreads(): WorkerThreads {
  const wt = nodeBuiltin<WorkerThreads>('node:worker_threads');
  if (!wt) throw new SculptError('sparse: --threads above 1 needs Node (worker_threads); in a browser the engine runs on one thread');
  return wt;
}

const optimized = new Map<string, WebAssembly.Module>();

/**
 * The shared build compiled straight to optimised code for the workers. V8 tiers a module's
 * functions up from its baseline compiler as they run, but the workers' calls do not trigger it
 * (measured: their half of a product took 1.4× the calling thread's); compiling with V8's
 * --no-liftoff for this one module (then restoring it) avoids that.
 */
function optimizedModule(build: ReturnType<typeof kernelBuild>): WebAssembly.Module {
  const known = optimized.get(build);
  if (known) return known;
  const v8 = v8Flags();
  if (!v8) return kernelModule(build, true);
  v8.setFlagsFromString('--no-liftoff');
  try {
    const m = new WebAssembly.Module(kernelBytes(build, true));
    optimized.set(build, m);
    return m;
  } finally {
    v8.setFlagsFromString('--liftoff');
  }
}

interface Slot {
  readonly state: Int32Array;
  readonly args: Float64Array;
}

/**
 * Kernels whose memory `threads − 1` workers share. `kernels.pool` splits products; everything
 * else (allocation, uploads, the other ops) stays on the calling thread.
 */
export function threadedKernels(threads: number): Kernels {
  if (!Number.isInteger(threads) || threads < 1) throw new SculptError(`sparse: threads must be a whole number ≥ 1, got ${threads}`);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
  const build = kernelBuild();
  const k = new Kernels({ build, sharedMemory: memory });
  if (threads === 1) return k;
  const wt = workerThreads();
  const module = optimizedModule(build);
  const slots: Slot[] = [];
  for (let i = 1; i < threads; i++) {
    const control = k.alloc(ARGS_AT + MAX_CALLS * MAX_ARGS * 8);
    const state = new Int32Array(memory.buffer, control, SLOT_INTS);
    state[0] = -1;
    slots.push({ state, args: new Float64Array(memory.buffer, control + ARGS_AT, MAX_CALLS * MAX_ARGS) });
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
    w.unref();
  }
  // A worker starts only while this thread's event loop runs: until then its parts run here.
  const ready = (async () => {
    while (slots.some((s) => Atomics.load(s.state, 0) === -1)) await new Promise((r) => setTimeout(r, 2));
  })();
  k.pool = {
    threads,
    maxCalls: MAX_CALLS,
    ready,
    wake() {
      // Waking a sleeping thread takes far longer than a product's share (measured in BERT): the
      // caller wakes the workers before preparing a product, so they are spinning when it comes.
      for (const s of slots) if (Atomics.compareExchange(s.state, 0, ASLEEP, IDLE) === ASLEEP) Atomics.notify(s.state, 0);
    },
    split(fn: SplitFunction, parts: readonly (readonly number[])[]) {
      splitCalls(parts.map((args) => [[fn, args]]));
    },
    splitCalls,
  };
  return k;

  function splitCalls(parts: readonly (readonly KernelCall[])[]): void {
    const run = (calls: readonly KernelCall[]) => runCalls(k, calls);
    // Parts 1… to the workers (run here while a worker is still starting: it may need this
    // thread's event loop to finish), part 0 here.
    const sent: boolean[] = [];
    for (let i = 1; i < parts.length; i++) {
      const s = slots[i - 1];
      const st = Atomics.load(s.state, 0);
      sent[i] = st === IDLE || st === ASLEEP;
      if (!sent[i]) continue;
      const calls = parts[i];
      if (calls.length > MAX_CALLS) throw new SculptError(`sparse: a part of ${calls.length} kernel calls (at most ${MAX_CALLS})`);
      calls.forEach(([fn, args], c) => {
        if (args.length > MAX_ARGS) throw new SculptError(`sparse: ${fn} with ${args.length} arguments (at most ${MAX_ARGS})`);
        s.args.set(args, c * MAX_ARGS);
        s.state[2 + 2 * c] = FUNCTIONS.indexOf(fn);
        s.state[3 + 2 * c] = args.length;
      });
      s.state[1] = calls.length;
      Atomics.store(s.state, 0, GO);
      Atomics.notify(s.state, 0); // (a worker that is spinning is not waiting: no wake-up)
    }
    if (parts.length > 0) run(parts[0]);
    for (let i = 1; i < parts.length; i++) if (!sent[i]) run(parts[i]);
    let failed = false;
    for (let i = 1; i < parts.length; i++) {
      if (!sent[i]) continue;
      const s = slots[i - 1];
      // Spin a little first: the parts are sized to end together, and waking takes long here.
      const end = performance.now() + COLLECT_SPIN_MS;
      let v = Atomics.load(s.state, 0);
      for (let spins = 1; v === GO && (spins % SPIN_CHECK !== 0 || performance.now() < end); spins++) v = Atomics.load(s.state, 0);
      for (; v === GO; v = Atomics.load(s.state, 0)) Atomics.wait(s.state, 0, GO);
      if (v === FAILED) failed = true;
      Atomics.store(s.state, 0, IDLE);
    }
    if (failed) throw new SculptError('sparse: a kernel thread failed', 1);
  }
}
