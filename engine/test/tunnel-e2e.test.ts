// End to end over loopback TLS: edge → core → echo target and back, many concurrent streams,
// random / compressible / repeated data, every byte hash-checked; degrade modes; a link cut
// mid-transfer resets streams instead of delivering short or corrupt data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pair, echoServer, roundTrip, sha, waitFor } from './tunnel-helpers.ts';
import { seeded, textLike, mixedCorpus } from './codec-corpus.ts';

test('64 concurrent streams of mixed data arrive byte-exact, both directions', async () => {
  const { core, edge } = await pair();
  const echo = await echoServer();
  try {
    const r = seeded(99);
    const shared = textLike(r, 200_000);
    const inputs = Array.from({ length: 64 }, (_, i) =>
      i % 3 === 0
        ? r.bytes(40_000 + r.int(200_000))
        : i % 3 === 1
          ? textLike(r, 40_000 + r.int(300_000))
          : shared,
    );
    const results = await Promise.all(
      inputs.map(async (d) => roundTrip(await edge.open(`127.0.0.1:${echo.port}`), d, 16384 + r.int(60000))),
    );
    results.forEach((res, i) => {
      assert.equal(res.error, null);
      assert.equal(sha(res.bytes), sha(inputs[i]), `stream ${i}`);
    });
    assert.ok(edge.counters.chunkHits > 0, 'the repeated input was deduplicated');
    await waitFor(() => edge.currentLink()!.activeStreams === 0 && core.currentLink()!.activeStreams === 0);
  } finally {
    echo.close();
    await edge.stop(100);
    await core.stop(100);
  }
});

for (const mode of ['lz4', 'raw'] as const) {
  test(`degraded mode ${mode} still delivers byte-exact and reports degraded`, async () => {
    const { core, edge, ectx } = await pair({ mode });
    const echo = await echoServer();
    try {
      const d = mixedCorpus(5, 1 << 20);
      const res = await roundTrip(await edge.open(`127.0.0.1:${echo.port}`), d);
      assert.equal(sha(res.bytes), sha(d));
      assert.ok(ectx.states.some((s) => s.startsWith(`degraded:data reduction mode ${mode}`)));
      assert.equal(edge.counters.chunkHits, 0);
    } finally {
      echo.close();
      await edge.stop(100);
      await core.stop(100);
    }
  });
}

test('link cut mid-transfer: stream errors (never ends cleanly short), edge reconnects', async () => {
  const { core, edge } = await pair();
  const echo = await echoServer();
  try {
    const d = seeded(7).bytes(24 << 20);
    const s = await edge.open(`127.0.0.1:${echo.port}`);
    const p = roundTrip(s, d);
    await waitFor(() => edge.counters.appRx > 1 << 20);
    core.currentLink()!.socket.destroy(); // the core vanishes (as with kill -9)
    const res = await p;
    assert.ok(res.error, 'the stream must fail, not end');
    assert.ok(res.bytes.length < d.length);
    assert.ok(
      Buffer.from(d.subarray(0, res.bytes.length)).equals(res.bytes),
      'what did arrive is an exact prefix',
    );
    await waitFor(() => edge.counters.reconnects >= 1 && edge.currentLink() !== null);
    await edge.currentLink()!.ready$();
    const d2 = textLike(seeded(8), 300_000);
    const res2 = await roundTrip(await edge.open(`127.0.0.1:${echo.port}`), d2);
    assert.equal(sha(res2.bytes), sha(d2));
  } finally {
    echo.close();
    await edge.stop(100);
    await core.stop(100);
  }
});

test('opening a stream to a closed port fails cleanly', async () => {
  const { core, edge } = await pair();
  try {
    await assert.rejects(edge.open('127.0.0.1:1'), /EDGEWAN_ERR_TUNNEL_OPEN/);
    assert.equal(edge.currentLink()!.isClosed, false);
  } finally {
    await edge.stop(100);
    await core.stop(100);
  }
});
