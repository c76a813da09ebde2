// Wire parser, byte-bounded cache, TTL handling and warm-restart snapshots of the DNS component.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsCache, makeEntry, render } from '../src/dns/cache.ts';
import { createDnsComponent, SNAPSHOT_FILE } from '../src/dns/index.ts';
import { DNS_DEFAULTS, systemUpstreams } from '../src/dns/options.ts';
import { decodeSnapshot, encodeSnapshot } from '../src/dns/snapshot.ts';
import { MalformedError, parseQuery, readName } from '../src/dns/wire.ts';
import { ask, fakeContext, query, startStub } from './dns-stub.ts';

function response(name: string, ttl: number, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: 99,
    flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A', class: 'IN' }],
    answers: [{ name, type: 'A', class: 'IN', ttl, data: '10.1.2.3' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer,
    ],
    ...extra,
  });
}

test('parseQuery reads the question, lower-cases it and finds the OPT record', () => {
  const q = parseQuery(query('WwW.Example.COM', 'AAAA', { edns: 4096 }));
  assert.equal(q.name, 'www.example.com');
  assert.equal(q.qtype, 28);
  assert.equal(q.ednsSize, 4096);
  assert.equal(q.plainQuestion, true);
});

test('readName rejects pointer loops, forward pointers, overlong names and truncation', () => {
  assert.throws(() => readName(Buffer.from('0000000000000000000000000c00c', 'hex'), 12), MalformedError);
  const loop = Buffer.alloc(16);
  loop[12] = 0xc0;
  loop[13] = 12;
  assert.throws(() => readName(loop, 12), /pointer/);
  const long = Buffer.alloc(12 + 5 * 64 + 1);
  for (let i = 0; i < 5; i++) {
    long[12 + i * 64] = 63;
    long.fill(0x61, 13 + i * 64, 12 + (i + 1) * 64);
  }
  assert.throws(() => readName(long, 12), /longer than 255/);
  assert.throws(() => parseQuery(Buffer.alloc(5)), /shorter than 12/);
});

test('a cached answer is replayed with the new ID, decremented TTLs and no upstream OPT', () => {
  const pol = DNS_DEFAULTS;
  const e = makeEntry('k', response('a.example', 300), 1_000_000, pol)!;
  assert.equal(e.ttlS, 300);
  const qbuf = query('A.EXAMPLE', 'A', { id: 1234 });
  const out = render(e, qbuf, parseQuery(qbuf), 1_000_000 + 100_500, null, 1232);
  const p = dnsPacket.decode(out);
  assert.equal(p.id, 1234);
  assert.equal(p.questions![0].name, 'A.EXAMPLE');
  assert.equal((p.answers![0] as { ttl: number }).ttl, 200);
  assert.equal(p.additionals?.length ?? 0, 0);
});

test('TTL clamps: min and max apply to positive answers', () => {
  const pol = { ...DNS_DEFAULTS, minTtlS: 60, maxTtlS: 3600 };
  assert.equal(makeEntry('k', response('a.example', 5), 0, pol)!.ttlS, 60);
  assert.equal(makeEntry('k', response('a.example', 999999), 0, pol)!.ttlS, 3600);
  assert.equal(makeEntry('k', response('a.example', 0), 0, DNS_DEFAULTS)!.ttlS, 0);
});

test('negative answer without SOA uses negativeTtlS', () => {
  const nx = dnsPacket.encode({
    type: 'response',
    id: 1,
    flags: 3,
    questions: [{ name: 'x.example', type: 'A', class: 'IN' }],
    answers: [],
  });
  const e = makeEntry('k', nx, 0, { ...DNS_DEFAULTS, negativeTtlS: 42 })!;
  assert.equal(e.negative, true);
  assert.equal(e.ttlS, 42);
});

test('the cache stays within its byte budget and a live resize evicts the oldest', () => {
  const budget = 64 * 1024;
  const c = new DnsCache(budget, DNS_DEFAULTS);
  for (let i = 0; i < 5000; i++) {
    const name = `host${i}.example`;
    c.set(name, makeEntry(name, response(name, 300), Date.now(), DNS_DEFAULTS)!);
  }
  assert.ok(c.bytes <= budget, `${c.bytes} > ${budget}`);
  assert.ok(c.entries > 100);
  c.resize(budget / 4);
  assert.ok(c.bytes <= budget / 4);
  assert.ok(c.peek('host4999.example'), 'the newest entry survives');
  assert.equal(c.peek('host0.example'), undefined);
});

test('snapshot round trip keeps TTLs relative to the store time; damage is detected', () => {
  const c = new DnsCache(1 << 20, DNS_DEFAULTS);
  const now = Date.now();
  c.set('a|1|1', makeEntry('a|1|1', response('a.example', 300), now - 100_000, DNS_DEFAULTS)!);
  c.set('b|1|1', makeEntry('b|1|1', response('b.example', 10), now - 100_000, DNS_DEFAULTS)!);
  const snap = encodeSnapshot(c);
  const back = decodeSnapshot(snap, now, 0);
  assert.deepEqual(
    back.map(([k]) => k),
    ['a|1|1'],
    'expired entry left out without a stale window',
  );
  assert.equal(back[0][1].storedAt, now - 100_000);
  assert.equal(decodeSnapshot(snap, now, 3600).length, 2);
  const bad = Buffer.from(snap);
  bad[bad.length - 3] ^= 0xff;
  assert.throws(() => decodeSnapshot(bad, now, 0), /checksum/);
  assert.throws(() => decodeSnapshot(snap.subarray(0, 20), now, 0), /magic/);
});

test('warm restart: the cache survives stop/start; a corrupt snapshot is ignored with a log line', async () => {
  const stub = await startStub();
  const dir = mkdtempSync(join(tmpdir(), 'ewD-snap-'));
  const cfg = {
    enabled: true,
    listen: ['127.0.0.1:0'],
    upstreams: [`127.0.0.1:${stub.port}`],
    upstreamTimeoutMs: 150,
    upstreamAttempts: 1,
    serveStale: false,
  };
  const portOf = (c: ReturnType<typeof createDnsComponent>) =>
    Number(String((c.status!() as { listen: string[] }).listen[0]).split(':')[1]);
  try {
    const one = createDnsComponent(cfg, { stateDir: dir, snapshot: true });
    await one.start(fakeContext().ctx);
    for (const n of ['w1', 'w2', 'w3']) await ask(portOf(one), `${n}.example.test`);
    await one.stop(1000);
    assert.ok(existsSync(join(dir, SNAPSHOT_FILE)));

    stub.down = true;
    const two = createDnsComponent(cfg, { stateDir: dir, snapshot: true });
    await two.start(fakeContext().ctx);
    const a = await ask(portOf(two), 'w2.example.test');
    assert.equal(a.rcode, 'NOERROR');
    assert.ok((a.answers![0] as { ttl: number }).ttl <= 300);
    assert.equal((two.status!() as { snapshot: { restoredEntries: number } }).snapshot.restoredEntries, 3);
    await two.stop(1000);

    const file = join(dir, SNAPSHOT_FILE);
    const data = readFileSync(file);
    data[data.length - 1] ^= 0x55;
    writeFileSync(file, data);
    const f = fakeContext();
    const three = createDnsComponent(cfg, { stateDir: dir, snapshot: true });
    await three.start(f.ctx);
    assert.ok(f.lines.some((l) => l.msg === 'dns snapshot ignored' && l.code === 'EDGEWAN_ERR_DNS_SNAPSHOT'));
    assert.equal((three.status!() as { cache: { entries: number } }).cache.entries, 0);
    assert.equal((await ask(portOf(three), 'w2.example.test')).rcode, 'SERVFAIL');
    await three.stop(1000);
  } finally {
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('periodic snapshot: written asynchronously while serving, loadable, no temp file left; stop after it still saves', async () => {
  const stub = await startStub();
  const dir = mkdtempSync(join(tmpdir(), 'ewD-snapp-'));
  const cfg = {
    enabled: true,
    listen: ['127.0.0.1:0'],
    upstreams: [`127.0.0.1:${stub.port}`],
    upstreamTimeoutMs: 150,
    upstreamAttempts: 1,
    serveStale: false,
    snapshotIntervalS: 1,
  };
  const portOf = (c: ReturnType<typeof createDnsComponent>) =>
    Number(String((c.status!() as { listen: string[] }).listen[0]).split(':')[1]);
  const file = join(dir, SNAPSHOT_FILE);
  try {
    const one = createDnsComponent(cfg, { stateDir: dir, snapshot: true });
    await one.start(fakeContext().ctx);
    for (const n of ['p1', 'p2']) await ask(portOf(one), `${n}.example.test`);
    // the 1 s timer saves while the component runs (bounded wait: 10 s)
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(file), 'no periodic snapshot within 10 s');
    assert.equal(decodeSnapshot(readFileSync(file), Date.now(), 0).length, 2);
    await ask(portOf(one), 'p3.example.test');
    await one.stop(1000);
    assert.equal(
      decodeSnapshot(readFileSync(file), Date.now(), 0).length,
      3,
      'the stop-time save comes after the periodic one',
    );
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.tmp-')),
      [],
    );
  } finally {
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("system upstreams skip our own address and systemd-resolved stub, reading resolved's list instead", () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewD-resolv-'));
  try {
    writeFileSync(join(dir, 'resolv.conf'), '# managed\nnameserver 127.0.0.53\noptions edns0\n');
    writeFileSync(
      join(dir, 'resolved.conf'),
      'nameserver 127.0.0.1\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\n',
    );
    assert.deepEqual(
      systemUpstreams(['127.0.0.1:5353'], join(dir, 'resolv.conf'), join(dir, 'resolved.conf')),
      ['192.0.2.1:53', '[fe80::1]:53'],
    );
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 198.51.100.7\n');
    assert.deepEqual(systemUpstreams(['127.0.0.1:5353'], join(dir, 'resolv.conf'), join(dir, 'none')), [
      '198.51.100.7:53',
    ]);
    // OpenWRT: resolv.conf names dnsmasq on 127.0.0.1 (our own listen host): read netifd's list
    writeFileSync(join(dir, 'resolv.conf'), 'search lan\nnameserver 127.0.0.1\n');
    writeFileSync(join(dir, 'auto'), '# Interface wan\nnameserver 203.0.113.9\n');
    assert.deepEqual(
      systemUpstreams(['127.0.0.1:5353'], join(dir, 'resolv.conf'), join(dir, 'none'), [join(dir, 'auto')]),
      ['203.0.113.9:53'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a listen failure (TCP port taken) rejects start and leaves the UDP port free for the restart', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'ewD-listen-'));
  try {
    const c = createDnsComponent(
      { enabled: true, listen: [`127.0.0.1:${port}`], upstreams: ['127.0.0.1:9'] },
      { stateDir: dir, snapshot: false },
    );
    await assert.rejects(
      c.start(fakeContext().ctx),
      (e: Error & { code?: string }) => e.code === 'EDGEWAN_ERR_DNS_LISTEN',
    );
    await c.stop(100);
    const u = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => {
      u.once('error', rej);
      u.bind(port, '127.0.0.1', () => res());
    });
    u.close();
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
