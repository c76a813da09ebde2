// Self-healing chunk caches (issue 22, item 2): bytes flipped at random offsets of the disk
// stores (record data) and in record headers, on either side or both, then both sides
// restart on their state dirs. Every transfer must be exact on the first try; light damage
// is mended record by record (same identity), heavy damage rebuilds the store empty with a
// new identity, after which the peer stops referencing what is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  openSync,
  readSync,
  writeSync,
  closeSync,
  readdirSync,
  readFileSync,
  statSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { echoServer, roundTrip, sha, tmp, pairOn as pairWith } from './tunnel-helpers.ts';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { TunnelComponent } from '../src/tunnel/component.ts';
import { mixedCorpus } from './codec-corpus.ts';

const CORPUS = mixedCorpus(2207, 8 << 20);
const HDR = 36; // record header: magic, length, fingerprint, checksum (cache/disk.ts)

const segments = (dir: string) =>
  readdirSync(join(dir, 'chunks'))
    .filter((f) => f.endsWith('.dat'))
    .map((f) => join(dir, 'chunks', f));
const identity = (dir: string) => readFileSync(join(dir, 'chunks', 'identity')).toString('hex');

function flipAt(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] ^= 1 << randomInt(8);
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

/** Flip `n` bytes at random offsets of dir's segments, and one byte in each of `headers` random record headers. */
function damage(dir: string, n: number, headers: number): void {
  const segs = segments(dir)
    .map((f) => ({ f, size: statSync(f).size }))
    .filter((s) => s.size > 0);
  const recs: Array<{ f: string; off: number }> = [];
  for (const s of segs) {
    // record offsets, from the (still intact) headers
    const b = readFileSync(s.f);
    for (let off = 0; off + HDR <= b.length; off += HDR + b.readUInt32BE(off + 4)) recs.push({ f: s.f, off });
  }
  for (let i = 0; i < headers; i++) {
    const r = recs[randomInt(recs.length)];
    flipAt(r.f, r.off + randomInt(HDR));
  }
  const total = segs.reduce((a, s) => a + s.size, 0);
  for (let i = 0; i < n; i++) {
    let at = randomInt(total);
    const s = segs.find((x) => (at < x.size ? true : ((at -= x.size), false)))!;
    flipAt(s.f, at);
  }
}

/** A target that sends CORPUS to whoever connects (a download: data flows core → edge). */
async function source(): Promise<{ port: number; close(): void }> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.resume();
    s.end(CORPUS);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

async function echoOnce(edge: TunnelComponent, port: number): Promise<boolean> {
  const r = await roundTrip(await edge.open(`127.0.0.1:${port}`), CORPUS, 65536);
  return r.error === null && r.bytes.length === CORPUS.length && sha(r.bytes) === sha(CORPUS);
}
async function downloadOnce(edge: TunnelComponent, port: number): Promise<boolean> {
  const r = await roundTrip(await edge.open(`127.0.0.1:${port}`), Buffer.from('GET\n'));
  return r.error === null && r.bytes.length === CORPUS.length && sha(r.bytes) === sha(CORPUS);
}

/** rebuilt: which stores must have started over with a new identity ('either': at least one of them, whichever detected its damage first). */
interface Case {
  name: string;
  core?: [number, number];
  edge?: [number, number];
  edgeLoses?: boolean;
  download?: boolean;
  meta?: boolean;
  rebuilt: { core: boolean; edge: boolean } | 'either' | 'any';
}
const CASES: Case[] = [
  {
    name: 'light damage in both stores (12 bytes + 4 headers each): mended record by record',
    core: [12, 4],
    edge: [12, 4],
    rebuilt: { core: false, edge: false },
  },
  { name: '550 bytes + 8 headers in the core store', core: [550, 8], rebuilt: { core: true, edge: false } },
  { name: '600 bytes + 8 headers in both stores', core: [600, 8], edge: [600, 8], rebuilt: 'either' },
  {
    name: 'identity and peer-of files flipped too, 40 bytes + 4 headers in both stores',
    core: [40, 4],
    edge: [40, 4],
    meta: true,
    rebuilt: 'any',
  },
  {
    name: 'download: 600 bytes + 8 headers in the core store, the edge lost its segments',
    core: [600, 8],
    edgeLoses: true,
    download: true,
    rebuilt: { core: true, edge: false },
  },
];

for (const c of CASES) {
  test(c.name, { timeout: 120_000 }, async (t) => {
    const target = c.download ? await source() : await echoServer();
    const once = c.download ? downloadOnce : echoOnce;
    const dirs = { edge: tmp('ewB-heal-e-'), core: tmp('ewB-heal-c-') };
    const keys = tmp('ewB-keys-');
    generateCredentials(keys);
    let p = await pairWith(keys, dirs);
    try {
      assert.ok(await once(p.edge, target.port), 'the first transfer');
      await p.edge.stop(100);
      await p.core.stop(100);
      const ids = { core: identity(dirs.core), edge: identity(dirs.edge) };
      if (c.core) damage(dirs.core, ...c.core);
      if (c.edge) damage(dirs.edge, ...c.edge);
      if (c.meta)
        for (const [d, role] of [
          [dirs.core, 'core'],
          [dirs.edge, 'edge'],
        ])
          for (const f of ['identity', `peer-of-${role}`]) flipAt(join(d, 'chunks', f), randomInt(16));
      if (c.edgeLoses) for (const f of segments(dirs.edge)) unlinkSync(f);
      p = await pairWith(keys, dirs);
      const results: boolean[] = [];
      const needs: number[] = [];
      for (let i = 0; i < 4; i++) {
        const n0 = p.edge.counters.needs + p.core.counters.needs;
        results.push(await once(p.edge, target.port));
        needs.push(p.edge.counters.needs + p.core.counters.needs - n0);
      }
      const rebuilt = {
        core: Buffer.from(p.core.store!.id).toString('hex') !== ids.core,
        edge: Buffer.from(p.edge.store!.id).toString('hex') !== ids.edge,
      };
      t.diagnostic(
        JSON.stringify({
          results,
          needs,
          rebuilt,
          rebuilds: { core: p.core.store!.stats.rebuilds, edge: p.edge.store!.stats.rebuilds },
        }),
      );
      assert.deepEqual(results, [true, true, true, true], 'every transfer exact, from the first one on');
      if (c.rebuilt === 'any') {
        /* a flipped identity is a new identity: nothing to assert */
      } else if (c.rebuilt === 'either')
        assert.ok(
          rebuilt.core || rebuilt.edge,
          'a store damaged past the threshold is rebuilt (new identity)',
        );
      else
        assert.deepEqual(
          rebuilt,
          c.rebuilt,
          'a store is rebuilt (new identity) when its damage passes the threshold, and only then',
        );
      assert.equal(needs[3], 0, 'healed: the fourth transfer needs no NEED');
    } finally {
      target.close();
      await p.edge.stop(100);
      await p.core.stop(100);
      for (const d of [dirs.edge, dirs.core, keys]) rmSync(d, { recursive: true, force: true });
    }
  });
}

test('peer model: dropped once the peer asks for max(32, 5 %) of our references, then relearned', async () => {
  const { PeerModel } = await import('../src/tunnel/peer-model.ts');
  const { ChunkStore } = await import('../src/cache/store.ts');
  const { fingerprint } = await import('../src/codec/fingerprint.ts');
  const store = new ChunkStore({ memoryBytes: 8 << 20 });
  const fps = Array.from({ length: 1000 }, (_, i) => {
    const d = Buffer.from(`chunk ${i} `.repeat(50));
    const fp = fingerprint(d);
    store.put(fp, d);
    return fp;
  });
  const m = new PeerModel(store, true, 4096); // trusting: the peer's identity was the remembered one
  assert.equal(
    fps.slice(0, 999).every((fp) => m.shouldRef(fp)),
    true,
  );
  // 1,000 references with the one below: 5 % is 50 NEEDs; the first 49 only mark those chunks missing
  for (let i = 0; i < 49; i++) assert.equal(m.lost(fps[i]), false);
  assert.equal(m.shouldRef(fps[500]), true);
  assert.equal(m.lost(fps[49]), true, 'the 50th NEED drops the model');
  assert.equal(m.shouldRef(fps[500]), false, 'nothing is assumed held any more');
  m.add(fps[500]); // it crossed the link again
  assert.equal(m.shouldRef(fps[500]), true);
});
