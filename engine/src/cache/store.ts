// The chunk store both tunnel directions share: a memory tier bounded in bytes (lru-cache
// maxSize, budget from the memory policy) over the optional disk tier. Chunks that cross
// the link in either direction land here, so a reply can be deduplicated against a request
// and vice versa. A disk failure switches the store to memory-only (and a new identity, so
// the peer stops assuming we kept what the disk held) instead of failing the tunnel. So does
// a disk tier damaged past its threshold (disk.ts): it is rebuilt empty with a new identity.
// sameAs() finds a held chunk by its bytes without hashing them (a sampled key, then a
// full byte comparison), so a sender can reference repeated data at memcmp speed.
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import { fpKey } from '../codec/fingerprint.ts';
import { DiskStore, type DiskStoreOptions } from './disk.ts';

export interface ChunkStoreOptions {
  memoryBytes: number;
  disk?: DiskStoreOptions;
  /** Called once when the disk tier fails and the store continues memory-only. */
  onDiskFailure?: (err: Error) => void;
  /** Called when the disk tier was damaged past its threshold and starts over empty (new identity). */
  onRebuild?: (why: string) => void;
}

// Per-entry overhead estimate (key string, map slot, Buffer object, quick-index slot):
// keeps the memory budget honest for small chunks.
const ENTRY_OVERHEAD = 200;
const QUICK_MAX = 4;
/** References to disk-only chunks remembered for a rebuild (a NEED comes within a round trip). */
const HELD_RING = 2048;

/**
 * A cheap 32-bit key from the length and ~72 sampled bytes (FNV-1a over the samples). It only
 * narrows the search: sameAs() then compares every byte, so a collision, accidental or
 * crafted, can only cost the fast path (the caller hashes), never return a wrong chunk.
 */
export function quickKey(d: Uint8Array): number {
  const n = d.length;
  let h = Math.imul(0x811c9dc5 ^ n, 0x01000193);
  const step = Math.max(1, n >>> 6);
  for (let i = 0; i < n; i += step) h = Math.imul(h ^ d[i], 0x01000193);
  for (let i = Math.max(0, n - 8); i < n; i++) h = Math.imul(h ^ d[i], 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0; // memcmp; takes plain Uint8Arrays
}

export class ChunkStore {
  private mem: LRUCache<string, Uint8Array>;
  /**
   * quickKey(bytes) → fingerprint key(s) of memory-tier chunks. Several per key because
   * near-duplicates (same length, a few bytes apart: e.g. a library's ESM and CJS builds)
   * share their samples; at most QUICK_MAX, the newest kept.
   */
  private quick = new Map<number, string | string[]>();
  private disk: DiskStore | null = null;
  private memId: Uint8Array = randomBytes(16);
  private diskError: Error | null = null;
  /** The last HELD_RING chunks hold() vouched for from disk (fingerprint keys), for a rebuild. */
  private readonly held: string[] = new Array<string>(HELD_RING).fill('');
  private heldAt = 0;
  readonly stats = { hits: 0, misses: 0, diskHits: 0, puts: 0, rebuilds: 0 };

  constructor(private readonly opts: ChunkStoreOptions) {
    this.mem = this.makeMem(opts.memoryBytes);
    if (opts.disk) {
      try {
        this.disk = new DiskStore(opts.disk);
      } catch (e) {
        this.failDisk(e as Error);
      }
      if (this.disk?.rebuiltAtLoad) {
        this.stats.rebuilds++;
        queueMicrotask(() => opts.onRebuild?.(`at load: ${this.disk?.rebuiltAtLoad}`));
      }
    }
  }

  /** Cache identity announced to the peer: the disk store's persistent id, else per process. */
  get id(): Uint8Array {
    return this.disk ? this.disk.id : this.memId;
  }
  get diskEnabled(): boolean {
    return this.disk !== null;
  }
  get diskFailure(): Error | null {
    return this.diskError;
  }
  get memoryBytes(): number {
    return this.mem.calculatedSize;
  }
  get memoryLimit(): number {
    return this.mem.maxSize;
  }
  get diskBytes(): number {
    return this.disk?.sizeBytes ?? 0;
  }
  get diskLimit(): number {
    return this.disk?.limitBytes ?? 0;
  }
  get corruptDropped(): number {
    return this.disk?.corruptDropped.records ?? 0;
  }
  /** Capacity announced to the peer, in MiB. */
  get capacityMiB(): number {
    return Math.floor((this.memoryLimit + this.diskLimit) / 1048576);
  }

  has(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    if (this.mem.has(k)) return true;
    return this.guard(() => this.disk?.has(fp) ?? false, false);
  }

  /** Verified chunk bytes, or undefined. */
  get(fp: Uint8Array): Uint8Array | undefined {
    const k = fpKey(fp);
    const m = this.mem.get(k);
    if (m) {
      this.stats.hits++;
      return m;
    }
    const d = this.guard(() => this.disk?.get(fp), undefined);
    if (d) {
      this.stats.hits++;
      this.stats.diskHits++;
      this.memSet(k, d);
      return d;
    }
    this.stats.misses++;
    this.checkDamage();
    return undefined;
  }

  /**
   * The caller holds these bytes (fingerprint verified or just computed) and is about to
   * reference them: make sure a NEED for them can be answered with exactly these bytes. A
   * chunk found only on disk is compared with them (a read and a memcmp, no hashing, no
   * copy); a record that differs is dropped and written again from them, and the memory
   * tier keeps a copy.
   */
  hold(fp: Uint8Array, data: Uint8Array): void {
    const k = fpKey(fp);
    if (this.mem.has(k) || !this.disk) return;
    this.held[this.heldAt] = k;
    this.heldAt = (this.heldAt + 1) % HELD_RING;
    if (this.guard(() => this.disk?.matches(fp, data) ?? true, true)) {
      // A store that has shown damage may be rebuilt any moment: keep a copy in memory.
      if ((this.disk?.damaged ?? 0) > 0) this.put(fp, data);
      return;
    }
    this.put(fp, data);
    this.checkDamage();
  }

  /**
   * Store a chunk whose fingerprint the caller has verified. Copies the bytes, unless `owned`:
   * the caller hands over a buffer of its own that nobody changes afterwards (a decompressed
   * literal), and it fills its whole ArrayBuffer (a view would keep the rest alive).
   */
  put(fp: Uint8Array, data: Uint8Array, owned = false): void {
    const k = fpKey(fp);
    if (this.mem.has(k)) return;
    let copy: Uint8Array;
    if (owned && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) copy = data;
    else {
      // Own copy (the caller's buffer may be a socket read): a plain Uint8Array over an
      // allocUnsafeSlow buffer (no zero fill, no pool, no Buffer species path).
      const b = Buffer.allocUnsafeSlow(data.length);
      copy = new Uint8Array(b.buffer, b.byteOffset, data.length);
      copy.set(data);
    }
    this.stats.puts++;
    this.memSet(k, copy);
    this.guard(() => this.disk?.put(fp, copy), undefined);
  }

  /**
   * The fingerprint of a chunk in the memory tier with exactly these bytes, or null (then
   * the caller hashes). No SHA-256: a quick key, then a byte-for-byte comparison.
   */
  sameAs(data: Uint8Array): Buffer | null {
    const cur = this.quick.get(quickKey(data));
    if (cur === undefined) return null;
    if (typeof cur === 'string') return this.holds(cur, data);
    for (let i = cur.length - 1; i >= 0; i--) {
      const fp = this.holds(cur[i], data);
      if (fp) return fp;
    }
    return null;
  }

  private holds(k: string, data: Uint8Array): Buffer | null {
    const m = this.mem.peek(k);
    return m !== undefined && sameBytes(m, data) ? Buffer.from(k, 'latin1') : null;
  }

  flush(): void {
    this.guard(() => this.disk?.flush(), undefined);
  }

  /** New memory budget (memory policy changed): rebuild the LRU keeping the hottest entries. */
  resize(memoryBytes: number): void {
    const next = this.makeMem(memoryBytes);
    const old = [...this.mem.entries()].reverse();
    this.mem = next;
    this.quick.clear();
    for (const [k, v] of old) this.memSet(k, v);
  }

  close(): void {
    this.guard(() => this.disk?.close(), undefined);
    this.disk = null;
  }

  private memSet(k: string, v: Uint8Array): void {
    this.mem.set(k, v);
    if (!this.mem.has(k)) return; // a chunk above maxSize is not kept
    const q = quickKey(v);
    const cur = this.quick.get(q);
    if (cur === undefined) this.quick.set(q, k);
    else if (typeof cur === 'string') {
      if (cur !== k) this.quick.set(q, [cur, k]);
    } else if (!cur.includes(k)) {
      cur.push(k);
      if (cur.length > QUICK_MAX) cur.shift();
    }
  }

  private unquick(v: Uint8Array, k: string): void {
    const q = quickKey(v);
    const cur = this.quick.get(q);
    if (cur === k) this.quick.delete(q);
    else if (Array.isArray(cur)) {
      const i = cur.indexOf(k);
      if (i >= 0) cur.splice(i, 1);
      if (cur.length === 1) this.quick.set(q, cur[0]);
    }
  }

  private makeMem(bytes: number): LRUCache<string, Uint8Array> {
    return new LRUCache<string, Uint8Array>({
      maxSize: Math.max(1 << 20, bytes),
      sizeCalculation: (v) => v.length + ENTRY_OVERHEAD,
      dispose: (v, k) => this.unquick(v, k), // evicted: leave the quick index too
    });
  }

  /** Damage past the disk tier's threshold: start it over, empty, with a new identity. */
  private checkDamage(): void {
    const d = this.disk;
    if (!d || !d.tooDamaged) return;
    const why = `${d.damaged} records failed their check`;
    // References we sent recently may still be answered by NEEDs: their (verified) bytes
    // move to the memory tier before the disk tier is wiped.
    this.guard(() => {
      for (const k of this.held) {
        if (k && !this.mem.has(k)) {
          const v = d.get(Buffer.from(k, 'latin1'));
          if (v) this.memSet(k, v);
        }
      }
      d.reset();
    }, undefined);
    this.held.fill('');
    this.heldAt = 0;
    this.stats.rebuilds++;
    this.opts.onRebuild?.(why);
  }

  private guard<R>(f: () => R, fallback: R): R {
    if (!this.disk) return f();
    try {
      return f();
    } catch (e) {
      this.failDisk(e as Error);
      return fallback;
    }
  }

  private failDisk(err: Error): void {
    const d = this.disk;
    this.disk = null;
    this.diskError = err;
    this.memId = randomBytes(16); // the peer must not assume we still hold the disk's chunks
    try {
      d?.close();
    } catch {
      /* already failing */
    }
    this.opts.onDiskFailure?.(err);
  }
}
