// Upstream pool (failover, health, concurrency cap), prefetch and the client ACL of the DNS component.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { DnsCache, makeEntry } from '../src/dns/cache.ts';
import { LocalData } from '../src/dns/local.ts';
import { dnsOptions } from '../src/dns/options.ts';
import { Resolver } from '../src/dns/resolver.ts';
import { aclAllows, makeAcl } from '../src/dns/server.ts';
import { UpstreamPool } from '../src/dns/upstream.ts';
import { parseQuery } from '../src/dns/wire.ts';
import { createDnsComponent } from '../src/dns/index.ts';
import { createLogger } from '../src/log/logger.ts';
import { fakeContext, query, startStub, udpAsk } from './dns-stub.ts';

async function deadPort(): Promise<number> {
  // a bound socket that never answers: queries to it time out
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  setTimeout(() => s.close(), 3000).unref();
  return p;
}

test('failover: a silent first upstream is skipped and its failures show in the health view', async () => {
  const stub = await startStub();
  try {
    const dead = await deadPort();
    const pool = new UpstreamPool([`127.0.0.1:${dead}`, `127.0.0.1:${stub.port}`], {
      timeoutMs: 100,
      attempts: 2,
      maxInflight: 8,
      ednsUdpSize: 1232,
    });
    const resp = await pool.resolve('fo.example.test', 1, 1, false);
    assert.equal(resp[3] & 0x0f, 0);
    const h = pool.health();
    assert.equal(h[0].timeouts, 1);
    assert.equal(h[1].errors, 0);
    assert.equal(h[1].queries, 1);
    pool.close();
  } finally {
    await stub.close();
  }
});

test('the concurrent upstream cap queues 4x and refuses the rest (counted as overload)', async () => {
  const dead = await deadPort();
  const pool = new UpstreamPool([`127.0.0.1:${dead}`], {
    timeoutMs: 150,
    attempts: 1,
    maxInflight: 2,
    ednsUdpSize: 1232,
  });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => pool.resolve(`cap${i}.example.test`, 1, 1, false)),
  );
  const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
  assert.equal(codes.filter((c) => c === 'EDGEWAN_ERR_DNS_OVERLOAD').length, 10);
  assert.equal(codes.filter((c) => c === 'EDGEWAN_ERR_DNS_UPSTREAM_TIMEOUT').length, 10);
  assert.equal(pool.counters.overload, 10);
  pool.close();
});

test('prefetch refreshes an entry asked for twice once less than 10% of its TTL is left', async () => {
  const stub = await startStub();
  try {
    const opts = dnsOptions({ prefetch: true }, null);
    const cache = new DnsCache(1 << 20, opts);
    const pool = new UpstreamPool([`127.0.0.1:${stub.port}`], {
      timeoutMs: 500,
      attempts: 1,
      maxInflight: 8,
      ednsUdpSize: 1232,
    });
    const res = new Resolver(
      opts,
      cache,
      new LocalData([], null),
      pool,
      createLogger({ level: 'error', write: () => {} }),
    );
    const q = query('pre.example.test');
    const key = parseQuery(q).key;
    // an answer stored 95 s ago with TTL 100: 5% left
    const old = await pool.resolve('pre.example.test', 1, 1, false);
    const e = makeEntry(key, old, Date.now() - 95_000, { ...opts, minTtlS: 100, maxTtlS: 100 })!;
    e.hits = 1;
    cache.set(key, e);
    assert.ok(Buffer.isBuffer(res.answer(q, false)), 'answered from the cache right away');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(res.counters.prefetches, 1);
    assert.equal(stub.queries.get('pre.example.test'), 2);
    assert.ok(cache.peek(key)!.storedAt > Date.now() - 5000, 'the entry was replaced by the fresh answer');
    pool.close();
  } finally {
    await stub.close();
  }
});

test('ACL: CIDRs and IPv4-mapped addresses; a client outside gets no answer and is counted', async () => {
  const acl = makeAcl(['10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
  assert.ok(aclAllows(acl, '10.2.3.4'));
  assert.ok(aclAllows(acl, '::ffff:10.2.3.4'));
  assert.ok(aclAllows(acl, 'fd00::1'));
  assert.ok(aclAllows(acl, '192.168.1.7'));
  assert.ok(!aclAllows(acl, '192.168.1.8'));
  assert.ok(!aclAllows(acl, '127.0.0.1'));
  assert.ok(aclAllows(null, '127.0.0.1'));
  assert.throws(() => makeAcl(['not-an-address']), /allowFrom/);

  const c = createDnsComponent(
    {
      enabled: true,
      listen: ['127.0.0.1:0'],
      upstreams: ['127.0.0.1:9'],
      allowFrom: ['10.0.0.0/8'],
      records: [{ name: 'a.lan', type: 'A', value: '10.0.0.1' }],
    },
    { stateDir: '/tmp', snapshot: false },
  );
  await c.start(fakeContext().ctx);
  try {
    const port = Number(
      String((c.status!() as { listen: string[] }).listen[0])
        .split(':')
        .pop(),
    );
    assert.equal(await udpAsk(port, query('a.lan'), 300), null);
    assert.equal((c.status!() as { counters: { refusedAcl: number } }).counters.refusedAcl, 1);
  } finally {
    await c.stop(100);
  }
});
