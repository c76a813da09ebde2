// Data reduction on a 16 MiB seeded mixed corpus (byte counts, no timing): first send,
// repeat, and after 20 contiguous edits totalling 1 %; then the disk cache after both
// sides restart, and the miss path (the receiver lost chunks the sender references).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hashSink, roundTrip, sha, edit, tmp, pairOn as pairWith } from './tunnel-helpers.ts';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { mixedCorpus } from './codec-corpus.ts';
import type { TunnelComponent } from '../src/tunnel/component.ts';
import { RecentSet } from '../src/tunnel/peer-model.ts';

const CORPUS = mixedCorpus(2026, 16 << 20);
const EDITED = edit(CORPUS, 7);

/** Send data one way through the tunnel; returns link bytes edge→core for it. */
async function send(
  edge: TunnelComponent,
  core: TunnelComponent,
  port: number,
  data: Uint8Array,
): Promise<number> {
  const before = core.counters.wireRx;
  const res = await roundTrip(await edge.open(`127.0.0.1:${port}`), data, 65536);
  assert.equal(res.error, null);
  assert.equal(res.bytes.toString(), sha(data), 'the target received exactly the bytes sent');
  return core.counters.wireRx - before;
}
const pct = (wire: number, n: number) => 100 * (1 - wire / n);

test('16 MiB corpus: repeat ≥ 99.5 %, edited ≥ 95 % reduction; survives restart of both sides', async (t) => {
  const sink = await hashSink();
  const dirs = { edge: tmp(), core: tmp() };
  const keys = tmp('ewC-keys-');
  generateCredentials(keys);
  let p = await pairWith(keys, dirs);
  try {
    const first = await send(p.edge, p.core, sink.port, CORPUS);
    const repeat = await send(p.edge, p.core, sink.port, CORPUS);
    const edited = await send(p.edge, p.core, sink.port, EDITED);
    const r = {
      first: pct(first, CORPUS.length),
      repeat: pct(repeat, CORPUS.length),
      edited: pct(edited, CORPUS.length),
    };
    t.diagnostic(JSON.stringify(r));
    assert.ok(r.repeat >= 99.5, `repeat_reduction_pct ${r.repeat.toFixed(2)}`);
    assert.ok(r.edited >= 95, `edited_reduction_pct ${r.edited.toFixed(2)}`);
    assert.ok(
      r.first > 10 && r.first < 80,
      `first_reduction_pct ${r.first.toFixed(2)} (text compresses, random does not)`,
    );
    await p.edge.stop(100);
    await p.core.stop(100);
    // Both sides restart on their state dirs: the disk caches and identities carry over.
    p = await pairWith(keys, dirs);
    const again = await send(p.edge, p.core, sink.port, CORPUS);
    assert.ok(pct(again, CORPUS.length) >= 99, `after restart ${pct(again, CORPUS.length).toFixed(2)} %`);
    await p.edge.stop(100);
    await p.core.stop(100);
    // The core loses its segments but keeps its identity: the edge still sends references,
    // the core asks for each missing literal and nothing is delivered wrong.
    const cdir = join(dirs.core, 'chunks');
    for (const f of readdirSync(cdir)) if (f.endsWith('.dat')) unlinkSync(join(cdir, f));
    p = await pairWith(keys, dirs);
    await send(p.edge, p.core, sink.port, EDITED);
    assert.ok(p.core.counters.needs > 0, 'the core asked for the chunks it lost');
  } finally {
    sink.close();
    await p.edge.stop(100);
    await p.core.stop(100);
  }
});

test('peer model set: bounded, drops the least recently added, grows with use only', () => {
  const s = new RecentSet(3);
  for (const k of ['a', 'b', 'c']) s.add(k);
  s.add('a'); // refreshed: b is now the oldest
  s.add('d');
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((k) => s.has(k)),
    [true, false, true, true],
  );
  assert.equal(s.size, 3);
  s.delete('c');
  assert.equal(s.has('c'), false);
  assert.equal(s.size, 2);
  // a large bound costs nothing up front (lru-cache's max preallocated ~8 MB for the two sets)
  const before = process.memoryUsage().heapUsed;
  const big = new RecentSet(262144);
  assert.ok(process.memoryUsage().heapUsed - before < 1 << 20);
  assert.equal(big.size, 0);
});
