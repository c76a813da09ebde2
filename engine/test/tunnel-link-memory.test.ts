// Memory on a core with many links (issue 16 item 6): the split of the one tunnel budget
// (memory/links.ts), peer models bounded in bytes (tunnel/peer-model.ts), and a real core with
// several edges each pushing distinct data, its store + peer models + sketch index held within
// the budget at every sample, a quiet edge's model untouched by a busy one (the floor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { linkSplit, PEER_LINK_FLOOR, STORE_MIN_BYTES, STORE_MIN_SHARE } from '../src/memory/links.ts';
import { PeerModel, PEER_ENTRY_BYTES } from '../src/tunnel/peer-model.ts';
import { ChunkStore } from '../src/cache/store.ts';
import { fingerprint } from '../src/codec/fingerprint.ts';
import { TunnelComponent } from '../src/tunnel/component.ts';
import type { Link } from '../src/tunnel/link.ts';
import { fakeCtx, hashSink, pair, roundTrip, sha, tmp, waitFor } from './tunnel-helpers.ts';

test('linkSplit: store + peer models + sketch index never exceed the budget, for any number of links', () => {
  for (const budget of [1 << 20, 6 << 20, 26 << 20, 256 << 20]) {
    for (const links of [0, 1, 2, 10, 50, 200, 1000, 5000]) {
      const s = linkSplit(budget, links, Math.floor(budget / 8192) * 240);
      const n = Math.max(1, links);
      assert.ok(
        s.storeBytes + s.peerModelsBytes + s.sketchBytes <= budget,
        `${budget}/${links}: ${JSON.stringify(s)}`,
      );
      const storeMin = Math.max(Math.floor(STORE_MIN_SHARE * budget), Math.min(budget, STORE_MIN_BYTES));
      assert.ok(s.storeBytes >= storeMin, `store keeps its minimum at ${budget}/${links}`);
      assert.ok(s.perLinkBytes >= s.floorBytes, 'a share is never below the floor');
      assert.equal(s.peerModelsBytes, s.perLinkBytes * n);
      // the floor holds as long as N floors fit beside the store's minimum
      const room = budget - storeMin - s.sketchBytes;
      if (n * PEER_LINK_FLOOR <= room) assert.equal(s.floorBytes, PEER_LINK_FLOOR, `${budget}/${links}`);
      else
        assert.equal(s.floorBytes, Math.floor(room / n), 'the floor shrinks only when N floors do not fit');
    }
  }
  // 256 MiB core (chunkMemory 26 MiB): 50 edges each keep the whole floor
  const at50 = linkSplit(26 << 20, 50, 3328 * 240);
  assert.equal(at50.floorBytes, PEER_LINK_FLOOR);
  assert.equal(at50.perLinkBytes, PEER_LINK_FLOOR);
});

test('PeerModel: bytes never above its limit; a smaller limit forgets the oldest chunks first', () => {
  const store = new ChunkStore({ memoryBytes: 64 << 20 });
  let limit = 1000 * PEER_ENTRY_BYTES;
  const m = new PeerModel(store, false, 262144, () => limit);
  const fps = Array.from({ length: 3000 }, (_, i) => {
    const d = Buffer.from(`chunk ${i}`);
    const fp = fingerprint(d);
    store.put(fp, d);
    return fp;
  });
  for (const fp of fps) {
    m.add(fp);
    assert.ok(m.bytes <= limit);
  }
  assert.equal(m.entries, 1000);
  assert.equal(m.evicted, 2000);
  assert.equal(m.shouldRef(fps[2999]), true);
  assert.equal(m.shouldRef(fps[1999]), false, 'forgotten: oldest first');
  limit = 100 * PEER_ENTRY_BYTES;
  m.trim();
  assert.equal(m.entries, 100);
  assert.equal(m.shouldRef(fps[2900]), true);
  assert.equal(m.shouldRef(fps[2899]), false);
  // chunks the peer lacks count too, and never crowd out everything it holds
  for (let i = 0; i < 50; i++) m.lost(fps[2950 + i]);
  assert.ok(m.bytes <= limit);
});

test('a core with many links pushing distinct data keeps store + peer models + sketches within its one budget; a busy edge cannot evict a quiet one', async () => {
  const BUDGET = 2 << 20;
  const EDGES = 8;
  const { core, edge, keys } = await pair({ chunkSize: 2048 });
  // the pair's core runs with the helpers' 16 MiB budget: start a second core with a small one
  await edge.stop(50);
  await core.stop(50);
  const base = {
    auth: { keyDir: keys, psk: null, cert: null, key: null, pin: null },
    diskMaxBytes: 64 << 20,
    pingIntervalMs: 1000,
    backoffMs: { initial: 50, max: 500 },
    chunkSize: 2048,
  };
  const c = new TunnelComponent({
    role: 'core',
    stateDir: tmp(),
    listen: '127.0.0.1:0',
    connect: null,
    ...base,
  });
  await c.start(fakeCtx(BUDGET));
  const port = c.address()!.port;
  const edges: TunnelComponent[] = [];
  const sink = await hashSink();
  let samples = 0;
  const violations: string[] = [];
  const check = () => {
    const st = c.linkMemory!.status(c.store) as {
      budgetBytes: number;
      usedBytes: number;
      store: { limitBytes: number; splitBytes: number; usedBytes: number };
      peerModels: { limitBytes: number; perLinkBytes: number; usedBytes: number };
      sketches: { limitBytes: number; usedBytes: number };
      runs: { limitBytes: number; usedBytes: number };
    };
    samples++;
    if (st.budgetBytes !== BUDGET) violations.push(`budget ${st.budgetBytes}`);
    if (st.usedBytes > BUDGET) violations.push(`used ${st.usedBytes} > ${BUDGET}`);
    if (st.store.limitBytes + st.peerModels.limitBytes + st.sketches.limitBytes + st.runs.limitBytes > BUDGET)
      violations.push(`limits ${JSON.stringify(st)}`);
    if (st.store.usedBytes > st.store.limitBytes || st.store.limitBytes > st.store.splitBytes)
      violations.push(`store ${JSON.stringify(st.store)}`);
    if (st.peerModels.usedBytes > st.peerModels.limitBytes)
      violations.push(`peer models ${JSON.stringify(st.peerModels)}`);
    if (st.sketches.usedBytes > st.sketches.limitBytes)
      violations.push(`sketches ${JSON.stringify(st.sketches)}`);
    if (st.runs.usedBytes > st.runs.limitBytes) violations.push(`runs ${JSON.stringify(st.runs)}`);
    for (const l of coreLinks())
      if ((l.peerModel?.bytes ?? 0) > st.peerModels.perLinkBytes)
        violations.push(`a link holds ${l.peerModel?.bytes} > ${st.peerModels.perLinkBytes}`);
  };
  const coreLinks = () => [...(c as unknown as { links: Set<Link> }).links];
  const sampler = setInterval(check, 5);
  try {
    for (let i = 0; i < EDGES; i++) {
      const e = new TunnelComponent({
        role: 'edge',
        stateDir: tmp(),
        listen: null,
        connect: `127.0.0.1:${port}`,
        ...base,
      });
      await e.start(fakeCtx(16 << 20));
      edges.push(e);
    }
    await waitFor(() => edges.every((e) => e.currentLink() !== null) && coreLinks().length === EDGES);
    await Promise.all(edges.map((e) => e.currentLink()!.ready$()));
    await waitFor(() => coreLinks().every((l) => l.peerModel !== null));
    const split = c.linkMemory!.split;
    assert.equal((c.linkMemory!.status(c.store) as { links: number }).links, EDGES);
    const perLinkChunks = Math.floor(split.perLinkBytes / PEER_ENTRY_BYTES);
    // every edge sends a little distinct data: each core-side model holds some chunks
    const push = async (e: TunnelComponent, bytes: number) => {
      const data = randomBytes(bytes);
      const s = await e.open(`127.0.0.1:${sink.port}`);
      const r = await roundTrip(s, data);
      assert.equal(r.bytes.toString(), sha(data), 'the sink got exactly what was sent');
    };
    await Promise.all(edges.map((e) => push(e, 256 << 10)));
    check();
    const quiet = new Map(coreLinks().map((l) => [l, l.peerModel!.entries]));
    assert.ok(
      [...quiet.values()].every((n) => n > 0 && n < perLinkChunks),
      `every model holds some chunks, within its share: ${[...quiet.values()]}`,
    );
    // then one edge pushes three times what its share can remember (2 KiB chunks)
    for (let i = 0; i < 3; i++) await push(edges[0], perLinkChunks * 2048);
    check();
    const busyCore = coreLinks().filter((l) => l.peerModel!.evicted > 0);
    assert.equal(busyCore.length, 1, 'the busy link, and only it, forgot its oldest chunks');
    for (const l of coreLinks())
      if (!busyCore.includes(l))
        assert.equal(l.peerModel!.entries, quiet.get(l), 'a quiet link keeps every chunk it had');
    assert.ok(busyCore[0].peerModel!.bytes <= split.perLinkBytes);
    // all edges push distinct data at once, well past the budget
    await Promise.all(edges.map((e) => push(e, 1 << 20)));
    check();
    const m = c.metrics();
    const series = (name: string) => m.filter((x) => x.name === name);
    assert.deepEqual(
      series('tunnel_memory_budget_bytes').map((x) => x.labels?.part),
      ['total', 'store', 'peer_models', 'sketches', 'runs'],
    );
    assert.equal(series('tunnel_memory_budget_bytes')[0].value, BUDGET);
    assert.ok(series('tunnel_peer_model_evictions_total')[0].value > 0);
    const status = c.status().memory as { usedBytes: number; peerModels: { evicted: number } };
    assert.ok(status.usedBytes <= BUDGET && status.peerModels.evicted > 0);
    // a link that leaves gives its share back to the others
    const before = c.linkMemory!.split.perLinkBytes;
    await edges.pop()!.stop(50);
    await waitFor(() => coreLinks().length === EDGES - 1);
    assert.ok(c.linkMemory!.split.perLinkBytes >= before);
  } finally {
    clearInterval(sampler);
    for (const e of edges) await e.stop(50);
    await c.stop(50);
    sink.close();
  }
  assert.deepEqual(violations, [], `over the budget in ${violations.length} of ${samples} samples`);
  assert.ok(samples > 10);
});
