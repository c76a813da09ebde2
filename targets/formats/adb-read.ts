// Our own APK v3 reader: undoes the "ADBd"/"ADBc" compression wrapper (src/adb_comp.c
// adb_decompress), walks the file blocks with the checks of src/adb.c __adb_m_parse /
// adb_block_validate (ADB first, then SIG, then DATA only; sizes inside the file; 8-byte
// padding), and decodes values schema-driven like adb_r_int / adb_r_blob / adb_r_obj.
// Every bound is checked: malformed input gives an AdbFormatError naming the byte offset,
// never an exception from Buffer or a runaway loop (a node budget caps shared sub-trees).
import { inflateRawSync } from 'node:zlib';
import {
  ADB_BLOCK_ADB,
  ADB_BLOCK_DATA,
  ADB_BLOCK_EXT,
  ADB_BLOCK_SIG,
  ADB_FORMAT_MAGIC,
  ADB_HDR_SIZE,
  ADB_TYPE_ARRAY,
  ADB_TYPE_BLOB_16,
  ADB_TYPE_BLOB_32,
  ADB_TYPE_BLOB_8,
  ADB_TYPE_INT,
  ADB_TYPE_INT_32,
  ADB_TYPE_INT_64,
  ADB_TYPE_MASK,
  ADB_TYPE_OBJECT,
  ADB_TYPE_SPECIAL,
  ADB_VALUE_MASK,
  AdbFormatError,
  type AdbVal,
} from './adb.ts';
import { parseSig, type SigInfo } from './adb-sign.ts';
import type { Kind, ObjSchema } from './adb-schema.ts';

/** Upper bound for an inflated file; our largest package is ~100 MB uncompressed. */
const MAX_INFLATED = 1024 * 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_NODES = 2_000_000;

export interface AdbDataBlock {
  pathIdx: number;
  fileIdx: number;
  content: Buffer;
  offset: number;
}
export interface AdbSigBlock {
  payload: Buffer;
  info: SigInfo;
  offset: number;
}

export interface AdbFile {
  compression: 'none' | 'deflate';
  schema: number;
  /** schema id as its 4 ASCII letters, e.g. "pckg" */
  schemaName: string;
  /** the ADB block payload (adb_hdr + values), what the signature hashes */
  adb: Buffer;
  sigs: AdbSigBlock[];
  data: AdbDataBlock[];
  /** the decompressed stream (header + blocks) */
  stream: Buffer;
}

const fail = (msg: string): never => {
  throw new AdbFormatError(msg);
};

/** adb_decompress: "ADB." is plain, "ADBd" raw deflate, "ADBc" + {alg, level}. */
export function decompressAdb(file: Buffer): { stream: Buffer; compression: 'none' | 'deflate' } {
  if (file.length < 4 || file.toString('latin1', 0, 3) !== 'ADB')
    fail('not an APK v3 file: it does not start with "ADB" (an APK v2 or ipk file?)');
  const c = String.fromCharCode(file[3]);
  let alg: number;
  let body: Buffer;
  if (c === '.') return { stream: file, compression: 'none' };
  if (c === 'd') {
    alg = 1;
    body = file.subarray(4);
  } else if (c === 'c') {
    if (file.length < 6) fail('"ADBc" header is truncated at byte 4 (compression spec missing)');
    alg = file[4];
    body = file.subarray(6);
    if (alg === 0) return { stream: body, compression: 'none' };
  } else return fail(`unknown APK v3 compression marker "ADB${c}" at byte 3`);
  if (alg !== 1)
    fail(
      `compression algorithm ${alg} (zstd = 2) is not supported by this reader; apk-tools writes deflate by default`,
    );
  try {
    return { stream: inflateRawSync(body, { maxOutputLength: MAX_INFLATED }), compression: 'deflate' };
  } catch (err) {
    throw new AdbFormatError(`deflate stream after byte 4 is corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Parse header and blocks of an APK v3 file (package, index or any other schema). */
export function parseAdbFile(file: Buffer, expectedSchema?: number): AdbFile {
  const { stream, compression } = decompressAdb(file);
  if (stream.length < 8) fail('file header truncated: need 8 bytes ("ADB." + schema)');
  if (stream.readUInt32LE(0) !== ADB_FORMAT_MAGIC)
    fail('bad magic at byte 0 of the decompressed stream: expected "ADB."');
  const schema = stream.readUInt32LE(4);
  if (expectedSchema !== undefined && schema !== expectedSchema)
    fail(`schema "${schemaName(schema)}" at byte 4, expected "${schemaName(expectedSchema)}"`);
  let adb: Buffer | undefined;
  const sigs: AdbSigBlock[] = [];
  const data: AdbDataBlock[] = [];
  let allowed = new Set([ADB_BLOCK_ADB]);
  let pos = 8;
  while (pos < stream.length) {
    if (stream.length - pos < 4) fail(`truncated block header at byte ${pos}`);
    const typeSize = stream.readUInt32LE(pos);
    let type = typeSize >>> 30;
    let raw: number;
    let hdr = 4;
    if (type === ADB_BLOCK_EXT) {
      if (stream.length - pos < 16) fail(`truncated extended block header at byte ${pos}`);
      type = typeSize & 0x3fffffff;
      hdr = 16;
      const x = stream.readBigUInt64LE(pos + 8);
      if (x > BigInt(stream.length))
        fail(`extended block at byte ${pos} claims ${x} bytes, more than the file`);
      raw = Number(x);
    } else raw = typeSize & 0x3fffffff;
    if (raw < hdr) fail(`block at byte ${pos} has size ${raw}, smaller than its header`);
    const size = Math.ceil(raw / 8) * 8;
    if (size > stream.length - pos)
      fail(`block at byte ${pos} (${raw} bytes + padding) runs past the end of the file (${stream.length})`);
    if (!allowed.has(type))
      fail(`block type ${type} at byte ${pos} is not allowed here (order must be ADB, SIG…, DATA…)`);
    const payload = stream.subarray(pos + hdr, pos + raw);
    if (type === ADB_BLOCK_ADB) {
      if (payload.length < ADB_HDR_SIZE) fail(`ADB block at byte ${pos} is shorter than adb_hdr (8 bytes)`);
      if (payload[0] !== 0)
        fail(`ADB block at byte ${pos} has adb_compat_ver ${payload[0]}; only 0 is defined`);
      adb = payload;
      allowed = new Set([ADB_BLOCK_SIG, ADB_BLOCK_DATA]);
    } else if (type === ADB_BLOCK_SIG) {
      try {
        sigs.push({ payload, info: parseSig(payload), offset: pos });
      } catch (err) {
        throw new AdbFormatError(`SIG block at byte ${pos}: ${(err as Error).message}`, { cause: err });
      }
    } else {
      if (payload.length < 8) fail(`DATA block at byte ${pos} is shorter than adb_data_package (8 bytes)`);
      data.push({
        pathIdx: payload.readUInt32LE(0),
        fileIdx: payload.readUInt32LE(4),
        content: payload.subarray(8),
        offset: pos,
      });
      allowed = new Set([ADB_BLOCK_DATA]);
    }
    pos += size;
  }
  if (!adb) return fail('no ADB block in the file');
  return { compression, schema, schemaName: schemaName(schema), adb, sigs, data, stream };
}

export function schemaName(schema: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(schema >>> 0);
  return b.toString('latin1').replace(/\0+$/, '');
}

/** Primitive reads over one ADB block (adb_r_*), all bounds-checked. */
export class AdbReader {
  private nodes = 0;
  constructor(readonly adb: Buffer) {
    if (adb.length < ADB_HDR_SIZE) fail('ADB block shorter than its 8-byte header');
  }

  root(): AdbVal {
    return this.adb.readUInt32LE(4);
  }

  private need(v: AdbVal, extra: number, size: number): number {
    const off = (v & ADB_VALUE_MASK) + extra;
    if (off + size > this.adb.length)
      fail(
        `value 0x${(v >>> 0).toString(16)} points to bytes ${off}..${off + size} outside the ADB block (${this.adb.length} bytes)`,
      );
    return off;
  }

  type(v: AdbVal): number {
    return (v & ADB_TYPE_MASK) >>> 0;
  }

  int(v: AdbVal): number {
    const t = this.type(v);
    if (t === ADB_TYPE_INT) return v & ADB_VALUE_MASK;
    if (t === ADB_TYPE_INT_32) return this.adb.readUInt32LE(this.need(v, 0, 4));
    if (t === ADB_TYPE_INT_64) {
      const n = this.adb.readBigUInt64LE(this.need(v, 0, 8));
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`64-bit integer ${n} is larger than this reader handles`);
      return Number(n);
    }
    return fail(`value 0x${(v >>> 0).toString(16)} is not an integer`);
  }

  blob(v: AdbVal): Buffer {
    const t = this.type(v);
    let w: number;
    if (t === ADB_TYPE_BLOB_8) w = 1;
    else if (t === ADB_TYPE_BLOB_16) w = 2;
    else if (t === ADB_TYPE_BLOB_32) w = 4;
    else return fail(`value 0x${(v >>> 0).toString(16)} is not a blob`);
    const off = this.need(v, 0, w);
    const len = w === 1 ? this.adb[off] : w === 2 ? this.adb.readUInt16LE(off) : this.adb.readUInt32LE(off);
    return this.adb.subarray(this.need(v, w, len), off + w + len);
  }

  /** Slots of an object or array: [count, v1, v2, …] (adb_r_obj). */
  slots(v: AdbVal): AdbVal[] {
    const t = this.type(v);
    if (t !== ADB_TYPE_OBJECT && t !== ADB_TYPE_ARRAY)
      fail(`value 0x${(v >>> 0).toString(16)} is not an object or array`);
    const off = this.need(v, 0, 4);
    const num = this.adb.readUInt32LE(off);
    if (num === 0) fail(`object at ADB offset ${off} has 0 slots (the count slot itself is one)`);
    if (num > (this.adb.length - off) / 4)
      fail(`object at ADB offset ${off} claims ${num} slots, beyond the ADB block`);
    this.nodes += num;
    if (this.nodes > MAX_NODES)
      fail(
        `more than ${MAX_NODES} values decoded: the ADB block references its data cyclically or excessively`,
      );
    const out: AdbVal[] = [];
    for (let i = 0; i < num; i++) out.push(this.adb.readUInt32LE(off + 4 * i));
    return out;
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Decode one value by schema kind into JSON (strings utf-8, hex blobs as hex). */
export function decodeValue(r: AdbReader, v: AdbVal, kind: Kind, where: string, depth = 0): Json {
  if (depth > MAX_DEPTH) fail(`${where}: nesting deeper than ${MAX_DEPTH}`);
  if (r.type(v) === ADB_TYPE_SPECIAL) {
    // NULL means "not set"; TRUE/FALSE are defined atoms but no apk schema field holds them.
    if (v === 0) return null;
    return fail(`${where}: special value ${v} where a ${kind.k} is expected`);
  }
  switch (kind.k) {
    case 'string':
      return r.blob(v).toString('utf8');
    case 'hex':
    case 'xattr':
      return r.blob(v).toString('hex');
    case 'int':
    case 'oct':
      return r.int(v);
    case 'obj':
      return decodeObject(r, v, kind.s, where, depth + 1);
    case 'arr': {
      const s = r.slots(v);
      return s.slice(1).map((item, i) => decodeValue(r, item, kind.item, `${where}[${i}]`, depth + 1));
    }
  }
}

/** Decode an object by schema; unknown slots are ignored like apk-tools does. */
export function decodeObject(
  r: AdbReader,
  v: AdbVal,
  s: ObjSchema,
  where = s.name,
  depth = 0,
): { [k: string]: Json } {
  const slots = r.slots(v);
  const out: { [k: string]: Json } = {};
  for (let i = 1; i < slots.length && i < s.fields.length; i++) {
    const f = s.fields[i];
    if (!f || slots[i] === 0) continue;
    const val = decodeValue(r, slots[i], f.kind, `${where}.${f.name}`, depth);
    if (val !== null) out[f.name] = val;
  }
  return out;
}
