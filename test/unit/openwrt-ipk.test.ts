// The openwrt-24.10 target on stand-in inputs: package layout, control fields, maintainer
// scripts, feed files and signatures, reproducibility. Real tools and real executables are
// exercised in test/acceptance/5x-openwrt-*.
import { needTool } from '../helpers/tools.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openwrtIpkTarget, NODE_PACKAGE_MAX } from '../../targets/openwrt/target.ts';
import { inspectIpk, readTar, parseControl } from '../../targets/openwrt/ipk.ts';
import { usignKey, usignVerify, keyNumHex } from '../../targets/openwrt/usign.ts';
import { patchExecutable, maintainerScripts } from '../../targets/openwrt/files.ts';
import { MTIME, standInInputs, usignPem } from './openwrt-fixture.ts';

async function build(key = usignPem(), outDir?: string) {
  const inputs = standInInputs({ key, outDir });
  openwrtIpkTarget.validate(inputs);
  const artifacts = await openwrtIpkTarget.build(inputs);
  return { inputs, artifacts, feed: join(inputs.outDir, 'openwrt/24.10') };
}

test('one edgewan .ipk per OpenWRT arch name plus edgewan-node, listed in artifacts', async () => {
  const { artifacts, feed, inputs } = await build();
  const ipks = artifacts.filter((a) => a.type === 'ipk').map((a) => `${a.platform} ${a.path}`).sort();
  assert.deepEqual(ipks, ['all openwrt/24.10/edgewan-node_0.1.0-r1_all.ipk', 'x86_64 openwrt/24.10/edgewan_0.1.0-r1_x86_64.ipk']);
  const f = artifacts.find((a) => a.type === 'opkg-feed')!;
  assert.equal(f.index, 'Packages');
  assert.deepEqual(f.platforms, ['all', 'x86_64']);
  assert.ok(existsSync(join(feed, 'Packages.manifest')));
  assert.ok(existsSync(join(inputs.outDir, 'openwrt/imagebuilder/build.sh')));
  const { validateArtifacts } = await import('../../scripts/artifacts.ts');
  validateArtifacts([...artifacts].sort((x, y) => (x.path < y.path ? -1 : 1)));
  rmSync(inputs.root, { recursive: true, force: true });
});

test('ipk layout: outer members, control fields, Installed-Size in bytes, scripts, conffiles', async () => {
  const { feed, inputs } = await build();
  const path = join(feed, 'edgewan_0.1.0-r1_x86_64.ipk');
  const outer = await readTar(readFileSync(path));
  assert.deepEqual(outer.map((m) => m.name).sort(), ['./control.tar.gz', './data.tar.gz', './debian-binary']);
  for (const m of outer) { assert.equal(m.uid, 0); assert.equal(m.gid, 0); assert.equal(m.mtime, MTIME); }
  const info = await inspectIpk(path);
  const c = info.control;
  assert.equal(c.Package, 'edgewan');
  assert.equal(c.Version, '0.1.0-r1');
  assert.equal(c.Architecture, 'x86_64');
  assert.equal(c['Require-User'], 'edgewan:edgewan');
  assert.equal(c.SourceDateEpoch, String(MTIME));
  assert.equal(c.Conflicts, 'edgewan-node');
  assert.equal(Number(c['Installed-Size']), info.dataSize);
  assert.ok(info.dataSize > 1000, 'bytes, not KiB');
  assert.deepEqual(info.conffiles, ['/etc/config/edgewan']);
  assert.equal(info.scripts.postinst, maintainerScripts().postinst);
  assert.match(info.scripts.postinst, /default_postinst \$0 \$@\n$/);
  assert.match(info.scripts.prerm, /default_prerm \$0 \$@\n$/);
  const paths = info.files.map((f) => f.path);
  for (const p of ['./usr/bin/edgewan', './etc/init.d/edgewan', './etc/config/edgewan', './etc/uci-defaults/90-edgewan',
    './lib/upgrade/keep.d/edgewan', './usr/share/edgewan/uci2json.sh', './usr/lib/edgewan/glibc/ld-linux-x86-64.so.2',
    './usr/lib/edgewan/glibc/libstdc++.so.6']) assert.ok(paths.includes(p), p);
  assert.equal(info.files.find((f) => f.path === './etc/init.d/edgewan')!.mode, '0755');
  assert.equal(info.files.find((f) => f.path === './usr/lib/edgewan/glibc/ld-linux-x86-64.so.2')!.mode, '0755');
  rmSync(inputs.root, { recursive: true, force: true });
});

test('edgewan-node: Architecture all, Depends node, Conflicts edgewan, bundle only, small', async () => {
  const { feed, inputs } = await build();
  const path = join(feed, 'edgewan-node_0.1.0-r1_all.ipk');
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
  assert.match(readFileSync(join(feed, 'customfeeds.conf'), 'utf8'), /^src\/gz edgewan https:\/\/edgewan\.invalid\/openwrt\/24\.10$/m);
  rmSync(inputs.root, { recursive: true, force: true });
});

test('two builds with the same key are byte-identical', async () => {
  const key = usignPem();
  const a = await build(key);
  const b = await build(key);
  const names = readdirSync(a.feed).sort();
  assert.deepEqual(readdirSync(b.feed).sort(), names);
  for (const n of names) assert.ok(readFileSync(join(a.feed, n)).equals(readFileSync(join(b.feed, n))), n);
  rmSync(a.inputs.root, { recursive: true, force: true });
  rmSync(b.inputs.root, { recursive: true, force: true });
});

test('patchExecutable sets interpreter and RPATH to the private dir and refuses missing libraries', (t) => {
  if (!needTool(t, 'patchelf')) return;
  const inputs = standInInputs();
  const out = patchExecutable(inputs.executables.x64!, 'x64', ['libc.so.6', 'ld-linux-x86-64.so.2'], 'edgewan');
  const tmp = join(inputs.root, 'patched');
  writeFileSync(tmp, out);
  assert.equal(spawnSync('patchelf', ['--print-interpreter', tmp], { encoding: 'utf8' }).stdout.trim(), '/usr/lib/edgewan/glibc/ld-linux-x86-64.so.2');
  assert.equal(spawnSync('patchelf', ['--print-rpath', tmp], { encoding: 'utf8' }).stdout.trim(), '/usr/lib/edgewan/glibc');
  assert.match(spawnSync('readelf', ['-d', tmp], { encoding: 'utf8' }).stdout, /\(RPATH\)/);
  assert.throws(() => patchExecutable(inputs.executables.x64!, 'x64', ['libm.so.6'], 'edgewan'), /needs libc\.so\.6/);
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
  const ipk = await inspect(join(feed, 'edgewan_0.1.0-r1_x86_64.ipk')) as { control: Record<string, string> };
  assert.equal(ipk.control.Architecture, 'x86_64');
  const f = await inspect(feed) as { format: string; signatureValid: boolean; packages: { fileMatches: boolean }[] };
  assert.equal(f.format, 'opkg-feed');
  assert.equal(f.signatureValid, true);
  assert.equal(f.packages.length, 2);
  assert.ok(f.packages.every((p) => p.fileMatches));
  rmSync(inputs.root, { recursive: true, force: true });
});

test('Image Builder recipe: build.sh copies our package into packages/ and runs make image with FILES', async () => {
  const { inputs } = await build();
  const recipe = join(inputs.outDir, 'openwrt/imagebuilder');
  const ib = join(inputs.root, 'ib');
  const bin = join(inputs.root, 'stub-bin');
  spawnSync('mkdir', ['-p', ib, bin]);
  writeFileSync(join(bin, 'make'), '#!/bin/sh\nprintf "%s\\n" "$PWD" "$@" > make.args\n', { mode: 0o755 });
  const r = spawnSync('sh', [join(recipe, 'build.sh'), ib, 'generic', 'x86_64'], { encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(join(ib, 'packages')), ['edgewan_0.1.0-r1_x86_64.ipk']);
  const args = readFileSync(join(ib, 'make.args'), 'utf8').split('\n');
  assert.deepEqual(args.slice(0, 5), [ib, 'image', 'PROFILE=generic', 'PACKAGES=edgewan ', `FILES=${recipe}/files`]);
  assert.ok(existsSync(join(recipe, 'files/etc/opkg/customfeeds.conf')));
  const bad = spawnSync('sh', [join(recipe, 'build.sh'), ib, 'generic', 'mipsel_24kc'], { encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no edgewan package for mipsel_24kc/);
  rmSync(inputs.root, { recursive: true, force: true });
});
