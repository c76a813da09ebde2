// Resemblance sketches for delta against similar chunks, in the spirit of Finesse (Zhang et
// al., FAST 2019) and N-transform super-features (Shilane et al., FAST 2012), but with one
// hash per byte and no positions: each byte's gear rolling hash (a 32-byte window) is mixed,
// its top 4 bits pick one of 16 features, and a feature is the largest value that landed in
// it (one-permutation min-hash). The 16 features are grouped into 4 super-features of 4.
// Position-free matters here: a content-defined chunk that gained or lost a few bytes at a
// boundary shifts everything, and positional sub-blocks would then all differ. An edit of a
// few bytes changes only the features whose maximum it touched, so a super-feature survives.
// Sender side only: the receiver is told the base's fingerprint and checks the result by its own.
import { gearTable } from './chunker.ts';
import { fpKey } from './fingerprint.ts';

const G = gearTable();
const FEATURES = 16;
export const SUPER_FEATURES = 4;

/** Super-features of a chunk (SUPER_FEATURES values), or null for chunks too small to sketch. */
export function sketch(c: Uint8Array): Uint32Array | null {
  const n = c.length;
  if (n < 1024) return null;
  const f = new Uint32Array(FEATURES);
  let h = 0;
  for (let i = 0; i < n; i++) {
    h = ((h << 1) + G[c[i]]) | 0;
    if (i < 31) continue; // a full window first
    const v = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    const b = v >>> 28;
    const x = v & 0x0fffffff;
    if (x > f[b]) f[b] = x;
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
 * memory tier it indexes (the link sizes it from that). Fingerprints are kept as latin1
 * keys (fpKey): a string of 24 one-byte characters, never a view that could keep a larger
 * buffer alive (a frame, or a slab of Node's Buffer pool: 64 KiB on Node 24).
 */
export class SketchIndex {
  private readonly maps: Array<Map<number, string>> = [];
  constructor(readonly max: number) {
    for (let s = 0; s < SUPER_FEATURES; s++) this.maps.push(new Map());
  }

  get size(): number {
    return this.maps[0].size;
  }

  add(sf: Uint32Array, fp: Uint8Array): void {
    const k = fpKey(fp);
    for (let s = 0; s < SUPER_FEATURES; s++) {
      const m = this.maps[s];
      m.delete(sf[s]);
      m.set(sf[s], k);
      if (m.size > this.max) m.delete(m.keys().next().value as number);
    }
  }

  /** Candidate bases (fingerprint keys), best first (the super-features in order), without duplicates. */
  candidates(sf: Uint32Array): string[] {
    const out: string[] = [];
    for (let s = 0; s < SUPER_FEATURES; s++) {
      const k = this.maps[s].get(sf[s]);
      if (k !== undefined && !out.includes(k)) out.push(k);
    }
    return out;
  }
}
