// Chunk fingerprints: SHA-256 (node:crypto, native on every arch, ~1 GB/s here) truncated
// to 24 bytes. Truncation keeps 192 bits, so finding any two colliding chunks takes about
// 2^96 hash evaluations (birthday bound) — far beyond an attacker — while a reference on the
// wire stays small (24 B per ~8 KiB chunk, 0.3 %). The receiver re-hashes every chunk it
// reconstructs, so the fingerprint is also the corruption check for cached bytes.
import * as crypto from 'node:crypto';

export const FP_LEN = 24;

// crypto.hash() (Node ≥ 20.12) hashes in one call without a Hash object: ~15 % faster per
// 8 KiB chunk here. Node 18 lacks it and takes the createHash path; both give the same bytes.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

export function fingerprint(chunk: Uint8Array): Buffer {
  const d = oneShot ? oneShot('sha256', chunk, 'buffer') : crypto.createHash('sha256').update(chunk).digest();
  return d.subarray(0, FP_LEN);
}

/** Map key for a fingerprint: a 24-char latin1 string is compact and hashes fast in V8. */
export function fpKey(fp: Uint8Array): string {
  return Buffer.from(fp.buffer, fp.byteOffset, fp.byteLength).toString('latin1');
}

/** The fingerprint a key stands for (a fresh 24-byte Buffer). */
export function keyFp(k: string): Buffer {
  return Buffer.from(k, 'latin1');
}

/**
 * A fingerprint that owns its memory, for one kept beyond the call: a view into a frame, or
 * into a slab of Node's shared Buffer pool (Buffer.from and allocUnsafe below half of
 * Buffer.poolSize; 64 KiB on Node 24, 8 KiB before), would keep all of that alive. A
 * fingerprint() result (its own 32-byte buffer) is returned as is.
 */
export function ownFp(fp: Uint8Array): Uint8Array {
  if (fp.buffer.byteLength <= 32) return fp;
  const b = new Uint8Array(FP_LEN);
  b.set(fp);
  return b;
}

export function fpHex(fp: Uint8Array): string {
  return Buffer.from(fp.buffer, fp.byteOffset, fp.byteLength).toString('hex');
}
