/** Which model format a path is, and the checks every command makes before writing a file. */
import { existsSync, statSync } from 'node:fs';
import { SculptError } from '../core/errors.js';
import { detectFormat, type ModelFormat } from '../formats/registry.js';

export type { ModelFormat } from '../formats/registry.js';

/** The format of an existing model path (through the format registry). */
export function formatOf(path: string): ModelFormat {
  return detectFormat(path).id;
}

/** The input must be a readable regular file. */
export function checkInput(path: string): void {
  if (!existsSync(path)) throw new SculptError(`${path}: no such file`);
  const st = statSync(path);
  if (!st.isFile()) throw new SculptError(`${path}: not a regular file`);
}

/** A model input: a file or folder some registered format reads. */
export function checkModelInput(path: string): void {
  detectFormat(path);
}

/** Runs `run`, prefixing SculptErrors that do not name `file` (core errors name a tensor) with it. */
export function withFileContext<T>(file: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof SculptError && !e.message.startsWith(file)) throw new SculptError(`${file}: ${e.message}`, e.exitCode);
    throw e;
  }
}

/** Async `withFileContext`. */
export async function withFileContextAsync<T>(file: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof SculptError && !e.message.startsWith(file)) throw new SculptError(`${file}: ${e.message}`, e.exitCode);
    throw e;
  }
}
