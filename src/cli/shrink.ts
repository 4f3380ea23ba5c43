/** `sculpt prune ... --pattern channel --shrink` and `sculpt inspect --groups`: flags checked, tables printed. */
import { channelGroupsOfFile, SHRINK_IMPORTANCE, shrinkFile, shrinkFileWithCalibration, type GroupInfo, type ShrinkFileResult, type ShrinkImportance } from '../api/shrink-file.js';
import type { CalibrationSource } from '../api/calibration-onnx.js';
import { SculptError } from '../core/errors.js';
import type { PruneOptions } from '../core/options.js';
import { formatCount, formatTable } from './output.js';

/** What `prune` hands over: its parsed options and the flags --shrink does not take. */
export interface ShrinkFlags {
  readonly output: string;
  readonly opts: PruneOptions;
  /** Whether --scope was given (with --shrink the default is per group, not global). */
  readonly scopeGiven: boolean;
  /** --criterion as given: magnitude, bn-scale, or wanda (with `calibration`). */
  readonly criterion: string;
  readonly calibration?: CalibrationSource;
  readonly json?: boolean;
}

export async function runShrink(input: string, f: ShrinkFlags): Promise<void> {
  const { opts } = f;
  if (opts.pattern.kind !== 'channel') {
    throw new SculptError(`--shrink removes whole channels: use it with --pattern channel (or channel:l1, channel:l2), not --pattern ${opts.pattern.kind === 'nm' ? `${opts.pattern.n}:${opts.pattern.m}` : 'unstructured'}`);
  }
  if (!(SHRINK_IMPORTANCE as readonly string[]).includes(f.criterion)) {
    throw new SculptError(`--shrink ranks channel groups by --criterion ${SHRINK_IMPORTANCE.join(', ')}; not ${f.criterion}`);
  }
  const importance = f.criterion as ShrinkImportance;
  const unsupported = [
    importance !== 'wanda' && f.calibration !== undefined && '--calibration',
    opts.exclude.length > 0 && '--exclude',
    (opts.include ?? []).length > 0 && '--include',
    opts.overrides.size > 0 && '--override',
    opts.fractionOfRemaining && '--of-remaining',
  ].filter((x): x is string => typeof x === 'string');
  if (unsupported.length) throw new SculptError(`--shrink --criterion ${importance} does not take ${unsupported.join(', ')}${unsupported.includes('--calibration') ? ' (only wanda calibrates)' : ''}`);
  if (importance === 'wanda' && f.calibration === undefined) throw new SculptError('--shrink --criterion wanda needs calibration data: pass --calibration KIND:PATH (images:DIR, npy:X.npy, fashion-mnist, ...) with --calibration-samples N');
  const shrink = { sparsity: opts.sparsity, norm: opts.pattern.norm, scope: f.scopeGiven && opts.scope === 'global' ? 'global' as const : 'layer' as const, importance };
  const result = f.calibration ? await shrinkFileWithCalibration(input, f.output, shrink, f.calibration, opts) : shrinkFile(input, f.output, shrink);
  if (!f.json) for (const n of result.notes) process.stderr.write(`sculpt: note: ${n}\n`);
  process.stdout.write(f.json ? JSON.stringify(result) + '\n' : shrinkTable(result) + '\n');
}

function status(g: GroupInfo): string {
  if (g.pinned.length) return `pinned: ${g.pinned[0]}${g.pinned.length > 1 ? ` (+${g.pinned.length - 1} more)` : ''}`;
  if (g.headSize === undefined) return 'shrinkable';
  return `shrinkable: ${g.size / (g.tied ?? 1) / g.headSize} heads of ${g.headSize}${g.tied ? ' (Q, K and V fused)' : ''}`;
}

function producers(g: GroupInfo): string {
  return g.producers.length > 1 ? `${g.producers[0]} +${g.producers.length - 1}` : g.producers[0] ?? '';
}

function shrinkTable(r: ShrinkFileResult): string {
  const rows = r.groups.map((g) => [String(g.id), producers(g), String(g.size), String(g.removed), String(g.size - g.removed), g.pinned.length ? status(g) : '']);
  const pinned = r.groups.filter((g) => g.pinned.length).length;
  return [
    formatTable(['group', 'producers', 'channels', 'removed', 'kept', 'pinned'], rows, [true, false, true, true, true, false]),
    '',
    `channels: ${formatCount(r.channels.before)}, ${formatCount(r.channels.removed)} removed (${r.options.scope === 'global' ? 'global' : 'per group'}, ${r.options.importance === 'magnitude' ? `L${r.options.norm}` : r.options.importance}); ${pinned} of ${r.groups.length} groups pinned`,
    `parameters: ${formatCount(r.parameters.before)} -> ${formatCount(r.parameters.after)}`,
    ...foldLine(r),
    `wrote ${r.output}`,
  ].join('\n');
}

/** What the removed channels' constants went into, when anything. */
function foldLine(r: ShrinkFileResult): string[] {
  const folded = r.tensors.filter((t) => t.folded);
  const created = folded.filter((t) => t.created && t.before.length === 0).length;
  return folded.length ? [`biases that took what removed channels carried: ${folded.length}${created ? ` (${created} created)` : ''}`] : [];
}

/** `sculpt inspect MODEL --groups`. */
export function printGroups(file: string, json: boolean): void {
  const groups = channelGroupsOfFile(file);
  if (json) {
    process.stdout.write(JSON.stringify({ file, groups }) + '\n');
    return;
  }
  const rows = groups.map((g) => [String(g.id), producers(g), String(g.size), String(g.tensors.length), status(g)]);
  const free = groups.filter((g) => g.pinned.length === 0);
  process.stdout.write([
    `${file}: ${groups.length} channel groups, ${free.length} shrinkable (${formatCount(free.reduce((s, g) => s + g.size, 0))} channels)`,
    formatTable(['group', 'producers', 'channels', 'tensors', 'status'], rows, [true, false, true, true, false]),
    '',
    'sculpt prune MODEL -o OUT --pattern channel --sparsity S --shrink removes round(S*G) channels of each shrinkable group (round(S*H) whole heads of an attention).',
  ].join('\n') + '\n');
}
