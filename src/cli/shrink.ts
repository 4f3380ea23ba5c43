/** `sculpt prune ... --pattern channel --shrink` and `sculpt inspect --groups`: flags checked, tables printed. */
import { channelGroupsOfFile, shrinkFile, type GroupInfo, type ShrinkFileResult } from '../api/shrink-file.js';
import { SculptError } from '../core/errors.js';
import type { PruneOptions } from '../core/options.js';
import { formatCount, formatTable } from './output.js';

/** What `prune` hands over: its parsed options and the flags --shrink does not take. */
export interface ShrinkFlags {
  readonly output: string;
  readonly opts: PruneOptions;
  /** Whether --scope was given (with --shrink the default is per group, not global). */
  readonly scopeGiven: boolean;
  readonly calibration?: string;
  readonly json?: boolean;
}

export function runShrink(input: string, f: ShrinkFlags): void {
  const { opts } = f;
  if (opts.pattern.kind !== 'channel') {
    throw new SculptError(`--shrink removes whole channels: use it with --pattern channel (or channel:l1, channel:l2), not --pattern ${opts.pattern.kind === 'nm' ? `${opts.pattern.n}:${opts.pattern.m}` : 'unstructured'}`);
  }
  const unsupported = [
    opts.criterion !== 'magnitude' && `--criterion ${opts.criterion}`,
    f.calibration !== undefined && '--calibration',
    opts.exclude.length > 0 && '--exclude',
    (opts.include ?? []).length > 0 && '--include',
    opts.overrides.size > 0 && '--override',
    opts.fractionOfRemaining && '--of-remaining',
  ].filter((x): x is string => typeof x === 'string');
  if (unsupported.length) throw new SculptError(`--shrink ranks channel groups by weight norms only; drop ${unsupported.join(', ')}`);
  const result = shrinkFile(input, f.output, { sparsity: opts.sparsity, norm: opts.pattern.norm, scope: f.scopeGiven && opts.scope === 'global' ? 'global' : 'layer' });
  process.stdout.write(f.json ? JSON.stringify(result) + '\n' : shrinkTable(result) + '\n');
}

function status(g: GroupInfo): string {
  if (g.pinned.length) return `pinned: ${g.pinned[0]}${g.pinned.length > 1 ? ` (+${g.pinned.length - 1} more)` : ''}`;
  return g.headSize !== undefined ? `shrinkable: ${g.size / g.headSize} heads of ${g.headSize}` : 'shrinkable';
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
    `channels: ${formatCount(r.channels.before)}, ${formatCount(r.channels.removed)} removed (${r.options.scope === 'global' ? 'global' : 'per group'}, L${r.options.norm}); ${pinned} of ${r.groups.length} groups pinned`,
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
