/** Which model format a path is, and the checks every command makes before writing a file. */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { SculptError } from '../core/errors.js';
import { checkTfjsOutput, tfjsPaths } from '../formats/tfjs-folder.js';

export type ModelFormat = 'onnx' | 'safetensors' | 'tfjs';

/** By extension; a folder or a .json file is a TF.js layers model (model.json and its shards). */
export function formatOf(path: string): ModelFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.json' || (existsSync(path) && statSync(path).isDirectory())) return 'tfjs';
  throw new SculptError(`${path}: unknown model format '${ext || '(no extension)'}'; sculpt reads .onnx and .safetensors files and TF.js model folders (model.json)`);
}

/** The input must be a readable regular file. */
export function checkInput(path: string): void {
  if (!existsSync(path)) throw new SculptError(`${path}: no such file`);
  const st = statSync(path);
  if (!st.isFile()) throw new SculptError(`${path}: not a regular file`);
}

/** A model input: a regular file, or a folder (a TF.js layers model). */
export function checkModelInput(path: string): void {
  if (!existsSync(path)) throw new SculptError(`${path}: no such file or folder`);
  const st = statSync(path);
  if (!st.isFile() && !st.isDirectory()) throw new SculptError(`${path}: not a regular file or folder`);
  if (st.isDirectory() && !existsSync(join(path, 'model.json'))) {
    throw new SculptError(`${path}: not a regular file and no model.json here; give an .onnx or .safetensors file, or a TF.js layers model folder (model.json and its shards)`);
  }
}

/** The output must have the input's format, must not be the input, and its folder must exist. */
export function checkOutput(input: string, output: string): void {
  if (formatOf(input) === 'tfjs') {
    if (/\.(onnx|safetensors)$/i.test(output)) {
      throw new SculptError(`${output}: output format must match the input's (a TF.js model folder); name a new folder with -o`);
    }
    checkTfjsOutput(tfjsPaths(input).dir, output);
    return;
  }
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
