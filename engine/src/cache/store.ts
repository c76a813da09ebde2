// The chunk store both tunnel directions share: a memory tier bounded in bytes (lru-cache
// maxSize, budget from the memory policy) over the optional disk tier. Chunks that cross
// the link in either direction land here, so a reply can be deduplicated against a request
// and vice versa. A disk failure switches the store to memory-only (and a new identity, so
// the peer stops assuming we kept what the disk held) instead of failing the tunnel.
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import { fpKey } from '../codec/fingerprint.ts';
import { DiskStore, type DiskStoreOptions } from './disk.ts';

export interface ChunkStoreOptions {
  memoryBytes: number;
  disk?: DiskStoreOptions;
  /** Called once when the disk tier fails and the store continues memory-only. */
  onDiskFailure?: (err: Error) => void;
}

// Per-entry overhead estimate (key string, map slot, Buffer object): keeps the memory
// budget honest for small chunks.
const ENTRY_OVERHEAD = 160;

export class ChunkStore {
  private mem: LRUCache<string, Uint8Array>;
  private disk: DiskStore | null = null;
  private memId: Uint8Array = randomBytes(16);
  private diskError: Error | null = null;
  readonly stats = { hits: 0, misses: 0, diskHits: 0, puts: 0 };

  constructor(private readonly opts: ChunkStoreOptions) {
    this.mem = this.makeMem(opts.memoryBytes);
    if (opts.disk) {
      try { this.disk = new DiskStore(opts.disk); } catch (e) { this.failDisk(e as Error); }
    }
  }

  /** Cache identity announced to the peer: the disk store's persistent id, else per process. */
  get id(): Uint8Array { return this.disk ? this.disk.id : this.memId; }
  get diskEnabled(): boolean { return this.disk !== null; }
  get diskFailure(): Error | null { return this.diskError; }
  get memoryBytes(): number { return this.mem.calculatedSize; }
  get memoryLimit(): number { return this.mem.maxSize; }
  get diskBytes(): number { return this.disk?.sizeBytes ?? 0; }
  get diskLimit(): number { return this.disk?.limitBytes ?? 0; }
  get corruptDropped(): number { return this.disk?.corruptDropped.records ?? 0; }
  /** Capacity announced to the peer, in MiB. */
  get capacityMiB(): number { return Math.floor((this.memoryLimit + this.diskLimit) / 1048576); }

  has(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    if (this.mem.has(k)) return true;
    return this.guard(() => this.disk?.has(fp) ?? false, false);
  }

  /** Verified chunk bytes, or undefined. */
  get(fp: Uint8Array): Uint8Array | undefined {
    const k = fpKey(fp);
    const m = this.mem.get(k);
    if (m) { this.stats.hits++; return m; }
    const d = this.guard(() => this.disk?.get(fp), undefined);
    if (d) { this.stats.hits++; this.stats.diskHits++; this.mem.set(k, d); return d; }
    this.stats.misses++;
    return undefined;
  }

  /** Store a chunk whose fingerprint the caller has verified. Copies the bytes. */
  put(fp: Uint8Array, data: Uint8Array): void {
    const k = fpKey(fp);
    if (this.mem.has(k)) return;
    const copy = Uint8Array.prototype.slice.call(data) as Uint8Array;
    this.stats.puts++;
    this.mem.set(k, copy);
    this.guard(() => this.disk?.put(fp, copy), undefined);
  }

  flush(): void { this.guard(() => this.disk?.flush(), undefined); }

  /** New memory budget (memory policy changed): rebuild the LRU keeping the hottest entries. */
  resize(memoryBytes: number): void {
    const next = this.makeMem(memoryBytes);
    for (const [k, v] of [...this.mem.entries()].reverse()) next.set(k, v);
    this.mem = next;
  }

  close(): void {
    this.guard(() => this.disk?.close(), undefined);
    this.disk = null;
  }

  private makeMem(bytes: number): LRUCache<string, Uint8Array> {
    return new LRUCache<string, Uint8Array>({ maxSize: Math.max(1 << 20, bytes), sizeCalculation: (v) => v.length + ENTRY_OVERHEAD });
  }

  private guard<R>(f: () => R, fallback: R): R {
    if (!this.disk) return f();
    try { return f(); } catch (e) { this.failDisk(e as Error); return fallback; }
  }

  private failDisk(err: Error): void {
    const d = this.disk;
    this.disk = null;
    this.diskError = err;
    this.memId = randomBytes(16); // the peer must not assume we still hold the disk's chunks
    try { d?.close(); } catch { /* already failing */ }
    this.opts.onDiskFailure?.(err);
  }
}
