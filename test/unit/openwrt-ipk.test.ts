// The openwrt-24.10 target on stand-in inputs: one feed per OpenWRT arch plus the all/ feed,
// package layout, control fields, Installed-Size against GNU tar, maintainer scripts, feed
// files and signatures, reproducibility. Real tools and real executables are exercised in
// test/acceptance/5x-openwrt-*.
import { needTool } from '../helpers/tools.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openwrtIpkTarget, NODE_PACKAGE_MAX } from '../../targets/openwrt-24.10/index.ts';
import { inspectIpk, ipkInstalledSize, readTar, parseControl } from '../../targets/openwrt-24.10/ipk.ts';
import type { FileEntry } from '../../targets/formats/tar.ts';
import { usignKey, usignVerify, keyNumHex } from '../../targets/openwrt-24.10/usign.ts';
import { patchExecutable, maintainerScripts } from '../../targets/formats/openwrt/files.ts';
import { MTIME, standInInputs, usignPem } from './openwrt-fixture.ts';

async function build(key = usignPem(), outDir?: string) {
  const inputs = standInInputs({ key, outDir });
  openwrtIpkTarget.validate(inputs);
  const artifacts = await openwrtIpkTarget.build(inputs);
  const root = join(inputs.outDir, 'openwrt/24.10');
  return { inputs, artifacts, root, feed: join(root, 'x86_64'), allFeed: join(root, 'all') };
}

/** Every file under dir, relative, sorted. */
function tree(dir: string, pre = ''): string[] {
  return readdirSync(join(dir, pre), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(dir, join(pre, e.name)) : [join(pre, e.name)]))
    .sort();
}

/** What ipkg-build measures: GNU tar of the unpacked tree to a pipe, counted (`| wc -c`). */
function gnuTarBytes(t: import('node:test').TestContext, dir: string): number {
  const r = spawnSync(
    'tar',
    ['--format=gnu', '--numeric-owner', '--sort=name', '-cf', '-', `--mtime=@${MTIME}`, '.'],
    { cwd: dir, maxBuffer: 1 << 30 },
  );
  assert.equal(r.status, 0, r.stderr?.toString());
  t.diagnostic(`GNU tar of ${dir}: ${r.stdout.length} bytes`);
  return r.stdout.length;
}

test('one feed directory per OpenWRT arch name (edgewan + edgewan-node) and an all/ feed, listed in artifacts', async () => {
  const { artifacts, root, inputs } = await build();
  const ipks = artifacts
    .filter((a) => a.type === 'ipk')
    .map((a) => `${a.platform} ${a.arch} ${a.path}`)
    .sort();
  assert.deepEqual(ipks, [
    'all noarch openwrt/24.10/all/edgewan-node_0.1.0-r1_all.ipk',
    'all noarch openwrt/24.10/x86_64/edgewan-node_0.1.0-r1_all.ipk',
    'x86_64 x64 openwrt/24.10/x86_64/edgewan_0.1.0-r1_x86_64.ipk',
  ]);
  const feeds = artifacts
    .filter((a) => a.type === 'opkg-feed')
    .map((a) => [a.path, a.arch, a.index, a.platforms]);
  assert.deepEqual(feeds.sort(), [
    ['openwrt/24.10/all', 'noarch', 'Packages', ['all']],
    ['openwrt/24.10/x86_64', 'x64', 'Packages', ['all', 'x86_64']],
  ]);
  const key = keyNumHex(usignKey(inputs.keys.usignPrivatePem!));
  // Nothing but the feed directories, the key and the template at the root.
  assert.deepEqual(readdirSync(root).sort(), [key, 'all', 'customfeeds.conf', 'x86_64'].sort());
  for (const dir of ['x86_64', 'all']) {
    for (const f of ['Packages', 'Packages.gz', 'Packages.manifest', 'Packages.sig', key, 'customfeeds.conf'])
      assert.ok(existsSync(join(root, dir, f)), `${dir}/${f}`);
    // Every package of a feed has that feed's arch or all: opkg never meets a foreign arch.
    const archs = readFileSync(join(root, dir, 'Packages'), 'utf8').match(/^Architecture: .*$/gm)!;
    assert.deepEqual(
      [...new Set(archs)].sort(),
      dir === 'all' ? ['Architecture: all'] : ['Architecture: all', `Architecture: ${dir}`].sort(),
    );
  }
  // The same edgewan-node bytes in every feed; the key the same everywhere.
  assert.ok(
    readFileSync(join(root, 'x86_64/edgewan-node_0.1.0-r1_all.ipk')).equals(
      readFileSync(join(root, 'all/edgewan-node_0.1.0-r1_all.ipk')),
    ),
  );
  assert.ok(readFileSync(join(root, key)).equals(readFileSync(join(root, 'x86_64', key))));
  assert.match(
    readFileSync(join(root, 'x86_64/customfeeds.conf'), 'utf8'),
    /^src\/gz edgewan https:\/\/edgewan\.invalid\/openwrt\/24\.10\/x86_64$/m,
  );
  assert.match(
    readFileSync(join(root, 'all/customfeeds.conf'), 'utf8'),
    /^src\/gz edgewan_all https:\/\/edgewan\.invalid\/openwrt\/24\.10\/all$/m,
  );
  const template = readFileSync(join(root, 'customfeeds.conf'), 'utf8');
  assert.match(template, /^# src\/gz edgewan https:\/\/edgewan\.invalid\/openwrt\/24\.10\/x86_64$/m);
  assert.match(template, /^# src\/gz edgewan_all https:\/\/edgewan\.invalid\/openwrt\/24\.10\/all$/m);
  assert.match(
    template,
    new RegExp(`wget -O /etc/opkg/keys/${key} https://edgewan\\.invalid/openwrt/24\\.10/${key}`),
  );
  assert.ok(existsSync(join(inputs.outDir, 'openwrt/imagebuilder/build.sh')));
  const { validateArtifacts } = await import('../../scripts/artifacts.ts');
  validateArtifacts([...artifacts].sort((x, y) => (x.path < y.path ? -1 : 1)));
  rmSync(inputs.root, { recursive: true, force: true });
});

test('a rebuild removes what an earlier build left: the old single-directory feed, other arches', async () => {
  const inputs = standInInputs();
  const root = join(inputs.outDir, 'openwrt/24.10');
  mkdirSync(join(root, 'aarch64_generic'), { recursive: true });
  writeFileSync(join(root, 'edgewan_0.0.9-r1_x86_64.ipk'), 'old');
  writeFileSync(join(root, 'Packages'), 'old');
  writeFileSync(join(root, 'aarch64_generic/Packages'), 'old');
  await openwrtIpkTarget.build(inputs);
  assert.deepEqual(
    readdirSync(root)
      .filter((f) => !/^[0-9a-f]{16}$/.test(f))
      .sort(),
    ['all', 'customfeeds.conf', 'x86_64'],
  );
  rmSync(inputs.root, { recursive: true, force: true });
});

test('ipk layout: outer members, control fields, Installed-Size in bytes, scripts, conffiles', async () => {
  const { feed, inputs } = await build();
  const path = join(feed, 'edgewan_0.1.0-r1_x86_64.ipk');
  const outer = await readTar(readFileSync(path));
  assert.deepEqual(outer.map((m) => m.name).sort(), ['./control.tar.gz', './data.tar.gz', './debian-binary']);
  for (const m of outer) {
    assert.equal(m.uid, 0);
    assert.equal(m.gid, 0);
    assert.equal(m.mtime, MTIME);
  }
  const info = await inspectIpk(path);
  const c = info.control;
  assert.equal(c.Package, 'edgewan');
  assert.equal(c.Version, '0.1.0-r1');
  assert.equal(c.Architecture, 'x86_64');
  assert.equal(c['Require-User'], 'edgewan:edgewan');
  assert.equal(c.SourceDateEpoch, String(MTIME));
  assert.equal(c.Conflicts, 'edgewan-node');
  assert.ok(
    Number(c['Installed-Size']) > info.dataSize,
    "the data tar's bytes (headers, padding), more than the files' bytes",
  );
  assert.ok(info.dataSize > 1000, 'bytes, not KiB');
  assert.deepEqual(info.conffiles, ['/etc/config/edgewan']);
  assert.equal(info.scripts.postinst, maintainerScripts().postinst);
  // What OpenWRT's include/package-pack.mk writes (ipk branch), byte for byte: the prerm has
  // no IPKG_NO_SCRIPT guard.
  const load = '[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\n';
  assert.equal(
    info.scripts.postinst,
    `#!/bin/sh\n[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n${load}default_postinst $0 $@\n`,
  );
  assert.equal(info.scripts.prerm, `#!/bin/sh\n${load}default_prerm $0 $@\n`);
  const paths = info.files.map((f) => f.path);
  for (const p of [
    './usr/bin/edgewan',
    './etc/init.d/edgewan',
    './etc/config/edgewan',
    './etc/uci-defaults/90-edgewan',
    './lib/upgrade/keep.d/edgewan',
    './usr/share/edgewan/uci2json.sh',
    './usr/lib/edgewan/glibc/ld-linux-x86-64.so.2',
    './usr/lib/edgewan/glibc/libstdc++.so.6',
  ])
    assert.ok(paths.includes(p), p);
  assert.equal(info.files.find((f) => f.path === './etc/init.d/edgewan')!.mode, '0755');
  assert.equal(
    info.files.find((f) => f.path === './usr/lib/edgewan/glibc/ld-linux-x86-64.so.2')!.mode,
    '0755',
  );
  rmSync(inputs.root, { recursive: true, force: true });
});

test("Installed-Size is what ipkg-build writes: the bytes of GNU tar's data archive of the unpacked tree", async (t) => {
  const { feed, allFeed, inputs } = await build();
  for (const path of [
    join(feed, 'edgewan_0.1.0-r1_x86_64.ipk'),
    join(allFeed, 'edgewan-node_0.1.0-r1_all.ipk'),
  ]) {
    const work = mkdtempSync(join(tmpdir(), 'ewF-isz-'));
    try {
      mkdirSync(join(work, 'root'));
      assert.equal(
        spawnSync('tar', ['-xzf', path, '-C', work, './data.tar.gz', './control.tar.gz']).status,
        0,
      );
      assert.equal(spawnSync('tar', ['-xzf', join(work, 'data.tar.gz'), '-C', join(work, 'root')]).status, 0);
      assert.equal(
        spawnSync('tar', ['-xzf', join(work, 'control.tar.gz'), '-C', work, './control']).status,
        0,
      );
      const c = parseControl(readFileSync(join(work, 'control'), 'utf8'));
      assert.equal(Number(c['Installed-Size']), gnuTarBytes(t, join(work, 'root')), path);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  rmSync(inputs.root, { recursive: true, force: true });
});

test('ipkInstalledSize matches GNU tar on long names, long symlink targets, empty and record-sized files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ewF-gnu-'));
  try {
    const entries: FileEntry[] = [];
    const add = (path: string, data: Buffer) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), data);
      entries.push({ type: 'file', path, mode: 0o644, data });
    };
    // "./" + path: names of 99, 100, 101 and 200 bytes, directories over 100 with their "/"
    for (const n of [97, 98, 99, 198]) add(`d/${'n'.repeat(n - 2)}`, Buffer.from('x'));
    add(`${'l'.repeat(60)}/${'m'.repeat(45)}/f`, Buffer.alloc(0));
    add('r/record', Buffer.alloc(10240 - 512 * 4));
    add('r/odd', Buffer.alloc(513));
    symlinkSync('t'.repeat(150), join(dir, 'r/link'));
    entries.push({ type: 'symlink', path: 'r/link', target: 't'.repeat(150) });
    symlinkSync('t'.repeat(100), join(dir, 'r/link100'));
    entries.push({ type: 'symlink', path: 'r/link100', target: 't'.repeat(100) });
    assert.equal(ipkInstalledSize(entries), gnuTarBytes(t, dir));
    assert.equal(ipkInstalledSize([]), 10240, 'an empty tree: "./" and the end blocks, one record');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('edgewan-node: Architecture all, Depends node, Conflicts edgewan, bundle only, small', async () => {
  const { allFeed, inputs } = await build();
  const path = join(allFeed, 'edgewan-node_0.1.0-r1_all.ipk');
  const info = await inspectIpk(path);
  assert.equal(info.control.Architecture, 'all');
  assert.equal(info.control.Depends, 'node');
  assert.equal(info.control.Conflicts, 'edgewan');
  assert.ok(!info.files.some((f) => f.path.includes('/glibc/')));
  assert.ok(info.files.some((f) => f.path === './usr/lib/edgewan/edgewan.cjs'));
  assert.ok(readFileSync(path).length <= NODE_PACKAGE_MAX);
  rmSync(inputs.root, { recursive: true, force: true });
});

test('feed: Packages fields match the files, manifest keeps what Packages drops, signature verifies', async () => {
  const { feed, inputs } = await build();
  const packages = readFileSync(join(feed, 'Packages'));
  assert.deepEqual(gunzipSync(readFileSync(join(feed, 'Packages.gz'))), packages);
  const paras = packages.toString().trim().split('\n\n').map(parseControl);
  assert.equal(paras.length, 2);
  for (const p of paras) {
    const data = readFileSync(join(feed, p.Filename));
    assert.equal(Number(p.Size), data.length);
    assert.equal(p.SHA256sum, (await import('node:crypto')).createHash('sha256').update(data).digest('hex'));
    assert.equal(p.Maintainer, undefined);
    assert.equal(p['Require-User'], undefined);
  }
  assert.match(readFileSync(join(feed, 'Packages.manifest'), 'utf8'), /^Maintainer: /m);
  const key = usignKey(inputs.keys.usignPrivatePem!);
  const pub = readFileSync(join(feed, keyNumHex(key)), 'utf8');
  const sig = readFileSync(join(feed, 'Packages.sig'), 'utf8');
  assert.ok(usignVerify(packages, sig, pub));
  const tampered = Buffer.from(packages.toString().replace('Version: 0.1.0-r1', 'Version: 0.1.0-r2'));
  assert.equal(usignVerify(tampered, sig, pub), false);
  rmSync(inputs.root, { recursive: true, force: true });
});

test('two builds with the same key are byte-identical', async () => {
  const key = usignPem();
  const a = await build(key);
  const b = await build(key);
  const names = tree(a.root);
  assert.ok(names.length > 10);
  assert.deepEqual(tree(b.root), names);
  for (const n of names) assert.ok(readFileSync(join(a.root, n)).equals(readFileSync(join(b.root, n))), n);
  rmSync(a.inputs.root, { recursive: true, force: true });
  rmSync(b.inputs.root, { recursive: true, force: true });
});

test('patchExecutable sets interpreter and RPATH to the private dir and refuses missing libraries', (t) => {
  if (!needTool(t, 'patchelf')) return;
  const inputs = standInInputs();
  const out = patchExecutable(
    inputs.executables.x64!,
    'x64',
    ['libc.so.6', 'ld-linux-x86-64.so.2'],
    'edgewan',
  );
  const tmp = join(inputs.root, 'patched');
  writeFileSync(tmp, out);
  assert.equal(
    spawnSync('patchelf', ['--print-interpreter', tmp], { encoding: 'utf8' }).stdout.trim(),
    '/usr/lib/edgewan/glibc/ld-linux-x86-64.so.2',
  );
  assert.equal(
    spawnSync('patchelf', ['--print-rpath', tmp], { encoding: 'utf8' }).stdout.trim(),
    '/usr/lib/edgewan/glibc',
  );
  assert.match(spawnSync('readelf', ['-d', tmp], { encoding: 'utf8' }).stdout, /\(RPATH\)/);
  assert.throws(
    () => patchExecutable(inputs.executables.x64!, 'x64', ['libm.so.6'], 'edgewan'),
    /needs libc\.so\.6/,
  );
  rmSync(inputs.root, { recursive: true, force: true });
});

test('validate refuses a build without a usign key or without the glibc set', () => {
  const inputs = standInInputs();
  assert.throws(() => openwrtIpkTarget.validate({ ...inputs, keys: {} }), /usign/);
  assert.throws(() => openwrtIpkTarget.validate({ ...inputs, glibc: {} }), /glibc/);
  rmSync(inputs.root, { recursive: true, force: true });
});

test('edgewan-build inspect reads our .ipk and the feed directory', async () => {
  const { inspect } = await import('../../scripts/inspect.ts');
  const { feed, inputs } = await build();
  const ipk = (await inspect(join(feed, 'edgewan_0.1.0-r1_x86_64.ipk'))) as {
    control: Record<string, string>;
  };
  assert.equal(ipk.control.Architecture, 'x86_64');
  const f = (await inspect(feed)) as {
    format: string;
    signatureValid: boolean;
    packages: { fileMatches: boolean }[];
  };
  assert.equal(f.format, 'opkg-feed');
  assert.equal(f.signatureValid, true);
  assert.equal(f.packages.length, 2);
  assert.ok(f.packages.every((p) => p.fileMatches));
  // The feeds root: every arch feed.
  const all = (await inspect(join(feed, '..'))) as {
    format: string;
    feeds: { path: string; signatureValid: boolean }[];
  };
  assert.equal(all.format, 'opkg-feeds');
  assert.deepEqual(
    all.feeds.map((x) => [x.path.split('/').pop(), x.signatureValid]),
    [
      ['all', true],
      ['x86_64', true],
    ],
  );
  rmSync(inputs.root, { recursive: true, force: true });
});

test('Image Builder recipe: build.sh copies our package into packages/ and runs make image with FILES', async () => {
  const { inputs } = await build();
  const recipe = join(inputs.outDir, 'openwrt/imagebuilder');
  const ib = join(inputs.root, 'ib');
  const bin = join(inputs.root, 'stub-bin');
  spawnSync('mkdir', ['-p', ib, bin]);
  writeFileSync(join(bin, 'make'), '#!/bin/sh\nprintf "%s\\n" "$PWD" "$@" > make.args\n', { mode: 0o755 });
  const r = spawnSync('sh', [join(recipe, 'build.sh'), ib, 'generic', 'x86_64'], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(join(ib, 'packages')), ['edgewan_0.1.0-r1_x86_64.ipk']);
  const args = readFileSync(join(ib, 'make.args'), 'utf8').split('\n');
  assert.deepEqual(args.slice(0, 5), [
    ib,
    'image',
    'PROFILE=generic',
    'PACKAGES=edgewan ',
    `FILES=${ib}/edgewan-files`,
  ]);
  // The staged overlay: the recipe's files plus the feed line of the image's arch.
  assert.equal(
    readFileSync(join(ib, 'edgewan-files/etc/opkg/customfeeds.conf'), 'utf8'),
    '# added by the edgewan Image Builder recipe: later opkg updates come from here\nsrc/gz edgewan https://edgewan.invalid/openwrt/24.10/x86_64\n',
  );
  assert.ok(existsSync(join(ib, 'edgewan-files/etc/uci-defaults/80-edgewan-site')));
  assert.ok(readdirSync(join(ib, 'edgewan-files/etc/opkg/keys')).length === 1);
  const bad = spawnSync('sh', [join(recipe, 'build.sh'), ib, 'generic', 'mipsel_24kc'], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}` },
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no edgewan package for mipsel_24kc/);
  rmSync(inputs.root, { recursive: true, force: true });
});
