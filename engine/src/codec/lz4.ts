// LZ4 block format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md) in plain
// TypeScript: no native addon and no WASM loader, so it runs unchanged in the Node 18
// bundle and the arm SEAs. The decoder is strict: every length and offset is bounds-checked
// against the input and the caller's exact output size, it never allocates more than that
// size, and it reports bad input by returning null (never by throwing).

const MIN_MATCH = 4;
const LAST_LITERALS = 5; // the spec: the last 5 bytes are always literals
const MF_LIMIT = 12; // the last match must start at least 12 bytes before the end
const HASH_LOG = 13;
const MAX_OFFSET = 65535;

/** Worst-case compressed size for n input bytes (the spec's LZ4_compressBound). */
export function lz4Bound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

// One hash table reused across calls (compress is synchronous, so it is never shared).
// Entries hold base + position; anything below the current call's base is stale, which
// spares clearing the table for every small chunk.
const table = new Int32Array(1 << HASH_LOG);
let base = 0;

function copyBytes(dst: Uint8Array, d: number, src: Uint8Array, s: number, len: number): void {
  // Short copies dominate; a loop beats subarray()+set() (an allocation each) below ~64 B.
  if (len < 64) {
    for (let k = 0; k < len; k++) dst[d + k] = src[s + k];
  } else dst.set(src.subarray(s, s + len), d);
}

function read32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

function hash4(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_LOG);
}

/**
 * Compress src into dst (dst.length ≥ lz4Bound(src.length)); returns the compressed length.
 * Greedy single-probe matching with LZ4's skip acceleration: on incompressible input the
 * step grows, so such data is scanned at several hundred MB/s and then sent raw.
 */
export function lz4CompressInto(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  let op = 0;
  let anchor = 0;
  if (n >= MF_LIMIT + 1) {
    if (base > 0x7fffffff - n - 2) {
      table.fill(0);
      base = 0;
    }
    const b0 = base + 1; // table values < b0 are from earlier calls
    base = b0 + n;
    const matchLimit = n - LAST_LITERALS;
    const mflimit = n - MF_LIMIT;
    let ip = 0;
    table[hash4(read32(src, 0))] = b0;
    ip = 1;
    outer: while (ip < mflimit) {
      // Find a match, stepping faster the longer none is found.
      let searchNb = 1 << 6;
      let ref = -1;
      for (;;) {
        const seq = read32(src, ip);
        const h = hash4(seq);
        ref = table[h] - b0;
        table[h] = ip + b0;
        if (ref >= 0 && ip - ref <= MAX_OFFSET && read32(src, ref) === seq) break;
        ip += searchNb++ >> 6;
        if (ip >= mflimit) break outer;
      }
      // Extend backwards over equal bytes.
      while (ip > anchor && ref > 0 && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      // Extend forwards.
      let mlen = MIN_MATCH;
      while (ip + mlen < matchLimit && src[ip + mlen] === src[ref + mlen]) mlen++;
      // Emit token, literals, offset, match length.
      const litLen = ip - anchor;
      const tokenPos = op++;
      let token = 0;
      if (litLen >= 15) {
        token = 15 << 4;
        let r = litLen - 15;
        while (r >= 255) {
          dst[op++] = 255;
          r -= 255;
        }
        dst[op++] = r;
      } else token = litLen << 4;
      copyBytes(dst, op, src, anchor, litLen);
      op += litLen;
      const off = ip - ref;
      dst[op++] = off & 255;
      dst[op++] = off >>> 8;
      const ml = mlen - MIN_MATCH;
      if (ml >= 15) {
        token |= 15;
        let r = ml - 15;
        while (r >= 255) {
          dst[op++] = 255;
          r -= 255;
        }
        dst[op++] = r;
      } else token |= ml;
      dst[tokenPos] = token;
      ip += mlen;
      anchor = ip;
      if (ip >= mflimit) break;
      // Index a position inside the match so the next search has fresh candidates.
      table[hash4(read32(src, ip - 2))] = ip - 2 + b0;
    }
  }
  // Last literals.
  const litLen = n - anchor;
  if (litLen >= 15) {
    dst[op++] = 15 << 4;
    let r = litLen - 15;
    while (r >= 255) {
      dst[op++] = 255;
      r -= 255;
    }
    dst[op++] = r;
  } else dst[op++] = litLen << 4;
  copyBytes(dst, op, src, anchor, litLen);
  return op + litLen;
}

/** Compress to a fresh buffer of exactly the compressed length. */
export function lz4Compress(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(lz4Bound(src.length));
  return dst.slice(0, lz4CompressInto(src, dst));
}

/**
 * Decode one LZ4 block that must expand to exactly `rawLen` bytes. Returns null on any
 * block the format (doc/lz4_Block_format.md of the LZ4 project) calls invalid: an empty
 * input (an empty block is the single byte 0), a truncated sequence, offset 0 or before the
 * start of the output, output overrun or a size other than rawLen, and the end-of-block
 * rules: the last 5 bytes are literals and the last match starts at least 12 bytes before
 * the end (so a block ends with a literal-only sequence). Allocates exactly rawLen bytes
 * (the caller bounds rawLen). lz4BlockProblem() applies the same rules without decoding.
 */
export function lz4Decompress(src: Uint8Array, rawLen: number): Uint8Array | null {
  const n = src.length;
  if (n === 0) return null;
  const dst = new Uint8Array(rawLen);
  const matchStartLimit = rawLen - MF_LIMIT;
  const matchEndLimit = rawLen - LAST_LITERALS;
  let ip = 0;
  let op = 0;
  while (ip < n) {
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b = 255;
      while (b === 255) {
        if (ip >= n) return null;
        b = src[ip++];
        lit += b;
        if (lit > rawLen) return null;
      }
    }
    if (ip + lit > n || op + lit > rawLen) return null;
    copyBytes(dst, op, src, ip, lit);
    ip += lit;
    op += lit;
    if (ip === n) break; // the last sequence has literals only
    if (ip + 2 > n) return null;
    const off = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (off === 0 || off > op || op > matchStartLimit) return null;
    let ml = token & 15;
    if (ml === 15) {
      let b = 255;
      while (b === 255) {
        if (ip >= n) return null;
        b = src[ip++];
        ml += b;
        if (ml > rawLen) return null;
      }
    }
    ml += MIN_MATCH;
    if (op + ml > matchEndLimit) return null;
    let from = op - off;
    if (off >= ml && ml >= 64) {
      dst.copyWithin(op, from, from + ml);
      op += ml;
    } else {
      // Short or overlapping copy (a run): byte by byte, as the format intends.
      for (let k = 0; k < ml; k++) dst[op++] = dst[from++];
    }
  }
  return op === rawLen ? dst : null;
}

/** End of the length bytes extLength() last read (it returns the value). */
let lenEnd = 0;

/**
 * A length of 15 continued by bytes up to the first that is not 255 (the format's literal and
 * match lengths), starting at src[ip]: -1 when the block ends first, -2 past limit.
 */
function extLength(src: Uint8Array, ip: number, limit: number): number {
  let v = 15;
  let b = 255;
  while (b === 255) {
    if (ip >= src.length) return -1;
    b = src[ip++];
    v += b;
    if (v > limit) return -2;
  }
  lenEnd = ip;
  return v;
}

/**
 * Why a block is not a valid LZ4 block of exactly rawLen bytes (with the byte offset in the
 * block), or null when it is. The rules of lz4Decompress, checked without writing output:
 * lz4Decompress(src, rawLen) === null exactly when this returns a reason. Used in front of
 * decoders that are more lenient than the format (block.ts: lz4_flex in WASM accepts offset 0).
 */
export function lz4BlockProblem(src: Uint8Array, rawLen: number): string | null {
  const n = src.length;
  if (n === 0) return 'empty block (an empty input is the single byte 0)';
  let ip = 0;
  let op = 0;
  while (ip < n) {
    const at = ip;
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      lit = extLength(src, ip, rawLen);
      if (lit < 0)
        return `literal length ${lit === -1 ? 'runs past the end of the block' : `beyond the ${rawLen}-byte output`} (sequence at byte ${at})`;
      ip = lenEnd;
    }
    if (ip + lit > n) return `literals run past the end of the block (sequence at byte ${at})`;
    if (op + lit > rawLen) return `literals overrun the ${rawLen}-byte output (sequence at byte ${at})`;
    ip += lit;
    op += lit;
    if (ip === n) break;
    if (ip + 2 > n) return `truncated offset at byte ${ip}`;
    const off = src[ip] | (src[ip + 1] << 8);
    if (off === 0) return `offset 0 at byte ${ip}`;
    if (off > op)
      return `offset ${off} at byte ${ip} points before the start of the output (at output byte ${op})`;
    if (op > rawLen - MF_LIMIT)
      return `match at output byte ${op} starts less than ${MF_LIMIT} bytes before the end (sequence at byte ${at})`;
    ip += 2;
    let ml = token & 15;
    if (ml === 15) {
      ml = extLength(src, ip, rawLen);
      if (ml < 0)
        return `match length ${ml === -1 ? 'runs past the end of the block' : `beyond the ${rawLen}-byte output`} (sequence at byte ${at})`;
      ip = lenEnd;
    }
    ml += MIN_MATCH;
    if (op + ml > rawLen - LAST_LITERALS)
      return `match ends within the last ${LAST_LITERALS} bytes of the output, which must be literals (sequence at byte ${at})`;
    op += ml;
  }
  return op === rawLen ? null : `block decodes to ${op} bytes, not ${rawLen}`;
}
