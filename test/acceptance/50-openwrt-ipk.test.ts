// OpenWRT .ipk packages and feeds from the real build, checked with third-party tools:
// one feed per OpenWRT arch holding only that arch's and `all` packages, GNU tar reads every
// member and field back, Installed-Size equals the bytes GNU tar writes for the unpacked data
// (what OpenWRT's ipkg-build measures), busybox ash and shellcheck accept every shipped
// script, signify-openbsd verifies every feed signature and rejects a tampered Packages, and
// our inspect reader round-trips every .ipk. Also measured: each package against gzip -9 of
// the same data (docs/openwrt.md, "Sizes").
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES } from '../../targets/arch.ts';
import { inspectIpk, parseControl } from '../../targets/openwrt-24.10/ipk.ts';
import { NODE_PACKAGE_MAX } from '../../targets/openwrt-24.10/index.ts';
import { needTool, unavailable } from '../helpers/tools.ts';
import { allIpks, cleanup, feedDirs, feedsRoot, unpackIpk } from './5x-openwrt-harness.ts';

let feed: string | undefined; // the feeds root, dist/openwrt/24.10
before(async () => {
  feed = await feedsRoot();
});
const ipks = () => allIpks(feed!);
const run = (cmd: string, args: string[], opts: { cwd?: string } = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', ...opts });

test('one feed per OpenWRT arch name that was built, each with edgewan and edgewan-node, and the all/ feed', (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  const dirs = feedDirs(feed).map((d) => d.slice(feed!.length + 1));
  const built = ALL_ARCHES.filter((a) => dirs.includes(ARCHES[a].openwrt[0]));
  assert.ok(built.length > 0);
  assert.deepEqual(dirs, [...built.flatMap((a) => ARCHES[a].openwrt), 'all'].sort());
  for (const dir of dirs) {
    const names = readdirSync(join(feed, dir))
      .filter((f) => f.endsWith('.ipk'))
      .sort();
    const want = dir === 'all' ? [] : [`edgewan_${dir}`];
    assert.deepEqual(
      names.map((n) => n.replace(/_[^_]+_/, '_')).filter((n) => !n.startsWith('edgewan-node')),
      want.map((w) => `${w}.ipk`),
      dir,
    );
    const node = names.find((n) => n.startsWith('edgewan-node_') && n.endsWith('_all.ipk'));
    assert.ok(node, `${dir}: edgewan-node`);
    assert.ok(
      statSync(join(feed, dir, node)).size <= NODE_PACKAGE_MAX,
      `edgewan-node is ${statSync(join(feed, dir, node)).size} bytes`,
    );
    // What opkg on a router of that arch reads: only its own arch and all, never a foreign one.
    const archs: Set<string> = new Set<string>(
      readFileSync(join(feed, dir, 'Packages'), 'utf8').match(/^Architecture: .*$/gm) ?? [],
    );
    assert.deepEqual(
      [...archs].sort(),
      (dir === 'all' ? ['all'] : ['all', dir]).map((a) => `Architecture: ${a}`).sort(),
    );
  }
});

test('tar reads every .ipk: three members, 0/0 owners, control fields, Installed-Size = GNU tar bytes of the data', (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  const dataBytes = new Map<string, number>(); // packages per OpenWRT name share one data.tar.gz
  for (const f of ipks()) {
    const path = join(feed, f);
    const outer = run('tar', ['--numeric-owner', '-tzvf', path]);
    assert.equal(outer.status, 0, outer.stderr);
    const lines = outer.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/).pop()).sort(), [
      './control.tar.gz',
      './data.tar.gz',
      './debian-binary',
    ]);
    for (const l of lines) assert.match(l, /^-rw-r--r-- 0\/0 /);
    const work = mkdtempSync(join(tmpdir(), 'ewF-tar-'));
    try {
      assert.equal(run('tar', ['-xzf', path, '-C', work]).status, 0);
      assert.equal(run('tar', ['-xzf', join(work, 'control.tar.gz'), '-C', work]).status, 0);
      const c = parseControl(readFileSync(join(work, 'control'), 'utf8'));
      for (const k of [
        'Package',
        'Version',
        'Source',
        'SourceName',
        'License',
        'Section',
        'SourceDateEpoch',
        'URL',
        'Maintainer',
        'Architecture',
        'Installed-Size',
        'Require-User',
        'Description',
      ]) {
        assert.ok(c[k], `${f}: ${k}`);
      }
      assert.equal(f.split('/').pop(), `${c.Package}_${c.Version}_${c.Architecture}.ipk`);
      const sum = createHash('sha256')
        .update(readFileSync(join(work, 'data.tar.gz')))
        .digest('hex');
      if (!dataBytes.has(sum)) {
        const data = run('tar', ['--numeric-owner', '-tzvf', join(work, 'data.tar.gz')]);
        assert.equal(data.status, 0, data.stderr);
        assert.doesNotMatch(data.stdout, /^\S+ (?!0\/0 )/m, 'every data entry owned 0/0');
        // ipkg-build: `tar --format=gnu --numeric-owner --sort=name -cf - . | gzip -n`, then
        // Installed-Size = `zcat | wc -c`. Unpack with GNU tar and count GNU tar's output.
        const tree = join(work, 'tree');
        mkdirSync(tree);
        assert.equal(run('tar', ['-xzf', join(work, 'data.tar.gz'), '-C', tree]).status, 0);
        const gnu = spawnSync(
          'tar',
          [
            '--format=gnu',
            '--numeric-owner',
            '--sort=name',
            '-cf',
            '-',
            `--mtime=@${c.SourceDateEpoch}`,
            '.',
          ],
          { cwd: tree, maxBuffer: 1 << 30 },
        );
        assert.equal(gnu.status, 0, gnu.stderr.toString());
        dataBytes.set(sum, gnu.stdout.length);
        const fileBytes = data.stdout
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('-'))
          .reduce((n, l) => n + Number(l.split(/\s+/)[2]), 0);
        const gz9 = run(
          'sh',
          [
            '-c',
            `tar --format=gnu --numeric-owner --sort=name -cf - --mtime=@${c.SourceDateEpoch} . | gzip -9n | wc -c`,
          ],
          { cwd: tree },
        );
        t.diagnostic(
          `${f}: files ${fileBytes} B, GNU tar ${gnu.stdout.length} B, .ipk ${statSync(path).size} B, data through gzip -9n ${gz9.stdout.trim()} B`,
        );
      }
      assert.equal(
        Number(c['Installed-Size']),
        dataBytes.get(sum),
        `${f}: Installed-Size is what ipkg-build measures`,
      );
      assert.equal(readFileSync(join(work, 'debian-binary'), 'utf8'), '2.0\n');
      assert.equal(readFileSync(join(work, 'conffiles'), 'utf8'), '/etc/config/edgewan\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
});

test('our reader (edgewan-build inspect) round-trips every .ipk the build wrote', async (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  for (const f of ipks()) {
    const dir = join(feed, f, '..');
    const packages = readFileSync(join(dir, 'Packages'), 'utf8').trim().split('\n\n').map(parseControl);
    const info = await inspectIpk(join(feed, f));
    const p = packages.find((x) => x.Filename === f.split('/').pop())!;
    assert.ok(p, `${f} listed in Packages`);
    for (const k of ['Package', 'Version', 'Architecture', 'Installed-Size'])
      assert.equal(info.control[k], p[k], `${f} ${k}`);
    assert.ok(
      Number(info.control['Installed-Size']) > info.dataSize,
      `${f}: the data tar's bytes exceed the files' bytes`,
    );
  }
});

test('shipped shell scripts pass busybox ash -n and shellcheck', (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  if (!needTool(t, 'busybox', 'busybox-static') || !needTool(t, 'shellcheck')) return;
  const base = (n: string) => n.split('/').pop()!;
  for (const f of [
    ipks().find((n) => base(n).startsWith('edgewan_'))!,
    ipks().find((n) => base(n).startsWith('edgewan-node_'))!,
  ]) {
    const u = unpackIpk(join(feed, f));
    try {
      const scripts = [
        'etc/init.d/edgewan',
        'usr/share/edgewan/uci2json.sh',
        'etc/uci-defaults/90-edgewan',
      ].map((s) => join(u.root, s));
      if (base(f).startsWith('edgewan-node_')) scripts.push(join(u.root, 'usr/bin/edgewan'));
      for (const s of scripts) {
        const a = run('busybox', ['ash', '-n', s]);
        assert.equal(a.status, 0, `${s}: ${a.stderr}`);
        const sc = run('shellcheck', ['-s', 'dash', '-e', 'SC2034', s]);
        assert.equal(sc.status, 0, `${s}:\n${sc.stdout}`);
      }
      // postinst/prerm are OpenWRT's own wrapper lines verbatim (include/package-pack.mk):
      // its unquoted $0 $@ and ${IPKG_INSTROOT} are kept as OpenWRT writes them.
      for (const s of ['postinst', 'prerm']) {
        const p = join(u.control, s);
        assert.equal(run('busybox', ['ash', '-n', p]).status, 0);
        const sc = run('shellcheck', ['-s', 'dash', '-e', 'SC2034,SC2086,SC2068,SC1091', p]);
        assert.equal(sc.status, 0, `${s}:\n${sc.stdout}`);
        assert.equal(statSync(p).mode & 0o777, 0o755);
      }
    } finally {
      cleanup(u.work);
    }
  }
});

test("signify-openbsd verifies every feed's Packages.sig and rejects a tampered Packages", (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  if (!needTool(t, 'signify-openbsd')) return;
  const dirs = feedDirs(feed);
  for (const dir of dirs) {
    const key = readdirSync(dir).find((n) => /^[0-9a-f]{16}$/.test(n));
    assert.ok(key, 'public key named by its 16-hex-digit key number');
    const ok = run('signify-openbsd', [
      '-V',
      '-p',
      join(dir, key),
      '-m',
      join(dir, 'Packages'),
      '-x',
      join(dir, 'Packages.sig'),
    ]);
    assert.equal(ok.status, 0, `${dir}: ${ok.stderr}`);
    const line = dir.endsWith('/all')
      ? 'edgewan_all \\S+\\/openwrt\\/24\\.10\\/all'
      : `edgewan \\S+\\/openwrt\\/24\\.10\\/${dir.split('/').pop()!.replace(/[.]/g, '\\.')}`;
    assert.match(readFileSync(join(dir, 'customfeeds.conf'), 'utf8'), new RegExp(`^src\\/gz ${line}$`, 'm'));
  }
  const tmp = mkdtempSync(join(tmpdir(), 'ewF-sig-'));
  try {
    const dir = dirs[0];
    const key = readdirSync(dir).find((n) => /^[0-9a-f]{16}$/.test(n))!;
    writeFileSync(
      join(tmp, 'Packages'),
      readFileSync(join(dir, 'Packages'), 'utf8').replace(
        /^Size: (\d+)/m,
        (_m, n) => `Size: ${Number(n) + 1}`,
      ),
    );
    copyFileSync(join(dir, 'Packages.sig'), join(tmp, 'Packages.sig'));
    const bad = run('signify-openbsd', [
      '-V',
      '-p',
      join(dir, key),
      '-m',
      join(tmp, 'Packages'),
      '-x',
      join(tmp, 'Packages.sig'),
    ]);
    assert.notEqual(bad.status, 0, 'a tampered Packages must fail');
    assert.match(bad.stderr, /verification failed/i);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // The root's template names every feed.
  const template = readFileSync(join(feed, 'customfeeds.conf'), 'utf8');
  for (const dir of dirs) assert.ok(template.includes(`/openwrt/24.10/${dir.split('/').pop()}\n`), dir);
});
