// RPM v4 header structures (rpm's doc/manual/format.md and lib/header.c): the 96-byte lead,
// and the header blob used twice — signature header (region tag 62, padded to 8 bytes) and
// main header (region tag 63). A blob is magic 8e ad e8 01 + 4 zero bytes, the index count
// and data size, 16-byte index entries (tag, type, offset, count; the region entry first,
// the others sorted by tag) and the data store, each value aligned to its type, ending with
// the 16-byte region trailer whose offset is −(index count × 16) — rpm 4.18 checks exactly
// this "exact size" region for package files. The reader is ours too (inspect, tests).
import type { BuilderErrorCode } from '../error-codes.ts';

export const TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

export type HeaderValue =
  | { type: typeof TYPE.INT16 | typeof TYPE.INT32; value: readonly number[] }
  | { type: typeof TYPE.INT64; value: readonly bigint[] }
  | { type: typeof TYPE.STRING | typeof TYPE.I18NSTRING; value: string }
  | { type: typeof TYPE.STRING_ARRAY; value: readonly string[] }
  | { type: typeof TYPE.BIN; value: Buffer };

export interface HeaderEntry {
  tag: number;
  v: HeaderValue;
}

export const REGION = { SIGNATURES: 62, IMMUTABLE: 63 } as const;
const MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);

export class RpmFormatError extends Error {
  readonly code: BuilderErrorCode = 'EDGEWAN_ERR_FORMAT_RPM';
}

const ALIGN: Record<number, number> = { [TYPE.INT16]: 2, [TYPE.INT32]: 4, [TYPE.INT64]: 8 };

function encode(v: HeaderValue, tag: number): { data: Buffer; count: number } {
  const str = (s: string) => {
    if (s.includes('\0')) throw new RpmFormatError(`header tag ${tag}: a string may not contain NUL`);
    return Buffer.from(`${s}\0`, 'utf8');
  };
  switch (v.type) {
    case TYPE.INT16: {
      const b = Buffer.alloc(v.value.length * 2);
      v.value.forEach((n, i) => b.writeUInt16BE(n, i * 2));
      return { data: b, count: v.value.length };
    }
    case TYPE.INT32: {
      const b = Buffer.alloc(v.value.length * 4);
      v.value.forEach((n, i) => b.writeUInt32BE(n >>> 0, i * 4));
      return { data: b, count: v.value.length };
    }
    case TYPE.INT64: {
      const b = Buffer.alloc(v.value.length * 8);
      v.value.forEach((n, i) => b.writeBigUInt64BE(n, i * 8));
      return { data: b, count: v.value.length };
    }
    case TYPE.STRING:
    case TYPE.I18NSTRING:
      return { data: str(v.value), count: 1 };
    case TYPE.STRING_ARRAY:
      return { data: Buffer.concat(v.value.map(str)), count: v.value.length };
    case TYPE.BIN:
      return { data: v.value, count: v.value.length };
  }
}

/** One header blob with its region entry and trailer; entries are sorted by tag here. */
export function writeHeader(entries: readonly HeaderEntry[], regionTag: number): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].tag === sorted[i - 1].tag)
      throw new RpmFormatError(`header tag ${sorted[i].tag} given twice`);
  }
  const count = (e: HeaderEntry) => encode(e.v, e.tag).count;
  if (sorted.some((e) => count(e) === 0))
    throw new RpmFormatError(`header tag ${sorted.find((e) => count(e) === 0)!.tag} has no value`);
  const il = sorted.length + 1;
  const index = Buffer.alloc(il * 16);
  const parts: Buffer[] = [];
  let off = 0;
  sorted.forEach((e, i) => {
    const { data, count: n } = encode(e.v, e.tag);
    const pad = (ALIGN[e.v.type] ?? 1) - 1;
    const aligned = (off + pad) & ~pad;
    if (aligned > off) {
      parts.push(Buffer.alloc(aligned - off));
      off = aligned;
    }
    const at = (i + 1) * 16;
    index.writeUInt32BE(e.tag, at);
    index.writeUInt32BE(e.v.type, at + 4);
    index.writeUInt32BE(off, at + 8);
    index.writeUInt32BE(n, at + 12);
    parts.push(data);
    off += data.length;
  });
  const trailer = Buffer.alloc(16);
  trailer.writeUInt32BE(regionTag, 0);
  trailer.writeUInt32BE(TYPE.BIN, 4);
  trailer.writeInt32BE(-(il * 16), 8);
  trailer.writeUInt32BE(16, 12);
  index.writeUInt32BE(regionTag, 0);
  index.writeUInt32BE(TYPE.BIN, 4);
  index.writeUInt32BE(off, 8);
  index.writeUInt32BE(16, 12);
  parts.push(trailer);
  const dl = off + 16;
  const intro = Buffer.alloc(8);
  intro.writeUInt32BE(il, 0);
  intro.writeUInt32BE(dl, 4);
  return Buffer.concat([MAGIC, intro, index, ...parts]);
}

/** The signature header, padded to a multiple of 8 bytes as rpm expects before the main header. */
export function writeSignatureHeader(entries: readonly HeaderEntry[]): Buffer {
  const h = writeHeader(entries, REGION.SIGNATURES);
  const pad = (8 - (h.length % 8)) % 8;
  return pad ? Buffer.concat([h, Buffer.alloc(pad)]) : h;
}

export type ParsedValue = number[] | bigint[] | string | string[] | Buffer;

export interface ParsedHeader {
  /** tag → value (numbers for INT8/16/32, bigint for INT64) */
  tags: Map<number, { type: number; value: ParsedValue }>;
  /** offset just past the blob (unpadded) */
  end: number;
  /** the blob's bytes */
  blob: Buffer;
}

export function readHeader(buf: Buffer, at: number): ParsedHeader {
  if (buf.length < at + 16 || !buf.subarray(at, at + 4).equals(MAGIC.subarray(0, 4))) {
    throw new RpmFormatError(`no RPM header magic at offset ${at}`);
  }
  const il = buf.readUInt32BE(at + 8);
  const dl = buf.readUInt32BE(at + 12);
  const ds = at + 16 + il * 16;
  const end = ds + dl;
  if (il > 0xffff || dl > 256 * 1024 * 1024 || end > buf.length)
    throw new RpmFormatError(`RPM header at ${at} is truncated (${il} entries, ${dl} data bytes)`);
  const tags = new Map<number, { type: number; value: ParsedValue }>();
  const cstr = (p: number) => {
    const z = buf.indexOf(0, p);
    if (z < 0 || z >= end) throw new RpmFormatError(`unterminated string in RPM header at ${p}`);
    return { s: buf.toString('utf8', p, z), next: z + 1 };
  };
  for (let i = 0; i < il; i++) {
    const e = at + 16 + i * 16;
    const tag = buf.readUInt32BE(e),
      type = buf.readUInt32BE(e + 4),
      off = buf.readInt32BE(e + 8),
      count = buf.readUInt32BE(e + 12);
    const p = ds + off;
    if (off < 0 || p > end) throw new RpmFormatError(`RPM header tag ${tag}: offset ${off} outside the data`);
    let value: ParsedValue;
    switch (type) {
      case TYPE.CHAR:
      case TYPE.INT8:
        value = [...buf.subarray(p, p + count)];
        break;
      case TYPE.INT16:
        value = Array.from({ length: count }, (_, k) => buf.readUInt16BE(p + k * 2));
        break;
      case TYPE.INT32:
        value = Array.from({ length: count }, (_, k) => buf.readUInt32BE(p + k * 4));
        break;
      case TYPE.INT64:
        value = Array.from({ length: count }, (_, k) => buf.readBigUInt64BE(p + k * 8));
        break;
      case TYPE.STRING:
      case TYPE.I18NSTRING:
        value = cstr(p).s;
        break;
      case TYPE.STRING_ARRAY: {
        const out: string[] = [];
        let q = p;
        for (let k = 0; k < count; k++) {
          const r = cstr(q);
          out.push(r.s);
          q = r.next;
        }
        value = out;
        break;
      }
      case TYPE.BIN:
        value = Buffer.from(buf.subarray(p, p + count));
        break;
      default:
        throw new RpmFormatError(`RPM header tag ${tag}: unknown type ${type}`);
    }
    tags.set(tag, { type, value });
  }
  return { tags, end, blob: buf.subarray(at, end) };
}

/** The 96-byte lead: magic, v3.0, binary, arch number, NEVR, OS linux, header-style signature. */
export function writeLead(nevr: string, archnum: number): Buffer {
  const l = Buffer.alloc(96);
  l.writeUInt32BE(0xedabeedb, 0);
  l[4] = 3;
  l[5] = 0;
  l.writeUInt16BE(0, 6); // binary package
  l.writeUInt16BE(archnum, 8);
  // rpm itself truncates a long NEVR here (rstrlcpy into 66 bytes); readers use the header
  Buffer.from(nevr, 'utf8').subarray(0, 65).copy(l, 10);
  l.writeUInt16BE(1, 76); // OS: Linux
  l.writeUInt16BE(5, 78); // RPMSIGTYPE_HEADERSIG
  return l;
}
