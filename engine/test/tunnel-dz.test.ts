// Compression with history and delta against similar chunks (DZ ops), at the Link level over
// a loopback TCP pair (no TLS: the frames are what is tested): round trips, fallback when a
// peer does not offer the codec, and bad input from a peer — a delta against a base nobody
// holds, too many dictionary chunks, a decompression bomb, a codec not negotiated, a wrong
// check fingerprint — each resets that stream with a typed error, keeps the link up and
// stores nothing. Manifest ranges (REFN): an edited version's references cross as ranges of
// the old version's manifests; fallback, bad ranges, a manifest nobody holds, backpressure.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { Link, type LinkOptions } from '../src/tunnel/link.ts';
import { ChunkStore } from '../src/cache/store.ts';
import { chunkerParams } from '../src/codec/chunker.ts';
import { createLogger } from '../src/log/logger.ts';
import { fingerprint, fpKey, ownFp, FP_LEN } from '../src/codec/fingerprint.ts';
import {
  encodeOps,
  decodeOps,
  Op,
  T,
  CODEC_DEFLATE_DICT,
  CODEC_REF_RUNS,
  CODEC_ZSTD_DICT,
  CODEC_REF_RANGES,
  REFN_LEN,
  type DataOp,
} from '../src/codec/frame.ts';
import { RunIndex, RunCursor } from '../src/codec/runs.ts';
import {
  buildDict,
  inflateWithDict,
  deflateWithDict,
  zstdWithDict,
  zstdAvailable,
  ZSTD_MAX_DICT,
  SendHistory,
} from '../src/codec/dict.ts';
import { sketch, SketchIndex } from '../src/codec/resemble.ts';
import { SpanBuilder, manifestFps, SPAN_MAX } from '../src/codec/manifest.ts';
import type { TunnelStream } from '../src/tunnel/stream.ts';
import { waitFor } from './tunnel-helpers.ts';

type Side = { link: Link; store: ChunkStore; lines: string[] };

async function linkPair(edgeOpts: Partial<LinkOptions> = {}, coreOpts: Partial<LinkOptions> = {}) {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const a = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const b = await accepted;
  srv.close();
  const mk = (role: 'edge' | 'core', sock: net.Socket, extra: Partial<LinkOptions>): Side => {
    const lines: string[] = [];
    const store = new ChunkStore({ memoryBytes: 64 << 20 });
    const link = new Link(sock, {
      role,
      store,
      chunker: chunkerParams(),
      windowBytes: 4 << 20,
      log: createLogger({
        level: 'debug',
        write: (l) => {
          lines.push(l);
        },
      }),
      mode: () => 'dedup',
      ...extra,
    });
    return { link, store, lines };
  };
  const edge = mk('edge', a, edgeOpts);
  const core = mk('core', b, coreOpts);
  await Promise.all([edge.link.ready$(), core.link.ready$()]);
  return {
    edge,
    core,
    close: () => {
      edge.link.close('test over');
      core.link.close('test over');
    },
  };
}

/** Open a stream edge → core; resolves with both ends. The core end collects what arrives. */
async function openPair(p: Awaited<ReturnType<typeof linkPair>>) {
  const got = new Promise<TunnelStream>((r) =>
    p.core.link.once('stream', (s: TunnelStream) => {
      p.core.link.accept(s);
      r(s);
    }),
  );
  const tx = await p.edge.link.open('x:1');
  const rx = await got;
  const parts: Buffer[] = [];
  rx.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise<void>((res, rej) => {
    rx.on('end', res);
    rx.on('error', rej);
  });
  ended.catch(() => {});
  return { tx, rx, received: () => Buffer.concat(parts), ended };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Text-like data: compressible, different per seed. */
function text(n: number, seed: number): Buffer {
  const words = [
    'alpha',
    'beta',
    'gamma',
    'delta',
    'function',
    'return',
    'const',
    'export',
    'import',
    '{',
    '}',
    ';',
    '\n',
    'value',
    'index',
  ];
  let s = seed;
  const out: string[] = [];
  let len = 0;
  while (len < n) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = words[s % words.length] + ((s >>> 8) % 7 === 0 ? String(s % 1000) : '') + ' ';
    out.push(w);
    len += w.length;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

async function send(p: Awaited<ReturnType<typeof linkPair>>, data: Buffer) {
  const s = await openPair(p);
  const before = p.edge.link.counters.wireTx;
  s.tx.end(data);
  await s.ended;
  assert.equal(sha(s.received()), sha(data));
  return p.edge.link.counters.wireTx - before;
}

test('DZ: compressible data, then an edited copy, byte-exact; deltas cost a fraction of LZ4 per chunk', async () => {
  const p = await linkPair();
  try {
    assert.ok(p.edge.link.sendsDz && p.core.link.sendsDz);
    const v1 = text(2 << 20, 1);
    const first = await send(p, v1);
    // Edit 4 bytes every 6 KiB (like tar headers' mtimes): nearly every chunk changes.
    const v2 = Buffer.from(v1);
    for (let o = 100; o < v2.length; o += 6000) v2.write('9999', o);
    const edited = await send(p, v2);
    const repeat = await send(p, v2);
    // The same data chunk by chunk with LZ4, as before DZ (no history, no delta).
    const q = await linkPair({ codecs: 0 });
    try {
      assert.ok(!q.edge.link.sendsDz);
      const firstLz4 = await send(q, v1);
      const editedLz4 = await send(q, v2);
      assert.ok(first < firstLz4 * 0.9, `first ${first} vs LZ4 ${firstLz4}`);
      assert.ok(edited < editedLz4 / 10, `edited ${edited} vs LZ4 ${editedLz4}`);
    } finally {
      q.close();
    }
    // Runs of references cross as manifests: ~29 bytes per ~16 chunks.
    assert.ok(repeat < v2.length / 500, `repeat ${repeat} of ${v2.length}`);
    // The same repeat without REFM (a peer that offers DZ only): one 29-byte REF per chunk.
    const r = await linkPair({ codecs: CODEC_DEFLATE_DICT });
    try {
      assert.ok(r.edge.link.sendsDz && !r.edge.link.sendsRuns);
      await send(r, v2);
      const refs = await send(r, v2);
      assert.ok(refs > repeat * 5, `REF per chunk ${refs} vs REFM ${repeat}`);
    } finally {
      r.close();
    }
  } finally {
    p.close();
  }
});

test('DZ fallback: a peer that does not offer the codec gets LZ4 per chunk and decodes exactly', async () => {
  const p = await linkPair({}, { codecs: 0 });
  try {
    assert.ok(!p.edge.link.sendsDz, 'edge must not send DZ to a core that did not offer it');
    assert.ok(p.core.link.sendsDz === false);
    const v = Buffer.concat([text(300000, 5), randomBytes(100000)]);
    await send(p, v);
  } finally {
    p.close();
  }
});

test('zstd: negotiated where both runtimes have it (Node ≥ 22.15), else deflate; both decode exactly', async () => {
  const v = Buffer.concat([text(600000, 6), randomBytes(50000), text(300000, 7)]);
  const p = await linkPair();
  try {
    assert.equal(p.edge.link.sendsZstd, zstdAvailable, 'zstd is offered exactly where the runtime has it');
    await send(p, v);
  } finally {
    p.close();
  }
  // A peer that offers deflate only (Node 18/20): DZ ops are deflate, and its history window is 32 KiB.
  const q = await linkPair({}, { codecs: CODEC_DEFLATE_DICT | CODEC_REF_RUNS });
  try {
    assert.ok(q.edge.link.sendsDz && !q.edge.link.sendsZstd);
    assert.equal(q.edge.link.histWindow, 32768);
    await send(q, v);
  } finally {
    q.close();
  }
});

test('send history: at most max chunks, the minimal suffix covering the window, copies out', () => {
  const h = new SendHistory(4);
  const fps = Array.from({ length: 6 }, () => randomBytes(FP_LEN));
  for (const fp of fps.slice(0, 3)) h.push(fp, 1000, 1 << 20);
  assert.equal(h.length, 3);
  assert.ok(h.newest(0).fp.equals(fps[2]) && h.newest(2).fp.equals(fps[0]));
  for (const fp of fps.slice(3)) h.push(fp, 1000, 1 << 20);
  assert.equal(h.length, 4, 'at most max');
  assert.ok(h.newest(3).fp.equals(fps[2]));
  h.push(fps[0], 5000, 6000); // 5000 + 1000 covers 6000: older ones go
  assert.equal(h.length, 2);
  h.push(fps[1], 100, 1 << 20, 1); // a codec with fewer dictionary chunks
  assert.equal(h.length, 1);
  const out = h.newest(0).fp;
  out.fill(0);
  assert.ok(h.newest(0).fp.equals(fps[1]), 'newest() hands out a copy');
  h.clear();
  assert.equal(h.length, 0);
});

/** Send raw DATA ops on a fresh stream; resolves with the receiving stream's error (or null at end). */
async function injected(p: Awaited<ReturnType<typeof linkPair>>, ops: DataOp[]) {
  const s = await openPair(p);
  const puts = p.core.store.stats.puts;
  p.edge.link.sendFrame(T.DATA, s.tx.id, encodeOps(ops));
  let err: Error | null = null;
  try {
    await s.ended;
  } catch (e) {
    err = e as Error;
  }
  // The reset reached the sender too (RST), and the link is still up for other streams.
  await waitFor(() => s.tx.destroyed);
  assert.equal(p.edge.link.isClosed, false);
  assert.equal(p.core.link.isClosed, false);
  assert.equal(p.core.store.stats.puts, puts, 'nothing stored from bad input');
  await send(p, text(50000, 9)); // another stream still works
  return err;
}

test('bad input: each resets the stream with a typed error, link stays up, nothing stored', async () => {
  const p = await linkPair();
  try {
    const raw = text(8192, 3);
    const dz = (extra: Partial<Extract<DataOp, { op: Op.DZ }>>): DataOp => ({
      op: Op.DZ,
      rawLen: raw.length,
      dict: [],
      lens: [raw.length],
      check: null,
      data: deflateWithDict(raw, new Uint8Array(0)),
      ...extra,
    });
    // A delta against a base nobody holds: NEED, then MISSING from the sender.
    let e = await injected(p, [dz({ dict: [randomBytes(FP_LEN)] })]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CHUNK_LOST/);
    // Dictionary count out of range.
    e = await injected(p, [dz({ dict: Array.from({ length: 9 }, () => randomBytes(FP_LEN)) })]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_DICT_RANGE/);
    // A decompression bomb: 16 MiB of zeros (16 KiB compressed) declared as 32 KiB.
    const bomb = zlib.deflateRawSync(Buffer.alloc(16 << 20), { level: 9 });
    assert.ok(bomb.length < 32768 + 64);
    e = await injected(p, [{ op: Op.DZ, rawLen: 32768, dict: [], lens: [32768], check: null, data: bomb }]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_DECOMPRESS/);
    // A delta whose output is not what its check fingerprint says.
    e = await injected(p, [dz({ check: fingerprint(text(8192, 4)) })]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CHECK/);
    // Reference runs: a manifest nobody holds; a REFM naming a chunk that is no manifest;
    // a REFM whose declared length is not its chunks'.
    e = await injected(p, [{ op: Op.REFM, rawLen: 1000, fp: randomBytes(FP_LEN) }]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CHUNK_LOST/);
    const chunk = text(5000, 21);
    const cfp = fingerprint(chunk);
    p.core.store.put(cfp, chunk);
    p.edge.store.put(cfp, chunk);
    e = await injected(p, [{ op: Op.REFM, rawLen: 1000, fp: cfp }]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_MANIFEST/);
    const man = Buffer.concat([cfp, cfp]);
    const mfp = fingerprint(man);
    p.core.store.put(mfp, man);
    p.edge.store.put(mfp, man);
    e = await injected(p, [{ op: Op.REFM, rawLen: 10001, fp: mfp }]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_MANIFEST/);
    // ... and the well-formed one decodes to its two chunks.
    const ok = await openPair(p);
    p.edge.link.sendFrame(T.DATA, ok.tx.id, encodeOps([{ op: Op.REFM, rawLen: 10000, fp: mfp }]));
    p.edge.link.sendFrame(T.FIN, ok.tx.id);
    await ok.ended;
    assert.ok(ok.received().equals(Buffer.concat([chunk, chunk])));
    // zstd DZ ops (offered where the runtime has zstd with dictionaries: Node 24 here).
    if (zstdAvailable) {
      const zb = zstdWithDict(Buffer.alloc(16 << 20), new Uint8Array(0), 19);
      assert.ok(zb.length < 32768 + 64);
      e = await injected(p, [
        { op: Op.DZ, rawLen: 32768, dict: [], lens: [32768], check: null, zstd: true, data: zb },
      ]);
      assert.match(
        String(e?.message),
        /EDGEWAN_ERR_TUNNEL_DECOMPRESS/,
        'a zstd bomb stops at its declared size',
      );
      e = await injected(p, [
        dz({
          zstd: true,
          data: zstdWithDict(raw, new Uint8Array(0)),
          dict: Array.from({ length: ZSTD_MAX_DICT + 1 }, () => randomBytes(FP_LEN)),
        }),
      ]);
      assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_DICT_RANGE/);
      e = await injected(p, [dz({ zstd: true, data: raw.subarray(0, 4000) })]);
      assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_DECOMPRESS/, 'deflate bytes flagged as zstd');
    } else {
      e = await injected(p, [dz({ zstd: true })]);
      assert.match(
        String(e?.message),
        /EDGEWAN_ERR_TUNNEL_CODEC/,
        'no zstd in this runtime: not offered, so a zstd op is refused',
      );
    }
  } finally {
    p.close();
  }
  // A zstd DZ op to a side that offered deflate only.
  const z = await linkPair({}, { codecs: CODEC_DEFLATE_DICT | CODEC_REF_RUNS });
  try {
    const raw = text(8192, 3);
    const e = await injected(z, [
      {
        op: Op.DZ,
        rawLen: raw.length,
        dict: [],
        lens: [raw.length],
        check: null,
        zstd: true,
        data: zstdAvailable ? zstdWithDict(raw, new Uint8Array(0)) : raw.subarray(0, 100),
      },
    ]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CODEC/);
  } finally {
    z.close();
  }
  // A DZ op to a side that did not offer the codec.
  const q = await linkPair({}, { codecs: 0 });
  try {
    const raw = text(8192, 3);
    const e = await injected(q, [
      {
        op: Op.DZ,
        rawLen: raw.length,
        dict: [],
        lens: [raw.length],
        check: null,
        data: deflateWithDict(raw, new Uint8Array(0)),
      },
    ]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CODEC/);
    const e2 = await injected(q, [{ op: Op.REFM, rawLen: 100, fp: randomBytes(FP_LEN) }]);
    assert.match(String(e2?.message), /EDGEWAN_ERR_TUNNEL_CODEC/);
  } finally {
    q.close();
  }
});

test('DZ wire format: round trip, and bounds checked before anything is buffered', () => {
  const ops: DataOp[] = [
    {
      op: Op.DZ,
      rawLen: 30,
      dict: [randomBytes(FP_LEN), randomBytes(FP_LEN)],
      lens: [10, 20],
      check: null,
      zstd: false,
      data: Buffer.from([1, 2, 3]),
    },
    {
      op: Op.DZ,
      rawLen: 5,
      dict: [],
      lens: [5],
      check: randomBytes(FP_LEN),
      zstd: false,
      data: Buffer.from([4]),
    },
    {
      op: Op.DZ,
      rawLen: 7,
      dict: [randomBytes(FP_LEN)],
      lens: [7],
      check: randomBytes(FP_LEN),
      zstd: true,
      data: Buffer.from([5, 6]),
    },
  ];
  const back = decodeOps(encodeOps(ops));
  assert.deepEqual(
    back.map((o) => ({ ...o, data: Buffer.from((o as { data: Uint8Array }).data) })),
    ops.map((o) => ({ ...o, data: Buffer.from((o as { data: Uint8Array }).data) })),
  );
  const huge = encodeOps([
    { op: Op.DZ, rawLen: 300000, dict: [], lens: [200000, 100000], check: null, data: Buffer.from([1]) },
  ]);
  assert.throws(() => decodeOps(huge), /OP_LENGTH/);
  const zeroChunks = Buffer.from([Op.DZ, 0, 0, 0, 0]);
  assert.throws(() => decodeOps(zeroChunks), /OP_LENGTH/);
  const truncated = encodeOps([ops[0]]).subarray(0, 40);
  assert.throws(() => decodeOps(truncated), /OP_TRUNCATED/);
  assert.equal(CODEC_DEFLATE_DICT, 1);
  assert.equal(CODEC_ZSTD_DICT, 4);
});

test('dictionary codec: last 32 KiB of the parts; inflate stops at the declared size', () => {
  const a = randomBytes(20000);
  const b = randomBytes(20000);
  const d = buildDict([a, b]);
  assert.equal(d.length, 32768);
  assert.ok(Buffer.from(d.subarray(32768 - 20000)).equals(b));
  assert.ok(Buffer.from(d.subarray(0, 12768)).equals(a.subarray(20000 - 12768)));
  const raw = Buffer.concat([b.subarray(5000, 9000), Buffer.from('changed'), b.subarray(9000, 13000)]);
  const z = deflateWithDict(raw, d);
  assert.ok(z.length < 200, `delta against the dictionary: ${z.length} bytes`);
  assert.ok(inflateWithDict(z, d, raw.length)!.equals(raw));
  assert.equal(inflateWithDict(z, d, raw.length - 1), null);
  assert.equal(inflateWithDict(z, new Uint8Array(0), raw.length), null);
  assert.equal(inflateWithDict(Buffer.from([0xff, 0xff, 0xff]), d, 10), null);
});

test('resemblance: a chunk edited in a few bytes shares a super-feature, unrelated ones do not', () => {
  const idx = new SketchIndex(4);
  const base = text(8192, 11);
  const fp = fingerprint(base);
  idx.add(sketch(base)!, fp);
  const near = Buffer.from(base);
  near.write('12345678', 700);
  near.write('xx', 5000);
  assert.deepEqual(idx.candidates(sketch(near)!), [fpKey(fp)]);
  let hits = 0;
  for (let i = 0; i < 50; i++) hits += idx.candidates(sketch(text(8192, 100 + i))!).length;
  assert.equal(hits, 0);
  assert.equal(sketch(Buffer.alloc(100)), null);
  for (let i = 0; i < 10; i++) idx.add(sketch(text(8192, 200 + i))!, fingerprint(text(8192, 200 + i)));
  assert.equal(idx.size, 4, 'bounded');
});

test('resemblance is position-free: the same content shifted by a few bytes still matches', () => {
  const idx = new SketchIndex(16);
  const base = text(8192, 31);
  const fp = fingerprint(base);
  idx.add(sketch(base)!, fp);
  const shifted = Buffer.concat([Buffer.from('inserted '), base.subarray(0, 8000)]);
  assert.deepEqual(idx.candidates(sketch(shifted)!), [fpKey(fp)]);
});

test('spans: content-defined over fingerprints, at most SPAN_MAX, a manifest lists them in order', () => {
  const b = new SpanBuilder();
  const fps = Array.from({ length: 500 }, () => randomBytes(FP_LEN));
  const manifests: Uint8Array[] = [];
  for (const fp of fps) {
    const m = b.push(fp);
    if (m) manifests.push(m);
  }
  const listed = manifests.flatMap((m) => manifestFps(m)!);
  assert.deepEqual(
    listed.map((x) => Buffer.from(x).toString('hex')),
    fps.slice(0, listed.length).map((x) => x.toString('hex')),
  );
  for (const m of manifests) {
    const l = manifestFps(m)!;
    assert.ok(l.length <= SPAN_MAX);
    assert.ok(
      l.slice(0, -1).every((x) => x[0] >= 16),
      'a span ends at its first cut fingerprint',
    );
  }
  assert.ok(manifests.length >= 15 && manifests.length <= 60, `${manifests.length} spans for 500 chunks`);
  // Same fingerprints again from a fresh builder: the same manifests (both sides agree).
  const b2 = new SpanBuilder();
  const again: string[] = [];
  for (const fp of fps) {
    const m = b2.push(fp);
    if (m) again.push(Buffer.from(m).toString('hex'));
  }
  assert.deepEqual(
    again,
    manifests.map((m) => Buffer.from(m).toString('hex')),
  );
  b2.reset();
  assert.equal(b2.length, 0);
  assert.equal(manifestFps(new Uint8Array(25)), null);
  assert.equal(manifestFps(new Uint8Array(0)), null);
  assert.equal(manifestFps(new Uint8Array(FP_LEN * (SPAN_MAX + 1))), null);
});

// With 1,000 streams, one kept view per stream into a received frame or a slab of Node's
// Buffer pool (64 KiB on Node 24) held ~40 MiB on the core of the tunnel-memory test: span
// builders, send history and the sketch index keep no views.
test('kept fingerprints own their bytes: spans copy them, ownFp copies a pooled view, sketches keep keys', () => {
  const frame = Buffer.allocUnsafe(4096); // pooled: a view into a shared slab
  const fp = frame.subarray(100, 100 + FP_LEN);
  fp.fill(200); // no cut (first byte ≥ 16)
  const b = new SpanBuilder();
  b.push(fp);
  fp.fill(0); // the frame's memory is reused: the span must not see it
  const m = b.push(randomBytes(FP_LEN).fill(1, 0, 1))!; // first byte 1 < 16: a cut
  assert.ok(m, 'a cut fingerprint completes the span');
  assert.equal(m.length, 2 * FP_LEN);
  assert.ok(
    m.subarray(0, FP_LEN).every((x) => x === 200),
    'the span copied the fingerprint in',
  );
  assert.equal(m.byteOffset, 0);
  assert.equal(m.buffer.byteLength, m.length, 'a manifest is its own buffer (the store adopts it)');
  const own = ownFp(fp);
  assert.ok(own.buffer.byteLength <= 32 && Buffer.from(own).equals(fp));
  const direct = fingerprint(randomBytes(100));
  assert.equal(ownFp(direct), direct, 'a fingerprint() result is its own buffer already');
  const idx = new SketchIndex(4);
  const sf = sketch(text(8192, 1))!;
  idx.add(sf, fp);
  assert.equal(typeof idx.candidates(sf)[0], 'string');
});

/** v1 with 8 bytes changed every `every` bytes: most chunks stay, few spans stay all references. */
function editEvery(v1: Buffer, every: number): Buffer {
  const v2 = Buffer.from(v1);
  for (let o = 1000; o < v2.length; o += every) v2.write('EDITED!!', o);
  return v2;
}

const ALL_BUT_RANGES = CODEC_DEFLATE_DICT | CODEC_REF_RUNS | CODEC_ZSTD_DICT;

test('REFN: an edited version crosses as ranges of the old manifests, byte-exact, well under one REF per chunk', async () => {
  const v1 = randomBytes(3 << 20); // incompressible: what is left on the wire is references and deltas
  const v2 = editEvery(v1, 96 * 1024);
  const measure = async (coreCodecs?: number) => {
    const p = await linkPair({}, coreCodecs === undefined ? {} : { codecs: coreCodecs });
    try {
      await send(p, v1);
      const needs = p.core.link.counters.needs;
      const edited = await send(p, v2);
      return { edited, ranges: p.edge.link.sendsRanges, needs: p.core.link.counters.needs - needs };
    } finally {
      p.close();
    }
  };
  const withRanges = await measure();
  const without = await measure(ALL_BUT_RANGES); // an old peer: REF / REFM as before
  assert.ok(withRanges.ranges && !without.ranges);
  assert.equal(withRanges.needs, 0, 'every range names a manifest the receiver built');
  // ~32 edits; the ~300 unchanged chunks not in an all-reference span: 29 bytes each as
  // REFs, one 33-byte REFN per stretch between two edits.
  const edits = Math.ceil(v1.length / (96 * 1024));
  assert.ok(
    without.edited - withRanges.edited > edits * 4 * 29,
    `edited with REFN ${withRanges.edited} B, REF/REFM only ${without.edited} B (${edits} edits)`,
  );
});

test('REFN fallback: a peer that did not offer it is sent REF/REFM and decodes exactly; the other way too', async () => {
  const v1 = Buffer.concat([text(400000, 41), randomBytes(300000)]);
  const v2 = editEvery(v1, 40000);
  for (const [e, c] of [
    [{}, { codecs: ALL_BUT_RANGES }],
    [{ codecs: ALL_BUT_RANGES }, {}],
  ] as Array<[Partial<LinkOptions>, Partial<LinkOptions>]>) {
    const p = await linkPair(e, c);
    try {
      assert.equal(p.edge.link.sendsRanges, false);
      assert.equal(p.core.link.sendsRanges, false);
      await send(p, v1);
      await send(p, v2);
    } finally {
      p.close();
    }
  }
});

/** `n` chunks held on both sides and their manifest (held by the edge, and by the core unless told). */
function heldRun(p: Awaited<ReturnType<typeof linkPair>>, n: number, size = 5000, coreHasManifest = true) {
  const chunks: Buffer[] = [];
  for (let seed = 1; chunks.length < n; seed++) {
    const c = text(size, 1000 + seed);
    // Chunks that end no span at the receiver (first byte ≥ 16), so expanding one stores nothing.
    if (fingerprint(c)[0] >= 16) chunks.push(c);
  }
  const fps = chunks.map((c) => fingerprint(c));
  for (const [i, c] of chunks.entries()) {
    p.core.store.put(fps[i], c);
    p.edge.store.put(fps[i], c);
  }
  const man = Buffer.concat(fps);
  const mfp = fingerprint(man);
  if (coreHasManifest) p.core.store.put(mfp, man);
  p.edge.store.put(mfp, man);
  return { chunks, mfp };
}

test('REFN bad input: out of range, wrong length, not a manifest, manifest nobody holds, not offered', async () => {
  const p = await linkPair();
  try {
    const { chunks, mfp } = heldRun(p, 3);
    const refn = (start: number, count: number, rawLen: number, fp = mfp): DataOp => ({
      op: Op.REFN,
      rawLen,
      fp,
      start,
      count,
    });
    let e = await injected(p, [refn(2, 2, 10000)]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_RUN_RANGE/, 'beyond the entries');
    e = await injected(p, [refn(0, 0, 10000)]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_RUN_RANGE/, 'an empty range');
    e = await injected(p, [refn(1, 2, 9999)]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_RUN_RANGE/, 'shorter than its chunks');
    e = await injected(p, [refn(0, 2, 10001)]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_RUN_RANGE/, 'longer than its chunks');
    e = await injected(p, [refn(0, 1, 5000, fingerprint(chunks[0]))]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_MANIFEST/, 'a chunk that is not a manifest');
    // A manifest nobody holds: NEED, then MISSING, like any reference.
    const needs = p.core.link.counters.needs;
    e = await injected(p, [refn(0, 1, 5000, randomBytes(FP_LEN))]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CHUNK_LOST/);
    assert.equal(p.core.link.counters.needs, needs + 1);
    // ... and well-formed ranges decode to exactly their entries.
    const ok = await openPair(p);
    p.edge.link.sendFrame(T.DATA, ok.tx.id, encodeOps([refn(1, 2, 10000), refn(0, 1, 5000)]));
    p.edge.link.sendFrame(T.FIN, ok.tx.id);
    await ok.ended;
    assert.ok(ok.received().equals(Buffer.concat([chunks[1], chunks[2], chunks[0]])));
  } finally {
    p.close();
  }
  // A REFN to a side that did not offer manifest ranges.
  const q = await linkPair({}, { codecs: ALL_BUT_RANGES });
  try {
    const { mfp } = heldRun(q, 2);
    const e = await injected(q, [{ op: Op.REFN, rawLen: 10000, fp: mfp, start: 0, count: 2 }]);
    assert.match(String(e?.message), /EDGEWAN_ERR_TUNNEL_CODEC/);
  } finally {
    q.close();
  }
});

test('REFN: a manifest the receiver lacks is asked for (NEED) and the range then decodes', async () => {
  const p = await linkPair();
  try {
    const { chunks, mfp } = heldRun(p, 4, 5000, false);
    const ok = await openPair(p);
    const needs = p.core.link.counters.needs;
    p.edge.link.sendFrame(
      T.DATA,
      ok.tx.id,
      encodeOps([{ op: Op.REFN, rawLen: 15000, fp: mfp, start: 1, count: 3 }]),
    );
    p.edge.link.sendFrame(T.FIN, ok.tx.id);
    await ok.ended;
    assert.ok(ok.received().equals(Buffer.concat(chunks.slice(1))));
    assert.equal(p.core.link.counters.needs, needs + 1, 'the manifest was asked for');
  } finally {
    p.close();
  }
});

test('REFN expands lazily: a reader that stops holds about one buffer, not the range', async () => {
  const p = await linkPair();
  try {
    const { chunks, mfp } = heldRun(p, 60, 20000);
    const s = await openPair(p);
    s.rx.pause();
    p.edge.link.sendFrame(
      T.DATA,
      s.tx.id,
      encodeOps([{ op: Op.REFN, rawLen: 60 * 20000, fp: mfp, start: 0, count: 60 }]),
    );
    p.edge.link.sendFrame(T.FIN, s.tx.id);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(s.rx.readableLength <= 16384 + 20000, `buffered ${s.rx.readableLength} while paused`);
    s.rx.resume();
    await s.ended;
    assert.ok(s.received().equals(Buffer.concat(chunks)));
  } finally {
    p.close();
  }
});

test('REFN sender: consecutive references along one manifest become one op; index bounded; wire format', () => {
  const fps = Array.from({ length: 10 }, () => randomBytes(FP_LEN));
  const idx = new RunIndex(12);
  const man = Buffer.concat(fps);
  const mfp = fingerprint(man);
  idx.add(mfp, man);
  const ref = (fp: Uint8Array): DataOp => ({ op: Op.REF, rawLen: 100, fp });
  const lit: DataOp = { op: Op.LIT, rawLen: 3, data: Buffer.from('abc') };
  const c = new RunCursor();
  const all = () => true;
  // 2..5, a literal, then 7..9 (held over to the next batch), and a REF nothing indexes.
  const other = randomBytes(FP_LEN);
  let out = c.compact(
    [ref(fps[2]), ref(fps[3]), ref(fps[4]), ref(fps[5]), lit, ref(fps[7])],
    false,
    idx,
    all,
  );
  assert.deepEqual(
    out.map((o) => [o.op, (o as { start?: number }).start, (o as { count?: number }).count]),
    [
      [Op.REFN, 2, 4],
      [Op.LIT, undefined, undefined],
    ],
  );
  assert.ok(c.holding, 'the run at 7 is held');
  out = c.compact([ref(fps[8]), ref(fps[9]), ref(other)], true, idx, all);
  assert.deepEqual(
    out.map((o) => o.op),
    [Op.REFN, Op.REF],
  );
  assert.equal((out[0] as { rawLen: number }).rawLen, 300);
  assert.ok(!c.holding, 'last: nothing held');
  assert.equal(c.saved, 4 * 29 - REFN_LEN + 3 * 29 - REFN_LEN);
  // A single reference goes as a REF; a manifest the peer lacks gives no range.
  out = c.compact([ref(fps[0])], true, idx, all);
  assert.deepEqual(
    out.map((o) => o.op),
    [Op.REF],
  );
  assert.ok(Buffer.from((out[0] as { fp: Uint8Array }).fp).equals(fps[0]));
  out = c.compact([ref(fps[0]), ref(fps[1])], true, idx, () => false);
  assert.deepEqual(
    out.map((o) => o.op),
    [Op.REF, Op.REF],
  );
  // Bounded: a second manifest pushes out the least recently used entries.
  const man2 = randomBytes(5 * FP_LEN);
  idx.add(fingerprint(man2), man2);
  assert.equal(idx.size, 12);
  // Wire format: 33 bytes, round trip, bounds.
  const op: DataOp = { op: Op.REFN, rawLen: 123456, fp: mfp, start: 3, count: 61 };
  const b = encodeOps([op]);
  assert.equal(b.length, REFN_LEN);
  assert.equal(REFN_LEN, 33);
  const [back] = decodeOps(b) as Array<Extract<DataOp, { op: Op.REFN }>>;
  assert.deepEqual([back.start, back.count, back.rawLen], [3, 61, 123456]);
  assert.ok(Buffer.from(back.fp).equals(mfp));
  assert.throws(() => decodeOps(b.subarray(0, 30)), /OP_TRUNCATED/);
  assert.throws(() => decodeOps(encodeOps([{ ...op, rawLen: 0 }])), /OP_LENGTH/);
  assert.equal(CODEC_REF_RANGES, 8);
});
