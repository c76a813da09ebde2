// A stream that cannot be completed is reset at both local ends, never ended: a frame the core
// cannot decode (a malformed LZ4 block) in the middle of a transfer, and a client that resets
// its connection while the edge has not read all it sent. The client and the target are real
// TCP sockets spliced to the tunnel (proxy/splice.ts), on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { pair, waitFor } from './tunnel-helpers.ts';
import { resetSocket, splice } from '../src/proxy/splice.ts';
import { connKey, tcpEntries } from '../src/proxy/tcp-table.ts';
import { eofHidesReset, endCheckStats, endCheckStatus } from '../src/proxy/end-check.ts';
import { Op } from '../src/codec/frame.ts';
import type { TunnelStream } from '../src/tunnel/stream.ts';

interface End {
  how: 'fin' | 'reset' | 'other' | null;
  bytes: number;
}
/**
 * How `s` ended. An 'end' counts as a FIN only while the kernel still lists the connection:
 * this test's own reads, on Node 18/20, report a reset behind unread bytes as an end too.
 */
function watch(s: net.Socket, e: End): void {
  const key = () => connKey(s.localPort!, s.remotePort!);
  let k = s.remotePort ? key() : -1;
  s.once('connect', () => {
    k = key();
  });
  s.on('data', (d: Buffer) => {
    e.bytes += d.length;
  });
  s.on('end', () => {
    e.how ??= tcpEntries([k])?.has(k) === false ? 'reset' : 'fin';
  });
  s.on('error', (err: NodeJS.ErrnoException) => {
    e.how ??= err.code === 'ECONNRESET' ? 'reset' : 'other';
  });
}

/** client → front listener spliced to an edge stream → core → target, all on loopback. */
async function chain(onTarget: (s: net.Socket) => void) {
  const { core, edge } = await pair();
  const tsrv = net.createServer({ allowHalfOpen: true }, onTarget);
  await new Promise<void>((r) => tsrv.listen(0, '127.0.0.1', r));
  let stream: TunnelStream | null = null;
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
    void edge.open(`127.0.0.1:${(tsrv.address() as net.AddressInfo).port}`).then((s) => {
      stream = s;
      splice(sock, s);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const c = net.connect({
    port: (front.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  return {
    edge,
    c,
    stream: () => stream!,
    async close() {
      c.destroy();
      front.close();
      tsrv.close();
      await edge.stop(100);
      await core.stop(100);
    },
  };
}

test('a frame that does not decode mid-transfer: client and target are reset, neither sees a clean end', async () => {
  const target: End = { how: null, bytes: 0 };
  const client: End = { how: null, bytes: 0 };
  const ch = await chain((s) => watch(s, target));
  watch(ch.c, client);
  try {
    ch.c.write(randomBytes(256 << 10));
    await waitFor(() => target.bytes >= 256 << 10);
    // the edge's side of the link sends a block the core's LZ4 decoder rejects
    ch.edge
      .currentLink()!
      .sendData(ch.stream().id, [{ op: Op.LZ4, rawLen: 4096, data: Buffer.from([0xf0, 0xff, 0xff, 0xff]) }]);
    await waitFor(() => target.how !== null && client.how !== null);
    assert.deepEqual({ target: target.how, client: client.how }, { target: 'reset', client: 'reset' });
  } finally {
    await ch.close();
  }
});

test('a client reset that arrives behind bytes the edge has not read: the target is reset, not ended', async () => {
  // On libuv before 1.52 (Node 18/20) the edge's read of such a socket reports a clean end
  // (proxy/end-check.ts); it must still travel as a reset. On later runtimes it is one anyway.
  const hides = await eofHidesReset();
  const target: End = { how: null, bytes: 0 };
  let tsock: net.Socket | null = null;
  const ch = await chain((s) => {
    tsock = s;
    watch(s, target);
    s.pause();
  });
  ch.c.on('error', () => {});
  const before = { ...endCheckStats };
  try {
    // the target does not read, so the tunnel's credit runs out, the edge stops reading and
    // the client's bytes back up in the edge's kernel receive queue
    ch.c.write(Buffer.alloc(64 << 20, 3)); // more than windows and kernel buffers hold
    await waitFor(() => tsock !== null);
    // backed up: the client's unsent count stays the same over four samples 50 ms apart
    for (let last = -1, same = 0, i = 0; same < 4; i++) {
      assert.ok(i < 400, "the client's writes never backed up");
      await new Promise((r) => setTimeout(r, 50));
      const n = ch.c.writableLength;
      same = n === last && n > 0 ? same + 1 : 0;
      last = n;
    }
    ch.c.resetAndDestroy();
    await new Promise((r) => ch.c.once('close', r));
    tsock!.resume(); // credit flows again: the edge reads the queued bytes, then meets the reset
    await waitFor(() => target.how !== null, 20_000);
    assert.equal(
      target.how,
      'reset',
      `the target saw ${target.how} after ${target.bytes} bytes (end check: ${JSON.stringify(endCheckStatus())}, hides: ${hides})`,
    );
    if (hides)
      assert.ok(
        endCheckStats.resets > before.resets,
        `this runtime hides resets behind data, and the edge caught none: ${JSON.stringify(endCheckStats)}`,
      );
  } finally {
    await ch.close();
  }
});

test('resetSocket after end() with bytes still buffered in Node: the peer is reset, it does not see a short clean end', async () => {
  // no zero linger here (not spliced): what resetSocket itself sends
  const peer: End = { how: null, bytes: 0 };
  let ps: net.Socket | null = null;
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    ps = s;
    watch(s, peer);
    s.pause();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = net.connect({
    port: (srv.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  c.on('error', () => {});
  try {
    await new Promise((r) => c.once('connect', r));
    c.end(Buffer.alloc(64 << 20, 5)); // far more than the kernel buffers take from a paused reader
    await waitFor(() => ps !== null && c.writableLength > 0);
    resetSocket(c);
    ps!.resume();
    await waitFor(() => peer.how !== null, 20_000);
    assert.equal(peer.how, 'reset', `the peer saw ${peer.how} after ${peer.bytes} of ${64 << 20} bytes`);
  } finally {
    c.destroy();
    srv.close();
  }
});
