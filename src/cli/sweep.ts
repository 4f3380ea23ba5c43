/**
 * `sculpt sweep GRID.yaml [--seeds N] [--out DIR] [--jobs P] [--json]`: runs a sculpt command over
 * a grid of option values and seeds, one child process per job, results kept per job in
 * DIR/jobs/<sha256>/ so finished jobs are skipped by any later sweep using the same DIR.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { SculptError } from '../core/errors.js';
import { readSweepGrid } from '../api/sweep-grid.js';
import { sweepJobs, type CommandShape } from '../api/sweep-jobs.js';
import { runSweep, type JobOutcome, type PoolProgress } from '../api/sweep-run.js';
import { writeTextAtomic } from '../api/output-file.js';
import { cellLabel, sweepCells } from '../api/sweep-cells.js';
import { parseInteger } from './args.js';
import { sweepReport, varyingMetrics } from './sweep-report.js';

interface Flags {
  seeds?: string;
  out: string;
  jobs?: string;
  json?: boolean;
  queue?: string;
  retries: string;
}

/** The option shape of `sculpt <name>`, read from its commander definition. */
export async function commandShape(name: string, where: string): Promise<CommandShape> {
  if (name === 'sweep' || name === 'worker') throw new SculptError(`${where}: command: a sweep cannot run sculpt ${name}`);
  const { buildProgram } = await import('./main.js');
  const cmd = (await buildProgram(['node', 'sculpt', name])).commands.find((c) => c.name() === name);
  if (!cmd) throw new SculptError(`${where}: command: sculpt has no command "${name}"; see sculpt --help`);
  return {
    name,
    options: cmd.options.map((o: Option) => ({
      long: (o.long ?? '').replace(/^--/, ''),
      ...(o.short && { short: o.short.replace(/^-/, '') }),
      takesValue: o.required || o.optional,
    })),
  };
}

/** How this process runs sculpt: the same Node, loader flags and entry script. */
export function launch(argv: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [...process.execArgv, process.argv[1]!, ...argv] };
}

function progressLine(p: PoolProgress): string {
  const eta = p.eta === undefined ? '' : `, ETA ${p.eta < 90 ? `${Math.ceil(p.eta)} s` : `${Math.ceil(p.eta / 60)} min`}`;
  return `sweep: ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed${eta}`;
}

export function jobJson(o: JobOutcome): object {
  return {
    key: o.job.key, options: o.job.options, seed: o.job.seed, status: o.status, ran: o.ran,
    ...(o.result !== undefined && { result: o.result }), ...(o.error !== undefined && { error: o.error }),
  };
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a sculpt command over a grid of options and seeds, in parallel, resuming finished jobs; mean, sd and 95% t intervals per cell')
    .argument('<grid>', 'YAML grid file: command: <sculpt command line>, grid: { option: [values...] }')
    .option('--seeds <n>', 'run every cell with seeds 0..N-1 (or list seed: [...] in the grid); default 1')
    .option('--out <dir>', 'sweep folder: jobs/<hash>/ per job, report.html', 'sweep')
    .option('--jobs <p>', 'jobs run at once (default: the number of cores)')
    .option('--json', 'print one JSON object (jobs and cells) as the last stdout line')
    .option('--queue <url>', 'put the jobs on a BullMQ queue in Redis (redis://HOST:PORT) for sculpt worker processes, and wait for them')
    .option('--retries <n>', 'with --queue: runs of a job after its first that fails or whose worker dies', '2')
    .addHelpText('after', `
Example grid file:
  command: prune test/fixtures/mlp.onnx --criterion random
  grid:
    sparsity: [0.5, 0.9]

Every job is the command with its resolved options; its key is the SHA-256 of the canonical JSON of
(command, operands, options), its folder DIR/jobs/<key>/. A job gets --out (or -o inside its folder),
--seed and --json when its command takes them; its result is the last stdout line, kept in result.json.`)
    .action(async (file: string, flags: Flags) => {
      const seeds = flags.seeds === undefined ? undefined : parseInteger('--seeds', flags.seeds, 1);
      const parallel = flags.jobs === undefined ? availableParallelism() : parseInteger('--jobs', flags.jobs, 1);
      const grid = readSweepGrid(file);
      const shape = await commandShape(grid.command[0]!, `${file}:${grid.commandLine}`);
      const jobs = sweepJobs(grid, shape, flags.out, file, seeds);
      const tty = process.stderr.isTTY === true;
      let last = 0;
      const onProgress = (p: PoolProgress): void => {
        if (!tty || (Date.now() - last < 200 && p.done + p.failed < p.total)) return;
        last = Date.now();
        process.stderr.write(`\r${progressLine(p)}`.padEnd(72));
      };
      const retries = parseInteger('--retries', flags.retries, 0);
      const outcomes = flags.queue === undefined
        ? await runSweep(jobs, { parallel, launch, onProgress })
        : await (await import('../api/sweep-queue.js')).runSweepOnQueue(jobs, { url: flags.queue, attempts: retries + 1, onProgress, log: (m) => process.stderr.write(`${m}\n`) });
      if (tty) process.stderr.write('\r' + ' '.repeat(72) + '\r');
      const executed = outcomes.filter((o) => o.ran).length;
      const failed = outcomes.filter((o) => o.status === 'failed');
      for (const f of failed) process.stderr.write(`sweep: job ${f.job.key.slice(0, 12)} (${f.job.argv.join(' ')}) failed: ${f.error}\n`);
      const cells = sweepCells(outcomes, grid.comparisons);
      mkdirSync(flags.out, { recursive: true });
      const reportPath = join(flags.out, 'report.html');
      writeTextAtomic(reportPath, await sweepReport(cells, grid.command.join(' '), grid.comparisons));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ dir: flags.out, report: reportPath, executed, skipped: outcomes.length - executed, jobs: outcomes.map(jobJson), cells })}\n`);
      } else {
        process.stdout.write(`sweep: ${outcomes.length} jobs (${executed} run, ${outcomes.length - executed} already done), ${failed.length} failed; results in ${flags.out}/jobs/, report ${reportPath}\n`);
        // The metrics that move between seeds first: those are what the intervals are about.
        const varying = varyingMetrics(cells);
        const noisy = varying.filter((n) => cells.some((c) => (c.metrics[n]?.sd ?? 0) > 0));
        const shown = [...noisy, ...varying.filter((n) => !noisy.includes(n))].slice(0, 6);
        const num = (x: number): string => String(Number(x.toPrecision(4)));
        const interval = (m: { mean: number; ci95: readonly [number, number] }): string => `${num(m.mean)} [${m.ci95.map(num).join(', ')}]`;
        for (const c of cells) {
          const p = (c.pairs ?? []).map((d) => `, ${d.a} − ${d.b} = ${interval(d)}`).join('');
          process.stdout.write(`  ${cellLabel(c.options)}: n=${c.n}${c.failed > 0 ? ` (${c.failed} failed)` : ''}${p}\n`);
          for (const name of shown) if (c.metrics[name]) process.stdout.write(`    ${name} ${interval(c.metrics[name])}\n`);
        }
        if (shown.length > 0) process.stdout.write('  (mean [95% Student-t interval over seeds]; every metric in --json and the report)\n');
      }
      if (failed.length > 0) throw new SculptError(`sweep: ${failed.length} of ${outcomes.length} jobs failed; each job's folder holds its error.txt; run the sweep again to retry them`, 1);
    });
}
