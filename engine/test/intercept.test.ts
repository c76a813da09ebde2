// Transparent interception without a kernel: CIDR parsing and arithmetic, the config checks
// (pointers for every kind of bad input, the loop check), the nftables text, conntrack
// parsing and matching, and the batched lookup against a fake /proc file. The kernel path is
// test/integration/intercept-netns.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDocument, ConfigError } from '../src/config/index.ts';
import { addressKey, cidrOverlap, parseCidr, type Cidr } from '../src/intercept/cidr.ts';
import { compileRules, intercepts } from '../src/intercept/config.ts';
import { renderActive, renderClosed, renderRemove } from '../src/intercept/nft.ts';
import { OriginalDestinations, parseConntrack, resolveAll } from '../src/intercept/conntrack.ts';
import { InterceptComponent, type InterceptOptions } from '../src/intercept/component.ts';
import { createLogger } from '../src/log/logger.ts';
import type { ComponentContext } from '../src/supervisor/component.ts';
import type { Budgets } from '../src/memory/policy.ts';
import net from 'node:net';

const OPTS = { env: { EDGEWAN_MEMORY_LIMIT: '128MiB', EDGEWAN_STATE_DIR: tmpdir() }, checkFiles: false }; // keys are not what these cases test
const edge = (intercept: Record<string, unknown>, connect: string | null = '10.9.0.2:7000') => ({
  role: 'edge',
  tunnel: { connect },
  intercept,
});

function problems(doc: Record<string, unknown>): Array<{ code: string; pointer: string; message: string }> {
  try {
    resolveDocument(doc, null, OPTS);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

test('intercept cidr: parse, canonical text, host bits, overlap, mapped addresses', () => {
  assert.equal((parseCidr('10.20.0.0/16') as Cidr).text, '10.20.0.0/16');
  assert.equal((parseCidr('fd00:20:0::/48') as Cidr).text, 'fd00:20::/48');
  assert.equal((parseCidr('2001:db8::1') as Cidr).prefix, 128);
  assert.match(parseCidr('10.20.0.1/16') as string, /host bits.*10\.20\.0\.0\/16/);
  assert.match(parseCidr('10.0.0.0/33') as string, /longer than 32/);
  assert.match(parseCidr('example.com') as string, /not an IPv4 or IPv6/);
  assert.equal(cidrOverlap(parseCidr('10.0.0.0/8') as Cidr, parseCidr('10.1.2.0/24') as Cidr), true);
  assert.equal(cidrOverlap(parseCidr('10.0.0.0/8') as Cidr, parseCidr('11.0.0.0/8') as Cidr), false);
  assert.equal(addressKey('::ffff:10.1.2.3'), addressKey('10.1.2.3'));
  assert.equal(addressKey('fd77:3:0::2'), addressKey('fd77:3::2'));
});

test('intercept config: defaults off; every bad input named by pointer; exit-78 errors', () => {
  assert.deepEqual(problems({ role: 'edge' }), []);
  const doc = resolveDocument({ role: 'edge' }, null, OPTS).config.intercept;
  assert.deepEqual(
    { ...doc },
    { enabled: false, rules: [], port: 9618, interfaces: [], failClosed: false, table: 'edgewan' },
  );
  const got = problems(
    edge({
      enabled: true,
      rules: [
        {
          destinations: ['10.8.0.0/16', '10.8.1.0/24', '300.1.1.1', '10.0.0.5/8'],
          ports: [80, '90-80', '70-85'],
          exclude: ['192.168.0.0/16'],
        },
        { destinations: ['10.8.0.0/20'], ports: [80] },
      ],
    }),
  );
  const at = (p: string) => got.find((x) => x.pointer === p)?.message ?? '(none)';
  assert.match(at('/intercept/rules/0/destinations/1'), /overlaps 10\.8\.0\.0\/16/);
  assert.match(at('/intercept/rules/0/destinations/2'), /not an IPv4 or IPv6/);
  assert.match(at('/intercept/rules/0/destinations/3'), /host bits/);
  assert.match(at('/intercept/rules/0/ports/1'), /starts above its end/);
  assert.match(at('/intercept/rules/0/ports/2'), /overlaps another port/);
  assert.match(at('/intercept/rules/0/exclude/0'), /not inside/);
  assert.match(at('/intercept/rules/1/destinations/0'), /overlaps rule 0/);
  assert.equal(got.length, 7, JSON.stringify(got));
  // schema-level: empty destinations, bad port type, unknown key
  const s = problems(edge({ enabled: true, rules: [{ destinations: [], ports: [0] }], extra: 1 }));
  assert.deepEqual(s.map((p) => p.pointer).sort(), [
    '/intercept/extra',
    '/intercept/rules/0/destinations',
    '/intercept/rules/0/ports/0',
  ]);
  // enabled with no rule; on the core
  assert.match(problems(edge({ enabled: true }))[0].message, /no rule/);
  assert.ok(
    problems({
      role: 'core',
      intercept: { enabled: true, rules: [{ destinations: ['10.0.0.0/8'], ports: [80] }] },
    }).some((p) => p.pointer === '/intercept/enabled'),
  );
  // same networks on different ports are fine
  assert.deepEqual(
    problems(
      edge({
        enabled: true,
        rules: [
          { destinations: ['10.8.0.0/16'], ports: [80] },
          { destinations: ['10.8.0.0/16'], ports: [443] },
        ],
      }),
    ),
    [],
  );
});

test("intercept config: a rule covering the core's tunnel address and port is a loop, unless excluded", () => {
  const rule = { destinations: ['10.9.0.0/16', 'fd00:9::/48'], ports: ['1-65535'] };
  const loop = problems(edge({ enabled: true, rules: [rule] }));
  assert.equal(loop.length, 1);
  assert.equal(loop[0].code, 'EDGEWAN_ERR_CONFIG_INTERCEPT_LOOP');
  assert.equal(loop[0].pointer, '/intercept/rules/0/destinations');
  assert.equal(
    problems(edge({ enabled: true, rules: [rule] }, '[fd00:9::5]:7000'))[0].code,
    'EDGEWAN_ERR_CONFIG_INTERCEPT_LOOP',
  );
  assert.deepEqual(problems(edge({ enabled: true, rules: [{ ...rule, exclude: ['10.9.0.2'] }] })), []);
  assert.deepEqual(problems(edge({ enabled: true, rules: [{ ...rule, ports: [443] }] })), []);
  const { rules } = compileRules({
    enabled: true,
    rules: [{ ...rule, exclude: ['10.9.5.0/24'] }],
    port: 9618,
    interfaces: [],
    failClosed: false,
    table: 'edgewan',
  });
  assert.equal(intercepts(rules, '10.9.4.1', 22), 0);
  assert.equal(intercepts(rules, '10.9.5.1', 22), -1);
  assert.equal(intercepts(rules, '10.10.0.1', 22), -1);
});

test('intercept nft: one table, redirect per rule and family, excludes, interfaces; closed and remove forms', () => {
  const { rules } = compileRules({
    enabled: true,
    rules: [
      { destinations: ['10.20.0.0/16', 'fd00:20::/48'], ports: [80, '8000-8100'], exclude: ['10.20.9.0/24'] },
    ],
    port: 9618,
    interfaces: [],
    failClosed: false,
    table: 'edgewan',
  });
  const spec = { table: 'edgewan', port: 9618, interfaces: ['br-lan'], rules };
  const active = renderActive(spec);
  assert.match(
    active,
    /^table inet edgewan\ndelete table inet edgewan\ntable inet edgewan \{$/m,
    'replaced as a whole in one transaction',
  );
  assert.match(active, /type nat hook prerouting priority dstnat - 10; policy accept;/);
  assert.match(active, /fib daddr type local return/);
  assert.match(active, /iifname != \{ "br-lan" \} return/);
  assert.match(
    active,
    /meta l4proto tcp ip daddr \{ 10\.20\.0\.0\/16 \} ip daddr != \{ 10\.20\.9\.0\/24 \} tcp dport \{ 80, 8000-8100 \} counter redirect to :9618/,
  );
  assert.match(
    active,
    /meta l4proto tcp ip6 daddr \{ fd00:20::\/48 \} tcp dport \{ 80, 8000-8100 \} counter redirect to :9618/,
  );
  assert.equal((active.match(/^table /gm) ?? []).length, 2, 'nothing but the own table');
  const closed = renderClosed(spec);
  assert.match(closed, /type filter hook forward priority filter - 10/);
  assert.match(closed, /tcp dport \{ 80, 8000-8100 \} counter reject with tcp reset/);
  assert.doesNotMatch(closed, /redirect/);
  assert.equal(renderRemove('edgewan'), 'table inet edgewan\ndelete table inet edgewan\n');
});

const PROC = [
  // intercepted IPv4: client 10.77.1.2:40000 → 10.77.3.2:8080, redirected to 10.77.1.1:9618
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.1.2 dst=10.77.3.2 sport=40000 dport=8080 src=10.77.1.1 dst=10.77.1.2 sport=9618 dport=40000 [ASSURED] mark=0 zone=0 use=2',
  // a connection straight to the listener (no NAT)
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.1.2 dst=10.77.1.1 sport=40001 dport=9618 src=10.77.1.1 dst=10.77.1.2 sport=9618 dport=40001 [ASSURED] mark=0 zone=0 use=2',
  // IPv6 intercepted
  'ipv6     10 tcp      6 431999 ESTABLISHED src=fd77:1::2 dst=fd77:3::2 sport=50000 dport=8080 src=fd77:1::1 dst=fd77:1::2 sport=9618 dport=50000 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 udp      17 20 src=10.77.1.2 dst=10.77.3.2 sport=5353 dport=53 src=10.77.3.2 dst=10.77.1.2 sport=53 dport=5353 mark=0 zone=0 use=2',
].join('\n');

test('intercept conntrack: parse /proc and conntrack -L lines, match by client and listener, refuse un-NATed', () => {
  const entries = parseConntrack(
    `${PROC}\ntcp      6 117 TIME_WAIT src=10.0.0.1 dst=10.0.0.9 sport=1 dport=2 src=10.0.0.8 dst=10.0.0.1 sport=9618 dport=1 [ASSURED] mark=0 use=1\n`,
  );
  assert.equal(entries.length, 4, 'TCP entries of both formats, not UDP');
  const got = resolveAll(entries, [
    { client: '::ffff:10.77.1.2', clientPort: 40000, local: '::ffff:10.77.1.1', localPort: 9618 },
    { client: '10.77.1.2', clientPort: 40001, local: '10.77.1.1', localPort: 9618 },
    { client: 'fd77:1:0::2', clientPort: 50000, local: 'fd77:1::1', localPort: 9618 },
    { client: '10.77.1.2', clientPort: 40999, local: '10.77.1.1', localPort: 9618 },
    { client: '10.0.0.1', clientPort: 1, local: '10.0.0.8', localPort: 9618 },
  ]);
  assert.deepEqual(got, [
    { host: '10.77.3.2', port: 8080 },
    null,
    { host: 'fd77:3::2', port: 8080 },
    null,
    { host: '10.0.0.9', port: 2 },
  ]);
});

test('intercept conntrack: concurrent lookups share one read; a missing entry is retried once, then null', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewI-ct-'));
  try {
    const file = join(dir, 'nf_conntrack');
    writeFileSync(file, PROC);
    const o = new OriginalDestinations(9618, { source: 'proc', procPath: file });
    const w = (clientPort: number) =>
      o.lookup({ client: '10.77.1.2', clientPort, local: '10.77.1.1', localPort: 9618 });
    const found = await Promise.all(Array.from({ length: 20 }, () => w(40000)));
    assert.ok(found.every((f) => f?.port === 8080));
    assert.ok(o.reads <= 2, `20 lookups took ${o.reads} reads`);
    const before = o.reads;
    assert.equal(await w(41234), null);
    assert.equal(o.reads - before, 2, 'one retry');
    const missing = new OriginalDestinations(9618, { procPath: join(dir, 'absent') });
    assert.equal(missing.source, 'conntrack-tool', 'no readable /proc file: the netlink tool');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A loopback port nothing listens on (just now). */
function freePort(): Promise<number> {
  return new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

const ctx: ComponentContext = {
  log: createLogger({ write: () => {} }),
  signal: new AbortController().signal,
  budgetBytes: () => 0,
  budgets: () => ({}) as Budgets,
  degraded: () => {},
  healthy: () => {},
  unconfigured: () => {},
  fail: (e) => {
    throw e;
  },
};

test('intercept component: nft missing or failing → start rejects with the reason and the listener is closed again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewI-nft-'));
  try {
    const port = await freePort();
    const { rules } = compileRules({
      enabled: true,
      rules: [{ destinations: ['10.20.0.0/16'], ports: [80], exclude: [] }],
      port,
      interfaces: [],
      failClosed: false,
      table: 'edgewan',
    });
    const config = { enabled: true, rules: [], port, interfaces: [], failClosed: false, table: 'edgewan' };
    const missing = new InterceptComponent({ config, rules, nft: join(dir, 'no-nft') });
    await assert.rejects(missing.start(ctx), /EDGEWAN_ERR_INTERCEPT_NFT: .*no-nft not found/);
    const failing = join(dir, 'nft');
    writeFileSync(
      failing,
      '#!/bin/sh\necho "Error: Could not process rule: Operation not permitted" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const c2 = new InterceptComponent({ config, rules, nft: failing });
    await assert.rejects(
      c2.start(ctx),
      /nft -f failed, nothing changed: Error: Could not process rule: Operation not permitted/,
    );
    // the port is free again: nothing was left listening
    await new Promise<void>((resolve, reject) => {
      const s = net
        .createServer()
        .once('error', reject)
        .listen(port, '::', () => s.close(() => resolve()));
    });
    assert.equal(c2.status().tableApplied, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Fail-open's direct dial, on loopback only: the component listens on 127.0.0.1 with a
// stand-in nft, the "conntrack" is a /proc-format file naming 127.0.0.1:<dest> as the
// client's original destination, and no tunnel runs (hub.open: NOT_RUNNING), so every
// connection is dialled directly. A destination that never answers is an injected dial that
// never connects (a listening server that does not accept still completes the handshake).
async function failOpen(dest: number, hooks: Partial<InterceptOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ewI-direct-'));
  const nft = join(dir, 'nft');
  writeFileSync(nft, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const [port, clientPort] = [await freePort(), await freePort()];
  const procPath = join(dir, 'nf_conntrack');
  writeFileSync(
    procPath,
    `ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=${clientPort} dport=${dest} src=127.0.0.1 dst=127.0.0.1 sport=${port} dport=${clientPort} [ASSURED] mark=0 zone=0 use=2\n`,
  );
  const config = { enabled: true, rules: [], port, interfaces: [], failClosed: false, table: 'edgewan' };
  const c = new InterceptComponent({
    config,
    rules: [],
    nft,
    source: 'proc',
    procPath,
    host: '127.0.0.1',
    ...hooks,
  });
  await c.start(ctx);
  const client = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: clientPort });
  const done = async () => {
    client.destroy();
    await c.stop(100);
    rmSync(dir, { recursive: true, force: true });
  };
  return { c, client, done };
}

/** An injected dial whose sockets never connect (a destination that drops the SYN). */
function blackHole() {
  const dials: net.Socket[] = [];
  const dial = () => {
    const s = new net.Socket();
    dials.push(s);
    return s;
  };
  return { dials, dial };
}

/** How the client's connection ended: an error code, 'closed', or 'hung' after `ms`. */
function outcome(s: net.Socket, ms = 3000): Promise<{ how: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((r) => {
    const t = setTimeout(() => r({ how: 'hung', ms }), ms);
    const end = (how: string) => {
      clearTimeout(t);
      r({ how, ms: Date.now() - t0 });
    };
    s.once('error', (e: NodeJS.ErrnoException) => end(e.code ?? e.message));
    s.once('close', () => end('closed'));
  });
}

test('intercept fail-open: a refused destination resets the client, EDGEWAN_ERR_INTERCEPT_DIRECT, counted', async () => {
  const { c, client, done } = await failOpen(await freePort());
  try {
    const got = await outcome(client);
    assert.equal(got.how, 'ECONNRESET', 'the client is reset, not left hanging');
    const st = c.status();
    assert.match(
      String(st.lastError),
      /^EDGEWAN_ERR_INTERCEPT_DIRECT: cannot connect directly to 127\.0\.0\.1:\d+ .*ECONNREFUSED/,
    );
    assert.equal(c.failed.direct_connect, 1);
    assert.equal(c.counts.bypassed, 0);
    assert.equal(st.path, 'direct');
  } finally {
    await done();
  }
});

test('intercept fail-open: no connect within the timeout → EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT, reset, counted', async () => {
  const { dials, dial } = blackHole();
  const { c, client, done } = await failOpen(9, { dial, directTimeoutMs: 300 });
  try {
    const got = await outcome(client);
    assert.equal(got.how, 'ECONNRESET');
    assert.ok(got.ms >= 250, `reset after ${got.ms} ms, not before the timeout`);
    assert.match(
      String(c.status().lastError),
      /^EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: 127\.0\.0\.1:9 .*within 300 ms/,
    );
    assert.equal(c.failed.direct_connect, 1);
    assert.equal(dials.length, 1);
    assert.ok(dials[0].destroyed, 'the dial is cancelled');
  } finally {
    await done();
  }
});

test('intercept fail-open: the client hanging up first cancels the dial (not counted as a failure)', async () => {
  const { dials, dial } = blackHole();
  const { c, client, done } = await failOpen(9, { dial, directTimeoutMs: 60_000 });
  try {
    await new Promise<void>((r) => client.once('connect', () => r()));
    const until = Date.now() + 3000;
    while (dials.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(dials.length, 1, 'the direct dial started');
    client.resetAndDestroy();
    while (!dials[0].destroyed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.ok(dials[0].destroyed, 'the dial was cancelled when the client reset');
    assert.equal(c.failed.direct_connect, 0);
    assert.equal(c.counts.bypassed, 0);
  } finally {
    await done();
  }
});

test('intercept fail-open: a reachable destination is spliced and counted as bypassed', async () => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const { c, client, done } = await failOpen((echo.address() as net.AddressInfo).port);
  try {
    client.end('hello through fail-open');
    const chunks: Buffer[] = [];
    for await (const d of client) chunks.push(d as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'hello through fail-open');
    assert.equal(c.counts.bypassed, 1);
    assert.equal(c.failed.direct_connect, 0);
  } finally {
    await done();
    echo.close();
  }
});
