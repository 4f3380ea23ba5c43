/**
 * Worker threads for the weight kernels: one shared WebAssembly memory, the same kernels
 * instantiated over it in each worker, and a product's output rows split between the threads
 * (by nonzero count for CSR, evenly for dense), each part with its epilogue (GELU, the transpose
 * back). The calling thread runs the first part itself and waits on the others with Atomics: no
 * message per call, so a split costs about 30 µs when the workers are awake. Idle workers spin for
 * a while before they sleep, since waking a sleeping one took far longer here (`wake` starts them
 * spinning before a product is prepared).
 *
 * In Node the workers are worker_threads (unref'd: they never keep a process alive); in a page,
 * Web Workers from a blob: URL, which needs shared memory, so a cross-origin isolated page (COOP and
 * COEP headers). A page's main thread may not block in Atomics.wait: there it spins until the
 * workers' parts are done.
 */
import { SculptError } from '../core/errors.js';
import { nodeBuiltin, v8Flags } from '../core/wasm-bytes.js';
import { Kernels, SHARED_MAX_PAGES, kernelBuild, kernelBytes, kernelModule, runCalls } from './kernels.js';

type WorkerThreads = typeof import('node:worker_threads');

/**
 * One worker's control block: int32 slots (0: state, −1 starting, 0 idle, 1 go, 2 done, 3 failed,
 * 6 asleep, 7 waking; 1: how many calls; then per call its function and argument count), then the calls'
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
/** Told to wake (from ASLEEP) and not yet spinning: the worker sets IDLE once it runs again. */
const WAKING = 7;
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
const FUNCTIONS = ['spmmCsr', 'spmmCsrStrips', 'gemm', 'spmvCsr16', 'spmvCsr32', 'gemv', 'convCsr', 'geluRows', 'transposeIn', 'transposeOut', 'softmaxRows', 'softmaxScaledRows', 'layerNormRows', 'transposeMany', 'copyRows', 'binaryRows'] as const;
export type SplitFunction = (typeof FUNCTIONS)[number];
/** A kernel call: its function and arguments. */
export type KernelCall = readonly [SplitFunction, readonly number[]];

// The worker, given module, memory and control: instantiate the kernels over the shared memory,
// then run the calls its control block says, in order.
const WORKER_BODY = `
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
    } else if (s === ${WAKING}) {
      Atomics.compareExchange(state, 0, ${WAKING}, ${IDLE});
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
/** In Node (as nodeBuiltin reaches it, the way core/wasm-bytes.ts does): the worker's data from worker_threads. */
const NODE_WORKER_SOURCE = `const { module, memory, control } = globalThis.process.getBuiltinModule('node:worker_threads').workerData;\n${WORKER_BODY}`;
/** In a page: the data comes in the worker's first message; it then never returns to its event loop. */
const PAGE_WORKER_SOURCE = `self.onmessage = ({ data: { module, memory, control } }) => {\n${WORKER_BODY}\n};`;

/** Where the workers come from: worker_threads in Node, Web Workers in a cross-origin isolated page. */
interface ThreadHost {
  /** Starts a worker on `data`; `failed` hears of an error that stops it (its parts then run here). */
  start(data: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: number }, failed: (message: string) => void): void;
  /** Whether this thread may block in Atomics.wait (not a page's main thread: it spins instead). */
  readonly canWait: boolean;
  /** Once every worker started: frees what starting them took (a page's blob: URL). */
  started?(): void;
}

function threadHost(): ThreadHost {
  const wt = nodeBuiltin<WorkerThreads>('node:worker_threads');
  if (wt) {
    return {
      start: (workerData, failed) => new wt.Worker(NODE_WORKER_SOURCE, { eval: true, workerData }).on('error', (e) => failed(e.message)).unref(),
      canWait: true,
    };
  }
  const g = globalThis as { Worker?: new (url: string) => { postMessage(m: unknown): void; onerror: ((e: { message?: string }) => void) | null }; crossOriginIsolated?: boolean; WorkerGlobalScope?: unknown; Blob?: typeof Blob; URL?: typeof URL };
  if (typeof g.Worker !== 'function' || !g.Blob || !g.URL) throw new SculptError('sparse: threads above 1 need worker threads: Node, or a page with Web Workers');
  if (!g.crossOriginIsolated) {
    throw new SculptError('sparse: threads above 1 in a page need shared memory: serve it cross-origin isolated (headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)');
  }
  const url = g.URL.createObjectURL(new g.Blob([PAGE_WORKER_SOURCE], { type: 'text/javascript' }));
  const Worker = g.Worker;
  return {
    start: (data, failed) => {
      const w = new Worker(url);
      w.onerror = (e) => failed(e.message ?? 'a worker failed to start');
      w.postMessage(data);
    },
    canWait: g.WorkerGlobalScope !== undefined,
    started: () => g.URL?.revokeObjectURL(url),
  };
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
  const host = threadHost();
  const module = optimizedModule(build);
  const slots: Slot[] = [];
  let failure: string | undefined;
  for (let i = 1; i < threads; i++) {
    const control = k.alloc(ARGS_AT + MAX_CALLS * MAX_ARGS * 8);
    const state = new Int32Array(memory.buffer, control, SLOT_INTS);
    state[0] = -1;
    slots.push({ state, args: new Float64Array(memory.buffer, control + ARGS_AT, MAX_CALLS * MAX_ARGS) });
    host.start({ module, memory, control }, (message) => { failure ??= message; });
  }
  // A worker starts only while this thread's event loop runs: until then its parts run here.
  const ready = (async () => {
    while (slots.some((s) => Atomics.load(s.state, 0) === -1)) {
      if (failure !== undefined) throw new SculptError(`sparse: a kernel thread did not start: ${failure}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    host.started?.();
  })();
  // Rejects only for those who wait on it; the rest run on the threads that did start.
  ready.catch(() => undefined);
  k.pool = {
    threads,
    maxCalls: MAX_CALLS,
    ready,
    wake() {
      // Waking a sleeping thread takes far longer than a product's share (measured in BERT): the
      // caller wakes the workers before preparing a product, so they are spinning when it comes.
      for (const s of slots) if (Atomics.compareExchange(s.state, 0, ASLEEP, WAKING) === ASLEEP) Atomics.notify(s.state, 0);
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
    // thread's event loop to finish; or asleep, below), part 0 here.
    const sent: boolean[] = [];
    for (let i = 1; i < parts.length; i++) {
      const s = slots[i - 1];
      const st = Atomics.load(s.state, 0);
      // Only to a worker that is spinning: one asleep (or not yet awake) is woken for the next
      // product and its part runs here (a wake-up took from 10 µs to several ms, in Node and in
      // Chromium, where a part takes 0.1–1.5 ms).
      if (st === ASLEEP && Atomics.compareExchange(s.state, 0, ASLEEP, WAKING) === ASLEEP) Atomics.notify(s.state, 0);
      sent[i] = st === IDLE;
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
      for (; v === GO; v = Atomics.load(s.state, 0)) if (host.canWait) Atomics.wait(s.state, 0, GO);
      if (v === FAILED) failed = true;
      Atomics.store(s.state, 0, IDLE);
    }
    if (failed) throw new SculptError('sparse: a kernel thread failed', 1);
  }
}
