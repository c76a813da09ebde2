// Every APK v3 package and packages.adb the default build wrote (dist/artifacts.json) reads
// back with our reader: signatures verify with the shipped dist/openwrt/25.12/<name>.pem, every
// DATA block matches its file's size and SHA-256, each index lists its package with the
// package's file size and ADB hash, installed-size (package and index) is the sum of the file
// bytes as apk mkpkg counts it — checked against find(1) on the unpacked x86_64 root — and
// every default OpenWRT arch name of every built arch (targets/arch.ts) has its package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { needRoot } from '../helpers/tools.ts';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import type { Artifact } from '../../targets/target.ts';
import { apkFileContents, decodeApk } from '../../targets/formats/adb-decode.ts';

// EDGEWAN_TEST_DIST lets a developer check another build's output directory.
const DIST = process.env.EDGEWAN_TEST_DIST ?? join(import.meta.dirname, '..', '..', 'dist');

test("the build's APK v3 packages and indexes read back, verified and complete", () => {
  const list = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
  const apks = list.filter((a) => a.type === 'apk');
  const feeds = list.filter((a) => a.type === 'apk-feed');
  const built = list.filter((a) => a.type === 'executable').map((a) => a.arch as Arch);
  assert.ok(
    apks.length > 0,
    'no apk artifacts in dist/artifacts.json: the openwrt-25.12 target was skipped or not selected (see the build log)',
  );
  const want = built.flatMap((a) => ARCHES[a].openwrt).sort();
  assert.deepEqual(apks.map((a) => a.platform).sort(), want);
  const base = join(DIST, 'openwrt/25.12');
  const pem = readdirSync(base).filter((f) => f.endsWith('.pem'));
  assert.equal(pem.length, 1, `one public key in ${base}`);
  const pub = readFileSync(join(base, pem[0]), 'utf8');
  for (const a of apks) {
    const file = readFileSync(join(DIST, a.path));
    assert.equal(createHash('sha256').update(file).digest('hex'), a.sha256, a.path);
    const d = decodeApk(file, pub); // throws on any DATA block mismatch
    assert.ok(d.signatures.length === 1 && d.signatures[0].verified, `${a.path}: signature`);
    assert.equal((d.root.info as Record<string, unknown>).arch, a.platform);
    assert.ok(
      d.files?.some((f) => f.path.startsWith('usr/bin/') && f.size > 0),
      `${a.path}: executable`,
    );
    const feed = feeds.find((f) => f.path === a.path.slice(0, a.path.lastIndexOf('/')));
    assert.ok(feed, `${a.path}: its feed artifact`);
    const ndxFile = readFileSync(join(DIST, feed.path, 'packages.adb'));
    assert.equal(createHash('sha256').update(ndxFile).digest('hex'), feed.sha256);
    const ndx = decodeApk(ndxFile, pub);
    assert.ok(ndx.signatures[0]?.verified, `${feed.path}/packages.adb: signature`);
    const entry = (ndx.root.packages as Record<string, unknown>[]).find((p) => p.hashes === d.adbSha256);
    assert.ok(entry, `${feed.path}/packages.adb lists ${a.path}`);
    assert.equal(entry['file-size'], file.length);
    // apk mkpkg: installed-size = the plain sum of the regular files' sizes, copied by mkndx.
    const bytes = [...apkFileContents(file).values()].reduce((n, b) => n + b.length, 0);
    assert.equal(
      (d.root.info as Record<string, unknown>)['installed-size'],
      bytes,
      `${a.path}: installed-size`,
    );
    assert.equal(entry['installed-size'], bytes, `${feed.path}/packages.adb: installed-size`);
  }
  assert.ok(existsSync(join(base, 'customfeeds.list')));
});

test('the x86_64 package, unpacked by our reader into an empty root, runs its executable', (t) => {
  if (!needRoot(t)) return;
  const list = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
  const a = list.find((x) => x.type === 'apk' && x.platform === 'x86_64');
  assert.ok(a, 'no x86_64 apk in dist/artifacts.json');
  const buf = readFileSync(join(DIST, a.path));
  const d = decodeApk(buf);
  const contents = apkFileContents(buf);
  const root = mkdtempSync(join(tmpdir(), 'ewH-apkroot-'));
  try {
    for (const f of d.files ?? []) {
      const p = join(root, f.path);
      mkdirSync(dirname(p), { recursive: true });
      if (f.type === 'symlink') symlinkSync(f.target!, p);
      else {
        writeFileSync(p, contents.get(f.path)!);
        chmodSync(p, f.mode);
      }
    }
    // installed-size against what find(1) measures in the unpacked root
    const sizes = spawnSync('find', [root, '-type', 'f', '-printf', '%s\n'], { encoding: 'utf8' });
    assert.equal(sizes.status, 0, sizes.stderr);
    const measured = sizes.stdout
      .trim()
      .split('\n')
      .reduce((n, l) => n + Number(l), 0);
    assert.equal(
      (d.root.info as Record<string, unknown>)['installed-size'],
      measured,
      'installed-size = find -type f bytes',
    );
    t.diagnostic(`${a.path}: installed-size ${measured} B (find -type f), file ${buf.length} B`);
    const exe = (d.files ?? []).find((f) => f.path.startsWith('usr/bin/') && f.mode & 0o111)!;
    // Only the package's files exist in the root: the private glibc must carry the executable.
    const r = spawnSync('chroot', [root, `/${exe.path}`, '--version'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}${r.error ?? ''}`);
    assert.match(r.stdout, /arch=x64/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
