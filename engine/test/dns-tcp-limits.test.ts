// DNS over TCP cannot be made to buffer without bound (issue 22 item 3): a client pipelining
// queries for a large answer without reading the replies makes the connection stop reading
// once its unsent answers pass TCP_LIMITS.connQueue; all connections together stay under
// TCP_LIMITS.totalQueue; a connection is closed after TCP_LIMITS.connQueries queries; other
// clients (UDP and TCP) keep getting answers meanwhile. In-process, real loopback sockets;
// every loop is bounded in count and time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDnsComponent } from '../src/dns/index.ts';
import { TCP_LIMITS } from '../src/dns/server.ts';
import type { Component } from '../src/supervisor/component.ts';
import { decode, fakeContext, query, tcpAskOnce, tcpFramed, udpAsk } from './dns-stub.ts';

let dns: Component;
let port: number;
let dir: string;
const saved = { ...TCP_LIMITS };
type Tcp = {
  connections: number;
  queuedBytes: number;
  queuedPeak: number;
  throttled: number;
  closedAtQueryLimit: number;
};
const tcp = () => (dns.status!() as { tcp: Tcp }).tcp;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ~5.5 KB answer: 24 TXT strings of 220 bytes. */
const BIG = Array.from({ length: 24 }, (_, i) => ({
  name: 'big.flood.test',
  type: 'TXT' as const,
  value: `${i}-${'x'.repeat(217)}`,
}));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ewD-tcp-'));
  dns = createDnsComponent(
    {
      enabled: true,
      listen: ['127.0.0.1:0'],
      upstreams: ['127.0.0.1:9'],
      upstreamTimeoutMs: 100,
      upstreamAttempts: 1,
      records: [...BIG, { name: 'small.flood.test', type: 'A', value: '192.0.2.1' }],
    },
    { stateDir: dir, snapshot: false },
  );
  await dns.start(fakeContext().ctx);
  port = Number(String((dns.status!() as { listen: string[] }).listen[0]).split(':')[1]);
});

after(async () => {
  Object.assign(TCP_LIMITS, saved);
  await dns.stop(1000);
  rmSync(dir, { recursive: true, force: true });
});

/** A client that pipelines n queries and never reads. */
function flooder(n: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.pause();
  s.on('error', () => {});
  s.write(tcpFramed(query('big.flood.test', 'TXT'), n));
  return s;
}

test('the big answer is ~5.5 KB', async () => {
  const a = await tcpAskOnce(port, query('big.flood.test', 'TXT'));
  assert.ok(a && a.length > 5000 && a.length < 6500, `answer ${a?.length} bytes`);
});

test(
  'a client pipelining 68,000 queries without reading: bounded queue, others still answered',
  { timeout: 60_000 },
  async () => {
    const throttledBefore = tcp().throttled;
    const flood = flooder(68_000);
    let peak = 0;
    let answered = 0;
    // bounded: 40 rounds of a UDP and a TCP query from other clients while the flood stalls
    for (let i = 0; i < 40; i++) {
      await sleep(25);
      peak = Math.max(peak, tcp().queuedBytes);
      const u = await udpAsk(port, query('small.flood.test', 'A'));
      const t = await tcpAskOnce(port, query('big.flood.test', 'TXT'));
      if (u && decode(u).answers?.length === 1 && t && decode(t).answers?.length === 24) answered++;
    }
    const st = tcp();
    flood.destroy();
    assert.equal(answered, 40, 'other clients were not all answered during the flood');
    assert.ok(st.throttled > throttledBefore, 'the flooding connection never stopped reading');
    // one connection: its own limit plus at most one answer past it
    assert.ok(st.queuedPeak <= TCP_LIMITS.connQueue + 6000 + 6000, `peak queued ${st.queuedPeak} bytes`);
    assert.ok(peak <= TCP_LIMITS.connQueue + 6000 + 6000, `sampled queued ${peak} bytes`);
  },
);

test('many stalled connections together stay under the total TCP budget', { timeout: 60_000 }, async () => {
  TCP_LIMITS.totalQueue = 128 * 1024;
  const floods = Array.from({ length: 12 }, () => flooder(3000));
  try {
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      await sleep(50);
      peak = Math.max(peak, tcp().queuedBytes);
    }
    // every connection may add at most one answer after the check that stopped it
    assert.ok(
      peak <= TCP_LIMITS.totalQueue + 12 * 6000,
      `queued ${peak} bytes over ${floods.length} connections`,
    );
    assert.ok(tcp().connections >= 12);
    const t = await tcpAskOnce(port, query('small.flood.test', 'A'));
    assert.ok(t, 'a new client is answered while the budget is full (reads stop, accepts do not)');
  } finally {
    for (const f of floods) f.destroy();
    Object.assign(TCP_LIMITS, saved);
  }
});

test(
  'a connection is closed (FIN) after connQueries answers, every one delivered',
  { timeout: 30_000 },
  async () => {
    TCP_LIMITS.connQueries = 50;
    try {
      const got = await new Promise<{ answers: number; ended: boolean }>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        let answers = 0;
        const t = setTimeout(() => {
          s.destroy();
          resolve({ answers, ended: false });
        }, 10_000);
        s.on('connect', () => s.write(tcpFramed(query('small.flood.test', 'A'), 80)));
        s.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            buf = buf.subarray(2 + buf.readUInt16BE(0));
            answers++;
          }
        });
        s.on('end', () => {
          clearTimeout(t);
          s.destroy();
          resolve({ answers, ended: true });
        });
        s.on('error', () => {});
      });
      assert.deepEqual(got, { answers: 50, ended: true });
    } finally {
      Object.assign(TCP_LIMITS, saved);
    }
  },
);
