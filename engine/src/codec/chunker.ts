// FastCDC-style content-defined chunker (Xia et al., USENIX ATC 2016): a gear rolling hash
// with normalized chunking (a stricter mask before the expected size, a looser one after),
// so boundaries depend only on content and resynchronise right after an edit. Pure: bytes
// in, cut points out. Both peers use the same seeded gear table, so a chunk cut by either
// side has the same boundaries (and fingerprint) whichever direction it travels.

import { wasmGearScanner, type GearScanner } from './gear-wasm.ts';

export interface ChunkerOptions {
  /** expected (average) chunk size in bytes, a power of two (default 8 KiB) */
  avgSize?: number;
  /** minimum chunk size (default avg/4); no boundary is searched before it */
  minSize?: number;
  /** maximum chunk size (default avg*4); a cut is forced there. Normalized chunking rarely
   *  goes past 3× avg, and a small max keeps the per-stream flow-control window small. */
  maxSize?: number;
}

export interface ChunkerParams {
  avgSize: number;
  minSize: number;
  maxSize: number;
  maskS: number;
  maskL: number;
}

// Gear table from a fixed splitmix32 seed: deterministic across processes and versions.
const GEAR = new Int32Array(256);
{
  let s = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    GEAR[i] = z ^ (z >>> 16);
  }
}
/** A copy of the gear table (tests drive the WASM scanner with it). */
export function gearTable(): Int32Array {
  return GEAR.slice();
}

const wasmScanner = wasmGearScanner(GEAR);
let wasm: GearScanner | null = wasmScanner;

/** A mask with `bits` one-bits spread over the top of a 32-bit word (the hash's best-mixed bits). */
function spreadMask(bits: number): number {
  // Left-shifting gear hash: bit k depends on the last k+1 bytes, so use high bits only,
  // every other bit from the top, which keeps a ≥ 2·bits byte window in play.
  let m = 0;
  for (let i = 0; i < bits; i++) m |= 1 << (31 - 2 * i);
  return m | 0;
}

export function chunkerParams(opts: ChunkerOptions = {}): ChunkerParams {
  const avgSize = opts.avgSize ?? 8192;
  const bits = Math.round(Math.log2(avgSize));
  if (2 ** bits !== avgSize || bits < 8 || bits > 22) {
    throw new RangeError(
      `EDGEWAN_ERR_CODEC_CHUNK_SIZE: expected chunk size ${avgSize} must be a power of two between 256 and 4 MiB`,
    );
  }
  const minSize = opts.minSize ?? avgSize / 4;
  const maxSize = opts.maxSize ?? avgSize * 4;
  if (!(minSize >= 64 && minSize < avgSize && maxSize > avgSize && maxSize <= 16 * 1024 * 1024)) {
    throw new RangeError(
      `EDGEWAN_ERR_CODEC_CHUNK_SIZE: need 64 ≤ min (${minSize}) < avg (${avgSize}) < max (${maxSize}) ≤ 16 MiB`,
    );
  }
  // Normalization level 2 (FastCDC §3.3): ±2 mask bits around the expected size.
  return {
    avgSize,
    minSize,
    maxSize,
    maskS: spreadMask(Math.min(bits + 2, 16)),
    maskL: spreadMask(bits - 2),
  };
}

/**
 * Length of the first chunk of buf[start..end): a content-defined boundary, or maxSize when
 * none is found that far; -1 when neither is reached before `end` (more bytes are needed).
 * The first minSize bytes are skipped (FastCDC), so the hash starts fresh at start+minSize.
 */
export function findCut(p: ChunkerParams, buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n <= p.minSize) return -1;
  const limit = n >= p.maxSize ? start + p.maxSize : end;
  const normal = Math.min(start + p.avgSize, limit);
  const from = start + p.minSize;
  // Small scans stay in JS: the copy into WASM memory and the call cost more than they save.
  const i =
    wasm && limit - from >= 256
      ? wasm.scan(buf, from, normal, limit, p.maskS, p.maskL)
      : scanJs(buf, from, normal, limit, p.maskS, p.maskL);
  if (i >= 0) return i - start;
  return n >= p.maxSize ? p.maxSize : -1;
}

/** The reference scan (and the fallback): index just past the first boundary, or -1. */
export function scanJs(
  buf: Uint8Array,
  from: number,
  normal: number,
  limit: number,
  maskS: number,
  maskL: number,
): number {
  let h = 0;
  let i = from;
  for (; i < normal; i++) {
    h = ((h << 1) + GEAR[buf[i]]) | 0;
    if ((h & maskS) === 0) return i + 1;
  }
  for (; i < limit; i++) {
    h = ((h << 1) + GEAR[buf[i]]) | 0;
    if ((h & maskL) === 0) return i + 1;
  }
  return -1;
}

/** Which scan findCut uses: "wasm" normally, "js" where WebAssembly is unavailable or off. */
export function gearImpl(): 'wasm' | 'js' {
  return wasm ? 'wasm' : 'js';
}
/** Force one scan implementation (tests and benchmarks compare them). */
export function setGearImpl(impl: 'wasm' | 'js'): void {
  wasm = impl === 'wasm' ? wasmScanner : null;
}

/** Like findCut, but the bytes end at `end` for good: a short remainder is a chunk as is. */
export function nextCut(p: ChunkerParams, buf: Uint8Array, start: number, end: number): number {
  const c = findCut(p, buf, start, end);
  return c < 0 ? end - start : c;
}

/** Cut a whole buffer into chunks (lengths). Convenience for tests and benchmarks. */
export function chunkAll(p: ChunkerParams, buf: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = nextCut(p, buf, pos, buf.length);
    out.push(len);
    pos += len;
  }
  return out;
}

const EMPTY = new Uint8Array(0);

/** buf[pos, pos+len) as a plain Uint8Array (Buffer#subarray's species path is slower). */
const view = (buf: Uint8Array, pos: number, len: number) =>
  new Uint8Array(buf.buffer, buf.byteOffset + pos, len);

/** A copy of buf[from..] that holds no reference to buf's memory (and skips the zero fill). */
function copyOf(buf: Uint8Array, from: number): Uint8Array {
  const c = Buffer.allocUnsafeSlow(buf.length - from);
  c.set(buf.subarray(from), 0);
  return c;
}

/**
 * Streaming chunker for one direction of one stream: push() bytes as they arrive, get back
 * complete content-defined chunks; the tail after the last boundary stays buffered (at most
 * maxSize bytes) until more data, flush() (idle/end) or a forced cut at maxSize.
 */
export class StreamChunker {
  private tail: Uint8Array = EMPTY;
  constructor(readonly params: ChunkerParams) {}

  get pending(): number {
    return this.tail.length;
  }

  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = 0; // in data
    if (this.tail.length > 0) {
      // Only the chunk that straddles the old tail and the new bytes needs a joined copy,
      // and it ends within maxSize of its start: copy that much, not all of `data`.
      const take = Math.min(data.length, this.params.maxSize - this.tail.length);
      const joined = Buffer.allocUnsafeSlow(this.tail.length + take); // fully overwritten below
      joined.set(this.tail, 0);
      joined.set(data.subarray(0, take), this.tail.length);
      const len = findCut(this.params, joined, 0, joined.length);
      // No cut means joined < maxSize, i.e. it took all of data: it is the new tail.
      if (len < 0) {
        this.tail = joined;
        return out;
      }
      out.push(view(joined, 0, len));
      pos = len - this.tail.length; // > 0: the tail alone had no cut (same bytes, same start)
    }
    while (pos < data.length) {
      const len = findCut(this.params, data, pos, data.length);
      if (len < 0) break; // no boundary yet: the rest is the tail
      out.push(view(data, pos, len)); // chunks alias the caller's buffer until sent
      pos += len;
    }
    // Copy the tail so the caller's buffer can be released.
    this.tail = pos === data.length ? EMPTY : copyOf(data, pos);
    return out;
  }

  /** Emit whatever is buffered as a (forced) chunk; null when empty. */
  flush(): Uint8Array | null {
    if (this.tail.length === 0) return null;
    const t = this.tail;
    this.tail = EMPTY;
    return t;
  }
}
