/**
 * Worker threads for the weight kernels: one shared WebAssembly memory, the same kernels
 * instantiated over it in each worker, and a product's output rows split between the threads
 * (by nonzero count for CSR, evenly for dense). The calling thread runs the first part itself and
 * waits on the others with Atomics: no message per call, so a split costs about 30 µs when the
 * workers are awake (waking a sleeping one took far longer here, hence `wake`).
 *
 * Node only (worker_threads); in a browser, shared memory needs cross-origin isolation and a
 * worker script of its own, which this does not provide yet. Workers are unref'd: they never keep
 * a process alive.
 */
import { SculptError } from '../core/errors.js';
import { Kernels, SHARED_MAX_PAGES, kernelBuild, kernelBytes, kernelModule, nodeBuiltin, v8Flags } from './kernels.js';

type WorkerThreads = typeof import('node:worker_threads');

/** Slots of one worker's control block: state (−1 starting, 0 idle, 1 go, 2 done, 3 failed, 5 alerted), the function, its arguments. */
const SLOT_INTS = 16;
const MAX_ARGS = 12;
/** How long an alerted worker spins for the product announced before it sleeps again (ms). */
const ALERT_SPIN_MS = 5;
const FUNCTIONS = ['spmmCsr', 'gemm', 'spmvCsr16', 'spmvCsr32', 'gemv', 'convCsr'] as const;
type SplitFunction = (typeof FUNCTIONS)[number];

// The worker: instantiate the kernels over the shared memory, then run what its control block says.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const names = ${JSON.stringify(FUNCTIONS)};
const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
const state = new Int32Array(memory.buffer, control, ${SLOT_INTS});
const args = new Float64Array(memory.buffer, control + ${SLOT_INTS * 4}, ${MAX_ARGS});
Atomics.store(state, 0, 0);
for (;;) {
  let s = Atomics.load(state, 0);
  while (s !== 1) {
    if (s === 5) {
      // Alerted: a product is coming; spin for it a while rather than be woken from sleep.
      const end = performance.now() + ${ALERT_SPIN_MS};
      while ((s = Atomics.load(state, 0)) === 5 && performance.now() < end);
      if (s === 5 && Atomics.compareExchange(state, 0, 5, 0) === 5) s = 0;
      continue;
    }
    Atomics.wait(state, 0, s);
    s = Atomics.load(state, 0);
  }
  try {
    const f = e[names[state[1]]];
    f(...Array.from(args.subarray(0, state[2])));
    Atomics.store(state, 0, 2);
  } catch (err) {
    Atomics.store(state, 0, 3);
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
    const control = k.alloc(SLOT_INTS * 4 + MAX_ARGS * 8);
    const state = new Int32Array(memory.buffer, control, SLOT_INTS);
    state[0] = -1;
    slots.push({ state, args: new Float64Array(memory.buffer, control + SLOT_INTS * 4, MAX_ARGS) });
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
    w.unref();
  }
  // A worker starts only while this thread's event loop runs: until then its parts run here.
  const ready = (async () => {
    while (slots.some((s) => Atomics.load(s.state, 0) === -1)) await new Promise((r) => setTimeout(r, 2));
  })();
  k.pool = {
    threads,
    ready,
    wake() {
      // Waking a sleeping thread takes far longer than a product's share (measured in BERT): the
      // caller alerts the workers before preparing a product, so they are spinning when it comes.
      for (const s of slots) if (Atomics.compareExchange(s.state, 0, 0, 5) === 0) Atomics.notify(s.state, 0);
    },
    split(fn: SplitFunction, parts: readonly (readonly number[])[]) {
      const id = FUNCTIONS.indexOf(fn);
      const run = (args: readonly number[]) => (k.exports[fn] as (...a: number[]) => void)(...args);
      // Parts 1… to the workers (run here while a worker is still starting: it may need this
      // thread's event loop to finish), part 0 here.
      const sent: boolean[] = [];
      for (let i = 1; i < parts.length; i++) {
        const s = slots[i - 1];
        const st = Atomics.load(s.state, 0);
        sent[i] = st === 0 || st === 5;
        if (!sent[i]) continue;
        s.args.set(parts[i]);
        s.state[1] = id;
        s.state[2] = parts[i].length;
        Atomics.store(s.state, 0, 1);
        Atomics.notify(s.state, 0);
      }
      if (parts.length > 0) run(parts[0]);
      for (let i = 1; i < parts.length; i++) if (!sent[i]) run(parts[i]);
      let failed = false;
      for (let i = 1; i < parts.length; i++) {
        if (!sent[i]) continue;
        const s = slots[i - 1];
        for (let v = Atomics.load(s.state, 0); v === 1; v = Atomics.load(s.state, 0)) Atomics.wait(s.state, 0, 1);
        if (Atomics.load(s.state, 0) === 3) failed = true;
        Atomics.store(s.state, 0, 0);
      }
      if (failed) throw new SculptError(`sparse: a kernel thread failed in ${fn}`, 1);
    },
  };
  return k;
}
