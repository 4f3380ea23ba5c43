/**
 * One fuzzing process for one target (started by bench/fuzz/main.ts): runs inputs start, start+1, …
 * until its deadline or `end`, writing the current iteration to a status file before each run (the
 * parent reads it to catch hangs and to regenerate the input). Crashes and bad messages are saved
 * at once as corpus cases, then shrunk for a few seconds; a memory blow-up is saved and ends the
 * process (its peak cannot be taken back), and the parent starts a fresh one.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { caseName, makeInput, runOne, targetNamed, writeCase, type FuzzInput, type Outcome, type Target } from './targets.js';

export interface WorkerConfig {
  readonly target: string;
  readonly seed: number;
  readonly start: number;
  /** Exclusive; undefined: until the deadline. */
  readonly end?: number;
  /** Epoch milliseconds. */
  readonly deadline: number;
  readonly out: string;
  readonly statusFile: string;
  readonly memoryMb: number;
  /** Milliseconds to spend shrinking one finding. */
  readonly shrinkMs: number;
}

type Finding = Pick<Outcome & { ok: false }, 'signature' | 'detail'> & { readonly kind: (Outcome & { ok: false })['kind'] | 'memory' };

/** Removes chunks of the mutated file while the outcome keeps its signature. */
function shrink(target: Target, input: FuzzInput, file: string, signature: string, dir: string, until: number): FuzzInput {
  let best = input;
  let bytes = input.files.get(file)!;
  for (let size = bytes.length >> 1; size >= 1 && Date.now() < until; size >>= 1) {
    for (let at = 0; at + size <= bytes.length && Date.now() < until; ) {
      const candidate = new Uint8Array(bytes.length - size);
      candidate.set(bytes.subarray(0, at), 0);
      candidate.set(bytes.subarray(at + size), at);
      const files = new Map(best.files);
      files.set(file, candidate);
      const trial: FuzzInput = { files, main: best.main };
      const o = runOne(target, trial, dir);
      if (!o.ok && o.signature === signature) {
        best = trial;
        bytes = candidate;
      } else at += size;
    }
  }
  return best;
}

function main(): void {
  const config = JSON.parse(process.argv[2]) as WorkerConfig;
  const target = targetNamed(config.target);
  const seeds = target.seeds();
  const dir = join(config.out, 'scratch', `${config.target}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const status = openSync(config.statusFile, 'w');
  const say = (i: number, phase: string) => {
    const line = Buffer.from(`${i} ${phase}`.padEnd(40, ' '));
    writeSync(status, line, 0, line.length, 0);
  };
  const record = (i: number, o: Finding, input: FuzzInput, mutated: string): void => {
    const name = caseName(o.signature);
    const caseDir = join(config.out, config.target, `${o.kind}-${name}`);
    if (existsSync(caseDir)) return;
    const note = `${o.kind} in ${config.target}, seed ${config.seed}, iteration ${i}\n${o.signature}\n\n${o.detail}`;
    writeCase(caseDir, input, note);
    appendFileSync(join(config.out, 'findings.jsonl'), `${JSON.stringify({ target: config.target, iteration: i, kind: o.kind, signature: o.signature, case: caseDir })}\n`);
    if (o.kind === 'memory') return;
    say(i, 'shrink');
    const small = shrink(target, input, mutated, o.signature, dir, Date.now() + config.shrinkMs);
    if (small !== input) writeCase(caseDir, small, note);
  };
  let i = config.start;
  say(i, 'ready');
  for (; Date.now() < config.deadline && (config.end === undefined || i < config.end); i++) {
    let made: ReturnType<typeof makeInput>;
    try {
      made = makeInput(target, seeds, config.seed, i);
    } catch (e) {
      // A mutator's own bug: say so (the parent shows it) rather than count it against a parser.
      process.stderr.write(`fuzz: mutating input ${i} failed: ${(e as Error).stack}\n`);
      process.exit(4);
    }
    const { input, mutated } = made;
    say(i, 'run');
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    const o = runOne(target, input, dir);
    if (!o.ok) record(i, o, input, mutated);
    let rssMb = process.memoryUsage().rss / 2 ** 20;
    if (rssMb > config.memoryMb && typeof globalThis.gc === 'function') {
      // Over the limit after the input: garbage of many inputs, or what this one holds? Collect first.
      globalThis.gc();
      rssMb = process.memoryUsage().rss / 2 ** 20;
    }
    if (rssMb > config.memoryMb / 2 && rssMb - rssBefore < config.memoryMb / 4) {
      // Memory crept up over many inputs (allocator fragmentation), not in this one: start afresh.
      say(i + 1, 'recycle');
      closeSync(status);
      process.exit(5);
    }
    if (rssMb > config.memoryMb) {
      const signature = `memory: rss ${Math.round(rssMb)} MiB after one input`;
      record(i, { kind: 'memory', signature, detail: signature }, input, mutated);
      say(i, 'memory');
      closeSync(status);
      process.exit(3);
    }
  }
  say(i, 'done');
  closeSync(status);
}

main();
