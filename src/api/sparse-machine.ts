/**
 * The machine profile the roofline needs (bandwidth, dense and sparse kernel rates), measured once
 * and cached in `$XDG_CACHE_HOME/sculpt/machine.json` (default `~/.cache/sculpt/machine.json`).
 * A cache written on another CPU model or by another profile version is measured again.
 *
 * A fixed profile — `sculpt bench --machine-profile FILE`, or `SCULPT_MACHINE_PROFILE=FILE` for
 * every command — replaces the measurement: kernel choices and predictions then depend on the file
 * alone, not on how busy the machine is (tests use one; so can anyone comparing runs across machines).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SculptError } from '../core/errors.js';
import { writeFileAtomic } from '../formats/fsutil.js';
import { measureMachine, type MachineProfile } from '../sparse/roofline.js';

/** 2: the kernels' rates at WIDE_COLUMNS too (roofline.ts). */
const CACHE_VERSION = 2;

/** Environment variable naming a fixed machine profile file that every command uses instead of measuring. */
export const MACHINE_PROFILE_ENV = 'SCULPT_MACHINE_PROFILE';

export interface MachineCache {
  readonly version: number;
  readonly cpu: string;
  readonly measuredAt: string;
  readonly machine: MachineProfile;
}

export interface MachineResult {
  readonly machine: MachineProfile;
  /** 'cache': read from `path`; 'measured': measured now (and written to `path`); 'file': a fixed profile read from `path`. */
  readonly source: 'cache' | 'measured' | 'file';
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
    pos(p.denseFlops.vector) && pos(p.denseFlops.batch) && pos(p.sparseFlops.vector) && pos(p.sparseFlops.batch) &&
    (p.denseFlops.wide === undefined || pos(p.denseFlops.wide)) && (p.sparseFlops.wide === undefined || pos(p.sparseFlops.wide));
}

/** `$SCULPT_MACHINE_PROFILE` when set (non-empty), else undefined. */
export function fixedProfilePath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = env[MACHINE_PROFILE_ENV];
  return p === undefined || p === '' ? undefined : p;
}

/**
 * A fixed machine profile from `path`: a bare profile (`{ bandwidth, cacheBandwidth, cacheBytes,
 * denseFlops, sparseFlops }`), the cache file, or what `sculpt bench --machine --json` prints (both
 * hold it under `machine`). Anything else is a SculptError naming the file.
 */
export function readMachineProfileFile(path: string): MachineCache {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SculptError(`machine profile ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a JSON file' : 'cannot be read'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SculptError(`machine profile ${path}: not JSON; write one with sculpt bench --machine --json > ${path}`);
  }
  const o = json as { machine?: unknown; measuredAt?: unknown };
  const machine = isProfile(json) ? json : o && typeof o === 'object' ? o.machine : undefined;
  if (!isProfile(machine)) {
    throw new SculptError(`machine profile ${path}: needs positive numbers bandwidth, cacheBandwidth, denseFlops.vector/.batch, sparseFlops.vector/.batch (and, if given, .wide) and cacheBytes >= 0 (as sculpt bench --machine --json prints)`);
  }
  const measuredAt = typeof o.measuredAt === 'string' ? o.measuredAt : 'fixed';
  return { version: CACHE_VERSION, cpu: cpuModel(), measuredAt, machine };
}

/**
 * The profile sculpt uses without measuring: the fixed one of `$SCULPT_MACHINE_PROFILE` when
 * `path` is not given and the variable is set, else the cache if it is valid for this CPU, else
 * undefined (a damaged cache is ignored).
 */
export function readMachineCache(path?: string): MachineCache | undefined {
  if (path === undefined) {
    const fixed = fixedProfilePath();
    if (fixed !== undefined) return readMachineProfileFile(fixed);
    path = machineCachePath();
  }
  if (!existsSync(path)) return undefined;
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as MachineCache;
    if (c.version === CACHE_VERSION && c.cpu === cpuModel() && isProfile(c.machine)) return c;
  } catch {
    // damaged: measure again
  }
  return undefined;
}

/**
 * A fixed profile (`profileFile`, else `$SCULPT_MACHINE_PROFILE` unless `remeasure`), else the
 * cached profile, else a fresh measurement (about a second) written to the cache.
 */
export function machineProfile(options: { remeasure?: boolean; path?: string; profileFile?: string } = {}): MachineResult {
  if (options.profileFile !== undefined && options.remeasure) throw new SculptError('--remeasure measures the machine; a fixed --machine-profile is not measured: give one or the other');
  const fixed = options.profileFile ?? (options.remeasure ? undefined : fixedProfilePath());
  if (fixed !== undefined) {
    const c = readMachineProfileFile(fixed);
    return { machine: c.machine, source: 'file', path: fixed, measuredAt: c.measuredAt };
  }
  const path = options.path ?? machineCachePath();
  const cached = options.remeasure ? undefined : readMachineCache(path);
  if (cached) return { machine: cached.machine, source: 'cache', path, measuredAt: cached.measuredAt };
  const machine = measureMachine();
  const entry: MachineCache = { version: CACHE_VERSION, cpu: cpuModel(), measuredAt: new Date().toISOString(), machine };
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(entry, null, 2) + '\n'));
  return { machine, source: 'measured', path, measuredAt: entry.measuredAt };
}
