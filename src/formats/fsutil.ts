/**
 * Writing files without ever losing data: every output goes to a temporary file (or folder) in the
 * destination folder, is flushed to disk, and is renamed into place only when complete; an input
 * is never an output. Temporaries are named `.NAME.PID.N.tmp`; this process's live ones are kept
 * in a registry, removed on exit and — after a kill, which no handler can catch — by a watchdog
 * process; stale ones of dead processes are swept from a folder before sculpt writes there.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';
import { printable } from './printable.js';

export { printable };

let counter = 0;

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** A system error code in words, for messages (`EROFS, read-only file system`). */
export function describeWriteError(e: unknown): string {
  const code = errorCode(e);
  const words: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded', ENOENT: 'no such file or folder', ENOTDIR: 'a path component is not a folder', EISDIR: 'is a folder',
  };
  return words[code] ? `${code}, ${words[code]}` : code;
}

// ---------------------------------------------------------------------------------------------
// The registry of live temporaries.

/** Temporaries this process is writing (absolute paths of files or folders). */
const live = new Set<string>();
let exitHookInstalled = false;

/**
 * A signal handler cannot clean up here: Node runs it only when the event loop turns, and a prune
 * writes synchronously, so Ctrl-C would wait until the write had finished. Signals keep their
 * default action (the process dies at once, exit status 128 + signal), and a small detached
 * watchdog process removes the temporary when its writer is gone. Set SCULPT_WATCHDOG=0 to
 * leave that to the next run's sweep.
 */
const WATCHDOG = `
const fs = require('fs');
const pid = Number(process.argv[1]);
const target = process.argv[2];
function gone() {
  try { process.kill(pid, 0); } catch (e) { return e.code === 'ESRCH'; }
  try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8'); return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) === 'Z'; } catch { return false; }
}
setInterval(() => {
  try { fs.lstatSync(target); } catch { process.exit(0); }
  if (gone()) { try { fs.rmSync(target, { recursive: true, force: true }); } catch {} process.exit(0); }
}, 100);
`;

function startWatchdog(target: string): void {
  if (process.env.SCULPT_WATCHDOG === '0') return;
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), target], { detached: true, stdio: 'ignore', env });
    child.on('error', () => {
      // No watchdog (no processes left?): the next run's sweep removes what a kill leaves.
    });
    child.unref();
  } catch {
    // as above
  }
}

/**
 * Registers a temporary this process is writing: removed if the process exits before it is
 * released (and, with `watch`, by a watchdog if the process is killed; AtomicFile and
 * AtomicFolder start one once the temporary holds enough bytes to matter).
 */
export function registerTemporary(p: string, watch = true): void {
  const abs = path.resolve(p);
  live.add(abs);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', removeLiveTemporaries);
  }
  if (watch) startWatchdog(abs);
}

/** The temporary was renamed into place or removed: nothing to clean up any more. */
export function releaseTemporary(p: string): void {
  live.delete(path.resolve(p));
}

/** Temporaries this process has registered and not released. */
export function liveTemporaries(): string[] {
  return [...live];
}

/** Removes every live temporary (on exit; also callable before a deliberate `process.exit`). */
export function removeLiveTemporaries(): void {
  for (const p of live) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: the sweep gets another chance
    }
  }
  live.clear();
}

/** A fresh temporary name for `outPath`: `.BASENAME.PID.N.tmp` in the same folder. */
export function temporaryPath(outPath: string, suffix = 'tmp'): string {
  const abs = path.resolve(outPath);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${++counter}.${suffix}`);
}

const TEMPORARY = /^\.(.+)\.(\d+)\.\d+\.(tmp|old)$/;

/** Whether process `pid` is gone (a zombie counts as gone). */
export function processGone(pid: number): boolean {
  if (!(pid > 0) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return errorCode(e) === 'ESRCH';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}

const swept = new Set<string>();

/**
 * Removes sculpt's stale temporaries from `dir`: entries named `.NAME.PID.N.tmp` whose process is
 * gone and that belong to this user. A `.NAME.PID.N.old` is a folder being replaced when its
 * writer died (see AtomicFolder): it is put back if NAME is missing, else removed. Returns the
 * names removed or restored. Each folder is swept once per process unless `again`.
 */
export function sweepStaleTemporaries(dir: string, again = false): string[] {
  const abs = path.resolve(dir);
  if (swept.has(abs) && !again) return [];
  swept.add(abs);
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return [];
  }
  const done: string[] = [];
  const uid = process.getuid?.();
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (!m || !processGone(Number(m[2]))) continue;
    const p = path.join(abs, name);
    try {
      if (uid !== undefined && fs.lstatSync(p).uid !== uid) continue;
      const original = path.join(abs, m[1]);
      if (m[3] === 'old' && !fs.existsSync(original)) fs.renameSync(p, original);
      else fs.rmSync(p, { recursive: true, force: true });
      done.push(name);
    } catch {
      // another process got there first, or no permission: leave it
    }
  }
  if (done.length) fsyncDir(abs);
  return done;
}

/** Flushes a folder's entries (new names, renames) to disk; a no-op where folders cannot be synced. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some platforms and file systems cannot fsync a folder
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Permission bits of an existing `file` (undefined when there is none). */
function existingMode(file: string | undefined): number | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.statSync(file).mode & 0o7777;
  } catch {
    return undefined;
  }
}

export interface AtomicFileOptions {
  /** Take the permission bits from this file if it exists (default: the output itself, when replaced). */
  readonly modeFrom?: string;
  /**
   * Once this many bytes are written, a watchdog process guards the temporary (removes it if this
   * process is killed). Default 4 MiB: small files are written in a moment, and a kill's leftovers
   * of them wait for the sweep. 0: from the start; Infinity: never.
   */
  readonly watchAfter?: number;
}

/** Bytes after which a temporary is worth a watchdog process (see AtomicFileOptions.watchAfter). */
export const WATCH_AFTER_BYTES = 4 << 20;

/** A file being written under a temporary name next to its destination. */
export class AtomicFile {
  readonly outPath: string;
  readonly tmpPath: string;
  readonly fd: number;
  private done = false;
  private unwatched: number;

  constructor(outPath: string, options: AtomicFileOptions = {}) {
    this.outPath = outPath;
    const dir = path.dirname(path.resolve(outPath));
    try {
      fs.statSync(dir);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') throw new SculptError(`${outPath}: folder ${dir} does not exist; create it or choose another output path`);
      throw new SculptError(`${outPath}: cannot write in ${dir} (${describeWriteError(e)}); choose a writable output folder`);
    }
    sweepStaleTemporaries(dir);
    this.tmpPath = temporaryPath(outPath);
    // A replaced output keeps its permissions, from the first byte (a 0600 file's copy is never 0644).
    const mode = existingMode(options.modeFrom ?? outPath);
    try {
      this.fd = fs.openSync(this.tmpPath, 'wx', mode ?? 0o666);
    } catch (e) {
      throw new SculptError(`${outPath}: cannot write in ${dir} (${describeWriteError(e)}); choose a writable output folder`);
    }
    this.unwatched = options.watchAfter ?? WATCH_AFTER_BYTES;
    registerTemporary(this.tmpPath, this.unwatched <= 0);
    if (mode !== undefined) {
      try {
        fs.fchmodSync(this.fd, mode); // the umask may have taken bits away
      } catch {
        // not the owner of the file's mode: keep what open gave
      }
    }
  }

  /** Writes all of `data` at `position` (or at the current position). */
  write(data: Uint8Array, position?: number): void {
    if (this.unwatched > 0 && (this.unwatched -= data.length) <= 0) startWatchdog(path.resolve(this.tmpPath));
    let off = 0;
    try {
      while (off < data.length) {
        off += fs.writeSync(this.fd, data, off, data.length - off, position === undefined ? null : position + off);
      }
    } catch (e) {
      throw new SculptError(`${this.outPath}: write failed (${describeWriteError(e)}); check free space and permissions`, 1);
    }
  }

  /** Flushes the bytes to disk and closes the file (commit does this first). */
  flush(): void {
    if (this.done) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      throw new SculptError(`${this.outPath}: write failed (${describeWriteError(e)}); check free space and permissions`, 1);
    } finally {
      fs.closeSync(this.fd);
      this.done = true;
    }
  }

  /** Flushes, closes and renames into place — to `outPath`, or `to` in the same folder (then flushes the folder entry). */
  commit(to = this.outPath): void {
    if (!this.done) this.flush();
    if (!live.has(path.resolve(this.tmpPath))) return; // committed or aborted already
    try {
      fs.renameSync(this.tmpPath, to);
    } catch (e) {
      this.remove();
      throw new SculptError(`${to}: cannot replace it (${describeWriteError(e)}); choose another output path`);
    }
    releaseTemporary(this.tmpPath);
    fsyncDir(path.dirname(path.resolve(to)));
  }

  /** Closes and deletes the temporary file (safe to call after commit: does nothing then). */
  abort(): void {
    if (!this.done) {
      this.done = true;
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    if (live.has(path.resolve(this.tmpPath))) this.remove();
  }

  private remove(): void {
    try {
      fs.unlinkSync(this.tmpPath);
    } catch {
      // already gone
    }
    releaseTemporary(this.tmpPath);
  }
}

/** Runs `fill` on a fresh temporary file and renames it to `outPath`; on any error, removes it. */
export function writeAtomically<T>(outPath: string, fill: (file: AtomicFile) => T, options?: AtomicFileOptions): T {
  const file = new AtomicFile(outPath, options);
  try {
    const result = fill(file);
    file.commit();
    return result;
  } catch (e) {
    file.abort();
    throw e;
  }
}

/** Writes `data` (bytes or text) to `outPath` atomically (a watchdog guards large files). */
export function writeFileAtomic(outPath: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  writeAtomically(outPath, (f) => f.write(bytes, 0));
}

/**
 * A folder written under a temporary name next to its destination and renamed into place as a
 * unit (a TF.js model: model.json and its shards), so a reader sees the old folder or the new one,
 * never a mix.
 */
export class AtomicFolder {
  readonly outPath: string;
  readonly tmpPath: string;
  private readonly dirs: string[] = [];
  private done = false;
  private unwatched = WATCH_AFTER_BYTES;

  constructor(outPath: string) {
    this.outPath = path.resolve(outPath);
    const parent = path.dirname(this.outPath);
    sweepStaleTemporaries(parent);
    this.tmpPath = temporaryPath(outPath);
    try {
      fs.mkdirSync(this.tmpPath);
    } catch (e) {
      throw new SculptError(`${outPath}: cannot write in ${parent} (${describeWriteError(e)}); choose a writable output folder`);
    }
    registerTemporary(this.tmpPath, false);
    this.dirs.push(this.tmpPath);
    const mode = existingMode(this.outPath);
    if (mode !== undefined) {
      try {
        fs.chmodSync(this.tmpPath, mode);
      } catch {
        // keep the default
      }
    }
  }

  /** Writes `data` to `rel` (a relative path, already checked) inside the folder, flushed to disk. */
  writeFile(rel: string, data: Uint8Array | string): void {
    const file = path.join(this.tmpPath, path.normalize(rel));
    const dir = path.dirname(file);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      for (let d = dir; d.length > this.tmpPath.length && !this.dirs.includes(d); d = path.dirname(d)) this.dirs.push(d);
    }
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (this.unwatched > 0 && (this.unwatched -= bytes.length) <= 0) startWatchdog(this.tmpPath);
    const mode = existingMode(path.join(this.outPath, path.normalize(rel)));
    const fd = fs.openSync(file, 'wx', mode ?? 0o666);
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off, off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Renames the folder into place. An existing empty folder is replaced; a non-empty one only
   * with `replace`: it is moved aside to `.NAME.PID.N.old` first (which a sweep puts back should
   * the process die between the two renames) and removed after.
   */
  commit(replace = false): void {
    for (const d of this.dirs) fsyncDir(d);
    const parent = path.dirname(this.outPath);
    try {
      try {
        fs.renameSync(this.tmpPath, this.outPath);
      } catch (e) {
        const code = errorCode(e);
        if (code === 'EPERM' && isEmptyFolder(this.outPath)) {
          fs.rmdirSync(this.outPath); // systems where rename cannot replace a folder
          fs.renameSync(this.tmpPath, this.outPath);
        } else if ((code === 'ENOTEMPTY' || code === 'EEXIST') && replace) {
          const aside = temporaryPath(this.outPath, 'old');
          fs.renameSync(this.outPath, aside);
          try {
            fs.renameSync(this.tmpPath, this.outPath);
          } catch (inner) {
            fs.renameSync(aside, this.outPath); // put the old folder back before giving up
            throw inner;
          }
          fsyncDir(parent);
          fs.rmSync(aside, { recursive: true, force: true });
        } else if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new SculptError(`${this.outPath}: folder exists and is not empty; choose a new output folder or empty it`);
        } else throw e;
      }
    } catch (e) {
      this.abort();
      if (e instanceof SculptError) throw e;
      throw new SculptError(`${this.outPath}: cannot put the new folder in place (${describeWriteError(e)}); check permissions`, 1);
    }
    this.done = true;
    releaseTemporary(this.tmpPath);
    fsyncDir(parent);
  }

  /** Removes the temporary folder (does nothing after commit). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    fs.rmSync(this.tmpPath, { recursive: true, force: true });
    releaseTemporary(this.tmpPath);
  }
}

function isEmptyFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory() && fs.readdirSync(p).length === 0;
  } catch {
    return false;
  }
}

/** True when both paths name the same file (same path, or same inode through a link). */
export function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

/** Refuses an output path that would overwrite one of the inputs. */
export function assertNotInput(outPath: string, inputs: readonly string[]): void {
  for (const input of inputs) {
    if (sameFile(outPath, input)) {
      throw new SculptError(`${outPath}: output would overwrite the input ${input}; choose a different output path`);
    }
  }
}

/** Collects small writes into one large buffer; large chunks go straight to the file. */
export class BufferedWriter {
  private readonly file: AtomicFile;
  private readonly buf: Uint8Array;
  private used = 0;
  private position: number;

  constructor(file: AtomicFile, bufferBytes = 8 << 20, position = 0) {
    this.file = file;
    this.buf = new Uint8Array(bufferBytes);
    this.position = position;
  }

  write(data: Uint8Array): void {
    if (this.used + data.length <= this.buf.length) {
      this.buf.set(data, this.used);
      this.used += data.length;
      return;
    }
    this.flush();
    if (data.length >= this.buf.length >> 1) {
      this.file.write(data, this.position);
      this.position += data.length;
    } else {
      this.buf.set(data, 0);
      this.used = data.length;
    }
  }

  flush(): void {
    if (this.used === 0) return;
    this.file.write(this.buf.subarray(0, this.used), this.position);
    this.position += this.used;
    this.used = 0;
  }
}

/** Reads exactly `length` bytes at `position` into `into` (from its start). */
export function readExactly(fd: number, into: Uint8Array, length: number, position: number, file: string): void {
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, into, off, length - off, position + off);
    if (n === 0) throw new SculptError(`${file}: file ended at byte ${position + off}, expected ${length} bytes at ${position}; the file is truncated`);
    off += n;
  }
}

/**
 * The one path policy for files a model names (ONNX external data, TF.js shards): `name` must be a
 * relative path that resolves — symlinks followed — to a regular file inside `dir` (also resolved).
 * Anything else (an absolute path, `..` out of the folder, a link to a file elsewhere, a device, a
 * FIFO, a folder) is refused with one line naming `what` and the path. Returns the resolved path.
 */
export function resolveInside(dir: string, name: string, what: string): string {
  const shown = printable(name);
  if (name === '' || path.isAbsolute(name) || /^[a-zA-Z]:[\\/]/.test(name) || name.includes('\0')) {
    throw new SculptError(`${what}: file '${shown}' must be a relative path inside the model's folder`);
  }
  const base = fs.realpathSync(path.resolve(dir));
  const target = path.resolve(base, name);
  if (!fs.existsSync(target)) throw new SculptError(`${what}: file '${shown}' not found in ${base}; keep the model's files together in its folder`);
  const real = fs.realpathSync(target);
  const rel = path.relative(base, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new SculptError(`${what}: file '${shown}' resolves to ${printable(real)}, outside the model's folder ${base}; sculpt reads only files inside it`);
  }
  const st = fs.statSync(real);
  if (!st.isFile()) throw new SculptError(`${what}: '${shown}' is not a regular file; a model's data must be a plain file inside its folder`);
  return real;
}

