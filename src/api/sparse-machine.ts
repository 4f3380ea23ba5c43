/**
 * The machine profile the roofline needs (bandwidth, dense and sparse kernel rates), measured once
 * and cached in `$XDG_CACHE_HOME/sculpt/machine.json` (default `~/.cache/sculpt/machine.json`).
 * A cache written on another CPU model or by another profile version is measured again.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../formats/fsutil.js';
import { measureMachine, type MachineProfile } from '../sparse/roofline.js';

const CACHE_VERSION = 1;

export interface MachineCache {
  readonly version: number;
  readonly cpu: string;
  readonly measuredAt: string;
  readonly machine: MachineProfile;
}

export interface MachineResult {
  readonly machine: MachineProfile;
  /** 'cache': read from `path`; 'measured': measured now (and written to `path`). */
  readonly source: 'cache' | 'measured';
  readonly path: string;
  readonly measuredAt: string;
}

export function machineCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'sculpt', 'machine.json');
}

function cpuModel(): string {
  return cpus()[0]?.model ?? 'unknown CPU';
}

function isProfile(m: unknown): m is MachineProfile {
  const p = m as MachineProfile;
  const pos = (v: unknown) => typeof v === 'number' && v > 0 && Number.isFinite(v);
  return !!p && pos(p.bandwidth) && pos(p.cacheBandwidth) && typeof p.cacheBytes === 'number' && p.cacheBytes >= 0 && !!p.denseFlops && !!p.sparseFlops &&
    pos(p.denseFlops.vector) && pos(p.denseFlops.batch) && pos(p.sparseFlops.vector) && pos(p.sparseFlops.batch);
}

/** The cached profile if it is valid for this CPU, else undefined (a damaged cache is ignored). */
export function readMachineCache(path = machineCachePath()): MachineCache | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as MachineCache;
    if (c.version === CACHE_VERSION && c.cpu === cpuModel() && isProfile(c.machine)) return c;
  } catch {
    // damaged: measure again
  }
  return undefined;
}

/** The cached profile, or a fresh measurement (about a second) written to the cache. */
export function machineProfile(options: { remeasure?: boolean; path?: string } = {}): MachineResult {
  const path = options.path ?? machineCachePath();
  const cached = options.remeasure ? undefined : readMachineCache(path);
  if (cached) return { machine: cached.machine, source: 'cache', path, measuredAt: cached.measuredAt };
  const machine = measureMachine();
  const entry: MachineCache = { version: CACHE_VERSION, cpu: cpuModel(), measuredAt: new Date().toISOString(), machine };
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(entry, null, 2) + '\n'));
  return { machine, source: 'measured', path, measuredAt: entry.measuredAt };
}
