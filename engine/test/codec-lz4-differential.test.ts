// The two LZ4 decoders (pure TS lz4Decompress; lz4_flex in WASM behind decompressBlock) must
// accept exactly the same blocks, and exactly those the block format allows
// (doc/lz4_Block_format.md of the LZ4 project: offset 0 invalid, no offset before the output
// start, exact output size, last 5 bytes literals, last match at least 12 bytes before the
// end). Hand-made blocks for each rule, then a differential fuzz with fixed seeds, bounded in
// count: mutated blocks from both encoders and random sequence streams near the end limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as wasm from 'lz4-wasm-nodejs';
import { lz4BlockProblem, lz4Compress, lz4Decompress } from '../src/codec/lz4.ts';
import { decompressBlock, lz4Impl, setLz4Impl } from '../src/codec/block.ts';
import { seeded, textLike, type Rng } from './codec-corpus.ts';

/** lz4_flex on its own (size prefix + block), no format check in front: null when it rejects. */
function rawWasm(block: Uint8Array, rawLen: number): Uint8Array | null {
  const inp = new Uint8Array(block.length + 4);
  new DataView(inp.buffer).setUint32(0, rawLen, true);
  inp.set(block, 4);
  try {
    const o = wasm.decompress(inp);
    return o.length === rawLen ? o : null;
  } catch {
    return null;
  }
}

/** One sequence: token, literal length bytes, literals, then (unless last) offset and match length bytes. */
function seq(lits: number[], match?: { off: number; len: number }): number[] {
  const out: number[] = [];
  const lenBytes = (v: number) => {
    const b: number[] = [];
    for (; v >= 255; v -= 255) b.push(255);
    b.push(v);
    return b;
  };
  const l = lits.length;
  const ml = match ? match.len - 4 : 0;
  out.push((Math.min(l, 15) << 4) | (match ? Math.min(ml, 15) : 0));
  if (l >= 15) out.push(...lenBytes(l - 15));
  out.push(...lits);
  if (match) {
    out.push(match.off & 255, match.off >> 8);
    if (ml >= 15) out.push(...lenBytes(ml - 15));
  }
  return out;
}
const bytes = (n: number, v = 97) => Array.from({ length: n }, (_, i) => v + (i % 7));
const block = (...parts: number[][]) => Uint8Array.from(parts.flat());

/** Decode with both decoders; assert they agree with each other and with lz4BlockProblem. */
function both(b: Uint8Array, rawLen: number, what: string): Uint8Array | null {
  const ts = lz4Decompress(b, rawLen);
  setLz4Impl('wasm');
  const wa = decompressBlock(b, rawLen);
  assert.equal(lz4Impl(), 'wasm', `${what}: the WASM decoder trapped and was switched off`);
  const problem = lz4BlockProblem(b, rawLen);
  assert.equal(
    ts === null,
    wa === null,
    `${what}: TS ${ts ? 'accepts' : 'rejects'}, WASM ${wa ? 'accepts' : 'rejects'} (${problem ?? 'valid'})`,
  );
  assert.equal(
    ts === null,
    problem !== null,
    `${what}: lz4BlockProblem says ${problem ?? 'valid'} but TS ${ts ? 'accepts' : 'rejects'}`,
  );
  if (ts && wa) assert.deepEqual(wa, ts, `${what}: outputs differ`);
  return ts;
}

test('lz4 block format: each end-of-block and offset rule, both decoders', () => {
  const valid: Array<[string, Uint8Array, number]> = [
    ['empty input as the single byte 0', block([0]), 0],
    ['literals only', block(seq(bytes(20))), 20],
    [
      'smallest block with a match (13 bytes: match at 1, 8 literals after)',
      block(seq(bytes(1), { off: 1, len: 4 }), seq(bytes(8))),
      13,
    ],
    ['overlapping run, long lengths', block(seq(bytes(1), { off: 1, len: 300 }), seq(bytes(5))), 306],
    [
      'match ends exactly 5 bytes before the end',
      block(seq(bytes(20), { off: 20, len: 10 }), seq(bytes(5))),
      35,
    ],
    [
      'match starts exactly 12 bytes before the end',
      block(seq(bytes(20), { off: 10, len: 4 }), seq(bytes(8))),
      32,
    ],
  ];
  for (const [what, b, n] of valid) {
    const out = both(b, n, what);
    assert.ok(out && out.length === n, `${what}: should decode (${lz4BlockProblem(b, n)})`);
  }
  const invalid: Array<[string, Uint8Array, number, RegExp]> = [
    ['empty block', new Uint8Array(0), 0, /empty block/],
    ['offset 0', block(seq(bytes(20), { off: 0, len: 10 }), seq(bytes(8))), 38, /offset 0 at byte 22/],
    [
      'offset before the output start',
      block(seq(bytes(20), { off: 21, len: 10 }), seq(bytes(8))),
      38,
      /offset 21 .* before the start/,
    ],
    [
      'match starting 11 bytes before the end',
      block(seq(bytes(20), { off: 10, len: 6 }), seq(bytes(5))),
      31,
      /less than 12 bytes before the end/,
    ],
    [
      'match into the last 5 bytes',
      block(seq(bytes(20), { off: 20, len: 8 }), seq(bytes(4))),
      32,
      /last 5 bytes/,
    ],
    [
      'block ending with a match',
      block(seq(bytes(20), { off: 20, len: 8 })),
      28,
      /12 bytes before the end|last 5 bytes/,
    ],
    [
      '12-byte block with a match',
      block(seq(bytes(1), { off: 1, len: 4 }), seq(bytes(7))),
      12,
      /less than 12 bytes/,
    ],
    ['output one byte short of rawLen', block(seq(bytes(20))), 21, /decodes to 20 bytes, not 21/],
    ['output longer than rawLen', block(seq(bytes(20))), 19, /(beyond|overrun) the 19-byte output/],
    ['truncated literals', block(seq(bytes(20))).subarray(0, 15), 20, /past the end of the block/],
    [
      'truncated offset',
      block(seq(bytes(20), { off: 1, len: 4 }), seq(bytes(8))).subarray(0, 23),
      32,
      /truncated offset at byte 22/,
    ],
    [
      'trailing garbage after the last literals',
      block(seq(bytes(20)), [7]),
      20,
      /truncated offset at byte 22/,
    ],
  ];
  for (const [what, b, n, why] of invalid) {
    assert.equal(both(b, n, what), null, `${what}: should be rejected`);
    assert.match(lz4BlockProblem(b, n) ?? '', why, what);
  }
  // the reason the WASM path needs the check in front: lz4_flex alone decodes offset 0
  assert.notEqual(
    rawWasm(block(seq(bytes(20), { off: 0, len: 10 }), seq(bytes(8))), 38),
    null,
    'lz4_flex accepts offset 0 by itself',
  );
});

/** A random stream of sequences whose lengths cluster around the end-of-block limits. */
function randomSequences(r: Rng): { b: Uint8Array; rawLen: number } {
  const parts: number[][] = [];
  let op = 0;
  const nseq = r.int(6);
  for (let i = 0; i < nseq; i++) {
    const lit = r.int(3) === 0 ? 0 : r.int(40);
    const pos = op + lit;
    const off = r.int(8) === 0 ? r.int(3) : 1 + r.int(Math.max(1, pos + 2));
    const len = 4 + (r.int(4) === 0 ? r.int(300) : r.int(20));
    parts.push(seq(bytes(lit, r.int(256)), { off, len }));
    op = pos + len;
  }
  const last = r.int(12);
  parts.push(seq(bytes(last, r.int(256))));
  op += last;
  return { b: block(...parts), rawLen: Math.max(0, op + (r.int(6) === 0 ? r.int(5) - 2 : 0)) };
}

test('lz4 differential fuzz: TS and WASM accept the same blocks (fixed seeds, bounded count)', () => {
  let accepted = 0;
  let rejected = 0;
  let lenientWasm = 0;
  for (const seed of [101, 202, 303]) {
    const r = seeded(seed);
    for (let i = 0; i < 15000; i++) {
      const len = 1 + r.int(3000);
      const src = r.int(2) ? textLike(r, len) : new Uint8Array(len).fill(r.int(3));
      const good = r.int(2) ? lz4Compress(src) : wasm.compress(src).subarray(4);
      // every block either encoder writes follows the format
      if (i % 8 === 0) assert.deepEqual(both(good, len, `seed ${seed} #${i} unmodified`), src);
      const bad = Uint8Array.from(good);
      for (let k = 0; k < 1 + r.int(3); k++) bad[r.int(bad.length)] = r.int(256);
      const cut = r.int(4) === 0 ? bad.subarray(0, r.int(bad.length + 1)) : bad;
      const rawLen = r.int(5) === 0 ? Math.max(0, len + r.int(21) - 10) : len;
      const out = both(cut, rawLen, `seed ${seed} #${i} mutated`);
      if (out) accepted++;
      else rejected++;
      if (!out && rawWasm(cut, rawLen)) lenientWasm++;
      const s = randomSequences(r);
      const out2 = both(s.b, s.rawLen, `seed ${seed} #${i} sequences ${Buffer.from(s.b).toString('hex')}`);
      if (out2) accepted++;
      else rejected++;
      if (!out2 && rawWasm(s.b, s.rawLen)) lenientWasm++;
    }
  }
  // the corpus exercises both outcomes, and blocks lz4_flex alone would have decoded
  assert.ok(accepted > 1000 && rejected > 1000, `accepted ${accepted}, rejected ${rejected}`);
  assert.ok(
    lenientWasm > 0,
    'no block that lz4_flex alone accepts and the format rejects: the corpus lost its teeth',
  );
});
