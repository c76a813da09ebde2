// OpenWRT .ipk packages and feed from the real build, checked with third-party tools:
// GNU tar reads every member and field back, Installed-Size equals the data's bytes,
// busybox ash and shellcheck accept every shipped script, signify-openbsd verifies the feed
// signature and rejects a tampered Packages, and our inspect reader round-trips every .ipk.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES } from '../../targets/arch.ts';
import { inspectIpk, parseControl } from '../../targets/openwrt/ipk.ts';
import { NODE_PACKAGE_MAX } from '../../targets/openwrt/target.ts';
import { needTool, unavailable } from '../helpers/tools.ts';
import { cleanup, feedDir, unpackIpk } from './5x-openwrt-harness.ts';

let feed: string | undefined;
before(async () => { feed = await feedDir(); });
const ipks = () => readdirSync(feed!).filter((f) => f.endsWith('.ipk')).sort();
const run = (cmd: string, args: string[], opts: { cwd?: string } = {}) => spawnSync(cmd, args, { encoding: 'utf8', ...opts });

test('the feed holds edgewan for every default OpenWRT arch name that was built, and edgewan-node', (t) => {
  if (!feed) { unavailable(t, 'no OpenWRT feed in dist/: run npm run build'); return; }
  const names = ipks();
  const built = ALL_ARCHES.filter((a) => names.some((n) => n.endsWith(`_${ARCHES[a].openwrt[0]}.ipk`)));
  assert.ok(built.length > 0);
  for (const a of built) for (const n of ARCHES[a].openwrt) assert.ok(names.some((f) => f.startsWith('edgewan_') && f.endsWith(`_${n}.ipk`)), n);
  const node = names.find((n) => n.startsWith('edgewan-node_') && n.endsWith('_all.ipk'));
  assert.ok(node);
  assert.ok(statSync(join(feed, node)).size <= NODE_PACKAGE_MAX, `edgewan-node is ${statSync(join(feed, node)).size} bytes`);
});

test('tar reads every .ipk: three members, 0/0 owners, control fields, Installed-Size = data bytes', (t) => {
  if (!feed) { unavailable(t, 'no OpenWRT feed in dist/: run npm run build'); return; }
  const dataBytes = new Map<string, number>(); // packages per OpenWRT name share one data.tar.gz
  for (const f of ipks()) {
    const path = join(feed, f);
    const outer = run('tar', ['--numeric-owner', '-tzvf', path]);
    assert.equal(outer.status, 0, outer.stderr);
    const lines = outer.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/).pop()).sort(), ['./control.tar.gz', './data.tar.gz', './debian-binary']);
    for (const l of lines) assert.match(l, /^-rw-r--r-- 0\/0 /);
    const work = mkdtempSync(join(tmpdir(), 'ewF-tar-'));
    try {
      assert.equal(run('tar', ['-xzf', path, '-C', work]).status, 0);
      assert.equal(run('tar', ['-xzf', join(work, 'control.tar.gz'), '-C', work]).status, 0);
      const c = parseControl(readFileSync(join(work, 'control'), 'utf8'));
      for (const k of ['Package', 'Version', 'Source', 'SourceName', 'License', 'Section', 'SourceDateEpoch', 'URL', 'Maintainer', 'Architecture', 'Installed-Size', 'Require-User', 'Description']) {
        assert.ok(c[k], `${f}: ${k}`);
      }
      assert.equal(f, `${c.Package}_${c.Version}_${c.Architecture}.ipk`);
      const sum = createHash('sha256').update(readFileSync(join(work, 'data.tar.gz'))).digest('hex');
      if (!dataBytes.has(sum)) {
        const data = run('tar', ['--numeric-owner', '-tzvf', join(work, 'data.tar.gz')]);
        assert.equal(data.status, 0, data.stderr);
        assert.doesNotMatch(data.stdout, /^\S+ (?!0\/0 )/m, 'every data entry owned 0/0');
        dataBytes.set(sum, data.stdout.trim().split('\n').filter((l) => l.startsWith('-')).reduce((n, l) => n + Number(l.split(/\s+/)[2]), 0));
      }
      assert.equal(Number(c['Installed-Size']), dataBytes.get(sum), `${f}: Installed-Size is bytes of data`);
      assert.equal(readFileSync(join(work, 'debian-binary'), 'utf8'), '2.0\n');
      assert.equal(readFileSync(join(work, 'conffiles'), 'utf8'), '/etc/config/edgewan\n');
    } finally { rmSync(work, { recursive: true, force: true }); }
  }
});

test('our reader (edgewan-build inspect) round-trips every .ipk the build wrote', async (t) => {
  if (!feed) { unavailable(t, 'no OpenWRT feed in dist/: run npm run build'); return; }
  const packages = readFileSync(join(feed, 'Packages'), 'utf8').trim().split('\n\n').map(parseControl);
  for (const f of ipks()) {
    const info = await inspectIpk(join(feed, f));
    const p = packages.find((x) => x.Filename === f)!;
    assert.ok(p, `${f} listed in Packages`);
    for (const k of ['Package', 'Version', 'Architecture', 'Installed-Size']) assert.equal(info.control[k], p[k], `${f} ${k}`);
    assert.equal(Number(info.control['Installed-Size']), info.dataSize);
  }
});

test('shipped shell scripts pass busybox ash -n and shellcheck', (t) => {
  if (!feed) { unavailable(t, 'no OpenWRT feed in dist/: run npm run build'); return; }
  if (!needTool(t, 'busybox', 'busybox-static') || !needTool(t, 'shellcheck')) return;
  for (const f of [ipks().find((n) => n.startsWith('edgewan_'))!, ipks().find((n) => n.startsWith('edgewan-node_'))!]) {
    const u = unpackIpk(join(feed, f));
    try {
      const scripts = ['etc/init.d/edgewan', 'usr/share/edgewan/uci2json.sh', 'etc/uci-defaults/90-edgewan'].map((s) => join(u.root, s));
      if (f.startsWith('edgewan-node_')) scripts.push(join(u.root, 'usr/bin/edgewan'));
      for (const s of scripts) {
        const a = run('busybox', ['ash', '-n', s]);
        assert.equal(a.status, 0, `${s}: ${a.stderr}`);
        const sc = run('shellcheck', ['-s', 'dash', '-e', 'SC2034', s]);
        assert.equal(sc.status, 0, `${s}:\n${sc.stdout}`);
      }
      // postinst/prerm are OpenWRT's own wrapper lines verbatim (FACTS §5): its unquoted
      // $0 $@ and ${IPKG_INSTROOT} are kept as OpenWRT writes them.
      for (const s of ['postinst', 'prerm']) {
        const p = join(u.control, s);
        assert.equal(run('busybox', ['ash', '-n', p]).status, 0);
        const sc = run('shellcheck', ['-s', 'dash', '-e', 'SC2034,SC2086,SC2068,SC1091', p]);
        assert.equal(sc.status, 0, `${s}:\n${sc.stdout}`);
        assert.equal(statSync(p).mode & 0o777, 0o755);
      }
    } finally { cleanup(u.work); }
  }
});

test('signify-openbsd verifies Packages.sig and rejects a tampered Packages', (t) => {
  if (!feed) { unavailable(t, 'no OpenWRT feed in dist/: run npm run build'); return; }
  if (!needTool(t, 'signify-openbsd')) return;
  const key = readdirSync(feed).find((n) => /^[0-9a-f]{16}$/.test(n));
  assert.ok(key, 'public key named by its 16-hex-digit key number');
  const ok = run('signify-openbsd', ['-V', '-p', join(feed, key), '-m', join(feed, 'Packages'), '-x', join(feed, 'Packages.sig')]);
  assert.equal(ok.status, 0, ok.stderr);
  const tmp = mkdtempSync(join(tmpdir(), 'ewF-sig-'));
  try {
    writeFileSync(join(tmp, 'Packages'), readFileSync(join(feed, 'Packages'), 'utf8').replace(/^Size: (\d+)/m, (_m, n) => `Size: ${Number(n) + 1}`));
    copyFileSync(join(feed, 'Packages.sig'), join(tmp, 'Packages.sig'));
    const bad = run('signify-openbsd', ['-V', '-p', join(feed, key), '-m', join(tmp, 'Packages'), '-x', join(tmp, 'Packages.sig')]);
    assert.notEqual(bad.status, 0, 'a tampered Packages must fail');
    assert.match(bad.stderr, /verification failed/i);
  } finally { rmSync(tmp, { recursive: true, force: true }); }
  assert.match(readFileSync(join(feed, 'customfeeds.conf'), 'utf8'), /^src\/gz edgewan \S+\/openwrt\/24\.10$/m);
});
