// The tunnel's wire format (version 1), carried inside TLS. Every frame:
//   u8 type · u32 BE stream id · u32 BE payload length · payload
// Lengths are bounded per type, the decoder copies at most one frame and never trusts a
// length before checking it, and any violation surfaces as a FrameError (code + byte
// offset) that the link turns into "close with a logged reason" — never an uncaught throw.
// Full description: docs/tunnel.md, "Wire format".
import { FP_LEN } from './fingerprint.ts';
import type { EngineErrorCode } from '../errors.ts';

export const PROTOCOL_VERSION = 1;
export const MAGIC = 0x45575431; // "EWT1"
export const HEADER_LEN = 9;
/** Largest payload of any frame: bounds the decoder's buffer. */
export const MAX_PAYLOAD = 512 * 1024;
/** Largest decoded chunk / raw piece one op may carry (≥ the chunker's max size). */
export const MAX_OP_RAW = 256 * 1024;

export const enum T {
  HELLO = 1,
  OPEN = 2,
  OPEN_OK = 3,
  DATA = 4,
  CREDIT = 5,
  FIN = 6,
  RST = 7,
  NEED = 8,
  CHUNK = 9,
  MISSING = 10,
  PING = 11,
  PONG = 12,
}
export const enum Op {
  LIT = 1,
  LZ4 = 2,
  REF = 3,
  RAW = 4,
  DZ = 5,
  REFM = 6,
  REFN = 7,
}
/** HELLO codec bits (byte 30; a peer that predates them sends 0: LZ4 per chunk only). */
export const CODEC_DEFLATE_DICT = 1;
/** HELLO codec bit: REFM ops (a run of references as one manifest reference, codec/manifest.ts). */
export const CODEC_REF_RUNS = 2;
/** HELLO codec bit: DZ ops whose payload is zstd instead of raw deflate (flag 2 of the op; codec/dict.ts). */
export const CODEC_ZSTD_DICT = 4;
/**
 * HELLO codec bit: REFN ops (entries [start, start + count) of a manifest the receiver holds,
 * codec/runs.ts): a run of references that continues another version's span without covering one.
 */
export const CODEC_REF_RANGES = 8;
/** Largest run one REFM op may stand for (SPAN_MAX chunks of at most MAX_OP_RAW). */
export const MAX_REFM_RAW = 64 * MAX_OP_RAW;
/** Most dictionary chunks one DZ op may name, and most chunks it may carry. */
export const DZ_MAX_DICT = 8;
export const DZ_MAX_CHUNKS = 256;

export interface Frame {
  type: T;
  stream: number;
  payload: Uint8Array;
}

/** One piece of stream data inside DATA/CHUNK. `data` is raw for LIT/RAW, compressed for LZ4. */
export type DataOp =
  | { op: Op.LIT | Op.RAW; rawLen: number; data: Uint8Array }
  | { op: Op.LZ4; rawLen: number; data: Uint8Array }
  | { op: Op.REF; rawLen: number; fp: Uint8Array }
  /** A run of references: the manifest chunk `fp` lists them (codec/manifest.ts). */
  | { op: Op.REFM; rawLen: number; fp: Uint8Array }
  /** Entries [start, start + count) of the manifest chunk `fp`, `rawLen` bytes in all (codec/runs.ts). */
  | { op: Op.REFN; rawLen: number; fp: Uint8Array; start: number; count: number }
  /**
   * Deflate with a dictionary: the chunks named by `dict` (fingerprints the receiver holds),
   * concatenated, last 32 KiB. `lens`: the chunks the output splits into (they sum to
   * rawLen); `check`: fingerprint of the output, sent with a single-chunk delta; `zstd`: the
   * payload is a zstd frame (dictionary: the last 128 KiB) instead of raw deflate (32 KiB).
   */
  | {
      op: Op.DZ;
      rawLen: number;
      dict: Uint8Array[];
      lens: number[];
      check: Uint8Array | null;
      zstd?: boolean;
      data: Uint8Array;
    };

export class FrameError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly offset: number,
  ) {
    super(`${code}: ${message} (at byte ${offset} of the frame stream)`);
  }
}

// Exact or maximum payload length per type; [min, max].
const LIMITS: Record<number, [number, number]> = {
  [T.HELLO]: [32, 256],
  [T.OPEN]: [1, 1024],
  [T.OPEN_OK]: [0, 0],
  [T.DATA]: [1, MAX_PAYLOAD],
  [T.CREDIT]: [4, 4],
  [T.FIN]: [0, 0],
  [T.RST]: [1, 257],
  [T.NEED]: [FP_LEN, FP_LEN],
  [T.CHUNK]: [FP_LEN + 5, FP_LEN + 9 + MAX_OP_RAW + 1100],
  [T.MISSING]: [FP_LEN, FP_LEN],
  [T.PING]: [8, 8],
  [T.PONG]: [8, 8],
};

export function encodeFrame(type: T, stream: number, payload: Uint8Array = EMPTY): Buffer {
  const b = Buffer.allocUnsafe(HEADER_LEN + payload.length);
  b[0] = type;
  b.writeUInt32BE(stream >>> 0, 1);
  b.writeUInt32BE(payload.length, 5);
  b.set(payload, HEADER_LEN);
  return b;
}
const EMPTY = new Uint8Array(0);

/**
 * Incremental decoder: push() what the socket delivered, get back whole frames. Holds at
 * most one partial frame (≤ HEADER_LEN + MAX_PAYLOAD bytes) plus the unparsed input.
 * The input pieces are kept as they came and each payload is copied out exactly once, when
 * it is complete: TLS delivers ≤ 16 KiB per read, and concatenating on every read made
 * ~1.2 MB of short-lived Buffers per 192 KiB frame (memory outside the V8 heap; measured in
 * docs/tunnel.md "Memory with 1,000 streams").
 */
export class FrameReader {
  private pieces: Buffer[] = [];
  private buffered = 0; // bytes held in pieces
  private consumed = 0; // bytes of the stream already parsed, for error offsets

  /** Bytes held (a partial frame plus unparsed input). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(data: Uint8Array): Frame[] {
    if (data.length > 0) {
      this.pieces.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      this.buffered += data.length;
    }
    const out: Frame[] = [];
    while (this.buffered >= HEADER_LEN) {
      const h = this.pieces[0].length >= HEADER_LEN ? this.pieces[0] : this.take(HEADER_LEN, true);
      const type = h[0];
      const len = h.readUInt32BE(5);
      const lim = LIMITS[type];
      const at = this.consumed;
      if (!lim) throw new FrameError('EDGEWAN_ERR_TUNNEL_FRAME_TYPE', `unknown frame type ${type}`, at);
      if (len < lim[0] || len > lim[1])
        throw new FrameError(
          'EDGEWAN_ERR_TUNNEL_FRAME_LENGTH',
          `frame type ${type} with payload length ${len} outside [${lim[0]}, ${lim[1]}]`,
          at,
        );
      if (this.buffered < HEADER_LEN + len) break;
      const stream = h.readUInt32BE(1);
      this.take(HEADER_LEN, false);
      // A copy, so the (possibly large) socket buffers are not retained.
      out.push({ type, stream, payload: this.take(len, false) });
      this.consumed += HEADER_LEN + len;
    }
    return out;
  }

  /** Copy out the next n buffered bytes; with `peek` they stay buffered. */
  private take(n: number, peek: boolean): Buffer {
    const b = Buffer.allocUnsafe(n);
    let got = 0;
    for (let i = 0; got < n; i++) {
      const p = this.pieces[peek ? i : 0];
      const k = Math.min(n - got, p.length);
      p.copy(b, got, 0, k);
      got += k;
      if (peek) continue;
      if (k === p.length) this.pieces.shift();
      else this.pieces[0] = p.subarray(k);
    }
    if (!peek) this.buffered -= n;
    return b;
  }
}

/** Serialise ops (DATA payload, or the op part of a CHUNK). */
export function encodeOps(ops: DataOp[]): Buffer {
  const b = Buffer.allocUnsafe(opsLength(ops));
  writeOps(b, 0, ops);
  return b;
}

/** A whole DATA frame, ops written straight after the header: one Buffer instead of two. */
export function encodeDataFrame(stream: number, ops: DataOp[]): Buffer {
  const n = opsLength(ops);
  const b = Buffer.allocUnsafe(HEADER_LEN + n);
  b[0] = T.DATA;
  b.writeUInt32BE(stream >>> 0, 1);
  b.writeUInt32BE(n, 5);
  writeOps(b, HEADER_LEN, ops);
  return b;
}

function opsLength(ops: DataOp[]): number {
  let n = 0;
  for (const o of ops)
    n +=
      o.op === Op.REF || o.op === Op.REFM
        ? 1 + FP_LEN + 4
        : o.op === Op.LZ4
          ? 9 + o.data.length
          : o.op === Op.DZ
            ? dzLength(o)
            : o.op === Op.REFN
              ? REFN_LEN
              : 5 + o.data.length;
  return n;
}

// REFN: u8 op · 24-byte manifest fp · u16 start · u16 count · u32 raw
export const REFN_LEN = 1 + FP_LEN + 2 + 2 + 4;

// DZ: u8 op · u8 flags (1: check fp follows, 2: zstd) · u8 dict count · [check fp] · dict fps ·
//     u16 chunk count · u32 chunk lengths · u32 compressed length · deflate-raw bytes
const dzLength = (o: Extract<DataOp, { op: Op.DZ }>) =>
  3 + (o.check ? FP_LEN : 0) + FP_LEN * o.dict.length + 2 + 4 * o.lens.length + 4 + o.data.length;

function writeOps(b: Buffer, at: number, ops: DataOp[]): void {
  let p = at;
  for (const o of ops) {
    b[p++] = o.op;
    if (o.op === Op.DZ) {
      b[p++] = (o.check ? 1 : 0) | (o.zstd ? 2 : 0);
      b[p++] = o.dict.length;
      if (o.check) {
        b.set(o.check, p);
        p += FP_LEN;
      }
      for (const d of o.dict) {
        b.set(d, p);
        p += FP_LEN;
      }
      b.writeUInt16BE(o.lens.length, p);
      p += 2;
      for (const l of o.lens) {
        b.writeUInt32BE(l, p);
        p += 4;
      }
      b.writeUInt32BE(o.data.length, p);
      p += 4;
      b.set(o.data, p);
      p += o.data.length;
    } else if (o.op === Op.REFN) {
      b.set(o.fp, p);
      b.writeUInt16BE(o.start, p + FP_LEN);
      b.writeUInt16BE(o.count, p + FP_LEN + 2);
      b.writeUInt32BE(o.rawLen, p + FP_LEN + 4);
      p += FP_LEN + 8;
    } else if (o.op === Op.REF || o.op === Op.REFM) {
      b.set(o.fp, p);
      p += FP_LEN;
      b.writeUInt32BE(o.rawLen, p);
      p += 4;
    } else if (o.op === Op.LZ4) {
      b.writeUInt32BE(o.rawLen, p);
      b.writeUInt32BE(o.data.length, p + 4);
      p += 8;
      b.set(o.data, p);
      p += o.data.length;
    } else {
      b.writeUInt32BE(o.data.length, p);
      p += 4;
      b.set(o.data, p);
      p += o.data.length;
    }
  }
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Strict parse of a DATA payload. Sub-arrays alias the payload (no copies). */
export function decodeOps(b: Uint8Array, at = 0): DataOp[] {
  const ops: DataOp[] = [];
  let p = 0;
  const need = (k: number) => {
    if (p + k > b.length)
      throw new FrameError(
        'EDGEWAN_ERR_TUNNEL_OP_TRUNCATED',
        `op needs ${k} more bytes, ${b.length - p} left`,
        at + p,
      );
  };
  while (p < b.length) {
    const op = b[p++];
    if (op === Op.REF || op === Op.REFM) {
      need(FP_LEN + 4);
      const fp = b.subarray(p, p + FP_LEN);
      p += FP_LEN;
      const rawLen = u32(b, p);
      p += 4;
      if (rawLen === 0 || rawLen > (op === Op.REF ? MAX_OP_RAW : MAX_REFM_RAW))
        throw new FrameError(
          'EDGEWAN_ERR_TUNNEL_OP_LENGTH',
          `reference to a ${rawLen}-byte chunk`,
          at + p - 4,
        );
      ops.push({ op, rawLen, fp });
    } else if (op === Op.REFN) {
      // The range is checked by the stream against the manifest (a bad one resets that stream).
      need(FP_LEN + 8);
      const fp = b.subarray(p, p + FP_LEN);
      const start = (b[p + FP_LEN] << 8) | b[p + FP_LEN + 1];
      const count = (b[p + FP_LEN + 2] << 8) | b[p + FP_LEN + 3];
      const rawLen = u32(b, p + FP_LEN + 4);
      p += FP_LEN + 8;
      if (rawLen === 0 || rawLen > MAX_REFM_RAW)
        throw new FrameError(
          'EDGEWAN_ERR_TUNNEL_OP_LENGTH',
          `reference range of ${rawLen} bytes`,
          at + p - 4,
        );
      ops.push({ op, rawLen, fp, start, count });
    } else if (op === Op.LZ4) {
      need(8);
      const rawLen = u32(b, p);
      const clen = u32(b, p + 4);
      p += 8;
      if (rawLen === 0 || rawLen > MAX_OP_RAW || clen === 0 || clen > rawLen + (rawLen >>> 8) + 16) {
        throw new FrameError(
          'EDGEWAN_ERR_TUNNEL_OP_LENGTH',
          `LZ4 op raw ${rawLen} / compressed ${clen} bytes out of bounds`,
          at + p - 8,
        );
      }
      need(clen);
      ops.push({ op, rawLen, data: b.subarray(p, p + clen) });
      p += clen;
    } else if (op === Op.DZ) {
      // Counts are checked by the stream (a bad one resets that stream, not the link).
      need(2);
      const flags = b[p];
      const nd = b[p + 1];
      p += 2;
      const check = flags & 1 ? (need(FP_LEN), b.subarray(p, p + FP_LEN)) : null;
      if (check) p += FP_LEN;
      need(FP_LEN * nd + 2);
      const dict: Uint8Array[] = [];
      for (let i = 0; i < nd; i++) {
        dict.push(b.subarray(p, p + FP_LEN));
        p += FP_LEN;
      }
      const n = (b[p] << 8) | b[p + 1];
      p += 2;
      if (n === 0 || n > DZ_MAX_CHUNKS)
        throw new FrameError('EDGEWAN_ERR_TUNNEL_OP_LENGTH', `DZ op with ${n} chunks`, at + p - 2);
      need(4 * n + 4);
      const lens: number[] = [];
      let rawLen = 0;
      for (let i = 0; i < n; i++) {
        const l = u32(b, p);
        p += 4;
        if (l === 0) throw new FrameError('EDGEWAN_ERR_TUNNEL_OP_LENGTH', 'DZ chunk of 0 bytes', at + p - 4);
        lens.push(l);
        rawLen += l;
      }
      if (rawLen > MAX_OP_RAW)
        throw new FrameError('EDGEWAN_ERR_TUNNEL_OP_LENGTH', `DZ op of ${rawLen} raw bytes`, at + p - 4);
      const clen = u32(b, p);
      p += 4;
      if (clen === 0 || clen > rawLen + 64)
        throw new FrameError(
          'EDGEWAN_ERR_TUNNEL_OP_LENGTH',
          `DZ op raw ${rawLen} / compressed ${clen} bytes out of bounds`,
          at + p - 4,
        );
      need(clen);
      ops.push({ op, rawLen, dict, lens, check, zstd: (flags & 2) !== 0, data: b.subarray(p, p + clen) });
      p += clen;
    } else if (op === Op.LIT || op === Op.RAW) {
      need(4);
      const len = u32(b, p);
      p += 4;
      if (len === 0 || len > MAX_OP_RAW)
        throw new FrameError('EDGEWAN_ERR_TUNNEL_OP_LENGTH', `literal of ${len} bytes`, at + p - 4);
      need(len);
      ops.push({ op, rawLen: len, data: b.subarray(p, p + len) });
      p += len;
    } else {
      throw new FrameError('EDGEWAN_ERR_TUNNEL_OP_TYPE', `unknown data op ${op}`, at + p - 1);
    }
  }
  return ops;
}

export interface Hello {
  version: number;
  cacheId: Uint8Array;
  capacityMiB: number;
  windowBytes: number;
  role: 'edge' | 'core';
  /** CODEC_* bits this side decodes */ codecs?: number;
}

export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(MAGIC, 0);
  b[4] = h.version;
  b[5] = h.role === 'edge' ? 1 : 2;
  b.set(h.cacheId.subarray(0, 16), 6);
  b.writeUInt32BE(h.capacityMiB >>> 0, 22);
  b.writeUInt32BE(h.windowBytes >>> 0, 26);
  b[30] = (h.codecs ?? 0) & 255;
  return b;
}

export function decodeHello(b: Uint8Array): Hello {
  const d = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (d.readUInt32BE(0) !== MAGIC)
    throw new FrameError(
      'EDGEWAN_ERR_TUNNEL_HELLO',
      'bad magic: the peer does not speak the edgewan tunnel protocol',
      0,
    );
  if (d[4] !== PROTOCOL_VERSION)
    throw new FrameError(
      'EDGEWAN_ERR_TUNNEL_HELLO',
      `peer speaks protocol version ${d[4]}, this side ${PROTOCOL_VERSION}: upgrade both sides to one release`,
      4,
    );
  if (d[5] !== 1 && d[5] !== 2) throw new FrameError('EDGEWAN_ERR_TUNNEL_HELLO', `bad role ${d[5]}`, 5);
  const windowBytes = d.readUInt32BE(26);
  if (windowBytes < 32768 || windowBytes > 16 * 1024 * 1024)
    throw new FrameError('EDGEWAN_ERR_TUNNEL_HELLO', `stream window ${windowBytes} out of bounds`, 26);
  return {
    version: d[4],
    role: d[5] === 1 ? 'edge' : 'core',
    cacheId: Uint8Array.prototype.slice.call(d, 6, 22),
    capacityMiB: d.readUInt32BE(22),
    windowBytes,
    codecs: d[30],
  };
}

/** CHUNK payload: fp then exactly one LIT or LZ4 op. */
export function decodeChunk(b: Uint8Array): { fp: Uint8Array; op: DataOp } {
  const fp = b.subarray(0, FP_LEN);
  const ops = decodeOps(b.subarray(FP_LEN), FP_LEN);
  if (ops.length !== 1 || (ops[0].op !== Op.LIT && ops[0].op !== Op.LZ4))
    throw new FrameError('EDGEWAN_ERR_TUNNEL_CHUNK', 'a CHUNK frame must carry exactly one literal', FP_LEN);
  return { fp, op: ops[0] };
}
