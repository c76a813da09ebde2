// Literals compressed with history: a preset dictionary made of chunks both sides hold —
// the stream's recent chunks, referenced ones included, and for a changed chunk a similar
// chunk found by resemblance (resemble.ts). Two codecs: zstd (node:zlib on Node ≥ 22.15 /
// 23.8 with dictionaries: the executables' Node 24; level 5, the last 128 KiB of history) and
// raw deflate (every runtime the bundle runs on, Node 18 and 20 included; level 6, the last
// 32 KiB, all deflate can see). The dictionary is named on the wire by fingerprints, so an op
// decodes on its own: no compressor or window state lives per stream between ops, and 1,000
// idle streams hold no window at all (docs/tunnel.md, "Compression with history").
import zlib from 'node:zlib';
import { FP_LEN } from './fingerprint.ts';

/** Deflate's window: the part of a dictionary it can match against. */
export const DICT_WINDOW = 32768;
/** Level picked by measurement on real update corpora (docs/bench/tunnel.md). */
export const DZ_LEVEL = 6;

/** zstd: the part of the history used as dictionary, and at most this many chunks named for it. */
export const ZSTD_WINDOW = 131072;
export const ZSTD_MAX_DICT = 16;
/** Level picked by measurement (docs/bench/tunnel.md): the first level whose first transfers stay within 1.05 × `zstd -3` on all four real corpora. */
export const ZSTD_LEVEL = 5;

type ZstdZlib = {
  zstdCompressSync(b: Uint8Array, o: object): Buffer;
  zstdDecompressSync(b: Uint8Array, o: object): Buffer;
  constants: Record<string, number>;
};
const zz = zlib as unknown as Partial<ZstdZlib>;

/**
 * Does this runtime's node:zlib do zstd with a dictionary? (Node 18 and 20: no zstd; 22.15+:
 * zstd; checked by a round trip, so a runtime whose zstd ignores the dictionary is not used.)
 */
export const zstdAvailable: boolean = (() => {
  if (typeof zz.zstdCompressSync !== 'function' || typeof zz.zstdDecompressSync !== 'function') return false;
  try {
    const dict = Buffer.from('edgewan zstd dictionary probe: '.repeat(8));
    const raw = Buffer.from('edgewan zstd dictionary probe: a round trip');
    const c = zz.zstdCompressSync(raw, { dictionary: dict });
    return zz.zstdDecompressSync(c, { dictionary: dict }).equals(raw) && c.length < raw.length;
  } catch {
    return false;
  }
})();

/** The last `window` bytes of parts, concatenated (both sides build it the same way). */
export function buildDict(parts: Uint8Array[], window = DICT_WINDOW): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const n = Math.min(total, window);
  const out = Buffer.allocUnsafe(n);
  let at = n;
  for (let i = parts.length - 1; i >= 0 && at > 0; i--) {
    const p = parts[i];
    const k = Math.min(at, p.length);
    out.set(p.subarray(p.length - k), at - k);
    at -= k;
  }
  return out;
}

// chunkSize: one output buffer of about the final size instead of 16 KiB pieces joined
// (less garbage outside the V8 heap, which the GC guard has to collect).
export function deflateWithDict(raw: Uint8Array, dict: Uint8Array, level = DZ_LEVEL): Buffer {
  const chunkSize = Math.max(1024, (raw.length >>> 1) + 256);
  return zlib.deflateRawSync(
    raw,
    dict.length > 0 ? { level, dictionary: dict, chunkSize } : { level, chunkSize },
  );
}

/**
 * Inflate to exactly rawLen bytes, or null: malformed input, a different length, or more
 * output than declared (a decompression bomb stops at rawLen + 1 bytes: maxOutputLength).
 */
export function inflateWithDict(z: Uint8Array, dict: Uint8Array, rawLen: number): Buffer | null {
  try {
    const out = zlib.inflateRawSync(z, {
      ...(dict.length > 0 ? { dictionary: dict } : {}),
      maxOutputLength: rawLen + 1,
      chunkSize: Math.max(64, rawLen + 1),
    });
    return out.length === rawLen ? out : null;
  } catch {
    return null;
  }
}

/** zstd with a raw-content dictionary (only where zstdAvailable). */
export function zstdWithDict(raw: Uint8Array, dict: Uint8Array, level = ZSTD_LEVEL): Buffer {
  const c = zz.constants!;
  return zz.zstdCompressSync!(raw, {
    params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_contentSizeFlag]: 0 },
    pledgedSrcSize: raw.length,
    chunkSize: Math.max(1024, (raw.length >>> 1) + 256),
    ...(dict.length > 0 ? { dictionary: dict } : {}),
  });
}

/** As inflateWithDict, for zstd: exactly rawLen bytes or null (a bomb stops at rawLen + 1). */
export function unzstdWithDict(z: Uint8Array, dict: Uint8Array, rawLen: number): Buffer | null {
  if (!zstdAvailable) return null;
  try {
    const out = zz.zstdDecompressSync!(z, {
      ...(dict.length > 0 ? { dictionary: dict } : {}),
      maxOutputLength: rawLen + 1,
      chunkSize: Math.max(64, rawLen + 1),
    });
    return out.length === rawLen ? out : null;
  } catch {
    return null;
  }
}

/**
 * Send side, per stream: the fingerprints and lengths of its last chunks (any op), newest
 * last, as dictionary candidates: at most `max` of them and no more than the minimal suffix
 * covering `window` bytes. Kept in one buffer of its own (max × 24 bytes, allocated at the
 * first chunk, dropped with the stream): nothing here keeps a frame or a pool slab alive.
 */
export class SendHistory {
  private fps: Uint8Array | null = null;
  private readonly lens: number[] = [];
  private start = 0;
  private bytes = 0;
  constructor(readonly max: number) {}

  get length(): number {
    return this.lens.length;
  }

  push(fp: Uint8Array, len: number, window: number, max = this.max): void {
    if (!this.fps) this.fps = new Uint8Array(this.max * FP_LEN);
    if (this.lens.length === this.max) this.dropOldest();
    this.fps.set(fp.subarray(0, FP_LEN), ((this.start + this.lens.length) % this.max) * FP_LEN);
    this.lens.push(len);
    this.bytes += len;
    while (
      this.lens.length > Math.min(max, this.max) ||
      (this.lens.length > 1 && this.bytes - this.lens[0] >= window)
    )
      this.dropOldest();
  }

  /** The i-th newest chunk (0: the last one): a fresh copy of its fingerprint, and its length. */
  newest(i: number): { fp: Buffer; len: number } {
    const n = this.lens.length;
    const at = ((this.start + n - 1 - i) % this.max) * FP_LEN;
    return { fp: Buffer.from(this.fps!.subarray(at, at + FP_LEN)), len: this.lens[n - 1 - i] };
  }

  clear(): void {
    this.fps = null;
    this.lens.length = 0;
    this.start = 0;
    this.bytes = 0;
  }

  private dropOldest(): void {
    this.bytes -= this.lens.shift()!;
    this.start = (this.start + 1) % this.max;
  }
}
