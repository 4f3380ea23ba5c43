/**
 * TF.js layers model folders (`model.json` + `weights.bin`) read and written with sculpt's own
 * IO handler: tfjs's `file://` scheme needs tfjs-node, which sculpt does not require.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SculptError } from '../core/errors.js';
import { AtomicFolder, describeWriteError, printable, resolveInside } from '../formats/fsutil.js';

export const WEIGHTS_FILE = 'weights.bin';

const MODEL_FILES = new Set(['model.json', WEIGHTS_FILE]);

/** Creates `dir` and its parents, or says why not (read-only, no permission) in one line. */
export function makeFolder(dir: string, what = 'output folder'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new SculptError(`${dir}: cannot create the ${what} (${describeWriteError(realMkdirError(dir, e))}); choose a writable --out`);
  }
}

/** A recursive mkdir on a read-only file system says ENOENT: the first folder that fails on its own says why. */
function realMkdirError(dir: string, e: unknown): unknown {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return e;
  let child = resolve(dir);
  while (!existsSync(dirname(child)) && dirname(child) !== child) child = dirname(child);
  try {
    mkdirSync(child);
    return e;
  } catch (inner) {
    return inner;
  }
}

/**
 * Writes `files` as the folder `dir`, replacing an existing one as a unit (never new weights with
 * an old model.json). A folder holding anything but model.json and weights.bin is not replaced.
 */
function writeModelFolder(dir: string, files: Record<string, Uint8Array | string>): void {
  const abs = resolve(dir);
  makeFolder(dirname(abs));
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) throw new SculptError(`${dir}: exists and is not a folder; choose another output folder`);
    const other = readdirSync(abs).filter((n) => !MODEL_FILES.has(n));
    if (other.length) {
      throw new SculptError(`${dir}: holds ${printable(other[0])}${other.length > 1 ? ` and ${other.length - 1} more` : ''} besides a model; sculpt replaces a model folder as a whole, choose an empty or new folder`);
    }
  }
  const folder = new AtomicFolder(abs);
  try {
    for (const [name, data] of Object.entries(files)) folder.writeFile(name, data);
    folder.commit(true);
  } catch (e) {
    folder.abort();
    if (e instanceof SculptError) throw e;
    throw new SculptError(`${dir}: write failed (${describeWriteError(e)}); check free space and permissions`, 1);
  }
}

function weightBytes(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (Array.isArray(data)) return new Uint8Array(tf.io.concatenateArrayBuffers(data));
  return new Uint8Array(data);
}

/** An IOHandler writing `dir/model.json` and `dir/weights.bin` as one folder (see writeModelFolder). */
export function folderSaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const bytes = weightBytes(artifacts.weightData as ArrayBuffer | ArrayBuffer[] | undefined);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: 'sculpt',
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.userDefinedMetadata !== undefined ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      writeModelFolder(dir, { [WEIGHTS_FILE]: bytes, 'model.json': JSON.stringify(json) });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** An IOHandler reading a layers model folder (model.json and the weight files it names). */
export function folderLoadHandler(dirOrJson: string): tf.io.IOHandler {
  const jsonPath = dirOrJson.endsWith('.json') ? resolve(dirOrJson) : resolve(dirOrJson, 'model.json');
  const dir = resolve(jsonPath, '..');
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      if (!existsSync(jsonPath)) throw new SculptError(`${jsonPath}: not found; --model takes a zoo name (lenet-300-100, conv-2, conv-4, conv-6) or a TF.js layers model folder`);
      let json: any;
      try {
        json = JSON.parse(readFileSync(jsonPath, 'utf8'));
      } catch (e) {
        throw new SculptError(`${jsonPath}: not valid JSON (${(e as Error).message})`);
      }
      if (json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
        throw new SculptError(`${jsonPath}: not a TF.js layers model (needs modelTopology and weightsManifest)`);
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest as tf.io.WeightsManifestConfig) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          if (!existsSync(join(dir, p))) throw new SculptError(`${jsonPath}: weight file ${printable(p)} is missing next to model.json`);
          buffers.push(readFileSync(resolveInside(dir, p, `${jsonPath}: weight file`)));
        }
      }
      const total = buffers.reduce((n, b) => n + b.length, 0);
      const weightData = new Uint8Array(total);
      let off = 0;
      for (const b of buffers) {
        weightData.set(b, off);
        off += b.length;
      }
      return { modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, weightSpecs: specs, weightData: weightData.buffer };
    },
  };
}

export async function saveModelFolder(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(folderSaveHandler(dir));
}

export async function loadModelFolder(dir: string): Promise<tfl.LayersModel> {
  try {
    return await tfl.loadLayersModel(folderLoadHandler(dir));
  } catch (e) {
    if (e instanceof SculptError) throw e;
    throw new SculptError(`${dir}: cannot load the TF.js layers model (${(e as Error).message})`);
  }
}
