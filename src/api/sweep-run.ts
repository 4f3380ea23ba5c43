/**
 * Runs a sweep's jobs in a pool of child processes. A job is finished when its folder holds
 * result.json (written atomically from the last stdout line of `sculpt … --json`), so a re-run,
 * or another sweep sharing the folder, skips it; a failed job leaves error.txt and runs again.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from './output-file.js';
import type { SweepJob } from './sweep-jobs.js';

export interface JobOutcome {
  readonly job: SweepJob;
  readonly status: 'done' | 'failed';
  /** Whether this run executed the job (false: its result.json was already there). */
  readonly ran: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

export interface PoolProgress {
  readonly done: number;
  readonly running: number;
  readonly failed: number;
  readonly total: number;
  /** Seconds left at the pace of the jobs this run executed, when one has finished. */
  readonly eta?: number;
}

export interface RunOptions {
  /** How many jobs run at once. */
  readonly parallel: number;
  /** The program and arguments that run `sculpt <argv>`. */
  readonly launch: (argv: readonly string[]) => { command: string; args: string[] };
  readonly onProgress?: (p: PoolProgress) => void;
}

export const RESULT_FILE = 'result.json';

/** The stored result of a finished job, or undefined. */
export function readResult(job: SweepJob): unknown {
  const path = join(job.dir, RESULT_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // a damaged result (hand-edited?) counts as not finished
  }
}

/** The job's description beside its result, so a folder says what it holds. */
function writeJobFile(job: SweepJob): void {
  mkdirSync(job.dir, { recursive: true });
  writeTextAtomic(join(job.dir, 'job.json'), `${JSON.stringify({ key: job.key, ...job.resolved, argv: job.argv }, null, 2)}\n`);
}

/** The last non-empty line of `text`. */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}

/** Runs one job in a child process; resolves to its outcome (never rejects). */
export function runJob(job: SweepJob, launch: RunOptions['launch'], cwd = process.cwd()): Promise<JobOutcome> {
  writeJobFile(job);
  const { command, args } = launch(job.argv);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout = (stdout + s).slice(-(16 << 20)); });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-65536); });
    const fail = (error: string): void => {
      writeTextAtomic(join(job.dir, 'error.txt'), `${error}\n${stderr}`);
      resolve({ job, status: 'failed', ran: true, error });
    };
    child.on('error', (e) => fail(`cannot start: ${e.message}`));
    child.on('close', (code, signal) => {
      if (code !== 0) {
        fail(lastLine(stderr) || (signal ? `killed by ${signal}` : `exit code ${code}`));
        return;
      }
      let result: unknown;
      try {
        result = JSON.parse(lastLine(stdout));
      } catch {
        fail('the last stdout line is not a JSON object (does the command take --json?)');
        return;
      }
      writeTextAtomic(join(job.dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
      rmSync(join(job.dir, 'error.txt'), { force: true }); // an earlier attempt's
      resolve({ job, status: 'done', ran: true, result });
    });
  });
}

/** Runs every unfinished job, `parallel` at a time; outcomes in the order of `jobs`. */
export async function runSweep(jobs: readonly SweepJob[], options: RunOptions): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = new Array(jobs.length);
  const todo: number[] = [];
  let done = 0;
  let failed = 0;
  let running = 0;
  for (const [i, job] of jobs.entries()) {
    const result = readResult(job);
    if (result !== undefined) {
      outcomes[i] = { job, status: 'done', ran: false, result };
      done++;
    } else {
      todo.push(i);
    }
  }
  const start = Date.now();
  let executed = 0;
  const report = (): void => {
    const left = todo.length - executed;
    const perJob = executed > 0 ? (Date.now() - start) / 1000 / executed : undefined;
    options.onProgress?.({ done, running, failed, total: jobs.length, ...(perJob !== undefined && { eta: perJob * left }) });
  };
  report();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const i = todo[next++]!;
      running++;
      report();
      const outcome = await runJob(jobs[i]!, options.launch);
      running--;
      executed++;
      if (outcome.status === 'done') done++; else failed++;
      outcomes[i] = outcome;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, todo.length)) }, worker));
  return outcomes;
}
