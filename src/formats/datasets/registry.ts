/**
 * One dataset interface, as the model formats have one: each reader registers its kind, and a
 * dataset is named `KIND:PATH` (`images:pets/`, `npy:x.npy,y.npy`, `text:wiki.txt`) or by a bare
 * name (`fashion-mnist`). Commands go through `openDataset` and never switch on the kind.
 */
import { existsSync, statSync } from 'node:fs';
import { SculptError } from '../../core/errors.js';
import { csvReader } from './csv.js';
import { imagesReader } from './images.js';
import { fashionMnistReader, idxReader } from './idx.js';
import { npyReader, npzReader } from './npy.js';
import { textReader } from './text.js';
import type { DataOptions, DatasetReader, ExampleSet } from './types.js';

const READERS: DatasetReader[] = [imagesReader, npyReader, npzReader, csvReader, idxReader, textReader, fashionMnistReader];

/** Registers another reader (checked before the built-in ones). */
export function registerDataset(reader: DatasetReader): void {
  READERS.unshift(reader);
}

export function datasetReaders(): readonly DatasetReader[] {
  return READERS;
}

/** The kinds, for messages: `images:DIR, npy:X.npy[,Y.npy], ...`. */
export function datasetUsage(): string {
  return READERS.map((r) => r.usage).join(', ');
}

/**
 * Splits `KIND:PATH`. A bare name is a reader without a path (`fashion-mnist`); a bare existing
 * folder is `idx:DIR` (how --calibration named IDX folders before the registry).
 */
export function parseDataSpec(spec: string): { reader: DatasetReader; path: string } {
  const colon = spec.indexOf(':');
  const kind = colon > 0 ? spec.slice(0, colon) : spec;
  const reader = READERS.find((r) => r.kind === kind);
  if (reader && (colon > 0 || !reader.usage.includes(':'))) {
    const path = colon > 0 ? spec.slice(colon + 1) : '';
    if (reader.usage.includes(':') && path === '') throw new SculptError(`${spec}: no path after '${kind}:'; write ${reader.usage}`);
    return { reader, path };
  }
  if (existsSync(spec) && statSync(spec).isDirectory()) return { reader: idxReader, path: spec };
  if (colon > 0) throw new SculptError(`${spec}: unknown dataset kind '${kind}'; sculpt reads ${datasetUsage()}`);
  throw new SculptError(`${spec}: no such dataset or folder; name it KIND:PATH, one of ${datasetUsage()}`);
}

/** Opens a dataset through the registry. An empty set is an error naming it. */
export function openDataset(spec: string, opts: DataOptions = {}): ExampleSet {
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new SculptError(`${spec}: the example limit must be a positive integer, got ${opts.limit}`);
  const { reader, path } = parseDataSpec(spec);
  const set = reader.open(path, opts, spec);
  if (set.count === 0) throw new SculptError(`${spec}: the dataset is empty`);
  return set;
}
