// `sculpt sweep --queue` with two `sculpt worker`s on a real Redis server (Debian's redis-server on
// a free loopback port); one worker is SIGKILLed mid-job and the sweep still completes, every job's
// result present exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { ROOT, tempDir } from './helpers.js';

const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const DEV = join(ROOT, 'src/cli/dev.ts');
const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
const skip = redis.status === 0 ? false : 'redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => { c.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

interface Proc { child: ChildProcess; stdout: string; stderr: string; exited: Promise<number | null> }

function start(args: string[], cwd = ROOT): Proc {
  const child = spawn(process.execPath, ['--import', TSX, DEV, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { p.stdout += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { p.stderr += s; });
  return p;
}

async function until(what: string, f: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (text: string, word: string): string[] => [...text.matchAll(new RegExp(`^worker: ${word} ([0-9a-f]{64})`, 'gm'))].map((m) => m[1]!);

test('sweep --queue: two workers, one killed mid-job; every job done exactly once, failing ones retried then listed', { skip, timeout: 90_000 }, async () => {
  const port = await freePort();
  const dir = tempDir('sculpt-queue-');
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const procs: Proc[] = [];
  try {
    await waitForPort(port);
    const url = `redis://127.0.0.1:${port}`;
    const grid = join(dir, 'grid.yaml');
    writeFileSync(grid, 'command: prune test/fixtures/mlp.onnx --criterion random\ngrid:\n  sparsity: [0.3, 0.6, 1.5]\n');
    const out = join(dir, 'out');
    const sweep = start(['sweep', grid, '--seeds', '2', '--out', out, '--queue', url, '--retries', '1', '--json']);
    const a = start(['worker', '--queue', url, '--jobs', '1', '--lock-seconds', '1.5']);
    const b = start(['worker', '--queue', url, '--jobs', '2', '--lock-seconds', '1.5']);
    procs.push(sweep, a, b);
    await until('worker A to start a job', () => lines(a.stderr, 'started').length > 0);
    a.child.kill('SIGKILL');
    const killed = lines(a.stderr, 'started')[0]!;
    assert.equal(await a.exited, null);
    const code = await sweep.exited;
    assert.equal(code, 1, sweep.stderr);
    assert.match(sweep.stderr, /sculpt: sweep: 2 of 6 jobs failed/);
    const s = JSON.parse(sweep.stdout.trim().split('\n').pop()!);
    assert.equal(s.jobs.length, 6);
    assert.deepEqual(s.jobs.map((j: any) => j.status), ['done', 'done', 'done', 'done', 'failed', 'failed']);
    assert.deepEqual(s.cells.map((c: any) => [c.n, c.failed]), [[2, 0], [2, 0], [0, 2]]);
    const failed = s.jobs.filter((j: any) => j.status === 'failed');
    for (const j of failed) {
      assert.match(j.error, /sparsity/);
      // Its first run and one retry (--retries 1), never a third.
      const runs = [...lines(a.stderr, 'started'), ...lines(b.stderr, 'started')].filter((k) => k === j.key).length;
      assert.equal(runs, 2);
    }
    const keys = s.jobs.filter((j: any) => j.status === 'done').map((j: any) => j.key).sort();
    // Each job finished once, by a living worker; the killed job was taken again by B.
    const done = [...lines(a.stderr, 'done'), ...lines(b.stderr, 'done')].sort();
    assert.deepEqual(done, keys);
    assert.ok(!lines(a.stderr, 'done').includes(killed));
    assert.ok(lines(b.stderr, 'started').includes(killed), b.stderr);
    const results = readdirSync(join(out, 'jobs')).filter((k) => existsSync(join(out, 'jobs', k, 'result.json'))).sort();
    assert.deepEqual(results, keys);
    for (const j of s.jobs.slice(0, 4)) assert.equal(j.result.options.sparsity, j.options.sparsity);

    // A second sweep (of the cells that work) finds everything done and queues nothing.
    writeFileSync(grid, 'command: prune test/fixtures/mlp.onnx --criterion random\ngrid:\n  sparsity: [0.3, 0.6]\n');
    const again = start(['sweep', grid, '--seeds', '2', '--out', out, '--queue', url, '--json']);
    procs.push(again);
    assert.equal(await again.exited, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout.trim().split('\n').pop()!).executed, 0);
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.stderr);
    assert.match(b.stderr, /worker: stopping after the running jobs/);
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    server.kill('SIGTERM');
  }
});

test('sweep --queue and worker: an address nobody answers on is one line, exit code 2', async () => {
  const port = await freePort();
  const dir = tempDir('sculpt-queue-');
  const grid = join(dir, 'grid.yaml');
  writeFileSync(grid, 'command: prune test/fixtures/mlp.onnx --sparsity 0.5\n');
  for (const args of [['sweep', grid, '--out', join(dir, 'out'), '--queue', `redis://127.0.0.1:${port}`], ['worker', '--queue', `redis://127.0.0.1:${port}`]]) {
    const p = start(args);
    assert.equal(await p.exited, 2);
    assert.equal(p.stderr, `sculpt: --queue redis://127.0.0.1:${port}: no Redis server answers (connect ECONNREFUSED 127.0.0.1:${port}); start one (redis-server --port PORT) or check the address\n`);
  }
});
