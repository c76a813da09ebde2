// The UDP worker threads of dns.workers without SO_REUSEPORT (so on every Node line): the real
// worker bundle (built here with esbuild, as scripts/bundle.ts does) bound to a port of its
// own answers local records and entries the main thread stores, hands everything else back
// raw, and publishes its counters; a worker that keeps exiting is restarted with its counters
// kept, and never after stop(). The x64 executable's threads sharing one port are tested in
// test/acceptance/33-dns-workers.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { buildSync } from 'esbuild';
import { createLogger } from '../src/log/logger.ts';
import { makeEntry } from '../src/dns/cache.ts';
import { parseQuery } from '../src/dns/wire.ts';
import { STRIDE } from '../src/dns/worker-protocol.ts';
import { DnsWorkers, reusePortWorks, workerCount, type WorkerHandlers } from '../src/dns/workers.ts';
import { decode, query, udpAsk } from './dns-stub.ts';

const POLICY = { minTtlS: 0, maxTtlS: 86400, negativeTtlS: 60, negativeMaxTtlS: 3600, staleMaxS: 0 };

function logger() {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    log: createLogger({
      level: 'debug',
      write: (l) => {
        lines.push(JSON.parse(l));
      },
    }),
  };
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !f();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const noHandlers: WorkerHandlers = { query: () => {}, prefetch: () => {}, entries: () => [] };

test('worker count: auto, explicit, and the fallbacks to one thread', async () => {
  const [maj, min] = process.versions.node.split('.').map(Number);
  assert.equal(
    await reusePortWorks(),
    maj >= 23 || (maj === 22 && min >= 12),
    `dgram reusePort on node ${process.version}`,
  );
  assert.equal(workerCount(3, true, 'code').n, 3);
  assert.equal(workerCount(3, false, 'code').n, 1);
  assert.equal(workerCount(3, true, null).n, 1);
  assert.equal(workerCount(1, true, 'code').n, 1);
  assert.equal(workerCount('auto', true, 'code', 64 * 2 ** 20).n, 1);
  assert.ok(workerCount('auto', true, 'code', 256 * 2 ** 20).n >= 1);
  assert.match(workerCount(2, false, 'code').why, /reusePort/);
});

test('worker: answers local records and stored entries, hands the rest to the main thread', async () => {
  const entry = fileURLToPath(new URL('../src/dns/worker-main.ts', import.meta.url));
  const code = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    write: false,
    logLevel: 'silent',
  }).outputFiles[0].text;
  const port = await freeUdpPort();
  const handed: Array<{ i: number; id: number; port: number; address: string }> = [];
  const { log } = logger();
  const budget = 64 * 1024;
  const w = new DnsWorkers(
    code,
    {
      listen: [{ host: '127.0.0.1', port }],
      records: [{ name: 'printer.branch.lan', type: 'A', value: '192.168.1.50' }],
      hostsFile: null,
      allowFrom: [],
      ednsUdpSize: 1232,
      prefetch: false,
      staleMaxS: 0,
      budgetBytes: budget,
    },
    2,
    {
      ...noHandlers,
      query: (i, msg, p, a) => handed.push({ i, id: msg.readUInt16BE(0), port: p, address: a }),
    },
    log,
  );
  try {
    assert.equal(await w.start(), 1);
    const local = decode((await udpAsk(port, query('printer.branch.lan', 'A', { id: 11 })))!);
    assert.equal(local.id, 11);
    assert.deepEqual(
      local.answers.map((a) => a.data),
      ['192.168.1.50'],
    );
    assert.ok(local.flags & dnsPacket.AUTHORITATIVE_ANSWER);

    // not in the replica: handed over raw with the client's address, nothing answered here
    assert.equal(await udpAsk(port, query('www.example.test', 'A', { id: 22 }), 300), null);
    assert.equal(handed.length, 1);
    assert.deepEqual([handed[0].i, handed[0].id, handed[0].address], [0, 22, '127.0.0.1']);

    // the main thread stores the upstream answer: the worker answers it from its replica
    const key = parseQuery(query('www.example.test')).key;
    const resp = dnsPacket.encode({
      type: 'response',
      id: 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'www.example.test', type: 'A', class: 'IN', ttl: 300, data: '198.51.100.7' }],
    });
    w.store(key, makeEntry(key, resp, Date.now(), POLICY)!);
    await until('the replica', () => w.sum('cacheEntries') === 1);
    const hit = decode((await udpAsk(port, query('www.example.test', 'A', { id: 33 })))!);
    assert.equal(hit.id, 33);
    assert.deepEqual(
      hit.answers.map((a) => [a.data, a.ttl <= 300 && a.ttl >= 299]),
      [['198.51.100.7', true]],
    );

    assert.equal(w.row(1, 'received'), 3);
    assert.equal(w.sum('queries'), 2); // the handed-over one is counted by the main thread's resolver
    assert.equal(w.sum('localAnswers'), 1);
    assert.equal(w.sum('hits'), 1);
    assert.equal(w.sum('forwarded'), 1);
    assert.ok(w.sum('cacheBytes') > 0 && w.sum('cacheBytes') <= budget);
    for (const n of ['a.example.test', 'b.example.test']) {
      const k = parseQuery(query(n)).key;
      const r = dnsPacket.encode({
        type: 'response',
        id: 0,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: [{ name: n, type: 'A', class: 'IN' }],
        answers: [{ name: n, type: 'A', class: 'IN', ttl: 300, data: '198.51.100.8' }],
      });
      w.store(k, makeEntry(k, r, Date.now(), POLICY)!);
    }
    await until('three entries', () => w.sum('cacheEntries') === 3);
    w.resize(1024); // room for one entry: the least recently used go
    await until('the resize', () => w.sum('cacheEntries') === 1);
    assert.ok(w.sum('cacheBytes') <= 1024);
  } finally {
    await w.stop();
  }
});

test('a worker that keeps exiting is restarted with its counters kept, and not after stop()', async () => {
  // writes 5 into its "received" slot, says ready, exits with code 3 shortly after
  const code = `const { parentPort, workerData } = require('node:worker_threads');
    new Float64Array(workerData.stats, workerData.index * ${STRIDE} * 8, ${STRIDE})[0] = 5;
    parentPort.postMessage({ t: 'ready' }); setTimeout(() => process.exit(3), 20);`;
  const { log, lines } = logger();
  const w = new DnsWorkers(
    code,
    {
      listen: [],
      records: [],
      hostsFile: null,
      allowFrom: [],
      ednsUdpSize: 1232,
      prefetch: false,
      staleMaxS: 0,
      budgetBytes: 1024,
    },
    2,
    noHandlers,
    log,
  );
  assert.equal(await w.start(), 1);
  await until('two restarts', () => w.restarts >= 2);
  await until('the second restart to run', () => w.row(1, 'received') >= 15);
  assert.ok(
    lines.some((l) => l.msg === 'dns worker exited: restarting' && l.exitCode === 3),
    JSON.stringify(lines),
  );
  await w.stop();
  const after = w.restarts;
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(w.restarts, after, 'restarted after stop()');
  assert.equal(w.running, 0);
});
