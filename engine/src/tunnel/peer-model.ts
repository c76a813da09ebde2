// What the sender believes the receiver's chunk store holds, per link. A chunk counts as
// held once it crossed the link (either direction) since the peer announced its current
// cache identity. When the peer's identity equals the one remembered from the previous
// session (same disk store, nothing lost), our own store is taken as a proxy for the
// peer's, so a restarted side deduplicates at once. Being wrong costs one NEED round trip
// for that chunk, never correctness: the receiver resolves references exactly or asks.
import { LRUCache } from 'lru-cache';
import { fpKey } from '../codec/fingerprint.ts';
import type { ChunkStore } from '../cache/store.ts';

export class PeerModel {
  private readonly seen: LRUCache<string, true>;
  private readonly missing = new LRUCache<string, true>({ max: 65536 });

  constructor(private readonly store: ChunkStore, private readonly trustStore: boolean, maxEntries: number) {
    this.seen = new LRUCache<string, true>({ max: Math.max(1024, maxEntries) });
  }

  /** Reference this chunk? Only if we can also resend it when the peer asks. */
  shouldRef(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    if (this.missing.has(k)) return false;
    if (!this.seen.has(k) && !this.trustStore) return false;
    return this.store.has(fp);
  }

  add(fp: Uint8Array): void { const k = fpKey(fp); this.seen.set(k, true); this.missing.delete(k); }

  /** The peer asked for this chunk: it no longer holds it. */
  lost(fp: Uint8Array): void { const k = fpKey(fp); this.seen.delete(k); this.missing.set(k, true); }
}
