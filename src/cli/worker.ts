/**
 * `sculpt worker --queue redis://HOST:PORT [--jobs P]`: takes sweep jobs from the BullMQ queue
 * that `sculpt sweep --queue` fills, runs each as a child process, writes its result into the
 * sweep's folder; runs until SIGINT or SIGTERM, finishing the jobs it holds.
 */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { parseInteger, parseNumber } from './args.js';
import { launch } from './sweep.js';

interface Flags {
  queue: string;
  jobs?: string;
  lockSeconds: string;
  maxStalled: string;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run sweep jobs from a Redis queue (sculpt sweep --queue) until stopped; run one per machine')
    .requiredOption('--queue <url>', 'the Redis server of the queue, redis://HOST:PORT')
    .option('--jobs <p>', 'jobs run at once (default: the number of cores)')
    .option('--lock-seconds <s>', 'a job whose worker stops renewing its lock this long (died) goes to another worker', '30')
    .option('--max-stalled <n>', 'times a job may lose its worker before it fails', '2')
    .action(async (flags: Flags) => {
      const concurrency = flags.jobs === undefined ? availableParallelism() : parseInteger('--jobs', flags.jobs, 1);
      const lockMs = Math.round(parseNumber('--lock-seconds', flags.lockSeconds) * 1000);
      const log = (m: string): void => { process.stderr.write(`${m}\n`); };
      const { startWorker } = await import('../api/sweep-queue.js'); // BullMQ and ioredis only when a worker runs
      const worker = await startWorker({ url: flags.queue, concurrency, lockMs: Math.max(1000, lockMs), maxStalled: parseInteger('--max-stalled', flags.maxStalled, 0), launch, log });
      log(`worker: ready on ${flags.queue} (${concurrency} at once); stop with Ctrl-C`);
      await new Promise<void>((resolve) => {
        const stop = (): void => { log('worker: stopping after the running jobs'); void worker.stop().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
