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
  /**
   * The current span's fingerprints, copied in: a fingerprint is often a view (into a
   * received frame, or a slab of Node's Buffer pool, 64 KiB on Node 24), and 1,000 streams
   * each keeping one such view would keep 1,000 frames or slabs alive. Allocated at the first
   * chunk and grown to at most SPAN_MAX fingerprints (1,536 bytes), so memory per stream is
   * bounded by bytes, and an idle stream holds none.
   */
  private buf: Uint8Array | null = null;
  private n = 0;

  get length(): number {
    return this.n;
  }

  /** A chunk passed (in stream order); returns the manifest when it completes a span. */
  push(fp: Uint8Array): Uint8Array | null {
    if (!this.buf || this.buf.length < (this.n + 1) * FP_LEN) {
      const next = new Uint8Array(Math.min(SPAN_MAX, Math.max(16, this.n * 2)) * FP_LEN);
      if (this.buf) next.set(this.buf.subarray(0, this.n * FP_LEN));
      this.buf = next;
    }
    this.buf.set(fp.subarray(0, FP_LEN), this.n * FP_LEN);
    this.n++;
    if (fp[0] >= SPAN_CUT && this.n < SPAN_MAX) return null;
    // The manifest is a chunk of its own (stored as is: its own ArrayBuffer, exact length).
    const m = this.buf.slice(0, this.n * FP_LEN);
    this.n = 0;
    return m;
  }

  /** A chunk without a fingerprint passed: no manifest spans it. */
  reset(): void {
    this.n = 0;
  }

  /** The stream ended: drop the buffer. */
  clear(): void {
    this.n = 0;
    this.buf = null;
  }
}

/** The fingerprints a manifest lists, or null when it is not a well-formed manifest. */
export function manifestFps(m: Uint8Array): Uint8Array[] | null {
  if (m.length === 0 || m.length % FP_LEN !== 0 || m.length / FP_LEN > SPAN_MAX) return null;
  const out: Uint8Array[] = [];
  for (let i = 0; i < m.length; i += FP_LEN) out.push(m.subarray(i, i + FP_LEN));
  return out;
}
