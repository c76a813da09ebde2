// Offline-root installs of every OpenWRT package the build wrote, the way OpenWRT's Image
// Builder, `opkg -o` and `apk --root` install them: the package's files are unpacked into a
// root holding only base-files stand-ins (test/acceptance/5x-openwrt-stubs: rc.common,
// functions.sh with default_postinst/default_prerm, procd.sh), then its postinst (.ipk) or
// post-install (.apk) runs ON THE BUILD HOST with IPKG_INSTROOT=<root> and cwd <root>, as
// Image Builder runs it — here through busybox ash on a host without bash (PATH holds only
// busybox applets; a private mount namespace puts busybox at /bin/sh too, the shell
// default_postinst falls back to), under strace. Asserted for each package: the script exits
// 0, the service is enabled in the root (/etc/rc.d/S95edgewan and K10edgewan → ../init.d/
// edgewan), its user and group exist in the root's passwd/group, no path outside the root was
// opened, stat'ed or executed (only busybox itself, /dev/null and the PATH lookups), Image
// Builder's own enable loop (`rc.common ./etc/init.d/edgewan enable`) exits 0, and the prerm /
// pre-deinstall disables the service again.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Artifact } from '../../targets/target.ts';
import { apkFileContents, decodeApk } from '../../targets/formats/adb-decode.ts';
import { parseControl } from '../../targets/openwrt-24.10/ipk.ts';
import { needRoot, needTool, unavailable } from '../helpers/tools.ts';
import { allIpks, DIST, feedsRoot } from './5x-openwrt-harness.ts';

const STUBS = join(import.meta.dirname, '5x-openwrt-stubs');
let feeds: string | undefined;
before(async () => {
  feeds = await feedsRoot();
});

const which = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

function ready(t: import('node:test').TestContext): boolean {
  return (
    needRoot(t) &&
    needTool(t, 'busybox', 'busybox-static') &&
    needTool(t, 'strace') &&
    needTool(t, 'unshare', 'util-linux')
  );
}

/** A root as base-files leaves it, plus a PATH directory of busybox applets (no bash). */
function baseRoot(): { work: string; root: string; bin: string } {
  const work = mkdtempSync(join(tmpdir(), 'ewF-offline-'));
  const root = join(work, 'root');
  const bin = join(work, 'bin');
  for (const d of ['etc/rc.d', 'lib/functions', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  mkdirSync(bin);
  assert.equal(spawnSync('busybox', ['--install', '-s', bin]).status, 0);
  assert.ok(!existsSync(join(bin, 'bash')), 'busybox must not provide bash here');
  copyFileSync(join(STUBS, 'rc.common'), join(root, 'etc/rc.common'));
  copyFileSync(join(STUBS, 'functions.sh'), join(root, 'lib/functions.sh'));
  copyFileSync(join(STUBS, 'procd.sh'), join(root, 'lib/functions/procd.sh'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/ash\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:::0:99999:7:::\n');
  return { work, root, bin };
}

interface Traced {
  status: number | null;
  out: string;
  outside: string[];
}

/**
 * Run `busybox ash <script> <args>` in root as Image Builder does (IPKG_INSTROOT, cwd = root),
 * /bin/sh being busybox in a private mount namespace, and list every path outside the root the
 * traced processes opened, stat'ed, read a link of or executed.
 */
function hostRun(root: string, bin: string, work: string, args: string[]): Traced {
  const log = join(work, `strace-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const busybox = which('busybox');
  const r = spawnSync(
    which('unshare'),
    [
      '--mount',
      '--propagation',
      'private',
      which('sh'),
      '-c',
      `log=$1; shift; ${which('mount')} --bind "$0" /bin/sh && exec ${which('strace')} -f -qq -e trace=%file -o "$log" "$0" ash "$@"`,
      busybox,
      log,
      ...args,
    ],
    { cwd: root, encoding: 'utf8', timeout: 120_000, env: { PATH: bin, IPKG_INSTROOT: root } },
  );
  const allowed = (p: string) =>
    p === busybox ||
    p === '/bin/busybox' ||
    p === '/bin/sh' ||
    p === '/dev/null' ||
    p === '/proc/self/exe' ||
    p.startsWith(`${bin}/`) ||
    p === root ||
    p.startsWith(`${root}/`);
  const outside = new Set<string>();
  for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []) {
    // "PID  syscall(args) = ret" (strace pads the PID), or the "<... syscall resumed>" half
    if (!line.trim() || /^\s*\d+\s+(---|\+\+\+) /.test(line)) continue; // signals, exits
    const m = /^\s*\d+\s+(?:<\.\.\. )?(\w+)(?: resumed>)?\(?(.*)$/.exec(line);
    if (!m) throw new Error(`unparsed strace line: ${line}`);
    if (m[1] === 'getcwd') continue; // its string is the result
    // path arguments: the quoted strings outside [...] argv arrays; a symlink's target is data
    let strs = [...m[2].replace(/\[[^\]]*\]/g, '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]);
    if (m[1] === 'symlink' || m[1] === 'symlinkat') strs = strs.slice(1);
    if (m[1] === 'readlink' || m[1] === 'readlinkat') strs = strs.slice(0, 1); // the second is the result
    for (const s of strs) if (s !== '' && !allowed(resolve(root, s))) outside.add(`${m[1]} ${s}`);
  }
  return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ?? ''}`, outside: [...outside].sort() };
}

function assertEnabled(root: string, what: string): void {
  assert.deepEqual(
    readdirSync(join(root, 'etc/rc.d')).sort(),
    ['K10edgewan', 'S95edgewan'],
    `${what}: the service is enabled in the root`,
  );
  for (const l of ['K10edgewan', 'S95edgewan'])
    assert.equal(readlinkSync(join(root, 'etc/rc.d', l)), '../init.d/edgewan');
}

function assertUser(root: string, what: string): void {
  assert.match(readFileSync(join(root, 'etc/group'), 'utf8'), /^edgewan:x:32768:edgewan$/m, `${what}: group`);
  assert.match(
    readFileSync(join(root, 'etc/passwd'), 'utf8'),
    /^edgewan:x:32768:32768:edgewan:\/var\/run\/edgewan:\/bin\/false$/m,
    `${what}: user`,
  );
}

/** Install, enable via the package's script, re-enable via Image Builder's loop, uninstall. */
function exercise(
  t: import('node:test').TestContext,
  what: string,
  env: { work: string; root: string; bin: string },
  post: string,
  pre: string,
): void {
  const { work, root, bin } = env;
  const inst = hostRun(root, bin, work, [post]);
  t.diagnostic(`${what}: ${post} exit ${inst.status}; paths outside the root: ${inst.outside.length}`);
  assert.equal(inst.status, 0, `${what}: ${post}:\n${inst.out}`);
  assert.deepEqual(inst.outside, [], `${what}: ${post} touched files outside the root:\n${inst.out}`);
  assertEnabled(root, `${what} ${post}`);
  assertUser(root, what);
  // Image Builder's prepare_rootfs loop: `$(command -v bash) ./etc/rc.common $script enable`
  for (const f of readdirSync(join(root, 'etc/rc.d'))) rmSync(join(root, 'etc/rc.d', f));
  const ib = hostRun(root, bin, work, ['./etc/rc.common', './etc/init.d/edgewan', 'enable']);
  assert.equal(ib.status, 0, `${what}: rc.common enable:\n${ib.out}`);
  assert.deepEqual(ib.outside, [], `${what}: rc.common enable touched files outside the root`);
  assertEnabled(root, `${what} rc.common enable`);
  const rm = hostRun(root, bin, work, [pre]);
  assert.equal(rm.status, 0, `${what}: ${pre}:\n${rm.out}`);
  assert.deepEqual(rm.outside, [], `${what}: ${pre} touched files outside the root`);
  assert.deepEqual(readdirSync(join(root, 'etc/rc.d')), [], `${what}: ${pre} disables the service`);
}

test('every .ipk installs into an offline root through busybox ash: the service is enabled, nothing outside the root is read', (t) => {
  if (!feeds) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  if (!ready(t)) return;
  const seen = new Set<string>();
  let n = 0;
  for (const rel of allIpks(feeds)) {
    const ipk = join(feeds, rel);
    const sum = createHash('sha256').update(readFileSync(ipk)).digest('hex');
    if (seen.has(sum)) continue; // edgewan-node: the same bytes in every feed
    seen.add(sum);
    const env = baseRoot();
    try {
      const info = join(env.root, 'usr/lib/opkg/info');
      mkdirSync(info, { recursive: true });
      // What opkg does for `opkg -o ROOT install`: data into the root, control files into
      // usr/lib/opkg/info/<pkg>.*, the file list (GNU tar lists the data) as <pkg>.list.
      const x = (args: string[]) => {
        const r = spawnSync('tar', args, { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      x(['-xzf', ipk, '-C', env.work, './data.tar.gz', './control.tar.gz']);
      x(['-xzf', join(env.work, 'data.tar.gz'), '-C', env.root]);
      const ctl = join(env.work, 'control');
      mkdirSync(ctl);
      x(['-xzf', join(env.work, 'control.tar.gz'), '-C', ctl]);
      const pkg = parseControl(readFileSync(join(ctl, 'control'), 'utf8')).Package;
      for (const f of readdirSync(ctl)) copyFileSync(join(ctl, f), join(info, `${pkg}.${f}`));
      for (const s of ['postinst', 'prerm']) chmodSync(join(info, `${pkg}.${s}`), 0o755);
      const list = x(['-tzf', join(env.work, 'data.tar.gz')])
        .split('\n')
        .filter((l) => l && !l.endsWith('/'))
        .map((l) => l.replace(/^\./, ''));
      writeFileSync(join(info, `${pkg}.list`), list.map((l) => `${l}\n`).join(''));
      exercise(t, rel, env, `./usr/lib/opkg/info/${pkg}.postinst`, `./usr/lib/opkg/info/${pkg}.prerm`);
      n++;
    } finally {
      rmSync(env.work, { recursive: true, force: true });
    }
  }
  assert.ok(n >= 2, 'edgewan and edgewan-node at least');
});

test('every .apk installs into an offline root through busybox ash: the service is enabled, nothing outside the root is read', (t) => {
  if (!ready(t)) return;
  const listFile = join(DIST, 'artifacts.json');
  if (!existsSync(listFile)) {
    unavailable(t, 'no dist/artifacts.json: run npm run build');
    return;
  }
  const apks = (JSON.parse(readFileSync(listFile, 'utf8')) as Artifact[]).filter((a) => a.type === 'apk');
  if (!apks.length) {
    unavailable(t, 'no apk artifacts in dist/artifacts.json: build with --target openwrt-25.12');
    return;
  }
  const seen = new Set<string>();
  for (const a of apks) {
    if (seen.has(a.sha256)) continue;
    seen.add(a.sha256);
    const buf = readFileSync(join(DIST, a.path));
    const d = decodeApk(buf);
    const contents = apkFileContents(buf);
    const env = baseRoot();
    try {
      // What `apk --root ROOT add` leaves: the files; OpenWRT's rootfs step then runs each
      // package's post-install from the root (lib/apk/packages) with IPKG_INSTROOT set.
      for (const f of d.files ?? []) {
        const p = join(env.root, f.path);
        mkdirSync(dirname(p), { recursive: true });
        if (f.type === 'symlink') symlinkSync(f.target!, p);
        else {
          writeFileSync(p, contents.get(f.path) ?? Buffer.alloc(0));
          chmodSync(p, f.mode);
        }
      }
      const scripts = d.root.scripts as Record<string, string>;
      const meta = join(env.root, 'lib/apk/packages');
      for (const s of ['post-install', 'pre-deinstall'])
        writeFileSync(join(meta, `edgewan.${s}`), scripts[s], { mode: 0o755 });
      exercise(
        t,
        a.path,
        env,
        './lib/apk/packages/edgewan.post-install',
        './lib/apk/packages/edgewan.pre-deinstall',
      );
    } finally {
      rmSync(env.work, { recursive: true, force: true });
    }
  }
});

test('the test can fail: an init script sourcing a host path is caught (exit 2 under ash, not enabled, read outside the root)', (t) => {
  if (!ready(t)) return;
  const env = baseRoot();
  try {
    mkdirSync(join(env.root, 'etc/init.d'), { recursive: true });
    mkdirSync(join(env.root, 'usr/share/demo'), { recursive: true });
    writeFileSync(join(env.root, 'usr/share/demo/lib.sh'), 'demo_lib=1\n');
    writeFileSync(
      join(env.root, 'etc/init.d/demo'),
      '#!/bin/sh /etc/rc.common\nSTART=50\n. /usr/share/demo/lib.sh\n',
      { mode: 0o755 },
    );
    const r = hostRun(env.root, env.bin, env.work, ['./etc/rc.common', './etc/init.d/demo', 'enable']);
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /can't open '\/usr\/share\/demo\/lib\.sh'/);
    assert.deepEqual(readdirSync(join(env.root, 'etc/rc.d')), []);
    assert.deepEqual(r.outside, ['openat /usr/share/demo/lib.sh']);
  } finally {
    rmSync(env.work, { recursive: true, force: true });
  }
});
