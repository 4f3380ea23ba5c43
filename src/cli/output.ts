/** Printing helpers shared by the commands: aligned tables, numbers, progress on a terminal. */

export function formatTable(header: string[], rows: string[][], alignRight: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (alignRight[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One formatter for every count: `toLocaleString` builds a new one per call (~0.1 ms, a table of 100 tensors ~50 ms). */
const COUNT_FORMAT = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return COUNT_FORMAT.format(n);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function formatFraction(x: number, digits = 4): string {
  return x.toFixed(digits);
}

/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (so pipes and CI logs
 * stay clean) and only once the work has taken more than a second.
 */
export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;
  private drawn = false;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, note = ''): void {
    if (!this.stream.isTTY) return;
    const now = Date.now();
    if (now - this.start < 1000 || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.drawn = true;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const fill = Math.round(frac * width);
    const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
    this.stream.write(`\r${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${note}`.slice(0, 120).padEnd(80));
  }

  finish(): void {
    if (this.drawn) this.stream.write('\r' + ' '.repeat(100) + '\r');
  }
}

/**
 * Warnings for layers a training run left with no weights (density 0, layer collapse): imp and
 * gmp let the plan collapse a layer rather than stop hours into training, and say so at the end.
 * `layers` holds each round's per-layer densities; a layer empty from the first round on (all
 * zero in the model given) is not a collapse of this run.
 */
export function collapseWarnings(command: string, layers: ReadonlyArray<ReadonlyArray<{ readonly name: string; readonly density: number }>>): string[] {
  if (layers.length === 0) return [];
  const last = layers[layers.length - 1]!;
  const out: string[] = [];
  for (const l of last) {
    if (l.density !== 0) continue;
    const round = layers.findIndex((r) => r.find((x) => x.name === l.name)?.density === 0);
    if (round === 0 && layers.length > 1) continue;
    const when = layers.length > 1 ? ` from round ${round} on` : '';
    out.push(`${command} left layer '${l.name}' with no weights${when} (density 0, layer collapse: it ignores its input); prune less or keep it with --exclude '${l.name}'`);
  }
  return out;
}
