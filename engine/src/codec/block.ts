// LZ4 block compression as the tunnel uses it, picked by measurement (docs/tunnel.md):
// lz4-wasm-nodejs (lz4_flex compiled to WASM; the bundle inlines the .wasm, see
// scripts/bundle.ts) is ~3× faster to compress and ~7× faster to decompress than our
// pure-TS codec (lz4.ts), which stays as the fallback and as the reference decoder.
// Both produce/consume the standard LZ4 block format; lz4_flex adds a 4-byte size prefix
// that is stripped here, so the wire carries plain blocks.
import * as wasm from 'lz4-wasm-nodejs';
import { lz4BlockProblem, lz4Compress, lz4Decompress } from './lz4.ts';

let wasmOk = true;

/** Which implementation is in use ("wasm" until it misbehaves once, then "ts"). */
export function lz4Impl(): 'wasm' | 'ts' {
  return wasmOk ? 'wasm' : 'ts';
}

/** Force one implementation (tests and benchmarks compare them). */
export function setLz4Impl(impl: 'wasm' | 'ts'): void {
  wasmOk = impl === 'wasm';
}

export function compressBlock(src: Uint8Array): Uint8Array {
  if (wasmOk) {
    try {
      const out = wasm.compress(src);
      // lz4_flex's compress_prepend_size: u32 LE raw size, then a standard block.
      if (
        out.length >= 4 &&
        (out[0] | (out[1] << 8) | (out[2] << 16) | (out[3] << 24)) >>> 0 === src.length
      ) {
        return out.subarray(4);
      }
    } catch {
      /* fall through to the TS codec for good */
    }
    wasmOk = false;
  }
  return lz4Compress(src);
}

/** Input of the WASM decoder (size prefix + block), reused: the glue copies it into WASM memory. */
let scratch = new Uint8Array(0);
const SCRATCH_KEEP = 64 * 1024 + 4;

/**
 * Decode a standard LZ4 block to exactly rawLen bytes (a fresh buffer of its own); null when
 * malformed. lz4_flex is more lenient than the block format (it decodes offset 0, for one),
 * so the WASM path checks the block with lz4BlockProblem() first (a walk over the sequences,
 * no output written): both paths then accept exactly the blocks lz4Decompress accepts
 * (engine/test/codec-lz4-differential.test.ts).
 */
export function decompressBlock(block: Uint8Array, rawLen: number): Uint8Array | null {
  if (wasmOk) {
    if (lz4BlockProblem(block, rawLen) !== null) return null;
    if (scratch.length < block.length + 4)
      scratch = new Uint8Array(Math.max(block.length + 4, Math.min(SCRATCH_KEEP, 2 * scratch.length)));
    const inp = scratch.subarray(0, block.length + 4);
    if (scratch.length > SCRATCH_KEEP) scratch = new Uint8Array(0); // a rare big block: not kept
    inp[0] = rawLen & 255;
    inp[1] = (rawLen >>> 8) & 255;
    inp[2] = (rawLen >>> 16) & 255;
    inp[3] = rawLen >>> 24;
    inp.set(block, 4);
    try {
      const out = wasm.decompress(inp);
      return out.length === rawLen ? out : null;
    } catch {
      // A malformed block made lz4_flex panic (a WASM trap). The glue restores its stack
      // pointer in a finally block, but stay on the TS decoder from now on to be safe.
      wasmOk = false;
    }
  }
  return lz4Decompress(block, rawLen);
}

// Did the last chunk compress well? Data comes in runs (a text file, then a .gz), so the
// next chunk most likely behaves the same: skip the probe after a chunk that paid.
let lastPaid = false;

/**
 * Compress when it pays: returns null for incompressible data. A sample probe first
 * (2 KiB from the middle) skips the full pass on random/encrypted/compressed input; it is
 * left out right after a chunk that compressed well, where it would be 25 % extra work.
 */
export function compressIfWorthwhile(src: Uint8Array): Uint8Array | null {
  if (src.length < 64) return null;
  if (src.length >= 8192 && !lastPaid) {
    const mid = src.length >>> 1;
    const probe = compressBlock(src.subarray(mid - 1024, mid + 1024));
    if (probe.length > 2048 * 0.97) return null;
  }
  const c = compressBlock(src);
  lastPaid = c.length < src.length - (src.length >>> 3);
  // Worth it only if it saves at least 1/32 (the receiver pays a decode for it).
  return c.length < src.length - (src.length >>> 5) ? c : null;
}

/**
 * The sample probe alone: does LZ4 fail to shrink 2 KiB from the middle by 3 %? Cheap
 * (one small block), so compressed or encrypted chunks skip the deflate pass (link.ts).
 */
export function looksIncompressible(src: Uint8Array): boolean {
  if (src.length < 8192) return false;
  const mid = src.length >>> 1;
  return compressBlock(src.subarray(mid - 1024, mid + 1024)).length > 2048 * 0.97;
}
