/**
 * The dataset flags (`--image-size`, `--mean`, `--tokenizer`, `--seq-len`, ...) shared by the
 * commands that read a `KIND:PATH` dataset (eval, prune's calibration), parsed into DataOptions.
 */
import type { Command } from 'commander';
import type { DataOptions } from '../formats/datasets/types.js';
import { SculptError } from '../core/errors.js';
import { parseInteger, parseNumber } from './args.js';

export interface DataFlags {
  imageSize?: string;
  channels?: string;
  mean?: string;
  std?: string;
  preprocess?: string;
  labelColumn?: string;
  tokenizer?: string;
  seqLen?: string;
  stride?: string;
}

/** Adds the dataset flags to `cmd`. */
export function addDataFlags(cmd: Command): Command {
  return cmd
    .option('--image-size <h,w>', 'images: resize to H,W (default: the model input\'s size, else the images\')')
    .option('--channels <c>', 'images: 1 (luma) or 3 (RGB) (default: the model input\'s, else 3 if any image has colour)')
    .option('--mean <m>', 'images: mean subtracted after scaling to [0, 1]: one value or one per channel (0.485,0.456,0.406)')
    .option('--std <s>', 'images: divisor after the mean: one value or one per channel')
    .option('--preprocess <file.json>', 'images: a JSON spec {"imageSize": [h, w], "channels": 3, "mean": [...], "std": [...]}; flags win')
    .option('--label-column <name>', 'csv: the label column, by name or 0-based index (default: label, else the last)')
    .option('--tokenizer <t>', 'text: a tokenizer.json, or bytes (UTF-8 bytes as ids) (default: tokenizer.json beside the model)')
    .option('--seq-len <n>', 'text: tokens per window', '128')
    .option('--stride <n>', 'text: tokens between window starts (default: --seq-len, non-overlapping)');
}

function numbers(flag: string, text: string): number[] {
  return text.split(',').map((s) => parseNumber(flag, s));
}

export function dataOptionsFromFlags(f: DataFlags): DataOptions {
  let imageSize: [number, number] | undefined;
  if (f.imageSize !== undefined) {
    const parts = f.imageSize.split(/[,x×]/).map((s) => parseInteger('--image-size', s, 1));
    if (parts.length !== 2) throw new SculptError(`--image-size: '${f.imageSize}' is not H,W (e.g. 224,224)`);
    imageSize = [parts[0], parts[1]];
  }
  let channels: 1 | 3 | undefined;
  if (f.channels !== undefined) {
    if (f.channels !== '1' && f.channels !== '3') throw new SculptError(`--channels: '${f.channels}' must be 1 or 3`);
    channels = Number(f.channels) as 1 | 3;
  }
  return {
    imageSize, channels,
    mean: f.mean === undefined ? undefined : numbers('--mean', f.mean),
    std: f.std === undefined ? undefined : numbers('--std', f.std),
    preprocess: f.preprocess,
    labelColumn: f.labelColumn,
    tokenizer: f.tokenizer,
    seqLen: f.seqLen === undefined ? undefined : parseInteger('--seq-len', f.seqLen, 2),
    stride: f.stride === undefined ? undefined : parseInteger('--stride', f.stride, 1),
  };
}
