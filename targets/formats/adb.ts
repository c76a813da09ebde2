// APK v3 "ADB" container: tagged 32-bit values, the ADB block writer with apk-tools' write
// de-duplication, file blocks (ADB / SIG / DATA, 8-byte aligned) and the default deflate
// wrapper. Implements, in our own code, what apk-tools defines in:
//   src/adb.h        value tags (ADB_TYPE_*), struct adb_hdr, struct adb_block, adb_block_init
//   src/adb.c        adb_w_raw / adb_w_data (aligned, de-duplicated writes), adb_w_blob,
//                    adb_w_int, __adb_w_obj (trailing NULL slots trimmed), adb_c_header, adb_c_block
//   src/adb_comp.c   adb_compress: default = "ADBd" + raw deflate (src/io_gunzip.c: level 9,
//                    windowBits -15, memLevel 8)
// See docs/apk.md for the map of every function to its apk-tools counterpart.
import { constants, deflateRawSync } from 'node:zlib';
import { memoBytesSync } from './memo.ts';
import { sha256 } from './hash.ts';

export const ADB_TYPE_SPECIAL = 0x00000000;
export const ADB_TYPE_INT = 0x10000000;
export const ADB_TYPE_INT_32 = 0x20000000;
export const ADB_TYPE_INT_64 = 0x30000000;
export const ADB_TYPE_BLOB_8 = 0x80000000;
export const ADB_TYPE_BLOB_16 = 0x90000000;
export const ADB_TYPE_BLOB_32 = 0xa0000000;
export const ADB_TYPE_ARRAY = 0xd0000000;
export const ADB_TYPE_OBJECT = 0xe0000000;
export const ADB_TYPE_MASK = 0xf0000000;
export const ADB_VALUE_MASK = 0x0fffffff;
export const ADB_NULL = 0;

/** "ADB." little-endian (ADB_FORMAT_MAGIC). */
export const ADB_FORMAT_MAGIC = 0x2e424441;
/** Schema ids of apk_adb.h: "pckg" and "indx" read as little-endian u32. */
export const ADB_SCHEMA_PACKAGE = 0x676b6370;
export const ADB_SCHEMA_INDEX = 0x78646e69;

export const ADB_BLOCK_ADB = 0;
export const ADB_BLOCK_SIG = 1;
export const ADB_BLOCK_DATA = 2;
export const ADB_BLOCK_EXT = 3;
export const ADB_BLOCK_ALIGNMENT = 8;
/** sizeof(struct adb_hdr): compat_ver u8, ver u8, reserved u16, root adb_val_t. */
export const ADB_HDR_SIZE = 8;

export type AdbVal = number;

export class AdbFormatError extends Error {
  readonly code = 'EDGEWAN_ERR_APK_FORMAT';
}

const tag = (type: number, value: number): AdbVal => (type | value) >>> 0;

/**
 * Writable ADB block (the payload of the ADB file block). Like apk-tools' adb with hash
 * buckets: identical data written with the same alignment is stored once, which is why a
 * "root" user and "root" group share one blob.
 */
export class AdbWriter {
  private buf = Buffer.alloc(8192);
  private len = 0;
  private readonly cache = new Map<string, number>();

  constructor() {
    // adb_w_init_dynamic: struct adb_hdr { adb_compat_ver = 0, adb_ver = 0, reserved, root }
    this.raw([Buffer.alloc(ADB_HDR_SIZE)], ADB_HDR_SIZE);
  }

  /** adb_w_raw: zero-pad to the alignment, append, return the offset. */
  private raw(parts: Buffer[], align: number): number {
    const pad = (align - (this.len % align)) % align;
    const total = parts.reduce((n, p) => n + p.length, 0);
    this.grow(pad + total);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
    const offs = this.len;
    for (const p of parts) {
      p.copy(this.buf, this.len);
      this.len += p.length;
    }
    if (offs > ADB_VALUE_MASK)
      throw new AdbFormatError(
        `ADB block exceeds the 28-bit value offset limit (${offs} bytes): too much metadata for one package`,
      );
    return offs;
  }

  private grow(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length;
    while (this.len + extra > size) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** adb_w_data: de-duplicated write; an existing copy is reused only when it is aligned. */
  private data(parts: Buffer[], align: number, dedup = true): number {
    if (!dedup) return this.raw(parts, align);
    const key = Buffer.concat(parts).toString('latin1');
    const hit = this.cache.get(key);
    if (hit !== undefined && hit % align === 0) return hit;
    const offs = this.raw(parts, align);
    this.cache.set(key, offs);
    return offs;
  }

  /** adb_w_blob: 8/16/32-bit length prefix chosen by size, aligned to the prefix width. */
  blob(b: Buffer | string | undefined | null, dedup = true): AdbVal {
    if (b === undefined || b === null) return ADB_NULL;
    const bytes = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    const n = bytes.length;
    if (n === 0) return ADB_NULL;
    let hdr: Buffer;
    let type: number;
    if (n > 0xffff) {
      hdr = Buffer.alloc(4);
      hdr.writeUInt32LE(n);
      type = ADB_TYPE_BLOB_32;
    } else if (n > 0xff) {
      hdr = Buffer.alloc(2);
      hdr.writeUInt16LE(n);
      type = ADB_TYPE_BLOB_16;
    } else {
      hdr = Buffer.from([n]);
      type = ADB_TYPE_BLOB_8;
    }
    return tag(type, this.data([hdr, bytes], hdr.length, dedup));
  }

  /** adb_w_int: direct below 2^28, else an aligned 32- or 64-bit little-endian word. */
  int(v: number | bigint | undefined | null): AdbVal {
    if (v === undefined || v === null) return ADB_NULL;
    const n = BigInt(v);
    if (n < 0n || n >= 1n << 64n) throw new AdbFormatError(`integer ${n} out of range for an ADB value`);
    if (n >= 0x100000000n) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(n);
      return tag(ADB_TYPE_INT_64, this.data([b], 4));
    }
    if (n >= 0x10000000n) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(Number(n));
      return tag(ADB_TYPE_INT_32, this.data([b], 4));
    }
    return tag(ADB_TYPE_INT, Number(n));
  }

  /**
   * __adb_w_obj: slots[i] is field i (slot 0 is ignored and becomes the entry count).
   * Trailing NULL slots are trimmed; an object with no set field is NULL and not written.
   * apk-tools stores arrays through adb_wo_obj()/adb_w_obj() too, so arrays carry the
   * OBJECT tag unless `type` says otherwise (readers accept both, adb_r_obj).
   */
  obj(slots: readonly AdbVal[], type: number = ADB_TYPE_OBJECT): AdbVal {
    let n = slots.length;
    while (n > 1 && slots[n - 1] === ADB_NULL) n--;
    if (n <= 1) return ADB_NULL;
    const b = Buffer.alloc(4 * n);
    b.writeUInt32LE(n, 0);
    for (let i = 1; i < n; i++) b.writeUInt32LE(slots[i] >>> 0, 4 * i);
    return tag(type, this.data([b], 4));
  }

  /** Array helper: items become slots 1..n (NULL items dropped, as adb_wa_append does). */
  arr(items: readonly AdbVal[]): AdbVal {
    return this.obj([0, ...items.filter((v) => v !== ADB_NULL)]);
  }

  setRoot(v: AdbVal): void {
    this.buf.writeUInt32LE(v >>> 0, 4);
  }

  /** The ADB block payload written so far (a copy). */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  /** Patch bytes in place (mkpkg fills the package hash after the tree is written). */
  patch(offset: number, bytes: Buffer): void {
    bytes.copy(this.buf, offset);
  }
}

/** Offset of a blob's content inside the ADB block (after its length prefix). */
export function blobContentOffset(v: AdbVal): number {
  const t = (v & ADB_TYPE_MASK) >>> 0;
  const off = v & ADB_VALUE_MASK;
  if (t === ADB_TYPE_BLOB_8) return off + 1;
  if (t === ADB_TYPE_BLOB_16) return off + 2;
  if (t === ADB_TYPE_BLOB_32) return off + 4;
  throw new AdbFormatError(`value 0x${v.toString(16)} is not a blob`);
}

/** adb_c_header: "ADB." magic then the schema id, both little-endian u32. */
export function fileHeader(schema: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(ADB_FORMAT_MAGIC, 0);
  b.writeUInt32LE(schema >>> 0, 4);
  return b;
}

/**
 * adb_c_block: a 4-byte header `type << 30 | (4 + length)`, the payload, zero padding to
 * 8 bytes. Payloads too large for 30 bits use the 16-byte extended header (ADB_BLOCK_EXT).
 */
export function fileBlock(type: number, payload: Buffer | Buffer[]): Buffer[] {
  const parts = Array.isArray(payload) ? payload : [payload];
  const length = parts.reduce((n, p) => n + p.length, 0);
  let hdr: Buffer;
  if (length <= 0x3fffffff - 4) {
    hdr = Buffer.alloc(4);
    hdr.writeUInt32LE(((type << 30) >>> 0) + 4 + length, 0);
  } else {
    hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(((ADB_BLOCK_EXT << 30) >>> 0) + type, 0);
    hdr.writeBigUInt64LE(BigInt(16 + length), 8);
  }
  const raw = hdr.length + length;
  const pad = (ADB_BLOCK_ALIGNMENT - (raw % ADB_BLOCK_ALIGNMENT)) % ADB_BLOCK_ALIGNMENT;
  return [hdr, ...parts, Buffer.alloc(pad)];
}

const DEFLATE = { level: 9, windowBits: 15, memLevel: 8 } as const;

/** adb_compress with the default spec: "ADBd" then the raw-deflated stream (level 9). */
export function compressAdb(stream: Buffer | Buffer[]): Buffer {
  const input = Array.isArray(stream) ? Buffer.concat(stream) : stream;
  return Buffer.concat([Buffer.from('ADBd', 'latin1'), deflateRawSync(input, DEFLATE)]);
}

/**
 * Same format as compressAdb, but the metadata part (header, ADB, SIG) ends with a deflate
 * full flush, so the DATA part is compressed from a fresh state and its compressed bytes can
 * be shared by every package with the same payload (the four aarch64 packages differ only in
 * their ADB block). One valid raw deflate stream either way; apk-tools' own writer does not
 * flush, so our bytes differ from `apk mkpkg` output while any inflater reads both alike.
 * `cache` maps SHA-256 of the uncompressed DATA part to its compressed bytes.
 * `cacheDir` keeps them on disk between builds.
 */
export function compressAdbSplit(
  head: Buffer[],
  data: Buffer[],
  cache?: Map<string, Buffer>,
  cacheDir?: string,
): Buffer {
  const headZ = deflateRawSync(Buffer.concat(head), { ...DEFLATE, finishFlush: constants.Z_FULL_FLUSH });
  const dataIn = Buffer.concat(data);
  const key = sha256(dataIn);
  let dataZ = cache?.get(key);
  if (!dataZ) {
    // cacheDir: across builds too (targets/formats/memo.ts) — a no-op rebuild skips the deflate.
    dataZ = memoBytesSync(
      cacheDir,
      'deflate',
      [`zlib ${process.versions.zlib} raw ${JSON.stringify(DEFLATE)}`, dataIn],
      () => deflateRawSync(dataIn, DEFLATE),
    );
    cache?.set(key, dataZ);
  }
  return Buffer.concat([Buffer.from('ADBd', 'latin1'), headZ, dataZ]);
}

/** apk_blob_sort: bytewise compare, then the shorter first (the order of sorted arrays). */
export function blobSort(a: Buffer | string, b: Buffer | string): number {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.compare(x, y);
}
