// What the sender believes the receiver's chunk store holds, per link. A chunk counts as
// held once it crossed the link (either direction) since the peer announced its current
// cache identity. When the peer's identity equals the one remembered from the previous
// session (same disk store, nothing lost), our own store is taken as a proxy for the
// peer's, so a restarted side deduplicates at once. Being wrong costs one NEED round trip
// for that chunk, never correctness: the receiver resolves references exactly or asks.
import { fpKey } from '../codec/fingerprint.ts';
import type { ChunkStore } from '../cache/store.ts';

/**
 * At most `max` keys; adding one more drops the least recently added (adding again
 * refreshes). A Map in insertion order, so memory grows with use: lru-cache with `max`
 * allocates every slot up front, 8.2 MB (4.9 MB of V8 heap, 3.4 MB of ArrayBuffers) for
 * these two sets at 262,144 + 65,536 entries, per link, before the first chunk.
 */
export class RecentSet {
  private readonly m = new Map<string, true>();
  constructor(readonly max: number) {}
  get size(): number { return this.m.size; }
  has(k: string): boolean { return this.m.has(k); }
  add(k: string): void {
    this.m.delete(k);
    this.m.set(k, true);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void { this.m.delete(k); }
}

export class PeerModel {
  private readonly seen: RecentSet;
  private readonly missing = new RecentSet(65536);

  constructor(private readonly store: ChunkStore, private readonly trustStore: boolean, maxEntries: number) {
    this.seen = new RecentSet(Math.max(1024, maxEntries));
  }

  /** Reference this chunk? Only if we can also resend it when the peer asks. */
  shouldRef(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    if (this.missing.has(k)) return false;
    if (!this.seen.has(k) && !this.trustStore) return false;
    return this.store.has(fp);
  }

  add(fp: Uint8Array): void { const k = fpKey(fp); this.seen.add(k); this.missing.delete(k); }

  /** The peer asked for this chunk: it no longer holds it. */
  lost(fp: Uint8Array): void { const k = fpKey(fp); this.seen.delete(k); this.missing.add(k); }
}
