// Seeded test data for codec, cache and tunnel tests (not a test file itself).
export interface Rng {
  int(n: number): number;
  bytes(n: number): Uint8Array;
}

export function seeded(seed: number): Rng {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    int: (n) => next() % n,
    bytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = next();
        b[i] = v;
        b[i + 1] = v >>> 8;
        b[i + 2] = v >>> 16;
        b[i + 3] = v >>> 24;
      }
      return b.length === n ? b : b.subarray(0, n);
    },
  };
}

const WORDS =
  'the a request server client cache chunk tunnel edge core stream config value error return function const let import export status bytes path user'.split(
    ' ',
  );

/** Log/source-like text: compressible, with repeats at varying distances. */
export function textLike(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let p = 0;
  while (p < n) {
    const line = `${WORDS[r.int(WORDS.length)]} ${WORDS[r.int(WORDS.length)]}=${r.int(100000)} id=${r.int(1 << 30).toString(16)} ${WORDS[r.int(WORDS.length)]}\n`;
    for (let i = 0; i < line.length && p < n; i++) out[p++] = line.charCodeAt(i);
  }
  return out;
}

/** A mixed corpus: text, random ("compressed/binary") and repeated sections. */
export function mixedCorpus(seed: number, n: number): Uint8Array {
  const r = seeded(seed);
  const out = new Uint8Array(n);
  let p = 0;
  while (p < n) {
    const kind = r.int(3);
    const len = Math.min(n - p, 4096 + r.int(256 * 1024));
    const part =
      kind === 0
        ? textLike(r, len)
        : kind === 1
          ? r.bytes(len)
          : p > len
            ? out.slice(r.int(p - len), r.int(p - len) + len).subarray(0, len)
            : textLike(r, len);
    out.set(part.subarray(0, len), p);
    p += len;
  }
  return out;
}
