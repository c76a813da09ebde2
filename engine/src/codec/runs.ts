// Ranges of manifests (REFN ops, issue 21). A REFM op replaces a span only when the whole
// span is references again; on an edited version (a new package tarball: every tar header
// changes) spans are rarely all references, yet most references still continue, entry after
// entry, a manifest of the version the peer already holds. The sender keeps an index
// chunk fingerprint → (newest manifest listing it, position), and per stream a cursor: while
// consecutive references continue consecutive entries of one manifest the peer holds, they
// go out as one REFN (33 bytes) instead of one REF (29 bytes) each. Nothing new is shared:
// the manifest is a chunk, resolved by NEED like any other, and the receiver verifies every
// chunk it expands from it as it verifies a REF.
import { Op, REFN_LEN, type DataOp } from './frame.ts';
import { FP_LEN, fpKey } from './fingerprint.ts';

/**
 * What one indexed chunk costs: its 32-character key string, the Map slot, the {manifest,
 * index} record, and a 64th of the manifest it shares (1,536 bytes and its fingerprint).
 * ~110 bytes measured the same way as the sketch index (V8 heap after a full GC); the rest is
 * headroom for a Map that has just doubled.
 */
export const RUN_ENTRY_BYTES = 160;

/** A manifest as the index keeps it: its fingerprint and its bytes (the fingerprints it lists). */
interface Manifest {
  readonly fp: Uint8Array;
  readonly m: Uint8Array;
}

const REF_LEN = 1 + FP_LEN + 4;

/**
 * Chunk fingerprint → the newest manifest listing it and its position there. At most `max`
 * chunks; adding one more forgets the least recently added or used. One per process, shared by
 * the links like the sketch index (tunnel/link-memory.ts counts it in the memory split): it
 * holds content only, and whether a peer holds a manifest is asked of that link's peer model.
 */
export class RunIndex {
  private readonly map = new Map<string, { man: Manifest; i: number }>();
  constructor(readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  /** A span's manifest was sent or received (`m` is kept, not copied: callers pass their own). */
  add(fp: Uint8Array, m: Uint8Array): void {
    const man: Manifest = { fp, m };
    for (let i = 0; i * FP_LEN < m.length; i++) {
      const k = fpKey(m.subarray(i * FP_LEN, (i + 1) * FP_LEN));
      this.map.delete(k);
      this.map.set(k, { man, i });
    }
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  /** The newest manifest listing `fp`, refreshed as recently used. */
  find(fp: Uint8Array): { man: Manifest; i: number } | undefined {
    const k = fpKey(fp);
    const e = this.map.get(k);
    if (e) {
      this.map.delete(k);
      this.map.set(k, e);
    }
    return e;
  }

  clear(): void {
    this.map.clear();
  }
}

/**
 * One stream's send side: the run being built (a manifest, the first entry, how many). It
 * rewrites each batch's ops in stream order; an open run is a held reference and goes out as
 * soon as the stream would wait (`last`), like the REFs held for a REFM.
 */
export class RunCursor {
  private man: Manifest | null = null;
  private start = 0;
  private count = 0;
  private raw = 0;
  /** Wire bytes the REFN ops written so far saved against one REF per chunk. */
  saved = 0;

  /** Consecutive REFs that continue entries of one manifest the peer holds become one REFN. */
  compact(ops: DataOp[], last: boolean, index: RunIndex, peerHolds: (fp: Uint8Array) => boolean): DataOp[] {
    const out: DataOp[] = [];
    for (const o of ops) {
      if (o.op === Op.REF && this.extend(o.fp, o.rawLen)) continue;
      this.flush(out);
      if (o.op === Op.REF) {
        const e = index.find(o.fp);
        if (e && peerHolds(e.man.fp)) {
          this.man = e.man;
          this.start = e.i;
          this.count = 1;
          this.raw = o.rawLen;
          continue;
        }
      }
      out.push(o);
    }
    if (last) this.flush(out);
    return out;
  }

  /** Is a run open (references held)? */
  get holding(): boolean {
    return this.man !== null;
  }

  private extend(fp: Uint8Array, len: number): boolean {
    const m = this.man?.m;
    const at = (this.start + this.count) * FP_LEN;
    if (!m || at >= m.length) return false;
    for (let j = 0; j < FP_LEN; j++) if (m[at + j] !== fp[j]) return false;
    this.count++;
    this.raw += len;
    return true;
  }

  /** Write the open run (if any) to `out`: one REF, or one REFN for two chunks or more. */
  flush(out: DataOp[]): void {
    const man = this.man;
    if (!man) return;
    if (this.count === 1) {
      const at = this.start * FP_LEN;
      out.push({ op: Op.REF, rawLen: this.raw, fp: man.m.subarray(at, at + FP_LEN) });
    } else {
      out.push({ op: Op.REFN, rawLen: this.raw, fp: man.fp, start: this.start, count: this.count });
      this.saved += this.count * REF_LEN - REFN_LEN;
    }
    this.man = null;
  }

  clear(): void {
    this.man = null;
  }
}
