// The WASM gear scan (codec/gear-wasm.ts) must cut exactly where the JS reference does, on
// random, text and mixed data, at the min/normal/max edges, for tiny inputs and for
// parameter sets that make the WASM memory grow. A pinned digest of the default cuts catches
// any change of boundaries (peers of different releases would then stop deduplicating).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chunkerParams,
  chunkAll,
  findCut,
  gearImpl,
  gearTable,
  scanJs,
  setGearImpl,
  StreamChunker,
  type ChunkerParams,
} from '../src/codec/chunker.ts';
import { wasmGearScanner } from '../src/codec/gear-wasm.ts';
import { mixedCorpus, seeded, textLike } from './codec-corpus.ts';

const GEAR = gearTable();

/** findCut as released before the WASM scan (verbatim logic): the reference. */
function refCut(p: ChunkerParams, buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n <= p.minSize) return -1;
  const limit = n >= p.maxSize ? start + p.maxSize : end;
  const normal = Math.min(start + p.avgSize, limit);
  let h = 0;
  let i = start + p.minSize;
  for (; i < normal; i++) {
    h = ((h << 1) + GEAR[buf[i]]) | 0;
    if ((h & p.maskS) === 0) return i + 1 - start;
  }
  for (; i < limit; i++) {
    h = ((h << 1) + GEAR[buf[i]]) | 0;
    if ((h & p.maskL) === 0) return i + 1 - start;
  }
  return n >= p.maxSize ? p.maxSize : -1;
}

function refAll(p: ChunkerParams, buf: Uint8Array): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < buf.length;) {
    const c = refCut(p, buf, pos, buf.length);
    const len = c < 0 ? buf.length - pos : c;
    out.push(len);
    pos += len;
  }
  return out;
}

const inputs = (): Array<[string, Uint8Array]> => {
  const r = seeded(21);
  const zeros = new Uint8Array(200_000); // no boundary ever: every cut is forced at max
  return [
    ['random', r.bytes(3 << 20)],
    ['text', textLike(r, 2 << 20)],
    ['mixed', mixedCorpus(22, 3 << 20)],
    ['zeros', zeros],
  ];
};

test('gear scan: WebAssembly is in use by default', () => {
  assert.equal(gearImpl(), 'wasm');
});

test('gear scan: WASM cuts equal the reference on random, text, mixed and zero data', () => {
  const params = [
    chunkerParams(),
    chunkerParams({ avgSize: 256, minSize: 64, maxSize: 1024 }),
    chunkerParams({ avgSize: 4096, minSize: 1024, maxSize: 5000 }),
    chunkerParams({ avgSize: 1 << 20 }),
  ];
  for (const p of params) {
    for (const [name, data] of inputs()) {
      setGearImpl('wasm');
      assert.deepEqual(chunkAll(p, data), refAll(p, data), `${name}, avg ${p.avgSize}`);
    }
  }
});

test('gear scan: tiny inputs and every length around min, normal and max', () => {
  const p = chunkerParams({ avgSize: 256, minSize: 64, maxSize: 1024 });
  const r = seeded(23);
  for (let k = 0; k < 400; k++) {
    const base = [
      0,
      1,
      2,
      3,
      p.minSize - 1,
      p.minSize,
      p.minSize + 1,
      p.minSize + 2,
      p.avgSize - 1,
      p.avgSize,
      p.avgSize + 1,
      p.maxSize - 1,
      p.maxSize,
      p.maxSize + 1,
    ][k % 14];
    const data = k % 3 === 0 ? r.bytes(base + r.int(4)) : textLike(r, base + r.int(4));
    for (let start = 0; start < Math.min(4, data.length + 1); start++) {
      setGearImpl('wasm');
      const w = findCut(p, data, start, data.length);
      setGearImpl('js');
      const j = findCut(p, data, start, data.length);
      assert.equal(w, j, `len ${data.length} start ${start}`);
      assert.equal(w, refCut(p, data, start, data.length), `len ${data.length} start ${start}`);
    }
  }
  setGearImpl('wasm');
});

test('gear scan: the raw WASM scanner agrees with scanJs at odd/even lengths and any split point', () => {
  const s = wasmGearScanner(GEAR);
  assert.ok(s);
  const r = seeded(24);
  const data = r.bytes(70_000); // larger than one WASM page: the memory must grow
  const masks = [
    [0xaaaa0000 | 0, 0xa8000000 | 0],
    [0xaaaaaaaa | 0, 0xaaaa0000 | 0],
    [-1, -1],
  ];
  for (let k = 0; k < 3000; k++) {
    const from = r.int(1000);
    const limit = from + r.int(k < 2000 ? 40 : 69_000);
    const normal = from + r.int(limit - from + 1);
    const [ms, ml] = masks[k % 3];
    assert.equal(
      s.scan(data, from, normal, limit, ms, ml),
      scanJs(data, from, normal, limit, ms, ml),
      `from ${from} normal ${normal} limit ${limit}`,
    );
  }
});

test('gear scan: stream chunker gives the reference cuts whatever the read sizes', () => {
  const p = chunkerParams();
  const data = mixedCorpus(25, 2 << 20);
  const r = seeded(26);
  const got: number[] = [];
  const sc = new StreamChunker(p);
  for (let o = 0; o < data.length;) {
    const n = Math.min(data.length - o, 1 + r.int(r.int(2) ? 300 : 70_000));
    for (const c of sc.push(data.subarray(o, o + n))) got.push(c.length);
    o += n;
  }
  const t = sc.flush();
  if (t) got.push(t.length);
  assert.deepEqual(got, refAll(p, data));
});

test('gear scan: default cuts of a seeded corpus are pinned (changing them breaks cross-release dedup)', () => {
  const lens = chunkAll(chunkerParams(), mixedCorpus(27, 4 << 20));
  const digest = createHash('sha256').update(lens.join(',')).digest('hex').slice(0, 16);
  assert.equal(`${lens.length}:${digest}`, PINNED);
});
const PINNED = '394:78ae0d7d018ed1bd'; // computed with the pre-WASM chunker (commit 8d98e26)
