// The DNS component end to end in-process: real UDP/TCP sockets on loopback, a stub upstream,
// forwarded, cached, negative, stale, truncated, local and spoofed answers, coalescing, ACL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { createDnsComponent } from '../src/dns/index.ts';
import type { Component } from '../src/supervisor/component.ts';
import { ask, fakeContext, query, startStub, udpAsk, type Stub } from './dns-stub.ts';

let stub: Stub;
let dns: Component;
let port: number;
let dir: string;
const counters = () => (dns.status!() as { counters: Record<string, number> }).counters;

before(async () => {
  stub = await startStub();
  dir = mkdtempSync(join(tmpdir(), 'ewD-dns-'));
  writeFileSync(join(dir, 'hosts'), '192.168.7.7 nas.branch.lan nas\n# comment\nfd00::7 nas.branch.lan\n');
  dns = createDnsComponent(
    {
      enabled: true,
      listen: ['127.0.0.1:0'],
      upstreams: [`127.0.0.1:${stub.port}`],
      upstreamTimeoutMs: 200,
      upstreamAttempts: 2,
      hostsFile: join(dir, 'hosts'),
      records: [
        { name: 'printer.branch.lan', type: 'A', value: '192.168.1.50', ttlS: 120 },
        { name: 'www.branch.lan', type: 'CNAME', value: 'printer.branch.lan' },
        { name: 'ads.example', type: 'A', value: '0.0.0.0', subdomains: true },
        { name: 'blocked.example', type: 'NXDOMAIN', subdomains: true },
      ],
    },
    { stateDir: dir, snapshot: true },
  );
  await dns.start(fakeContext().ctx);
  port = Number(String((dns.status!() as { listen: string[] }).listen[0]).split(':')[1]);
});

after(async () => {
  await dns.stop(1000);
  await stub.close();
  rmSync(dir, { recursive: true, force: true });
});

test('forwards, then answers from cache with the client ID and question case', async () => {
  const a = await ask(port, 'www.example.test', 'A', { id: 7 });
  assert.equal(a.rcode, 'NOERROR');
  assert.equal(a.answers?.[0].type, 'A');
  const b = await ask(port, 'WWW.Example.TEST', 'A', { id: 9 });
  assert.equal(b.id, 9);
  assert.equal(b.questions?.[0].name, 'WWW.Example.TEST');
  assert.deepEqual(b.answers?.[0].data, a.answers?.[0].data);
  assert.ok((b.answers![0] as { ttl: number }).ttl <= 300);
  assert.equal(stub.queries.get('www.example.test'), 1);
  assert.ok(counters().hits >= 1);
});

test('NXDOMAIN and NODATA are cached with the SOA-derived TTL (RFC 2308)', async () => {
  const a = await ask(port, 'nxhost.example.test');
  assert.equal(a.rcode, 'NXDOMAIN');
  const b = await ask(port, 'nxhost.example.test');
  assert.equal(b.rcode, 'NXDOMAIN');
  assert.equal(stub.queries.get('nxhost.example.test'), 1);
  assert.ok((b.authorities![0] as { ttl: number }).ttl <= 300);
  const c = await ask(port, 'nodata.example.test', 'AAAA');
  assert.equal(c.rcode, 'NOERROR');
  assert.equal(c.answers?.length, 0);
  await ask(port, 'nodata.example.test', 'AAAA');
  assert.equal(stub.queries.get('nodata.example.test'), 1);
  assert.ok(counters().negativeHits >= 2);
});

test('local records: authoritative A, CNAME chase, subdomain rule, NXDOMAIN rule, hosts file, PTR', async () => {
  const a = await ask(port, 'printer.branch.lan');
  assert.ok(a.flags! & dnsPacket.AUTHORITATIVE_ANSWER);
  assert.equal(a.answers?.[0].data, '192.168.1.50');
  assert.equal((a.answers![0] as { ttl: number }).ttl, 120);
  const c = await ask(port, 'www.branch.lan');
  assert.deepEqual(
    c.answers?.map((x) => x.type),
    ['CNAME', 'A'],
  );
  assert.equal((await ask(port, 'x.y.ads.example')).answers?.[0].data, '0.0.0.0');
  const nodata = await ask(port, 'ads.example', 'AAAA');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers?.length, 0);
  assert.equal((await ask(port, 'a.blocked.example')).rcode, 'NXDOMAIN');
  assert.equal((await ask(port, 'nas', 'A')).answers?.[0].data, '192.168.7.7');
  assert.equal((await ask(port, 'nas.branch.lan', 'AAAA')).answers?.[0].data, 'fd00::7');
  assert.equal((await ask(port, '7.7.168.192.in-addr.arpa', 'PTR')).answers?.[0].data, 'nas.branch.lan');
  assert.equal(stub.queries.get('printer.branch.lan'), undefined);
});

test('large answers: UDP gets TC, TCP gets everything (upstream retried over TCP)', async () => {
  const u = await ask(port, 'big.example.test', 'TXT');
  assert.ok(u.flags! & dnsPacket.TRUNCATED_RESPONSE);
  assert.equal(u.answers?.length, 0);
  const raw = await tcpAsk(port, query('big.example.test', 'TXT'));
  const t = dnsPacket.decode(raw);
  assert.equal(t.answers?.length, 1);
  assert.ok(raw.length > 2000);
  assert.ok((dns.status!() as { counters: { tcpRetries: number } }).counters.tcpRetries >= 1);
});

test('an answer with the wrong ID is dropped and counted; the real one is used', async () => {
  const a = await ask(port, 'spoof.example.test');
  assert.notEqual(a.answers?.[0].data, '6.6.6.6');
  assert.ok(counters().mismatched >= 1);
});

test('identical in-flight queries are coalesced into one upstream query', async () => {
  const all = await Promise.all(
    Array.from({ length: 10 }, (_, i) => ask(port, 'co.example.test', 'A', { id: i })),
  );
  assert.equal(all.length, 10);
  assert.deepEqual(
    all.map((p) => p.id),
    Array.from({ length: 10 }, (_, i) => i),
  );
  assert.equal(stub.queries.get('co.example.test'), 1);
});

test('EDNS0: the answer carries an OPT record when the query did', async () => {
  const a = await ask(port, 'www.example.test', 'A', { edns: 4096 });
  assert.ok(a.additionals?.some((r) => r.type === 'OPT'));
  const b = await ask(port, 'www.example.test', 'A');
  assert.ok(!b.additionals?.some((r) => r.type === 'OPT'));
});

test('serve-stale: an expired entry is answered with TTL 30 while the upstream is down', async () => {
  stub.ttl = 1;
  await ask(port, 'stale.example.test');
  stub.ttl = 300;
  await new Promise((r) => setTimeout(r, 1100));
  stub.down = true;
  try {
    const a = await ask(port, 'stale.example.test');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal((a.answers![0] as { ttl: number }).ttl, 30);
    assert.ok(counters().staleAnswers >= 1);
    const none = await ask(port, 'never-seen.example.test');
    assert.equal(none.rcode, 'SERVFAIL');
  } finally {
    stub.down = false;
  }
});

test('malformed packets are counted and dropped; the server keeps answering', async () => {
  const before = counters().malformed;
  const loop = Buffer.from('abcd01000001000000000000c00c00010001', 'hex'); // name is a pointer to itself
  const long = query('a'.repeat(60) + '.example.test');
  const garbage = [
    Buffer.from('hi'),
    Buffer.alloc(12, 0xff),
    loop,
    long.subarray(0, 20),
    Buffer.alloc(600, 0x3f),
  ];
  for (const g of garbage) await udpAsk(port, g, 150);
  assert.ok(counters().malformed >= before + garbage.length - 1);
  const ok = await ask(port, 'www.example.test');
  assert.equal(ok.rcode, 'NOERROR');
});

test('metrics name the documented counters', () => {
  const names = new Set(dns.metrics!().map((m) => m.name));
  for (const n of [
    'dns_queries_total',
    'dns_cache_hits_total',
    'dns_cache_misses_total',
    'dns_negative_hits_total',
    'dns_stale_answers_total',
    'dns_upstream_errors_total',
    'dns_upstream_latency_seconds_sum',
    'dns_cache_bytes',
    'dns_cache_budget_bytes',
    'dns_dropped_total',
  ])
    assert.ok(names.has(n), n);
});

function tcpAsk(p: number, q: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, '127.0.0.1');
    let buf = Buffer.alloc(0);
    s.on('connect', () => {
      const l = Buffer.alloc(2);
      l.writeUInt16BE(q.length);
      s.write(Buffer.concat([l, q]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', reject);
  });
}
