/**
 * Writing files without ever losing data: every output goes to a temporary file in the
 * destination folder and is renamed into place only when complete; an input is never an output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SculptError } from '../core/errors.js';

let counter = 0;

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** A file being written under a temporary name next to its destination. */
export class AtomicFile {
  readonly outPath: string;
  readonly tmpPath: string;
  readonly fd: number;
  private done = false;

  constructor(outPath: string) {
    this.outPath = outPath;
    const dir = path.dirname(path.resolve(outPath));
    if (!fs.existsSync(dir)) throw new SculptError(`${outPath}: folder ${dir} does not exist; create it or choose another output path`);
    this.tmpPath = path.join(dir, `.${path.basename(outPath)}.${process.pid}.${++counter}.tmp`);
    try {
      this.fd = fs.openSync(this.tmpPath, 'wx');
    } catch (e) {
      throw new SculptError(`${outPath}: cannot write in ${dir} (${errorCode(e)}); choose a writable output folder`);
    }
  }

  /** Writes all of `data` at `position` (or at the current position). */
  write(data: Uint8Array, position?: number): void {
    let off = 0;
    try {
      while (off < data.length) {
        off += fs.writeSync(this.fd, data, off, data.length - off, position === undefined ? null : position + off);
      }
    } catch (e) {
      throw new SculptError(`${this.outPath}: write failed (${errorCode(e)}); check free space and permissions`, 1);
    }
  }

  /** Closes and renames into place. */
  commit(): void {
    if (this.done) return;
    fs.closeSync(this.fd);
    this.done = true;
    try {
      fs.renameSync(this.tmpPath, this.outPath);
    } catch (e) {
      try {
        fs.unlinkSync(this.tmpPath);
      } catch {
        // already gone
      }
      throw new SculptError(`${this.outPath}: cannot replace it (${errorCode(e)}); choose another output path`);
    }
  }

  /** Closes and deletes the temporary file (safe to call after commit: does nothing then). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    try {
      fs.unlinkSync(this.tmpPath);
    } catch {
      // already gone
    }
  }
}

/** Runs `fill` on a fresh temporary file and renames it to `outPath`; on any error, removes it. */
export function writeAtomically<T>(outPath: string, fill: (file: AtomicFile) => T): T {
  const file = new AtomicFile(outPath);
  try {
    const result = fill(file);
    file.commit();
    return result;
  } catch (e) {
    file.abort();
    throw e;
  }
}

export function writeFileAtomic(outPath: string, data: Uint8Array): void {
  writeAtomically(outPath, (f) => f.write(data, 0));
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

/** `s` with control characters and other unprintables escaped, for one-line messages. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
