// Persistent chunk tier: append-only segment files in <stateDir>/chunks, every record
// checksummed. Record = 36-byte header (magic "EWC1", u32 length, 24-byte fingerprint,
// u32 header checksum) + data. The fingerprint (SHA-256/192 of the data) is the data's
// checksum: reads re-hash, so a corrupt record is dropped and never served. A torn tail
// (kill -9 mid-append) fails the header or length check at load and is truncated away; a bad
// header inside a segment is skipped up to the next valid header (the records after it stay).
// Damage is counted (bad headers at load, records that fail their check later): past
// max(DAMAGE_MIN, DAMAGE_SHARE of the records) the store is wiped and gets a new identity,
// so the peer stops assuming we hold what it sent before.
// The store is bounded by maxBytes (and a share of the volume's free space) and deletes the
// oldest segment before the bound is crossed. Synchronous I/O on purpose: records are small
// (≤ 64 KiB), reads hit the page cache, and writes are batched (see flush()).
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statfsSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fingerprint, fpKey, FP_LEN } from '../codec/fingerprint.ts';
import { writeFileAtomicSync } from '../fs/atomic.ts';

const MAGIC = 0x45574331; // "EWC1"
const HDR = 8 + FP_LEN + 4;
const MAX_RECORD = 1 << 20;
const FLUSH_BYTES = 256 * 1024;
/** Damaged records (bad headers at load, failed checks on read) that make the store start over... */
const DAMAGE_MIN = 32;
/** ...or this share of its records, whichever is more. */
const DAMAGE_SHARE = 0.05;
const SCAN_BLOCK = 64 * 1024;

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

interface Segment {
  id: number;
  fd: number;
  size: number;
  keys: string[];
}

export class DiskStore {
  private ident: Uint8Array;
  private readonly segs: Segment[] = [];
  private readonly index = new Map<string, number>(); // key → segIndex-free locator: id*2^32+offset
  /** Batched records not yet written: header, data, header, data… (data is the caller's, not a copy). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingMap = new Map<string, Uint8Array>();
  private total = 0;
  private limit: number;
  readonly corruptDropped = { records: 0 };
  /** Damaged records since the store was (re)built: bad headers at load, failed checks on read. */
  private damage = 0;
  /** Why the store was wiped at load (damage past the threshold), else null. */
  rebuiltAtLoad: string | null = null;
  private readonly segBytes: number;
  /** matches() reads records into this (no allocation per call). */
  private scratch = Buffer.alloc(0);

  constructor(private readonly opts: DiskStoreOptions) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    this.segBytes = opts.segmentBytes ?? Math.max(1 << 20, Math.min(16 << 20, Math.floor(opts.maxBytes / 8)));
    const idFile = join(opts.dir, 'identity');
    let id: Uint8Array | null = null;
    if (existsSync(idFile)) {
      const b = readFileSync(idFile);
      if (b.length === 16) id = b;
    }
    // No (valid) identity: whatever segments exist cannot be vouched for; start fresh.
    this.ident = id ?? this.wipe();
    for (const n of this.segmentNames()) this.load(Number(n.slice(4, 12)));
    this.limit = this.computeLimit();
    if (this.tooDamaged) {
      this.rebuiltAtLoad = `${this.damage} damaged records of ${this.index.size + this.damage}`;
      this.reset(); // rolls the first new segment
    } else this.roll();
  }

  /** The persistent identity announced to peers (new after a wipe). */
  get id(): Uint8Array {
    return this.ident;
  }

  /** Damage past the threshold: the caller should rebuild the store (reset()). */
  get tooDamaged(): boolean {
    return this.damage >= Math.max(DAMAGE_MIN, DAMAGE_SHARE * (this.index.size + this.damage));
  }
  get damaged(): number {
    return this.damage;
  }

  /** Start over: every segment deleted, a new identity, an empty index. */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingMap = new Map();
    for (const s of this.segs) closeSync(s.fd);
    this.segs.length = 0;
    this.index.clear();
    this.total = 0;
    this.damage = 0;
    this.ident = this.wipe();
    this.roll();
  }

  private segmentNames(): string[] {
    return readdirSync(this.opts.dir)
      .filter((n) => /^seg-\d{8}\.dat$/.test(n))
      .sort();
  }

  /** Delete every segment and write a new identity (returned). */
  private wipe(): Uint8Array {
    for (const n of this.segmentNames()) unlinkSync(join(this.opts.dir, n));
    const id = randomBytes(16);
    const idFile = join(this.opts.dir, 'identity');
    writeFileAtomicSync(idFile, id);
    return id;
  }

  get sizeBytes(): number {
    return this.total + this.pendingBytes;
  }
  get limitBytes(): number {
    return this.limit;
  }
  get count(): number {
    return this.index.size + this.pendingMap.size;
  }

  has(fp: Uint8Array): boolean {
    const k = fpKey(fp);
    return this.index.has(k) || this.pendingMap.has(k);
  }

  /** Verified bytes of a chunk, or undefined (absent, or corrupt and now dropped). */
  get(fp: Uint8Array): Uint8Array | undefined {
    const k = fpKey(fp);
    const p = this.pendingMap.get(k);
    if (p) return p;
    const loc = this.index.get(k);
    if (loc === undefined) return undefined;
    const segId = Math.floor(loc / 2 ** 32);
    const off = loc % 2 ** 32;
    const seg = this.segs.find((s) => s.id === segId);
    if (!seg) {
      this.index.delete(k);
      return undefined;
    }
    const hdr = Buffer.allocUnsafe(HDR);
    if (readSync(seg.fd, hdr, 0, HDR, off) !== HDR || !this.headerOk(hdr, 0)) return this.drop(k);
    const len = hdr.readUInt32BE(4);
    // Its own ArrayBuffer: the memory tier keeps what get() returns, and a chunk below half of
    // Buffer.poolSize (32 KiB on Node 24) would otherwise be a view that pins a pool slab.
    const data = Buffer.allocUnsafeSlow(len);
    if (readSync(seg.fd, data, 0, len, off + HDR) !== len) return this.drop(k);
    if (
      Buffer.compare(fingerprint(data), Buffer.from(fp)) !== 0 ||
      !hdr.subarray(8, 8 + FP_LEN).equals(Buffer.from(fp))
    )
      return this.drop(k);
    return data;
  }

  /**
   * Does the stored record of `fp` hold exactly `data` (bytes the caller has verified)? A
   * record that differs is damaged: dropped (a later put() writes it again). No hashing: the
   * caller's bytes are the reference, so this is a read and a byte comparison.
   */
  matches(fp: Uint8Array, data: Uint8Array): boolean {
    const k = fpKey(fp);
    const p = this.pendingMap.get(k);
    if (p) return Buffer.compare(p, data) === 0;
    const loc = this.index.get(k);
    if (loc === undefined) return false;
    const segId = Math.floor(loc / 2 ** 32);
    const off = loc % 2 ** 32;
    const seg = this.segs.find((s) => s.id === segId);
    if (!seg) {
      this.index.delete(k);
      return false;
    }
    if (this.scratch.length < HDR + data.length)
      this.scratch = Buffer.allocUnsafe(HDR + Math.max(data.length, 32 * 1024));
    const rec = this.scratch.subarray(0, HDR + data.length);
    const ok =
      readSync(seg.fd, rec, 0, rec.length, off) === rec.length &&
      this.headerOk(rec, 0) &&
      rec.readUInt32BE(4) === data.length &&
      rec.subarray(8, 8 + FP_LEN).equals(Buffer.from(fp.subarray(0, FP_LEN))) &&
      Buffer.compare(rec.subarray(HDR), data) === 0;
    if (!ok) this.drop(k);
    return ok;
  }

  /**
   * Queue a record. `data` is kept by reference until flush() wrote it (no copy: the chunk
   * store hands over its own copy), so the caller must not change it afterwards.
   */
  put(fp: Uint8Array, data: Uint8Array): void {
    const k = fpKey(fp);
    if (this.index.has(k) || this.pendingMap.has(k) || data.length > MAX_RECORD) return;
    const hdr = Buffer.allocUnsafe(HDR);
    hdr.writeUInt32BE(MAGIC, 0);
    hdr.writeUInt32BE(data.length, 4);
    hdr.set(fp.subarray(0, FP_LEN), 8);
    hdr.writeUInt32BE(hdrSum(hdr, 0), 8 + FP_LEN);
    this.pending.push(hdr, data);
    this.pendingBytes += HDR + data.length;
    this.pendingMap.set(k, data);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Append batched records to the current segment (one writev); rolls and evicts as needed. Throws on I/O errors. */
  flush(): void {
    if (this.pending.length === 0) return;
    const parts = this.pending;
    const size = this.pendingBytes;
    const keys = [...this.pendingMap.keys()];
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingMap = new Map();
    let seg = this.segs[this.segs.length - 1];
    if (seg.size + size > this.segBytes) {
      this.roll();
      seg = this.segs[this.segs.length - 1];
    }
    while (this.total + size > this.limit && this.segs.length > 1) this.evictOldest();
    let off = writevSync(seg.fd, parts, seg.size);
    if (off < size) {
      // a short write (rare on a regular file): the rest from one joined copy
      const all = Buffer.concat(parts, size);
      while (off < size) off += writeSync(seg.fd, all, off, size - off, seg.size + off);
    }
    let p = 0;
    for (let i = 0; i < keys.length; i++) {
      this.index.set(keys[i], seg.id * 2 ** 32 + seg.size + p);
      seg.keys.push(keys[i]);
      p += HDR + parts[2 * i + 1].length;
    }
    seg.size += size;
    this.total += size;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      for (const s of this.segs) closeSync(s.fd);
      this.segs.length = 0;
    }
  }

  private headerOk(b: Buffer, o: number): boolean {
    return (
      b.readUInt32BE(o) === MAGIC &&
      b.readUInt32BE(o + 4) <= MAX_RECORD &&
      b.readUInt32BE(o + 4) > 0 &&
      b.readUInt32BE(o + 8 + FP_LEN) === hdrSum(b, o)
    );
  }

  private drop(k: string): undefined {
    this.index.delete(k);
    this.corruptDropped.records++;
    this.damage++;
    return undefined;
  }

  /** Offset of the next valid record header in [from, size), or -1. */
  private nextHeader(fd: number, from: number, size: number): number {
    const buf = Buffer.allocUnsafe(SCAN_BLOCK + HDR);
    for (let base = from; base + HDR <= size; base += SCAN_BLOCK) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - base), base);
      for (let i = 0; i + HDR <= n && i < SCAN_BLOCK; i++) {
        if (buf[i] !== 0x45 || buf[i + 1] !== 0x57 || buf[i + 2] !== 0x43 || buf[i + 3] !== 0x31) continue; // "EWC1"
        if (this.headerOk(buf, i) && base + i + HDR + buf.readUInt32BE(i + 4) <= size) return base + i;
      }
    }
    return -1;
  }

  private load(id: number): void {
    const fd = openSync(join(this.opts.dir, `seg-${String(id).padStart(8, '0')}.dat`), 'r+');
    const size = fstatSync(fd).size;
    const seg: Segment = { id, fd, size: 0, keys: [] };
    const hdr = Buffer.allocUnsafe(HDR);
    let off = 0;
    let end = 0; // end: just past the last good record
    while (off + HDR <= size) {
      const ok =
        readSync(fd, hdr, 0, HDR, off) === HDR &&
        this.headerOk(hdr, 0) &&
        off + HDR + hdr.readUInt32BE(4) <= size;
      if (!ok) {
        // A bad header (or a length past the end): skip to the next valid header. None
        // after it: a torn tail (kill -9 mid-append), truncated below.
        const next = this.nextHeader(fd, off + 1, size);
        if (next < 0) break;
        this.corruptDropped.records++;
        this.damage++;
        off = next;
        continue;
      }
      const len = hdr.readUInt32BE(4);
      const k = fpKey(hdr.subarray(8, 8 + FP_LEN));
      this.index.set(k, id * 2 ** 32 + off);
      seg.keys.push(k);
      off += HDR + len;
      end = off;
    }
    if (end < size) {
      ftruncateSync(fd, end);
      this.corruptDropped.records++;
    }
    seg.size = end;
    this.total += end;
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
    for (const k of s.keys)
      if (this.index.get(k) !== undefined && Math.floor(this.index.get(k)! / 2 ** 32) === s.id)
        this.index.delete(k);
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
