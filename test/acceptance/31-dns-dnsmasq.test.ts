// Coexistence with the system resolver, the documented way (docs/dns.md): dnsmasq keeps port
// 53 and forwards to our cache on a loopback port (`server=127.0.0.1#PORT`, `no-resolv`), with
// OpenWRT's rebind protection on and our local domain allowed. Real dnsmasq (dnsmasq-base,
// started by the test on loopback ports, no system service) and the real dig.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveTool, needTool, skipsAllowed } from '../helpers/tools.ts';
import { startStub, udpAsk, query, type Stub } from '../../engine/test/dns-stub.ts';
import { dig, digAnswers, digStatus, startDns, type DnsProc } from './30-dns-lib.ts';
import { freeUdpTcpPort } from '../helpers/ports.ts';

let stub: Stub;
let dns: DnsProc;
let dir: string;
let dnsmasq: ChildProcess | undefined;
let dmPort = 0;

const freePort = freeUdpTcpPort;

before(async () => {
  if (skipsAllowed() && (!haveTool('dnsmasq') || !haveTool('dig'))) return; // the tests below then skip (partial run)
  stub = await startStub();
  dir = mkdtempSync(join(tmpdir(), 'ewD-dnsmasq-'));
  dns = await startDns({
    upstreams: [`127.0.0.1:${stub.port}`],
    records: [{ name: 'printer.branch.lan', type: 'A', value: '192.168.1.50' }],
  });
  dmPort = await freePort();
  // what the OpenWRT package sets through UCI (dhcp.@dnsmasq[0]: server, noresolv) on top of
  // OpenWRT's defaults (rebind protection with the local domain allowed)
  writeFileSync(
    join(dir, 'dnsmasq.conf'),
    [
      'no-resolv',
      'no-hosts',
      'bind-interfaces',
      'listen-address=127.0.0.1',
      `port=${dmPort}`,
      `server=127.0.0.1#${dns.port}`,
      'stop-dns-rebind',
      'rebind-domain-ok=/branch.lan/',
      `pid-file=${join(dir, 'dnsmasq.pid')}`,
      '',
    ].join('\n'),
  );
  dnsmasq = spawn(
    'dnsmasq',
    ['--keep-in-foreground', `--conf-file=${join(dir, 'dnsmasq.conf')}`, '--user=root', '--log-facility=-'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 50 && !(await udpAsk(dmPort, query('printer.branch.lan'), 200)); i++) {
    /* wait for dnsmasq */
  }
});

after(async () => {
  dnsmasq?.kill('SIGTERM');
  await dns?.stop();
  await stub?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('dnsmasq forwarding to our cache: local, forwarded and negative answers arrive through it', async (t) => {
  if (!needTool(t, 'dnsmasq', 'dnsmasq-base') || !needTool(t, 'dig', 'bind9-dnsutils')) return;
  const before = (await dns.status()).status.counters.queries; // printer.branch.lan is already in dnsmasq's cache (readiness probe)
  const local = await dig(dmPort, 'printer.branch.lan');
  assert.equal(digStatus(local), 'NOERROR');
  assert.equal(digAnswers(local)[0][3], '192.168.1.50');
  const fwd = await dig(dmPort, 'www.example.test');
  assert.equal(digAnswers(fwd)[0][2], 'A');
  assert.equal(digStatus(await dig(dmPort, 'nxvia.example.test')), 'NXDOMAIN');
  const after = (await dns.status()).status.counters;
  assert.ok(after.queries >= before + 2, `our cache saw ${after.queries - before} of dnsmasq's queries`);
  assert.equal(stub.queries.get('www.example.test'), 1, 'the upstream saw the name once, from us');
});
