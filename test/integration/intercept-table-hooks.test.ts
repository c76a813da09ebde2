// The packages' interception table hooks (docs/intercept.md) against the real nft in a network
// namespace this test makes (the host's own ruleset is never touched): the Debian unit's
// ExecStopPost hook (targets/formats/apt/intercept.ts, run by dash with the real engine's
// print-config), the postrm fragment, and the OpenWRT init script's service_stopped
// (targets/formats/openwrt/files/init.sh, run by busybox ash with the procd/UCI stand-ins).
// Each case first applies a table like the engine's, then checks it is gone or kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineCommand, ROOT } from '../helpers/engine.ts';
import { Netns } from '../helpers/netns.ts';
import { needRoot, needTool } from '../helpers/tools.ts';
import { interceptFiles } from '../../targets/formats/apt/intercept.ts';
import { maintainerScripts } from '../../targets/formats/apt/scripts.ts';
import { openwrtPayload } from '../../targets/formats/openwrt/files.ts';
import { renderActive, renderClosed, type TableSpec } from '../../engine/src/intercept/nft.ts';
import { compileRules } from '../../engine/src/intercept/config.ts';
import { info } from '../unit/deb-fixture.ts';
import { standInInputs } from '../unit/openwrt-fixture.ts';

const STUBS = join(ROOT, 'test/acceptance/5x-openwrt-stubs');
const spec = (table: string): TableSpec => ({
  table,
  port: 9618,
  interfaces: ['br-lan'],
  rules: compileRules({
    rules: [{ destinations: ['10.20.0.0/16', 'fd00:20::/48'], ports: [443, '8000-8100'], exclude: [] }],
  } as never).rules,
});

function setup(t: import('node:test').TestContext): { ns: Netns; dir: string } | undefined {
  if (
    !needRoot(t) ||
    !needTool(t, 'nft', 'nftables') ||
    !needTool(t, 'ip', 'iproute2') ||
    !needTool(t, 'busybox')
  )
    return undefined;
  const ns = new Netns(`ewH${process.pid % 10000}`);
  const dir = mkdtempSync(join(tmpdir(), 'ewH-'));
  t.after(() => {
    ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  ns.add('r');
  return { ns, dir };
}

/** Apply a table the way the engine does (one nft -f of the engine's own rendering). */
function apply(ns: Netns, text: string): void {
  const r = ns.run('r', ['nft', '-f', '-'], text);
  assert.equal(r.code, 0, `nft -f failed: ${r.err}\n${text}`);
}
const tables = (ns: Netns) => ns.exec('r', ['nft', 'list', 'tables']);

/** The Debian hook with the engine path pointing at a wrapper of the real engine. */
function debianHook(dir: string, config: object): string {
  const pkg = info({ name: 'edgewan', serviceName: 'edgewan' });
  const f = interceptFiles(pkg);
  const conf = join(dir, 'edgewan.json');
  writeFileSync(conf, JSON.stringify(config));
  const exe = join(dir, 'engine');
  const [cmd, ...pre] = engineCommand();
  writeFileSync(exe, `#!/bin/sh\nexec ${[cmd, ...pre].map((a) => `'${a}'`).join(' ')} "$@"\n`);
  chmodSync(exe, 0o755);
  assert.ok(
    f.hookScript.includes('/usr/bin/edgewan print-config /etc/edgewan/edgewan.json'),
    'the hook reads the package config',
  );
  const hook = join(dir, 'intercept-table');
  writeFileSync(
    hook,
    f.hookScript.replace(
      '/usr/bin/edgewan print-config /etc/edgewan/edgewan.json',
      `${exe} print-config ${conf}`,
    ),
  );
  chmodSync(hook, 0o755);
  return hook;
}

const edge = (intercept: object) => ({
  role: 'edge',
  tunnel: { connect: '10.9.9.9:9618' },
  intercept: { enabled: true, rules: [{ destinations: ['10.20.0.0/16'], ports: [443] }], ...intercept },
});

test('Debian ExecStopPost hook: a fail-open table left by a dead engine is removed; a fail-closed one stays; remove removes it', (t) => {
  const s = setup(t);
  if (!s) return;
  const { ns, dir } = s;
  apply(ns, renderActive(spec('edgewan')));
  apply(
    ns,
    'table inet mine {\n  chain c {\n    type filter hook input priority 0; policy accept;\n  }\n}\n',
  );
  const open = debianHook(dir, edge({}));
  let r = ns.run('r', ['dash', open, 'stop']);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(tables(ns), /inet edgewan/);
  assert.match(tables(ns), /inet mine/, 'another table is never touched');
  r = ns.run('r', ['dash', open, 'stop']);
  assert.equal(r.code, 0, `stop again (no table) must succeed: ${r.err}`);

  apply(ns, renderClosed(spec('branch_x')));
  const closed = debianHook(dir, edge({ failClosed: true, table: 'branch_x' }));
  r = ns.run('r', ['dash', closed, 'stop']);
  assert.equal(r.code, 0, r.err);
  assert.match(tables(ns), /inet branch_x/, 'fail-closed: the rejecting table stays after stop');
  r = ns.run('r', ['dash', closed, 'remove']);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(tables(ns), /inet branch_x/, 'package removal removes the fail-closed table too');
  assert.match(tables(ns), /inet mine/);
});

test('Debian postrm remove: the default table goes with the package on a running system', (t) => {
  const s = setup(t);
  if (!s) return;
  const { ns, dir } = s;
  const postrm = maintainerScripts(info()).postrm;
  const begin = postrm.indexOf('\t# intercept table: begin');
  const end = postrm.indexOf('\t# intercept table: end');
  assert.ok(begin > 0 && end > begin, 'postrm has the marked interception block');
  writeFileSync(join(dir, 'block.sh'), `set -e\n${postrm.slice(begin, end)}`);
  apply(ns, renderActive(spec('edgewan')));
  // the block acts only where systemd runs: give it /run/systemd/system in a private mount namespace
  const r = ns.run('r', [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && dash ${join(dir, 'block.sh')}`,
  ]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(tables(ns), /inet edgewan/);
  // without systemd (a chroot or image build) nothing is touched
  apply(ns, renderActive(spec('edgewan')));
  const c = ns.run('r', [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && dash ${join(dir, 'block.sh')}`,
  ]);
  assert.equal(c.code, 0, c.err);
  assert.match(tables(ns), /inet edgewan/);
});

/** The OpenWRT init script's service_stopped under busybox ash with the stand-ins. */
function openwrtStop(ns: Netns, dir: string, uci: string) {
  const payload = openwrtPayload(standInInputs(), 'node');
  const file = (p: string) => (payload.files.find((f) => f.path === p) as { data: Buffer }).data;
  const root = join(dir, 'root');
  mkdirSync(join(root, 'usr/share/edgewan'), { recursive: true });
  mkdirSync(join(root, 'etc/config'), { recursive: true });
  writeFileSync(join(root, 'usr/share/edgewan/uci2json.sh'), file('usr/share/edgewan/uci2json.sh'));
  writeFileSync(join(root, 'init'), file('etc/init.d/edgewan'));
  writeFileSync(join(root, 'etc/config/edgewan'), uci);
  copyFileSync(join(STUBS, 'functions.sh'), join(root, 'functions.sh'));
  const script = `. ${root}/functions.sh; logger() { :; }; IPKG_INSTROOT=${root}; . ${root}/init; service_stopped`;
  return ns.run('r', ['env', `UCI_CONFIG_DIR=${join(root, 'etc/config')}`, 'busybox', 'sh', '-c', script]);
}

const UCI = (extra: string) =>
  `config edgewan 'main'\n\toption role 'edge'\n\toption tunnel_connect '10.9.9.9:9618'\n\toption intercept '1'\n${extra}` +
  `\nconfig intercept 'dc'\n\tlist destination '10.20.0.0/16'\n\tlist port '443'\n`;

test('OpenWRT service_stopped: removes a fail-open table left behind, keeps a fail-closed one', (t) => {
  const s = setup(t);
  if (!s) return;
  const { ns, dir } = s;
  apply(ns, renderActive(spec('edgewan')));
  let r = openwrtStop(ns, dir, UCI(''));
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(tables(ns), /inet edgewan/);
  r = openwrtStop(ns, dir, UCI(''));
  assert.equal(r.code, 0, `no table: still fine: ${r.err}`);
  apply(ns, renderClosed(spec('edgewan')));
  r = openwrtStop(ns, dir, UCI("\toption intercept_fail_closed '1'\n"));
  assert.equal(r.code, 0, r.err);
  assert.match(tables(ns), /inet edgewan/, 'fail-closed: the rejecting table stays');
});
