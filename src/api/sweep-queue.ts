/**
 * Sweeps beyond one machine on a BullMQ queue in Redis: the sweep adds its unfinished jobs (BullMQ
 * job id = the job's key, so a job already queued is not queued twice), `sculpt worker` processes on
 * any machine take them and write result.json into the sweep's folder, which every machine sees at
 * the same path (a shared mount). A worker that dies mid-job loses its lock; BullMQ's stalled-job
 * check puts the job back for another worker, up to the retry limit.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { SculptError } from '../core/errors.js';
import type { SweepJob } from './sweep-jobs.js';
import { readResult, runJob, type JobOutcome, type PoolProgress, type RunOptions } from './sweep-run.js';

export const QUEUE_NAME = 'sculpt-sweep';

/** What a queued job carries: enough to run it anywhere the paths exist. */
export interface QueuedJob {
  readonly key: string;
  readonly dir: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly resolved: SweepJob['resolved'];
}

/** A client for `redis://HOST:PORT` (BullMQ, under ES modules, takes a constructed ioredis client). */
export function redisConnection(url: string): Redis {
  const { host, port } = redisAddress(url);
  return new Redis({ host, port, maxRetriesPerRequest: null, lazyConnect: false });
}

export function redisAddress(url: string): { host: string; port: number } {
  const m = /^redis:\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(url);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new SculptError(`--queue ${url}: give redis://HOST:PORT, e.g. redis://127.0.0.1:6379`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Fails with one line when no Redis server answers at `url` (before any queue retries forever). */
export async function checkReachable(url: string, ms = 5000): Promise<void> {
  const { host, port } = redisAddress(url);
  const client = new Redis({ host, port, lazyConnect: true, connectTimeout: ms, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause = '';
  client.on('error', (e: Error) => { cause = e.message; }); // reported below, once
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new SculptError(`--queue ${url}: no Redis server answers (${(cause || (e as Error).message).split('\n')[0]}); start one (redis-server --port PORT) or check the address`);
  } finally {
    client.disconnect();
  }
}

/** Connection errors go to one place instead of crashing the process with a stack. */
function quiet(emitter: { on(event: 'error', f: (e: Error) => void): unknown }, log: (m: string) => void): void {
  let last = '';
  emitter.on('error', (e) => {
    if (e.message !== last) log(`sculpt: queue: ${e.message.split('\n')[0]}`);
    last = e.message;
  });
}

export interface QueueSweepOptions {
  readonly url: string;
  /** Attempts per job: the first run and its retries. */
  readonly attempts: number;
  readonly onProgress?: (p: PoolProgress) => void;
  readonly log: (m: string) => void;
}

/** Queues the unfinished jobs and waits until every job has a result or has failed for good. */
export async function runSweepOnQueue(jobs: readonly SweepJob[], options: QueueSweepOptions): Promise<JobOutcome[]> {
  await checkReachable(options.url);
  const connection = redisConnection(options.url);
  quiet(connection, options.log);
  const queue = new Queue(QUEUE_NAME, { connection });
  quiet(queue, options.log);
  try {
    const outcomes: Array<JobOutcome | undefined> = jobs.map((job) => {
      const result = readResult(job);
      return result === undefined ? undefined : { job, status: 'done', ran: false, result };
    });
    for (const [i, job] of jobs.entries()) {
      if (outcomes[i]) continue;
      const old = await Job.fromId(queue, job.key);
      if (old && (await old.getState()) === 'failed') await old.remove(); // a new sweep retries it
      const data: QueuedJob = { key: job.key, dir: resolve(job.dir), argv: job.argv, cwd: process.cwd(), resolved: job.resolved };
      await queue.add('job', data, { jobId: job.key, attempts: options.attempts, removeOnComplete: true, removeOnFail: false });
    }
    const start = Date.now();
    const before = outcomes.filter((o) => o !== undefined).length;
    while (outcomes.some((o) => o === undefined)) {
      let running = 0;
      for (const [i, job] of jobs.entries()) {
        if (outcomes[i]) continue;
        const result = readResult(job);
        if (result !== undefined) { outcomes[i] = { job, status: 'done', ran: true, result }; continue; }
        const q = await Job.fromId(queue, job.key);
        const state = q ? await q.getState() : 'unknown';
        if (state === 'failed') outcomes[i] = { job, status: 'failed', ran: true, error: q!.failedReason };
        else if (state === 'active') running++;
        else if (state === 'unknown' && !existsSync(job.dir)) {
          // Neither queued nor finished (removed by hand?): queue it again.
          const data: QueuedJob = { key: job.key, dir: resolve(job.dir), argv: job.argv, cwd: process.cwd(), resolved: job.resolved };
          await queue.add('job', data, { jobId: job.key, attempts: options.attempts, removeOnComplete: true, removeOnFail: false });
        }
      }
      const finished = outcomes.filter((o) => o !== undefined);
      const done = finished.filter((o) => o!.status === 'done').length;
      const ran = finished.length - before;
      const eta = ran > 0 ? ((Date.now() - start) / 1000 / ran) * (jobs.length - finished.length) : undefined;
      options.onProgress?.({ done, running, failed: finished.length - done, total: jobs.length, ...(eta !== undefined && { eta }) });
      if (outcomes.some((o) => o === undefined)) await new Promise((r) => setTimeout(r, 250));
    }
    return outcomes as JobOutcome[];
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

export interface WorkerOptions {
  readonly url: string;
  readonly concurrency: number;
  /** How long a job's lock lasts without renewal: a dead worker's job is taken again after it. */
  readonly lockMs: number;
  /** Times a job may be found stalled (its worker dead) before it fails. */
  readonly maxStalled: number;
  readonly launch: RunOptions['launch'];
  readonly log: (m: string) => void;
}

/** Takes jobs from the queue until `stop()`; resolves once connected. */
export async function startWorker(options: WorkerOptions): Promise<{ stop: () => Promise<void> }> {
  await checkReachable(options.url);
  const connection = redisConnection(options.url);
  quiet(connection, options.log);
  const worker = new Worker<QueuedJob>(QUEUE_NAME, async (job) => {
    const d = job.data;
    const sweepJob = { key: d.key, dir: d.dir, argv: d.argv, resolved: d.resolved } as SweepJob;
    // Another worker finished it (the job came back after this one's lock lapsed): nothing to redo.
    if (readResult(sweepJob) !== undefined) return { key: d.key, reused: true };
    options.log(`worker: started ${d.key} (attempt ${job.attemptsMade + 1}): sculpt ${d.argv.join(' ')}`);
    const outcome = await runJob(sweepJob, options.launch, existsSync(d.cwd) ? d.cwd : process.cwd());
    if (outcome.status === 'failed') {
      options.log(`worker: failed ${d.key}: ${outcome.error}`);
      throw new Error(outcome.error);
    }
    options.log(`worker: done ${d.key}`);
    return { key: d.key };
  }, {
    connection, concurrency: options.concurrency,
    lockDuration: options.lockMs, stalledInterval: Math.max(500, Math.floor(options.lockMs / 2)), maxStalledCount: options.maxStalled,
  });
  quiet(worker, options.log);
  await worker.waitUntilReady();
  return { stop: async () => { await worker.close(); connection.disconnect(); } };
}
