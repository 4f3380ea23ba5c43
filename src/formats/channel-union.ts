/**
 * The union-find under both channel graphs (ONNX and TF.js layers): groups of channels, each
 * either a root or the channels `offset..offset+size` of its parent, so that a whole group can
 * become a range of another (a residual Add onto a Split half). Paths are compressed on lookup.
 */
import type { ChannelSlice, Segment } from './onnx-depgraph.js';

export abstract class ChannelUnion {
  protected readonly parent: number[] = [];
  /** Channel c of group g is channel c + offset[g] of parent[g]. */
  protected readonly offset: number[] = [];
  protected readonly sizes: number[] = [];
  protected readonly pins = new Map<number, string[]>();
  protected readonly producers = new Map<number, string[]>();

  protected newGroup(size: number, producer: string): number {
    const id = this.parent.length;
    this.parent.push(id);
    this.offset.push(0);
    this.sizes.push(size);
    this.producers.set(id, [producer]);
    return id;
  }

  protected find(g: number): number {
    return this.locate(g).root;
  }

  /** The root of `g` and where channel 0 of `g` sits in it (paths compressed on the way). */
  protected locate(g: number): { root: number; at: number } {
    let root = g;
    let at = 0;
    while (this.parent[root] !== root) {
      at += this.offset[root];
      root = this.parent[root];
    }
    for (let x = g, acc = at; this.parent[x] !== x;) {
      const next = this.parent[x];
      const own = this.offset[x];
      this.parent[x] = root;
      this.offset[x] = acc;
      acc -= own;
      x = next;
    }
    return { root, at };
  }

  /** A segment in terms of its group's root. */
  protected resolveSeg(s: Segment): Segment {
    const { root, at } = this.locate(s.group);
    return { group: root, start: s.start + at, length: s.length };
  }

  /** Makes the segments one: a whole group becomes the channels of the other at its offset. */
  protected unite(p: Segment, q: Segment): boolean {
    const [P, Q] = [this.resolveSeg(p), this.resolveSeg(q)];
    if (P.length !== Q.length) return false;
    if (P.group === Q.group) return P.start === Q.start;
    const attach = (child: Segment, parent: Segment): void => {
      this.parent[child.group] = parent.group;
      this.offset[child.group] = parent.start;
    };
    if (Q.start === 0 && this.sizes[Q.group] === Q.length) attach(Q, P);
    else if (P.start === 0 && this.sizes[P.group] === P.length) attach(P, Q);
    else return false;
    return true;
  }

  protected pin(g: number, why: string): void {
    const list = this.pins.get(g) ?? [];
    if (!list.includes(why)) list.push(why);
    this.pins.set(g, list);
  }


  /** Per root group: its slices (in root terms), its pins (each once) and its producers. */
  protected collectRoots<S extends ChannelSlice>(slices: readonly S[]): Map<number, { slices: S[]; pins: string[]; producers: string[] }> {
    const roots = new Map<number, { slices: S[]; pins: string[]; producers: string[] }>();
    for (let g = 0; g < this.parent.length; g++) {
      const r = this.find(g);
      const entry = roots.get(r) ?? { slices: [], pins: [], producers: [] };
      roots.set(r, entry);
      for (const p of this.pins.get(g) ?? []) if (!entry.pins.includes(p)) entry.pins.push(p);
      entry.producers.push(...(this.producers.get(g) ?? []));
    }
    for (const s of slices) {
      const { root, at } = this.locate(s.group);
      roots.get(root)!.slices.push({ ...s, group: root, start: s.start + at });
    }
    return roots;
  }
}
