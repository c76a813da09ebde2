// Host tools (scripts/hosttools.ts): every step's needs are resolved before work starts; with
// apt-get not allowed the build stops before writing anything, naming every missing package
// and the exact command; apt-get's failures become one clear paragraph.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureHostTools,
  executableNeeds,
  explainAptFailure,
  hostDistro,
  listsStale,
  missingNeeds,
  packageFor,
  parseAptSize,
} from '../../scripts/hosttools.ts';
import { plannedNeeds } from '../../scripts/build.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { TEST_NEEDS } from '../helpers/tools.ts';

const temps: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

test('each arm arch needs qemu, cross strip and cross libraries', () => {
  const arm = executableNeeds('armv7').map((n) => n.pkg);
  for (const p of [
    'qemu-user-static',
    'binutils-arm-linux-gnueabihf',
    'libc6-armhf-cross',
    'libatomic1-armhf-cross',
    'patchelf',
  ])
    assert.ok(arm.includes(p), p);
  assert.ok(executableNeeds('arm64').some((n) => n.what === 'qemu-aarch64-static'));
});

test("the default build declares every step's tools: executables, debs, glibc set, disk images and binfmt", () => {
  const needs = plannedNeeds({});
  const pkgs = new Set(needs.map((n) => n.pkg));
  for (const p of [
    'patchelf',
    'binutils-aarch64-linux-gnu',
    'libc6-armhf-cross',
    'xz-utils',
    'mmdebstrap',
    'dosfstools',
    'mtools',
    'fdisk',
    'grub-common',
    'e2fsprogs',
    'arch-test',
    'debian-archive-keyring',
  ])
    assert.ok(pkgs.has(p), p);
  assert.ok(
    needs.some((n) => n.kind === 'binfmt' && n.what === 'qemu-aarch64'),
    'the arm64 disk image needs the aarch64 binfmt handler',
  );
  // --target none --arch x64: the executable step alone
  assert.deepEqual(
    [...new Set(plannedNeeds({ arches: ['x64'], targets: ['none'] }).map((n) => n.pkg))].sort(),
    ['binutils-x86-64-linux-gnu', 'patchelf'],
  );
});

test('missingNeeds: one entry per tool, naming every step that needs it', () => {
  const miss = missingNeeds(
    [
      { kind: 'cmd', what: 'no-such-tool-1', pkg: 'p1', for: 'a' },
      { kind: 'cmd', what: 'no-such-tool-1', pkg: 'p1', for: 'b' },
      { kind: 'cmd', what: 'sh', pkg: 'dash', for: 'a' },
      { kind: 'file', what: '/no/such/file', pkg: 'p2', for: 'c' },
    ],
    process.env,
  );
  assert.deepEqual(
    miss.map((n) => [n.what, n.for]),
    [
      ['no-such-tool-1', 'a, b'],
      ['/no/such/file', 'c'],
    ],
  );
});

test('missing tools, apt not allowed: one error lists every package and the exact command', () => {
  assert.throws(
    () =>
      ensureHostTools(
        [
          ...executableNeeds('arm64'),
          { kind: 'binfmt', what: 'no-such-handler', pkg: 'qemu-user-static', for: 'disk target' },
          {
            kind: 'file',
            what: '/no/such/dir/libnosuch.so.1',
            pkg: 'libnosuch1-cross',
            for: 'executable arm64',
          },
        ],
        { env: { PATH: '/nonexistent' }, allowApt: false, log: () => {} },
      ),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EDGEWAN_ERR_BUILD_HOST_TOOLS');
      assert.match(
        e.message,
        /qemu-user-static \(qemu-aarch64-static, binfmt handler no-such-handler: executable arm64, disk target\)/,
      );
      assert.match(e.message, /libnosuch1-cross \(libnosuch.so.1: executable arm64\)/);
      assert.match(e.message, /apt-get install -y --no-install-recommends .*qemu-user-static/);
      assert.match(e.message, /update-binfmts --enable no-such-handler/);
      assert.match(e.message, /Nothing was built or written/);
      return true;
    },
  );
});

test('every test stage declares its tools with a package', () => {
  for (const [stage, needs] of Object.entries(TEST_NEEDS)) {
    assert.ok(needs.length > 0, stage);
    for (const n of needs) assert.ok(n.pkg && n.what && n.for.includes(stage), JSON.stringify(n));
  }
  const chromium = TEST_NEEDS.acceptance.find((n) => n.what === 'chromium')!;
  assert.equal(packageFor(chromium, 'debian'), 'chromium');
  assert.equal(packageFor(chromium, 'ubuntu'), null, 'Ubuntu has chromium only as a snap');
});

test('apt output: sizes from the dry run, failures explained in one paragraph', () => {
  const dry =
    '42 newly installed, 0 to remove and 3 not upgraded.\nNeed to get 512 MB of archives.\nAfter this operation, 1,834 MB of additional disk space will be used.\n';
  assert.deepEqual(parseAptSize(dry), { download: '512 MB', disk: '1,834 MB', count: 42 });
  const cmd = 'apt-get install -y x';
  assert.match(
    explainAptFailure(
      'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 123 (apt-get)',
      cmd,
    ),
    /another apt-get or dpkg process holds the package lock.*apt-get install -y x/,
  );
  assert.match(
    explainAptFailure(
      "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.",
      cmd,
    ),
    /dpkg --configure -a/,
  );
  assert.match(explainAptFailure('E: Unable to locate package nosuchpkg', cmd), /do not have nosuchpkg/);
  assert.match(explainAptFailure("E: Package 'foo' has no installation candidate", cmd), /do not have foo/);
  assert.match(explainAptFailure('E: something else\n', cmd), /last lines:\nE: something else/);
});

test('package lists: missing or a day old count as stale', () => {
  const d = tmp('ewA-lists-');
  assert.equal(listsStale(d), true, 'no Packages file');
  const f = join(d, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4');
  writeFileSync(f, '');
  assert.equal(listsStale(d), false);
  const old = Date.now() / 1000 - 2 * 86400;
  utimesSync(f, old, old);
  assert.equal(listsStale(d), true);
  assert.equal(listsStale(join(d, 'missing')), true);
});

test('distro from os-release: Debian, Ubuntu (ID_LIKE too), other', () => {
  const d = tmp('ewA-osrel-');
  const w = (name: string, text: string) => {
    writeFileSync(join(d, name), text);
    return join(d, name);
  };
  assert.equal(hostDistro(w('deb', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')), 'debian');
  assert.equal(hostDistro(w('ubu', 'ID=ubuntu\nID_LIKE=debian\n')), 'ubuntu');
  assert.equal(hostDistro(w('mint', 'ID=linuxmint\nID_LIKE="ubuntu debian"\n')), 'ubuntu');
  assert.equal(hostDistro(w('fed', 'ID=fedora\n')), 'other');
  assert.equal(hostDistro(join(d, 'none')), 'other');
});

test('build without qemu on PATH: exit 1, clear error, no artifact', () => {
  const work = tmp('ewA-noqemu-');
  const bin = join(work, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  for (const t of ['git', 'npm', 'tar']) {
    const p = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (p) symlinkSync(p, join(bin, t));
  }
  const out = join(work, 'dist');
  const r = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'bin/edgewan-build.mjs'), 'build', '--arch', 'arm64', '--target', 'none', '--out', out],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: bin, EDGEWAN_NO_APT: '1' } },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /EDGEWAN_ERR_BUILD_HOST_TOOLS: the build needs \d+ Debian package\(s\) that are not installed: .*qemu-user-static \(qemu-aarch64-static: executable arm64\)/,
  );
  assert.match(r.stderr, /apt-get install -y --no-install-recommends/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(existsSync(out), false, 'nothing written');
});
