/**
 * Calibrated pruning (data criteria) allocates and frees many arrays of one to thirty megabytes:
 * activations per batch, onnxruntime's outputs and its session buffers. glibc's malloc raises its
 * mmap threshold to the largest freed block (up to 32 MiB), so those blocks then come from the
 * heap, whose freed pages it keeps: on the GPT-2-small benchmark the process's resident memory held
 * ~450 MB more than its live arrays. Fixed thresholds (mallopt's M_MMAP_THRESHOLD and
 * M_TRIM_THRESHOLD, settable only through the environment before the process starts) return them
 * to the system. So such a run starts a copy of itself with those variables set.
 *
 * The copy gets the same stdio; SIGINT, SIGTERM and SIGHUP are passed on, its exit status (or
 * signal) becomes this process's, and it kills itself if this process disappears (its temporaries
 * are then removed as for any killed run).
 */
import { spawn } from 'node:child_process';
import process from 'node:process';

const MARK = 'SCULPT_RELAUNCHED';
const TUNING = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

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

/**
 * Runs the command in a tuned copy of this process when it calibrates and the environment is not
 * tuned yet; resolves to its exit code, or to undefined when the command is to run here (nothing to
 * tune, SCULPT_RELAUNCH=0, or the copy could not start).
 */
export async function relaunchTuned(argv: readonly string[]): Promise<number | undefined> {
  if (process.env[MARK] === '1') {
    watchParent();
    return undefined;
  }
  if (process.env.SCULPT_RELAUNCH === '0' || !calibrates(argv.slice(2)) || !glibc()) return undefined;
  if (Object.keys(TUNING).every((k) => process.env[k] !== undefined)) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...argv.slice(1)], { stdio: 'inherit', env: { ...TUNING, ...process.env, [MARK]: '1' } });
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
