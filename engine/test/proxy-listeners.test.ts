// Local listeners over a real tunnel: an edge port forward, a core-published forward toward
// a service behind the edge, and SOCKS5 CONNECT (domain and IPv4); bad SOCKS input is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pair, fakeCtx, echoServer, roundTrip, sha } from './tunnel-helpers.ts';
import { ForwardsComponent, SocksComponent } from '../src/proxy/listeners.ts';
import { textLike, seeded } from './codec-corpus.ts';
import { hub } from '../src/tunnel/hub.ts';

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r, j) => {
    s.once('connect', r);
    s.once('error', j);
  });
  return s;
}

function readN(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let b = Buffer.alloc(0);
    const on = (d: Buffer) => {
      b = Buffer.concat([b, d]);
      if (b.length >= n) {
        s.off('data', on);
        if (b.length > n) s.unshift(b.subarray(n));
        resolve(b.subarray(0, n));
      }
    };
    s.on('data', on);
    s.once('close', () => reject(new Error(`closed after ${b.length} bytes`)));
  });
}

test('edge forward and core-published forward carry bytes exactly', async () => {
  const p = await pair();
  const echo = await echoServer();
  const fwdEdge = new ForwardsComponent('edge', [
    { listen: '127.0.0.1:0', target: `127.0.0.1:${echo.port}`, direction: 'edge-to-core' },
  ]);
  const fwdCore = new ForwardsComponent('core', [
    { listen: '127.0.0.1:0', target: `127.0.0.1:${echo.port}`, direction: 'core-to-edge' },
  ]);
  await fwdEdge.start(fakeCtx());
  try {
    const d = textLike(seeded(1), 1 << 20);
    const r1 = await roundTrip(await connect(fwdEdge.addresses()[0].port), d);
    assert.equal(sha(r1.bytes), sha(d));
    // Two tunnel components in one process share the hub: point it at the core for this part.
    hub.register(p.core);
    await fwdCore.start(fakeCtx());
    const r2 = await roundTrip(await connect(fwdCore.addresses()[0].port), d);
    assert.equal(sha(r2.bytes), sha(d));
    assert.ok(p.core.counters.chunkHits > 0, 'the core deduplicated against what the edge sent');
  } finally {
    await fwdEdge.stop(50);
    await fwdCore.stop(50);
    echo.close();
    await p.edge.stop(50);
    await p.core.stop(50);
  }
});

test('SOCKS5 CONNECT by domain name and IPv4; unsupported command refused', async () => {
  const p = await pair();
  hub.register(p.edge);
  const echo = await echoServer();
  const socks = new SocksComponent('127.0.0.1:0');
  await socks.start(fakeCtx());
  const port = socks.addresses()[0].port;
  try {
    for (const atyp of ['domain', 'ipv4'] as const) {
      const s = await connect(port);
      s.write(Buffer.from([5, 1, 0]));
      assert.deepEqual([...(await readN(s, 2))], [5, 0]);
      const addr =
        atyp === 'domain'
          ? Buffer.concat([Buffer.from([3, 9]), Buffer.from('localhost')])
          : Buffer.from([1, 127, 0, 0, 1]);
      const portB = Buffer.alloc(2);
      portB.writeUInt16BE(echo.port);
      const d = textLike(seeded(2), 200_000);
      s.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, portB, d.subarray(0, 1000)])); // pipelined data
      const rep = await readN(s, 10);
      assert.equal(rep[1], 0, `reply code ${rep[1]}`);
      const res = await roundTrip(s, d.subarray(1000));
      assert.equal(sha(res.bytes), sha(d));
    }
    const s = await connect(port);
    s.write(Buffer.from([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80])); // BIND
    const rep = await readN(s, 12);
    assert.equal(rep[3], 7, 'command not supported');
  } finally {
    await socks.stop(50);
    echo.close();
    await p.edge.stop(50);
    await p.core.stop(50);
  }
});

test(
  'SOCKS5: a stalled handshake is dropped after the handshake timeout; an oversized one at once',
  { timeout: 20_000 },
  async () => {
    const { SOCKS_HANDSHAKE_MS } = await import('../src/proxy/socks5.ts');
    const saved = SOCKS_HANDSHAKE_MS.value;
    SOCKS_HANDSHAKE_MS.value = 300;
    const socks = new SocksComponent('127.0.0.1:0');
    await socks.start(fakeCtx());
    const port = socks.addresses()[0].port;
    const closedWithin = (s: net.Socket, ms: number) =>
      new Promise<boolean>((resolve) => {
        s.on('error', () => {});
        s.once('close', () => resolve(true));
        setTimeout(() => {
          s.destroy();
          resolve(false);
        }, ms);
      });
    try {
      const stalled = await connect(port);
      stalled.write(Buffer.from([5])); // half a greeting, then nothing
      assert.ok(
        await closedWithin(stalled, 5000),
        'a client that never finishes the handshake keeps its connection',
      );
      const flood = await connect(port);
      flood.write(Buffer.concat([Buffer.from([5, 255]), Buffer.alloc(8192, 1)])); // far beyond any greeting
      assert.ok(await closedWithin(flood, 5000), 'an oversized handshake is not dropped');
      assert.equal((socks.status() as { connections: number }).connections, 0);
    } finally {
      SOCKS_HANDSHAKE_MS.value = saved;
      await socks.stop(50);
    }
  },
);
