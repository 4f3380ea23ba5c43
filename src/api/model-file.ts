/** Which model format a path is, and the checks every command makes before writing a file. */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { SculptError } from '../core/errors.js';

export type ModelFormat = 'onnx' | 'safetensors';

export function formatOf(path: string): ModelFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.safetensors') return 'safetensors';
  throw new SculptError(`${path}: unknown model format '${ext || '(no extension)'}'; sculpt reads .onnx and .safetensors files`);
}

/** The input must be a readable regular file. */
export function checkInput(path: string): void {
  if (!existsSync(path)) throw new SculptError(`${path}: no such file`);
  const st = statSync(path);
  if (!st.isFile()) throw new SculptError(`${path}: not a regular file`);
}

/** The output must have the input's format, must not be the input, and its folder must exist. */
export function checkOutput(input: string, output: string): void {
  if (formatOf(output) !== formatOf(input)) {
    throw new SculptError(`${output}: output format must match the input's (${extname(input)}); convert formats separately`);
  }
  const inReal = realpathSync(input);
  const outAbs = resolve(output);
  const outReal = existsSync(outAbs) ? realpathSync(outAbs) : outAbs;
  if (inReal === outReal) {
    throw new SculptError(`${output}: the output is the input file; sculpt never overwrites its input, choose another -o path`);
  }
  const dir = dirname(outAbs);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SculptError(`${output}: folder ${dir} does not exist`);
  }
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
