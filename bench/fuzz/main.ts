/**
 * `npm run fuzz`: mutation fuzzing of every parser sculpt exposes to downloaded files (ONNX,
 * safetensors, the three TF.js forms, .npy, IDX, .sculpt), seeded from the committed fixtures, and
 * of the sparse executor on mutated models (target `executor`).
 *
 *   npm run fuzz -- [--seconds 60] [--targets onnx,npy] [--seed N] [--execs N] [--timeout-ms 5000]
 *                   [--memory-mb 1024] [--out DIR] [--json]
 *
 * Each target runs in a child process for `--seconds` (or `--execs` inputs). A finding is an
 * exception that is not a SculptError, a message that is not one printable line, an input that
 * takes longer than `--timeout-ms` (the child is killed), or a process over `--memory-mb` resident
 * memory. Each distinct finding is saved as a case folder under `--out` (shrunk when it is a crash
 * or a message); copy the ones worth keeping to test/fixtures/fuzz-corpus/<target>/, where
 * test/formats/fuzz-corpus.test.ts replays them. Exit status 1 when anything was found.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseName, makeInput, ROOT, TARGETS, targetNamed, writeCase, type FuzzInput } from './targets.js';
import type { WorkerConfig } from './worker.js';

interface Options {
  seconds: number;
  targets: string[];
  seed: number;
  execs?: number;
  timeoutMs: number;
  memoryMb: number;
  out: string;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    seconds: 60, targets: [...TARGETS.map((t) => t.name), 'executor'], seed: Date.now() % 2 ** 31, timeoutMs: 5000, memoryMb: 1024,
    out: join(tmpdir(), `sculpt-fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}`), json: false,
  };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = () => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const count = (v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag}: '${v}' is not a whole number`);
      return n;
    };
    switch (flag) {
      case '--seconds': o.seconds = count(value()); break;
      case '--targets': o.targets = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--seed': o.seed = count(value()); break;
      case '--execs': o.execs = count(value()); break;
      case '--timeout-ms': o.timeoutMs = count(value()); break;
      case '--memory-mb': o.memoryMb = count(value()); break;
      case '--out': o.out = value(); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  for (const t of o.targets) targetNamed(t);
  // --execs alone: that many inputs, however long they take.
  if (o.execs !== undefined && !argv.includes('--seconds')) o.seconds = 24 * 3600;
  return o;
}

/** Resident and peak memory of a process, in MiB (Linux /proc; undefined elsewhere). */
function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) of a process in milliseconds, from /proc (undefined elsewhere). */
function cpuMsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After the command: state is field 3, utime 14 and stime 15 (1-based, in clock ticks of 10 ms).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface TargetReport {
  readonly target: string;
  readonly execs: number;
  readonly seconds: number;
  readonly findings: number;
  readonly hangs: number;
  readonly memory: number;
  readonly peakMb: number;
}

interface ChildEnd {
  /** Iteration the child was at. */
  readonly at: number;
  readonly phase: string;
  readonly killed?: 'hang' | 'memory' | 'crash';
  readonly code: number | null;
  readonly peakMb: number;
}

function readStatus(file: string): { at: number; phase: string } | undefined {
  try {
    const [at, phase] = readFileSync(file, 'utf8').trim().split(/\s+/);
    // Empty: the new child has opened (truncated) the file and not yet written to it.
    return phase === undefined ? undefined : { at: Number(at), phase };
  } catch {
    return undefined;
  }
}

/** Runs one child from `start` and watches it; resolves when it ends or is killed. */
function runChild(o: Options, target: string, start: number, deadline: number, statusFile: string): Promise<ChildEnd> {
  const config: WorkerConfig = { target, seed: o.seed, start, end: o.execs, deadline, out: o.out, statusFile, memoryMb: o.memoryMb, shrinkMs: 3000 };
  // The last child's status would otherwise charge this child's start-up to the input it was killed on.
  rmSync(statusFile, { force: true });
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', `--max-old-space-size=${o.memoryMb}`, join(ROOT, 'bench/fuzz/worker.ts'), JSON.stringify(config)], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve) => {
    let last = `${start} init`;
    let since = Date.now();
    let cpuSince = child.pid ? cpuMsOf(child.pid) ?? 0 : 0;
    let killed: 'hang' | 'memory' | 'crash' | undefined;
    let peakMb = 0;
    const timer = setInterval(() => {
      const s = readStatus(statusFile);
      const key = s ? `${s.at} ${s.phase}` : last;
      const cpu = child.pid ? cpuMsOf(child.pid) : undefined;
      if (key !== last) {
        last = key;
        since = Date.now();
        cpuSince = cpu ?? 0;
      }
      const m = child.pid ? memoryOf(child.pid) : undefined;
      if (m) peakMb = Math.max(peakMb, m.peak);
      const phase = key.split(' ')[1];
      // Shrinking runs many inputs: give it its own budget on top of the per-input limit.
      const limit = phase === 'init' ? 120_000 : phase === 'shrink' ? 3000 + 2 * o.timeoutMs : o.timeoutMs;
      // A hang: over the limit in CPU time (a busy machine does not make an input slow), or six
      // times over it in wall time (an input blocked on a read uses no CPU).
      const busy = cpu === undefined ? Date.now() - since : cpu - cpuSince;
      if (!killed && m && m.rss > o.memoryMb) killed = 'memory';
      else if (!killed && (busy > limit || Date.now() - since > Math.max(6 * limit, 30_000))) killed = 'hang';
      if (killed) {
        if (process.env.SCULPT_FUZZ_DEBUG) process.stderr.write(`fuzz: killing ${target} (${killed}) at '${key}', cpu ${busy} ms, wall ${Date.now() - since} ms\n`);
        child.kill('SIGKILL');
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(timer);
      const s = readStatus(statusFile);
      const at = s?.at ?? start;
      if (code === 4) throw new Error(`fuzz: the harness failed on ${target}: ${stderr}`);
      if (code !== 0 && code !== 3 && code !== 5 && !killed) {
        // Died on its own: V8's heap limit (out of memory), or a native crash (abort, stack).
        const why = /heap out of memory|Allocation failed/i.test(stderr) ? 'memory' : 'crash';
        if (why === 'crash') process.stderr.write(`fuzz: the ${target} worker died (exit ${code}) at input ${at}: ${stderr.split('\n').slice(0, 6).join(' | ')}\n`);
        resolve({ at, phase: s?.phase ?? 'init', killed: why, code, peakMb });
        return;
      }
      resolve({ at, phase: s?.phase ?? 'init', killed, code, peakMb });
    });
  });
}

async function fuzzTarget(o: Options, name: string): Promise<TargetReport> {
  const target = targetNamed(name);
  const began = Date.now();
  const deadline = began + o.seconds * 1000;
  const statusFile = join(o.out, `status-${name}`);
  let seeds: FuzzInput[] | undefined;
  let next = 0;
  let hangs = 0;
  let memory = 0;
  let peakMb = 0;
  for (;;) {
    const end = await runChild(o, name, next, deadline, statusFile);
    peakMb = Math.max(peakMb, end.peakMb);
    if (end.killed && end.phase !== 'init') {
      if (end.phase === 'run' || end.phase === 'memory' || end.killed !== 'hang') {
        // Regenerate the input the child was running and save it.
        seeds ??= target.seeds();
        const { input } = makeInput(target, seeds, o.seed, end.at);
        const signature = `${end.killed}: ${name} input ${end.at}`;
        const caseDir = join(o.out, name, `${end.killed}-${caseName(signature)}`);
        const limit = end.killed === 'hang' ? ` (limit ${o.timeoutMs} ms of CPU)` : end.killed === 'memory' ? ` (limit ${o.memoryMb} MiB)` : ' (the process died)';
        writeCase(caseDir, input, `${end.killed} in ${name}, seed ${o.seed}, iteration ${end.at}${limit}`);
        appendFileSync(join(o.out, 'findings.jsonl'), `${JSON.stringify({ target: name, iteration: end.at, kind: end.killed, signature, case: caseDir })}\n`);
        if (end.killed === 'hang') hangs++;
        else if (end.killed === 'memory') memory++;
      }
      // A hang while shrinking: the finding is saved already (unshrunk); move on.
    } else if (end.killed) {
      throw new Error(`fuzz: the ${name} worker did not start (${end.killed}, exit ${end.code})`);
    } else if (end.code === 3) {
      memory++;
    } else if (end.code === 5) {
      // Recycled (memory crept up over many inputs): carry on from where it stopped.
      next = end.at;
      continue;
    } else if (end.code !== 0) {
      throw new Error(`fuzz: the ${name} worker failed with exit code ${end.code}`);
    }
    if (end.code === 0 && !end.killed) {
      next = end.at;
      break;
    }
    next = end.at + 1;
    if (Date.now() >= deadline || (o.execs !== undefined && next >= o.execs)) break;
  }
  const findings = existsSync(join(o.out, 'findings.jsonl'))
    ? readFileSync(join(o.out, 'findings.jsonl'), 'utf8').split('\n').filter((l) => l && (JSON.parse(l) as { target: string }).target === name).length
    : 0;
  return { target: name, execs: next, seconds: (Date.now() - began) / 1000, findings, hangs, memory, peakMb: Math.round(peakMb) };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.out, { recursive: true });
  const reports: TargetReport[] = [];
  if (!o.json) process.stdout.write(`fuzz: seed ${o.seed}, ${o.execs === undefined ? `${o.seconds} s` : `${o.execs} inputs`} per target, findings in ${o.out}\n`);
  for (const name of o.targets) {
    const r = await fuzzTarget(o, name);
    reports.push(r);
    if (!o.json) {
      process.stdout.write(`${name.padEnd(14)} ${String(r.execs).padStart(8)} inputs ${r.seconds.toFixed(1).padStart(7)} s ${String(r.findings).padStart(4)} findings (${r.hangs} hangs, ${r.memory} memory), peak ${r.peakMb} MiB\n`);
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ seed: o.seed, out: o.out, reports })}\n`);
  process.exitCode = reports.some((r) => r.findings > 0) ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 2;
});
