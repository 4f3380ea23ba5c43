// Runs a command and reports its wall time and peak resident set size.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';

const GNU_TIME = '/usr/bin/time';

/**
 * Runs `cmd args` to completion. Peak RSS comes from GNU time's "Maximum resident set size"
 * where /usr/bin/time exists, else from polling /proc/<pid>/status VmHWM every 20 ms.
 * Resolves { code, seconds, peakRssBytes, stdout, stderr }.
 */
export function measure(cmd, args, opts = {}) {
  const useTime = existsSync(GNU_TIME);
  const dir = useTime ? mkdtempSync(join(tmpdir(), 'sculpt-measure-')) : '';
  const timeFile = join(dir, 'time.txt');
  const [file, argv] = useTime ? [GNU_TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let hwm = 0;
    const poll = useTime ? undefined : setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
      } catch { /* exited */ }
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (poll) clearInterval(poll);
      let peakRssBytes = hwm;
      if (useTime) {
        try {
          const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'));
          if (m) peakRssBytes = Number(m[1]) * 1024;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      resolve({ code, seconds, peakRssBytes, stdout, stderr });
    });
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** nproc, CPU model and memory, for the BENCHMARKS.md section. */
export function machine() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch { /* not Linux */ }
  let memGiB = 0;
  try {
    const m = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) memGiB = Number(m[1]) / 1024 / 1024;
  } catch { /* not Linux */ }
  return { nproc: cpus().length, model, memGiB, node: process.version };
}

export const MB = 1e6;
export const fmtMB = (b) => `${(b / MB).toFixed(0)} MB`;
export const fmtS = (s) => `${s.toFixed(2)} s`;
