// Resemblance sketches for delta against similar chunks, after Finesse (Zhang et al., FAST
// 2019): a chunk is split into 12 equal sub-blocks, each sub-block's feature is the largest
// gear rolling hash (a 32-byte window) in it, and the features are grouped into 3
// super-features of 4 (one from each quarter of the chunk). Two chunks that share any
// super-feature are very likely near-duplicates: an edit of a few bytes changes the features
// of one or two sub-blocks only, so at least one super-feature survives. Sender side only:
// the receiver is told the base's fingerprint and checks the result by its own.
import { gearTable } from './chunker.ts';

const G = gearTable();
const FEATURES = 12;
export const SUPER_FEATURES = 3;

/** Super-features of a chunk (SUPER_FEATURES values), or null for chunks too small to sketch. */
export function sketch(c: Uint8Array): Uint32Array | null {
  const n = c.length;
  if (n < 1024) return null;
  const f = new Uint32Array(FEATURES);
  let h = 0;
  let i = 0;
  for (let k = 0; k < FEATURES; k++) {
    const end = Math.floor(((k + 1) * n) / FEATURES);
    let m = 0;
    for (; i < end; i++) {
      h = ((h << 1) + G[c[i]]) | 0;
      const v = h >>> 0;
      if (v > m) m = v;
    }
    f[k] = m;
  }
  const sf = new Uint32Array(SUPER_FEATURES);
  for (let s = 0; s < SUPER_FEATURES; s++) {
    let x = 0x811c9dc5 ^ s;
    for (let k = s; k < FEATURES; k += SUPER_FEATURES) x = Math.imul(x ^ f[k], 0x01000193) ^ (f[k] >>> 15);
    sf[s] = x >>> 0;
  }
  return sf;
}

/**
 * Super-feature → fingerprint of the newest chunk that had it, one map per super-feature,
 * at most `max` entries each (the oldest dropped first). Bounded like the chunk store's
 * memory tier it indexes (the link sizes it from that).
 */
export class SketchIndex {
  private readonly maps: Array<Map<number, Uint8Array>> = [];
  constructor(readonly max: number) {
    for (let s = 0; s < SUPER_FEATURES; s++) this.maps.push(new Map());
  }

  get size(): number { return this.maps[0].size; }

  add(sf: Uint32Array, fp: Uint8Array): void {
    for (let s = 0; s < SUPER_FEATURES; s++) {
      const m = this.maps[s];
      m.delete(sf[s]);
      m.set(sf[s], fp);
      if (m.size > this.max) m.delete(m.keys().next().value as number);
    }
  }

  /** Candidate bases, best first (the super-features in order), without duplicates. */
  candidates(sf: Uint32Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let s = 0; s < SUPER_FEATURES; s++) {
      const fp = this.maps[s].get(sf[s]);
      if (fp && !out.includes(fp)) out.push(fp);
    }
    return out;
  }
}
