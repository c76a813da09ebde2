// Chunk fingerprints: SHA-256 (node:crypto, native on every arch, ~1 GB/s here) truncated
// to 24 bytes. Truncation keeps 192 bits, so finding any two colliding chunks takes about
// 2^96 hash evaluations (birthday bound) — far beyond an attacker — while a reference on the
// wire stays small (24 B per ~8 KiB chunk, 0.3 %). The receiver re-hashes every chunk it
// reconstructs, so the fingerprint is also the corruption check for cached bytes.
import { createHash } from 'node:crypto';

export const FP_LEN = 24;

export function fingerprint(chunk: Uint8Array): Buffer {
  return createHash('sha256').update(chunk).digest().subarray(0, FP_LEN);
}

/** Map key for a fingerprint: a 24-char latin1 string is compact and hashes fast in V8. */
export function fpKey(fp: Uint8Array): string {
  return Buffer.from(fp.buffer, fp.byteOffset, fp.byteLength).toString('latin1');
}

export function fpHex(fp: Uint8Array): string {
  return Buffer.from(fp.buffer, fp.byteOffset, fp.byteLength).toString('hex');
}
