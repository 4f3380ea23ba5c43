/**
 * Some runs go faster in a copy of this process started with settings that can only be given at
 * start-up, so such a run starts that copy.
 *
 * - Calibrated pruning (data criteria) allocates and frees many arrays of one to thirty megabytes:
 *   activations per batch, onnxruntime's outputs and its session buffers. glibc's malloc raises its
 *   mmap threshold to the largest freed block (up to 32 MiB), so those blocks then come from the
 *   heap, whose freed pages it keeps: on the GPT-2-small benchmark the process's resident memory
 *   held ~450 MB more than its live arrays. Fixed thresholds (mallopt's M_MMAP_THRESHOLD and
 *   M_TRIM_THRESHOLD, settable only through the environment) return them to the system.
 * - The sparse engine on worker threads (`run` or `bench` with `--threads` above 1): V8's own
 *   garbage-collection helper threads compete with the kernel workers for the cores, and a worker
 *   that one of them preempts holds up every product it shares (on 2 cores, BERT's 72 products
 *   waited ~100 ms a run for late workers; with V8's --single-threaded-gc, ~20–30 ms). V8 refuses
 *   that flag once it runs, so the copy gets it on its command line.
 *
 * The copy gets the same stdio; SIGINT, SIGTERM and SIGHUP are passed on, its exit status (or
 * signal) becomes this process's, and it kills itself if this process disappears (its temporaries
 * are then removed as for any killed run).
 */
import { spawn } from 'node:child_process';
import process from 'node:process';

const MARK = 'SCULPT_RELAUNCHED';
const MALLOC_TUNING = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };
const THREADS_FLAG = '--single-threaded-gc';

/** Whether this process runs on glibc (the variables mean nothing elsewhere). */
function glibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/** Commands that calibrate on data: `prune ... --calibration ...`. */
function calibrates(args: readonly string[]): boolean {
  return args[0] === 'prune' && args.some((a) => a === '--calibration' || a.startsWith('--calibration='));
}

/** `run` and `bench` with --threads above 1 (the sparse engine's worker threads). */
function usesWorkerThreads(args: readonly string[]): boolean {
  if (args[0] !== 'run' && args[0] !== 'bench') return false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    const v = a === '--threads' ? args[i + 1] : a.startsWith('--threads=') ? a.slice('--threads='.length) : undefined;
    if (v !== undefined && Number(v) > 1) return true;
  }
  return false;
}

/** What a copy of the process would add: environment variables and node flags; undefined if nothing. */
export interface RelaunchPlan {
  readonly env: Readonly<Record<string, string>>;
  readonly execArgv: readonly string[];
}

/**
 * The copy a command should run in, given its arguments (after the script), this process's
 * environment and node flags, and whether it runs on glibc; undefined when it should run here.
 */
export function relaunchPlan(args: readonly string[], env: NodeJS.ProcessEnv, execArgv: readonly string[], onGlibc: boolean): RelaunchPlan | undefined {
  if (env[MARK] === '1' || env.SCULPT_RELAUNCH === '0') return undefined;
  const addEnv: Record<string, string> = {};
  if (calibrates(args) && onGlibc) for (const [k, v] of Object.entries(MALLOC_TUNING)) if (env[k] === undefined) addEnv[k] = v;
  const addArgv = usesWorkerThreads(args) && !execArgv.includes(THREADS_FLAG) ? [THREADS_FLAG] : [];
  return Object.keys(addEnv).length === 0 && addArgv.length === 0 ? undefined : { env: addEnv, execArgv: addArgv };
}

/**
 * Runs the command in a tuned copy of this process when `relaunchPlan` says so; resolves to its
 * exit code, or to undefined when the command is to run here (nothing to tune, SCULPT_RELAUNCH=0,
 * or the copy could not start).
 */
export async function relaunchTuned(argv: readonly string[]): Promise<number | undefined> {
  if (process.env[MARK] === '1') {
    watchParent();
    return undefined;
  }
  const plan = relaunchPlan(argv.slice(2), process.env, process.execArgv, calibrates(argv.slice(2)) && glibc());
  if (!plan) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...plan.execArgv, ...argv.slice(1)], { stdio: 'inherit', env: { ...plan.env, ...process.env, [MARK]: '1' } });
  const forward = (signal: NodeJS.Signals) => () => { child.kill(signal); };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => {
    const stop = () => { for (const [s, h] of handlers) process.off(s, h); };
    child.on('exit', (code, signal) => {
      stop();
      // Die of the same signal, as the run would have without the copy.
      if (signal) process.kill(process.pid, signal);
      else resolve(code ?? 1);
    });
    child.on('error', () => { stop(); resolve(undefined); });
  });
}

/** In the copy: end at once (as a killed run) when the process that started it is gone. */
function watchParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  }, 250).unref();
}
