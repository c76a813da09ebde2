// Literals compressed with history: raw deflate (node:zlib, on every runtime the bundle and
// the executables run: Node 18, 20, 24) with a preset dictionary made of chunks both sides
// hold — the stream's recent chunks, referenced ones included, and for a changed chunk a
// similar chunk found by resemblance (resemble.ts). The dictionary is named on the wire by
// fingerprints, so an op decodes on its own: no compressor or window state lives per stream
// between ops, and 1,000 idle streams hold no window at all (docs/tunnel.md, "Compression
// with history"). Deflate sees only the last 32 KiB of a dictionary, so that is all built.
import zlib from 'node:zlib';

/** Deflate's window: the part of a dictionary it can match against. */
export const DICT_WINDOW = 32768;
/** Level picked by measurement on real update corpora (docs/bench/tunnel.md). */
export const DZ_LEVEL = 6;

/** The last DICT_WINDOW bytes of parts, concatenated (both sides build it the same way). */
export function buildDict(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const n = Math.min(total, DICT_WINDOW);
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
  return zlib.deflateRawSync(raw, dict.length > 0 ? { level, dictionary: dict, chunkSize } : { level, chunkSize });
}

/**
 * Inflate to exactly rawLen bytes, or null: malformed input, a different length, or more
 * output than declared (a decompression bomb stops at rawLen + 1 bytes: maxOutputLength).
 */
export function inflateWithDict(z: Uint8Array, dict: Uint8Array, rawLen: number): Buffer | null {
  try {
    const out = zlib.inflateRawSync(z, { ...(dict.length > 0 ? { dictionary: dict } : {}), maxOutputLength: rawLen + 1, chunkSize: Math.max(64, rawLen + 1) });
    return out.length === rawLen ? out : null;
  } catch {
    return null;
  }
}
