// The answer cache: keyed by name/type/class (plus the DO bit, since DNSSEC records differ),
// bounded in BYTES with lru-cache's maxSize, never in entries. Entries keep the upstream's
// response bytes (ID zeroed, OPT cut off, TTLs clamped) and the offsets of every TTL, so a
// hit is a copy plus a few integer writes instead of a decode/encode round trip.
// Negative answers (RFC 2308: NXDOMAIN and NODATA) live here too, with the SOA-derived TTL.
// Expired entries stay until staleMaxS so RFC 8767 serve-stale can use them.
import { LRUCache } from 'lru-cache';
import { layoutResponse, RCODE_NOERROR, RCODE_NXDOMAIN, type Query } from './wire.ts';

export interface CacheEntry {
  /** response bytes, ID 0, without OPT */
  wire: Buffer;
  /** offsets of the TTL fields; the stored (clamped) TTLs are in `wire` itself */
  ttlOffsets: number[];
  questionEnd: number;
  /** wall-clock ms when stored (wall clock so snapshots survive a restart) */
  storedAt: number;
  /** lifetime in seconds; 0 with fixed = never expires (local data) */
  ttlS: number;
  negative: boolean;
  /** local data: TTLs are not decremented and the entry never expires */
  fixed: boolean;
  hits: number;
  size: number;
}

export interface TtlPolicy {
  minTtlS: number;
  maxTtlS: number;
  negativeTtlS: number;
  negativeMaxTtlS: number;
  staleMaxS: number;
}

// What one entry really costs beyond its bytes: the entry object, the Buffer object and its
// share of the pool slab, the offsets array, the key string and lru-cache's Map/list slots.
// Measured on Node 20 (heapUsed + external after gc, 5·10^4 entries of a 76-byte answer:
// 615 bytes each), so the budget bounds real memory, not an optimistic estimate.
const ENTRY_OVERHEAD = 480;

export function entrySize(key: string, e: Pick<CacheEntry, 'wire' | 'ttlOffsets'>): number {
  return e.wire.length + e.ttlOffsets.length * 16 + key.length + ENTRY_OVERHEAD;
}

/**
 * Turns an upstream response into an entry; ttlS 0 means answer once but do not cache.
 * Null for what cannot be replayed: SERVFAIL/REFUSED, truncated, OPT not last.
 */
export function makeEntry(key: string, resp: Buffer, now: number, pol: TtlPolicy): CacheEntry | null {
  if (resp[2] & 0x02) return null; // TC: incomplete
  const lay = layoutResponse(resp);
  const negative = lay.rcode === RCODE_NXDOMAIN || (lay.rcode === RCODE_NOERROR && lay.answers === 0);
  if (lay.rcode !== RCODE_NOERROR && lay.rcode !== RCODE_NXDOMAIN) return null;
  let wire = Buffer.from(lay.optStart >= 0 ? resp.subarray(0, lay.optStart) : resp);
  if (lay.optStart >= 0) wire.writeUInt16BE(wire.readUInt16BE(10) - 1, 10);
  else if (lay.hasOpt) return null; // OPT not last: rare, not worth re-encoding
  wire.writeUInt16BE(0, 0);
  const ttls: number[] = [];
  let life = Infinity;
  for (const off of lay.ttlOffsets) {
    let t = wire.readUInt32BE(off);
    if (t > 0x7fffffff) t = 0; // RFC 2181 §8: treat as zero
    t = negative ? Math.min(t, pol.negativeMaxTtlS) : Math.min(Math.max(t, pol.minTtlS), pol.maxTtlS);
    wire.writeUInt32BE(t, off);
    ttls.push(t);
  }
  if (negative) {
    life = lay.soaNegTtl >= 0 ? Math.min(lay.soaNegTtl, pol.negativeMaxTtlS) : pol.negativeTtlS;
  } else {
    for (let i = 0; i < lay.answers && i < ttls.length; i++) life = Math.min(life, ttls[i]);
  }
  if (!Number.isFinite(life) || life < 0) life = 0; // TTL 0: answer it, but do not cache (caller checks ttlS)
  wire = wire.length === resp.length ? wire : Buffer.from(wire); // drop the reference to the larger buffer
  const e: CacheEntry = {
    wire,
    ttlOffsets: lay.ttlOffsets,
    questionEnd: lay.questionEnd,
    storedAt: now,
    ttlS: life,
    negative,
    fixed: false,
    hits: 0,
    size: 0,
  };
  e.size = entrySize(key, e);
  return e;
}

/** Seconds left (negative once expired). */
export function remainingS(e: CacheEntry, now: number): number {
  return e.fixed ? Infinity : e.ttlS - (now - e.storedAt) / 1000;
}

/**
 * The client's answer from stored bytes: copy, patch ID, RD, the client's question bytes
 * (keeps 0x20 case randomisation intact), TTLs, and append an OPT when the client sent one.
 */
export function render(
  e: CacheEntry,
  query: Buffer,
  q: Query,
  now: number,
  staleTtlS: number | null,
  udpSize: number,
): Buffer {
  const w = e.wire;
  const extra = q.ednsSize > 0 ? 11 : 0;
  const out = Buffer.allocUnsafe(w.length + extra);
  out.set(w, 0); // TypedArray#set: no Buffer#copy argument checks on the hot path
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  out[2] = (out[2] & 0xfc) | (query[2] & 0x01);
  if (q.plainQuestion && e.questionEnd === q.questionEnd)
    for (let i = 12; i < q.questionEnd; i++) out[i] = query[i];
  if (!e.fixed) {
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    const offs = e.ttlOffsets;
    for (let i = 0; i < offs.length; i++) {
      const o = offs[i];
      let t = staleTtlS;
      if (t === null) {
        t = ((w[o] << 24) >>> 0) + (w[o + 1] << 16) + (w[o + 2] << 8) + w[o + 3] - elapsed;
        if (t < 0) t = 0;
      }
      out[o] = t >>> 24;
      out[o + 1] = (t >>> 16) & 0xff;
      out[o + 2] = (t >>> 8) & 0xff;
      out[o + 3] = t & 0xff;
    }
  }
  if (extra) {
    const o = w.length;
    out[o] = 0;
    out[o + 1] = 0;
    out[o + 2] = 41;
    out[o + 3] = udpSize >> 8;
    out[o + 4] = udpSize & 0xff;
    out[o + 5] = 0;
    out[o + 6] = 0;
    out[o + 7] = q.dnssecOk ? 0x80 : 0;
    out[o + 8] = 0;
    out[o + 9] = 0;
    out[o + 10] = 0;
    const ar = ((out[10] << 8) | out[11]) + 1;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }
  return out;
}

export class DnsCache {
  private lru: LRUCache<string, CacheEntry>;
  constructor(
    private budget: number,
    private readonly pol: TtlPolicy,
  ) {
    this.lru = DnsCache.make(budget);
  }

  private static make(budget: number): LRUCache<string, CacheEntry> {
    return new LRUCache<string, CacheEntry>({
      maxSize: Math.max(1024, budget),
      sizeCalculation: (e) => e.size,
    });
  }

  get(key: string, now: number): CacheEntry | undefined {
    const e = this.lru.get(key);
    if (!e) return undefined;
    if (remainingS(e, now) < -this.pol.staleMaxS) {
      this.lru.delete(key);
      return undefined;
    }
    return e;
  }

  /** Peek without touching recency (used by prefetch and tests). */
  peek(key: string): CacheEntry | undefined {
    return this.lru.peek(key);
  }

  set(key: string, e: CacheEntry): void {
    this.lru.set(key, e);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
  get entries(): number {
    return this.lru.size;
  }
  get budgetBytes(): number {
    return this.budget;
  }

  /** Live resize: a smaller budget evicts the least recently used entries first. */
  resize(budget: number): void {
    if (budget === this.budget) return;
    const next = DnsCache.make(budget);
    const all = [...this.lru.entries()].reverse(); // oldest first, so the newest survive
    for (const [k, v] of all) next.set(k, v);
    this.lru = next;
    this.budget = budget;
  }

  /** Most recently used first. */
  *all(): IterableIterator<[string, CacheEntry]> {
    yield* this.lru.entries();
  }

  clear(): void {
    this.lru.clear();
  }
}
