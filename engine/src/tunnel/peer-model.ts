// What the sender believes the receiver's chunk store holds, per link. A chunk counts as
// held once it crossed the link (either direction) since the peer announced its current
// cache identity. When the peer's identity equals the one remembered from the previous
// session (same disk store, nothing lost), our own store is taken as a proxy for the
// peer's, so a restarted side deduplicates at once. Being wrong costs one NEED round trip
// for that chunk, never correctness: the receiver resolves references exactly or asks.
// When the peer asks for many of the chunks we referenced (its store was damaged and
// rebuilt, or lost), the model is dropped: nothing is assumed held until it crosses again.
// A model grows with bytes, not with time: it holds at most the bytes its link's share of the
// memory budget allows (memory/links.ts), counted at PEER_ENTRY_BYTES a chunk, and forgets
// the oldest chunks first when the share shrinks (another link came up) or it fills.
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
  get size(): number {
    return this.m.size;
  }
  has(k: string): boolean {
    return this.m.has(k);
  }
  add(k: string): void {
    this.m.delete(k);
    this.m.set(k, true);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  /** Drop the least recently added key. */
  dropOldest(): void {
    const k = this.m.keys().next();
    if (!k.done) this.m.delete(k.value);
  }
}

/**
 * What one remembered chunk costs in a peer model: its 24-character key string and its Map
 * slot. 68 bytes measured (V8 heap after a full GC, 262,144 keys); the rest is headroom for a
 * hash table that has just doubled.
 */
export const PEER_ENTRY_BYTES = 96;
/** At most this many of a model's bytes go to the chunks the peer said it lacks. */
const MISSING_SHARE = 0.125;

/** NEEDs that drop the model: at least this many... */
const DROP_MIN = 32;
/** ...and at least this share of the references sent since the model was (re)built. */
const DROP_SHARE = 0.05;

export class PeerModel {
  private seen: RecentSet;
  private readonly missing = new RecentSet(65536);
  private refs = 0;
  private losses = 0;
  /** Chunks forgotten to stay within the byte limit. */
  evicted = 0;

  /** `limitBytes`: this link's current share of the memory budget (none: only maxEntries bounds it). */
  constructor(
    private readonly store: ChunkStore,
    private trustStore: boolean,
    maxEntries: number,
    private readonly limitBytes?: () => number,
  ) {
    this.seen = new RecentSet(Math.max(1024, maxEntries));
  }

  /** Bytes this model holds (PEER_ENTRY_BYTES per remembered chunk). */
  get bytes(): number {
    return (this.seen.size + this.missing.size) * PEER_ENTRY_BYTES;
  }
  get entries(): number {
    return this.seen.size + this.missing.size;
  }

  /** Forget the oldest chunks until the model fits its byte limit (the limit may have shrunk). */
  trim(): void {
    if (!this.limitBytes) return;
    const max = Math.floor(this.limitBytes() / PEER_ENTRY_BYTES);
    while (this.seen.size + this.missing.size > max) {
      if (this.missing.size > 0 && (this.missing.size > MISSING_SHARE * max || this.seen.size === 0))
        this.missing.dropOldest();
      else this.seen.dropOldest();
      this.evicted++;
    }
  }

  /** Reference this chunk? Only if we can also resend it when the peer asks. */
  shouldRef(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    if (this.missing.has(k)) return false;
    if (!this.seen.has(k) && !this.trustStore) return false;
    if (!this.store.has(fp)) return false;
    this.refs++;
    return true;
  }

  add(fp: Uint8Array): void {
    const k = fpKey(fp);
    this.seen.add(k);
    this.missing.delete(k);
    this.trim();
  }

  /**
   * The peer asked for this chunk: it no longer holds it. Returns true when that made the
   * model drop everything it assumed (too many of our references missed).
   */
  lost(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    this.seen.delete(k);
    this.missing.add(k);
    this.trim();
    this.losses++;
    if (this.losses < DROP_MIN || this.losses < DROP_SHARE * this.refs) return false;
    this.trustStore = false;
    this.seen = new RecentSet(this.seen.max);
    this.refs = 0;
    this.losses = 0;
    return true;
  }
}
