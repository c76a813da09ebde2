// Codec round trips: the chunker's boundaries are content-defined and stable under edits,
// and both LZ4 implementations produce standard blocks the other decodes byte-exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkerParams, chunkAll, StreamChunker } from '../src/codec/chunker.ts';
import { lz4Compress, lz4Decompress } from '../src/codec/lz4.ts';
import { compressBlock, decompressBlock, compressIfWorthwhile, setLz4Impl } from '../src/codec/block.ts';
import { fingerprint } from '../src/codec/fingerprint.ts';
import { seeded, textLike } from './codec-corpus.ts';

const p = chunkerParams();

test('chunker: sizes within bounds, average near 8 KiB, covers input', () => {
  const data = seeded(1).bytes(4 << 20);
  const lens = chunkAll(p, data);
  assert.equal(
    lens.reduce((a, b) => a + b, 0),
    data.length,
  );
  for (const l of lens.slice(0, -1)) assert.ok(l >= p.minSize && l <= p.maxSize, `chunk ${l}`);
  const avg = data.length / lens.length;
  assert.ok(avg > 6000 && avg < 14000, `average ${avg}`);
});

test('chunker: an insertion changes only nearby chunks', () => {
  const data = seeded(2).bytes(2 << 20);
  const edited = new Uint8Array(data.length + 100);
  edited.set(data.subarray(0, 1 << 20));
  edited.set(seeded(3).bytes(100), 1 << 20);
  edited.set(data.subarray(1 << 20), (1 << 20) + 100);
  const fps = (d: Uint8Array) => {
    const s = new Set<string>();
    let o = 0;
    for (const l of chunkAll(p, d)) {
      s.add(fingerprint(d.subarray(o, o + l)).toString('hex'));
      o += l;
    }
    return s;
  };
  const a = fps(data);
  const b = fps(edited);
  let common = 0;
  for (const f of b) if (a.has(f)) common++;
  assert.ok(common >= b.size - 3, `${b.size - common} chunks differ`);
});

test('stream chunker: same cuts whatever the read sizes', () => {
  const data = textLike(seeded(4), 1 << 20);
  const whole = chunkAll(p, data);
  const sc = new StreamChunker(p);
  const got: number[] = [];
  const rnd = seeded(5);
  for (let o = 0; o < data.length;) {
    const n = Math.min(data.length - o, 1 + rnd.int(70000));
    for (const c of sc.push(data.subarray(o, o + n))) got.push(c.length);
    o += n;
  }
  const t = sc.flush();
  if (t) got.push(t.length);
  assert.deepEqual(got, whole);
});

for (const impl of ['ts', 'wasm'] as const) {
  test(`lz4 (${impl}): round trips random, text, runs and tiny inputs; cross-decodes`, () => {
    setLz4Impl(impl);
    const r = seeded(6);
    const inputs = [
      new Uint8Array(0),
      new Uint8Array(1),
      r.bytes(13),
      new Uint8Array(70000).fill(7),
      r.bytes(65536),
      textLike(r, 65536),
      textLike(r, 300000),
    ];
    for (let i = 0; i < 200; i++) inputs.push(textLike(r, 1 + r.int(20000)));
    for (const src of inputs) {
      const c = compressBlock(src);
      assert.deepEqual(decompressBlock(c, src.length), src);
      assert.deepEqual(lz4Decompress(c, src.length), src); // standard block, TS reference decoder
      const t = lz4Compress(src);
      assert.deepEqual(decompressBlock(t, src.length), src);
    }
    setLz4Impl('wasm');
  });
}

test('lz4: malformed blocks return null, never throw or overrun', () => {
  const r = seeded(7);
  const good = lz4Compress(textLike(r, 5000));
  for (let i = 0; i < 3000; i++) {
    const bad = Uint8Array.from(good);
    for (let k = 0; k < 1 + r.int(4); k++) bad[r.int(bad.length)] = r.int(256);
    const cut = r.int(3) === 0 ? bad.subarray(0, r.int(bad.length)) : bad;
    const out = lz4Decompress(cut, 5000);
    assert.ok(out === null || out.length === 5000);
    const w = decompressBlock(cut, 5000);
    assert.ok(w === null || w.length === 5000);
  }
  setLz4Impl('wasm');
});

test('incompressible input is detected and left raw', () => {
  const r = seeded(8);
  assert.equal(compressIfWorthwhile(r.bytes(8192)), null);
  assert.ok(compressIfWorthwhile(textLike(r, 8192))!.length < 6000);
});
