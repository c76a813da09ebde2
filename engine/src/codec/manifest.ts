// Compact runs of references: each stream's chunk sequence is cut, by content again, into
// spans — a span ends after a chunk whose fingerprint's first byte is below SPAN_CUT (1 in 16
// chunks, ~128 KiB) or at SPAN_MAX chunks. A span's manifest is the concatenation of its
// chunk fingerprints, and it is itself a chunk: stored under its own fingerprint, resolved
// by NEED like any other, verified the same way. Both sides build manifests from the chunks
// each stream carries, so a repeat of a whole span crosses as one REFM op (29 bytes for ~16
// chunks instead of 16 × 29). Nothing is shared but content-addressed chunks: a side that
// built different spans (another mode, a reset stream) just asks for the manifest.
import { FP_LEN } from './fingerprint.ts';

export const SPAN_MAX = 64;
const SPAN_CUT = 16;

export class SpanBuilder {
  private fps: Uint8Array[] = [];

  get length(): number { return this.fps.length; }

  /** A chunk passed (in stream order); returns the manifest when it completes a span. */
  push(fp: Uint8Array): Uint8Array | null {
    this.fps.push(fp);
    if (fp[0] >= SPAN_CUT && this.fps.length < SPAN_MAX) return null;
    const m = Buffer.allocUnsafeSlow(this.fps.length * FP_LEN);
    for (let i = 0; i < this.fps.length; i++) m.set(this.fps[i], i * FP_LEN);
    this.fps = [];
    return new Uint8Array(m.buffer, m.byteOffset, m.length);
  }

  /** A chunk without a fingerprint passed: no manifest spans it. */
  reset(): void { this.fps = []; }
}

/** The fingerprints a manifest lists, or null when it is not a well-formed manifest. */
export function manifestFps(m: Uint8Array): Uint8Array[] | null {
  if (m.length === 0 || m.length % FP_LEN !== 0 || m.length / FP_LEN > SPAN_MAX) return null;
  const out: Uint8Array[] = [];
  for (let i = 0; i < m.length; i += FP_LEN) out.push(m.subarray(i, i + FP_LEN));
  return out;
}
