// Persistent chunk tier: append-only segment files in <stateDir>/chunks, every record
// checksummed. Record = 36-byte header (magic "EWC1", u32 length, 24-byte fingerprint,
// u32 header checksum) + data. The fingerprint (SHA-256/192 of the data) is the data's
// checksum: reads re-hash, so a corrupt record is dropped and never served. A torn tail
// (kill -9 mid-append) fails the header or length check at load and is truncated away.
// The store is bounded by maxBytes (and a share of the volume's free space) and deletes the
// oldest segment before the bound is crossed. Synchronous I/O on purpose: records are small
// (≤ 64 KiB), reads hit the page cache, and writes are batched (see flush()).
import {
  closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync,
  readdirSync, renameSync, statfsSync, unlinkSync, writeFileSync, writeSync, writevSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fingerprint, fpKey, FP_LEN } from '../codec/fingerprint.ts';

const MAGIC = 0x45574331; // "EWC1"
const HDR = 8 + FP_LEN + 4;
const MAX_RECORD = 1 << 20;
const FLUSH_BYTES = 256 * 1024;

export interface DiskStoreOptions {
  dir: string;
  /** hard bound in bytes */
  maxBytes: number;
  /** at most this share of (free + own) space on the volume (0 < share ≤ 1) */
  freeShare?: number;
  segmentBytes?: number;
}

function hdrSum(b: Buffer, off: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + HDR - 4; i++) h = Math.imul(h ^ b[i], 16777619);
  return h >>> 0;
}

interface Segment { id: number; fd: number; size: number; keys: string[]; }

export class DiskStore {
  readonly id: Uint8Array;
  private readonly segs: Segment[] = [];
  private readonly index = new Map<string, number>(); // key → segIndex-free locator: id*2^32+offset
  /** Batched records not yet written: header, data, header, data… (data is the caller's, not a copy). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingMap = new Map<string, Uint8Array>();
  private total = 0;
  private limit: number;
  readonly corruptDropped = { records: 0 };
  private readonly segBytes: number;

  constructor(private readonly opts: DiskStoreOptions) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    this.segBytes = opts.segmentBytes ?? Math.max(1 << 20, Math.min(16 << 20, Math.floor(opts.maxBytes / 8)));
    const idFile = join(opts.dir, 'identity');
    let id: Uint8Array | null = null;
    if (existsSync(idFile)) { const b = readFileSync(idFile); if (b.length === 16) id = b; }
    const names = readdirSync(opts.dir).filter((n) => /^seg-\d{8}\.dat$/.test(n)).sort();
    if (!id) {
      // No (valid) identity: whatever segments exist cannot be vouched for; start fresh.
      for (const n of names) unlinkSync(join(opts.dir, n));
      names.length = 0;
      id = randomBytes(16);
      writeFileSync(`${idFile}.tmp`, id); renameSync(`${idFile}.tmp`, idFile);
    }
    this.id = id;
    for (const n of names) this.load(Number(n.slice(4, 12)));
    this.limit = this.computeLimit();
    this.roll();
  }

  get sizeBytes(): number { return this.total + this.pendingBytes; }
  get limitBytes(): number { return this.limit; }
  get count(): number { return this.index.size + this.pendingMap.size; }

  has(fp: Uint8Array): boolean { const k = fpKey(fp); return this.index.has(k) || this.pendingMap.has(k); }

  /** Verified bytes of a chunk, or undefined (absent, or corrupt and now dropped). */
  get(fp: Uint8Array): Uint8Array | undefined {
    const k = fpKey(fp);
    const p = this.pendingMap.get(k);
    if (p) return p;
    const loc = this.index.get(k);
    if (loc === undefined) return undefined;
    const segId = Math.floor(loc / 2 ** 32); const off = loc % 2 ** 32;
    const seg = this.segs.find((s) => s.id === segId);
    if (!seg) { this.index.delete(k); return undefined; }
    const hdr = Buffer.allocUnsafe(HDR);
    if (readSync(seg.fd, hdr, 0, HDR, off) !== HDR || !this.headerOk(hdr, 0)) return this.drop(k);
    const len = hdr.readUInt32BE(4);
    // Its own ArrayBuffer: the memory tier keeps what get() returns, and a chunk below half of
    // Buffer.poolSize (32 KiB on Node 24) would otherwise be a view that pins a pool slab.
    const data = Buffer.allocUnsafeSlow(len);
    if (readSync(seg.fd, data, 0, len, off + HDR) !== len) return this.drop(k);
    if (Buffer.compare(fingerprint(data), Buffer.from(fp)) !== 0 || !hdr.subarray(8, 8 + FP_LEN).equals(Buffer.from(fp))) return this.drop(k);
    return data;
  }

  /**
   * Queue a record. `data` is kept by reference until flush() wrote it (no copy: the chunk
   * store hands over its own copy), so the caller must not change it afterwards.
   */
  put(fp: Uint8Array, data: Uint8Array): void {
    const k = fpKey(fp);
    if (this.index.has(k) || this.pendingMap.has(k) || data.length > MAX_RECORD) return;
    const hdr = Buffer.allocUnsafe(HDR);
    hdr.writeUInt32BE(MAGIC, 0); hdr.writeUInt32BE(data.length, 4); hdr.set(fp.subarray(0, FP_LEN), 8);
    hdr.writeUInt32BE(hdrSum(hdr, 0), 8 + FP_LEN);
    this.pending.push(hdr, data); this.pendingBytes += HDR + data.length;
    this.pendingMap.set(k, data);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Append batched records to the current segment (one writev); rolls and evicts as needed. Throws on I/O errors. */
  flush(): void {
    if (this.pending.length === 0) return;
    const parts = this.pending; const size = this.pendingBytes;
    const keys = [...this.pendingMap.keys()];
    this.pending = []; this.pendingBytes = 0; this.pendingMap = new Map();
    let seg = this.segs[this.segs.length - 1];
    if (seg.size + size > this.segBytes) { this.roll(); seg = this.segs[this.segs.length - 1]; }
    while (this.total + size > this.limit && this.segs.length > 1) this.evictOldest();
    let off = writevSync(seg.fd, parts, seg.size);
    if (off < size) { // a short write (rare on a regular file): the rest from one joined copy
      const all = Buffer.concat(parts, size);
      while (off < size) off += writeSync(seg.fd, all, off, size - off, seg.size + off);
    }
    let p = 0;
    for (let i = 0; i < keys.length; i++) {
      this.index.set(keys[i], seg.id * 2 ** 32 + seg.size + p);
      seg.keys.push(keys[i]);
      p += HDR + parts[2 * i + 1].length;
    }
    seg.size += size; this.total += size;
  }

  close(): void {
    try { this.flush(); } finally { for (const s of this.segs) closeSync(s.fd); this.segs.length = 0; }
  }

  private headerOk(b: Buffer, o: number): boolean {
    return b.readUInt32BE(o) === MAGIC && b.readUInt32BE(o + 4) <= MAX_RECORD && b.readUInt32BE(o + 4) > 0 && b.readUInt32BE(o + 8 + FP_LEN) === hdrSum(b, o);
  }

  private drop(k: string): undefined {
    this.index.delete(k);
    this.corruptDropped.records++;
    return undefined;
  }

  private load(id: number): void {
    const fd = openSync(join(this.opts.dir, `seg-${String(id).padStart(8, '0')}.dat`), 'r+');
    const size = fstatSync(fd).size;
    const seg: Segment = { id, fd, size: 0, keys: [] };
    const hdr = Buffer.allocUnsafe(HDR);
    let off = 0;
    while (off + HDR <= size) {
      if (readSync(fd, hdr, 0, HDR, off) !== HDR || !this.headerOk(hdr, 0)) break;
      const len = hdr.readUInt32BE(4);
      if (off + HDR + len > size) break; // torn: the data never fully reached the disk
      const k = fpKey(hdr.subarray(8, 8 + FP_LEN));
      this.index.set(k, id * 2 ** 32 + off);
      seg.keys.push(k);
      off += HDR + len;
    }
    if (off < size) { ftruncateSync(fd, off); this.corruptDropped.records++; }
    seg.size = off; this.total += off;
    this.segs.push(seg);
  }

  private roll(): void {
    const id = this.segs.length ? this.segs[this.segs.length - 1].id + 1 : 1;
    const fd = openSync(join(this.opts.dir, `seg-${String(id).padStart(8, '0')}.dat`), 'w+', 0o640);
    this.segs.push({ id, fd, size: 0, keys: [] });
    this.limit = this.computeLimit();
    while (this.total > this.limit && this.segs.length > 1) this.evictOldest();
  }

  private evictOldest(): void {
    const s = this.segs.shift()!;
    for (const k of s.keys) if (this.index.get(k) !== undefined && Math.floor(this.index.get(k)! / 2 ** 32) === s.id) this.index.delete(k);
    closeSync(s.fd);
    unlinkSync(join(this.opts.dir, `seg-${String(s.id).padStart(8, '0')}.dat`));
    this.total -= s.size;
  }

  private computeLimit(): number {
    const share = this.opts.freeShare ?? 0.5;
    try {
      const st = statfsSync(this.opts.dir);
      const free = Number(st.bavail) * Number(st.bsize);
      return Math.max(this.segBytes, Math.min(this.opts.maxBytes, Math.floor((free + this.total) * share)));
    } catch {
      return this.opts.maxBytes;
    }
  }
}
