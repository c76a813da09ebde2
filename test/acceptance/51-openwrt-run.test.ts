// The edgewan executable from each OpenWRT package runs in a root that holds ONLY the
// package's files (no glibc but its private set) plus a static busybox: x86_64 natively,
// aarch64 and arm under qemu-user with explicit CPUs (cortex-a53; cortex-a7 and cortex-a9,
// since qemu's default CPU hides missing instructions). The procd init script runs
// under stand-ins that follow procd.sh's function names and records what it would send.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Arch } from '../../targets/arch.ts';
import { needRoot, needTool, unavailable } from '../helpers/tools.ts';
const STUBS = join(import.meta.dirname, '5x-openwrt-stubs');
import {
  chrootRun,
  cleanup,
  feedsRoot,
  glibcFiles,
  ipkFor,
  makeRunnable,
  procdLog,
  unpackIpk,
} from './5x-openwrt-harness.ts';

let feed: string | undefined;
before(async () => {
  feed = await feedsRoot();
});

const CASES: { arch: Arch; name: string; cpu?: string; machine: string }[] = [
  { arch: 'x64', name: 'x86_64', machine: 'x64' },
  { arch: 'arm64', name: 'aarch64_cortex-a53', cpu: 'cortex-a53', machine: 'arm64' },
  { arch: 'armv7', name: 'arm_cortex-a7_neon-vfpv4', cpu: 'cortex-a7', machine: 'arm' },
  { arch: 'armv7', name: 'arm_cortex-a9_neon', cpu: 'cortex-a9', machine: 'arm' },
];

for (const c of CASES) {
  test(`${c.name}${c.cpu ? ` (QEMU_CPU=${c.cpu})` : ''}: --version and check-config with no system glibc`, (t) => {
    if (
      !needRoot(t) ||
      !needTool(t, 'busybox', 'busybox-static') ||
      (c.arch !== 'x64' &&
        !needTool(t, `qemu-${c.machine === 'arm64' ? 'aarch64' : 'arm'}-static`, 'qemu-user-static'))
    )
      return;
    if (!feed) {
      unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
      return;
    }
    const ipk = ipkFor(feed, 'edgewan', c.name);
    if (!ipk) {
      unavailable(t, `no edgewan package for ${c.name} in dist/ (${c.arch} not built)`);
      return;
    }
    const u = unpackIpk(ipk);
    try {
      makeRunnable(u.root, c.arch);
      assert.deepEqual(
        glibcFiles(u.root).sort(),
        [
          `/usr/lib/edgewan/glibc/${c.arch === 'x64' ? 'ld-linux-x86-64.so.2' : c.arch === 'arm64' ? 'ld-linux-aarch64.so.1' : 'ld-linux-armhf.so.3'}`,
          '/usr/lib/edgewan/glibc/libc.so.6',
        ].sort(),
      );
      const env: Record<string, string> = c.cpu ? { QEMU_CPU: c.cpu } : {};
      const v = chrootRun(u.root, ['/usr/bin/edgewan', '--version'], env);
      assert.equal(v.status, 0, `--version: ${v.stderr} ${v.signal ?? ''}`);
      assert.match(v.stdout, new RegExp(`\\b${c.machine}\\b`), v.stdout);
      // The shipped UCI file, translated by the shipped init script, passes the real check-config.
      const tr = chrootRun(u.root, ['/bin/sh', '/etc/rc.common', '/etc/init.d/edgewan', 'translate'], env);
      assert.equal(tr.status, 0, tr.stderr);
      writeFileSync(join(u.root, 'tmp/edgewan.json'), tr.stdout);
      const cc = chrootRun(u.root, ['/usr/bin/edgewan', 'check-config', '/tmp/edgewan.json'], env);
      assert.equal(cc.status, 0, `check-config: ${cc.stdout}${cc.stderr}`);
      if (c.arch === 'x64') {
        // one arch is enough for the engine's own refusal (qemu runs are slow)
        writeFileSync(join(u.root, 'tmp/bad.json'), '{"role":"hub"}');
        const bad = chrootRun(u.root, ['/usr/bin/edgewan', 'check-config', '/tmp/bad.json'], env);
        assert.equal(bad.status, 78, `a bad config exits 78: ${bad.stderr}`);
      }
    } finally {
      cleanup(u.work);
    }
  });
}

// One unpacked x86_64 root for the init-script tests (unpacking 100+ MB per test is slow);
// each test starts from the shipped UCI file and an empty procd log.
let shared: { root: string; work: string; uci: string } | undefined;
after(() => {
  if (shared) cleanup(shared.work);
});

function initRoot(t: import('node:test').TestContext) {
  if (!needRoot(t) || !needTool(t, 'busybox', 'busybox-static')) return undefined;
  if (!shared) {
    const ipk = feed && ipkFor(feed, 'edgewan', 'x86_64');
    if (!ipk) {
      unavailable(t, 'no x86_64 edgewan package in dist/ (x64 not built)');
      return undefined;
    }
    const u = unpackIpk(ipk);
    makeRunnable(u.root, 'x64');
    shared = { ...u, uci: readFileSync(join(u.root, 'etc/config/edgewan'), 'utf8') };
  }
  writeFileSync(join(shared.root, 'etc/config/edgewan'), shared.uci);
  rmSync(join(shared.root, 'tmp/procd.log'), { force: true });
  rmSync(join(shared.root, 'var/etc/edgewan'), { recursive: true, force: true });
  return shared;
}

const start = (root: string) =>
  chrootRun(root, ['/bin/sh', '/etc/rc.common', '/etc/init.d/edgewan', 'start']);

test('procd init: command, user, env heap cap, respawn, term_timeout, reload signal and trigger', (t) => {
  const u = initRoot(t);
  if (!u) return;
  const r = start(u.root);
  assert.equal(r.status, 0, r.stderr);
  const log = procdLog(u.root);
  assert.match(log, /^open_instance instance1$/m);
  assert.match(log, /^param command \/usr\/bin\/edgewan run --config \/var\/etc\/edgewan\/edgewan\.json$/m);
  assert.match(log, /^param user edgewan$/m);
  assert.match(log, /^param env NODE_OPTIONS=--max-old-space-size=64 --max-semi-space-size=4$/m);
  assert.match(log, /^param respawn 300 5 5$/m);
  assert.match(log, /^param term_timeout 10$/m);
  assert.match(log, /^param reload_signal 1$/m);
  assert.match(log, /^trigger config\.change edgewan$/m);
  assert.doesNotMatch(log, /capabilities|limits|BAD/);
  assert.match(log, /^rc=0$/m);
  const conf = JSON.parse(readFileSync(join(u.root, 'var/etc/edgewan/edgewan.json'), 'utf8'));
  assert.equal(conf.stateDir, '/tmp/edgewan');
  // The translated config may hold the PSK and admin token: root and the service group only.
  const js = statSync(join(u.root, 'var/etc/edgewan/edgewan.json'));
  assert.deepEqual([js.mode & 0o777, js.uid, js.gid], [0o640, 0, 32768]);
  const sd = statSync(join(u.root, 'tmp/edgewan'));
  assert.deepEqual(
    [sd.mode & 0o777, sd.uid, sd.gid],
    [0o750, 32768, 32768],
    'state dir owned by the service user',
  );
});

test('procd init: UCI memory_max, grace_s and DNS on port 53 reach procd', (t) => {
  const u = initRoot(t);
  if (!u) return;
  const cfg = join(u.root, 'etc/config/edgewan');
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8')
      .replace("'128MiB'", "'256MiB'")
      .replace("grace_s '5'", "grace_s '10'")
      .replace("option dns '0'", "option dns '1'")
      .replace("'127.0.0.1:5353'", "'127.0.0.1:53'"),
  );
  const r = start(u.root);
  assert.equal(r.status, 0, r.stderr);
  const log = procdLog(u.root);
  assert.match(log, /^param env NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=8$/m);
  assert.match(log, /^param term_timeout 15$/m);
  assert.match(log, /^param capabilities \/etc\/capabilities\/edgewan\.json$/m);
  assert.deepEqual(JSON.parse(readFileSync(join(u.root, 'etc/capabilities/edgewan.json'), 'utf8')).ambient, [
    'CAP_NET_BIND_SERVICE',
  ]);
});

test('uci-defaults creates the key directory for the service group; keep.d keeps config and keys, not the cache', (t) => {
  const u = initRoot(t);
  if (!u) return;
  const r = chrootRun(u.root, ['/bin/sh', '/etc/uci-defaults/90-edgewan']);
  assert.equal(r.status, 0, r.stderr);
  const st = statSync(join(u.root, 'etc/edgewan/keys'));
  assert.equal(st.mode & 0o777, 0o750);
  assert.equal(st.uid, 0);
  assert.equal(st.gid, 32768, 'group edgewan from /etc/group');
  const keep = readFileSync(join(u.root, 'lib/upgrade/keep.d/edgewan'), 'utf8').trim().split('\n');
  assert.deepEqual(keep, ['/etc/config/edgewan', '/etc/edgewan/']);
});

test('reload: a good UCI edit re-registers (procd then sends HUP); a bad one leaves the running service alone', (t) => {
  const u = initRoot(t);
  if (!u) return;
  const cfg = join(u.root, 'etc/config/edgewan');
  assert.equal(start(u.root).status, 0);
  const reload = () => chrootRun(u.root, ['/bin/sh', '/etc/rc.common', '/etc/init.d/edgewan', 'reload']);
  writeFileSync(cfg, shared!.uci.replace("option log_level 'info'", "option log_level 'debug'"));
  rmSync(join(u.root, 'tmp/procd.log'));
  let r = reload();
  assert.equal(r.status, 0, r.stderr);
  assert.match(procdLog(u.root), /^open_instance instance1$/m);
  assert.equal(
    JSON.parse(readFileSync(join(u.root, 'var/etc/edgewan/edgewan.json'), 'utf8')).log.level,
    'debug',
  );
  writeFileSync(cfg, shared!.uci.replace("option log_level 'info'", "option log_level 'chatty'"));
  rmSync(join(u.root, 'tmp/procd.log'));
  r = reload();
  assert.equal(procdLog(u.root), 'rc=1\n', 'no message to procd at all: the running instance is untouched');
  assert.match(r.stderr, /edgewan\.main\.log_level='chatty'[\s\S]*reload refused/);
  assert.equal(
    JSON.parse(readFileSync(join(u.root, 'var/etc/edgewan/edgewan.json'), 'utf8')).log.level,
    'debug',
    'previous config kept',
  );
});

test('procd init refuses to start (no instance to respawn) on a bad UCI value or a failing check-config', (t) => {
  const u = initRoot(t);
  if (!u) return;
  const cfg = join(u.root, 'etc/config/edgewan');
  const good = readFileSync(cfg, 'utf8');
  writeFileSync(cfg, good.replace("option role 'edge'", "option role 'hub'"));
  let r = start(u.root);
  let log = procdLog(u.root);
  assert.doesNotMatch(log, /open_instance/);
  assert.match(log, /^rc=1$/m);
  assert.match(r.stderr, /invalid UCI option edgewan\.main\.role='hub': use one of: edge core/);
  // A value the translator accepts but the engine does not: the real check-config decides.
  writeFileSync(cfg, good);
  writeFileSync(join(u.root, 'tmp/procd.log'), '');
  const exe = join(u.root, 'usr/bin/edgewan');
  writeFileSync(
    exe,
    '#!/bin/sh\n[ "$1" = check-config ] && { echo "stand-in: /memory/limit invalid" >&2; exit 78; }\nexit 0\n',
  );
  chmodSync(exe, 0o755);
  r = start(u.root);
  log = procdLog(u.root);
  assert.doesNotMatch(log, /open_instance/);
  assert.match(log, /^rc=1$/m);
  assert.match(r.stderr, /not started: .*invalid: stand-in: \/memory\/limit invalid/);
});

test('edgewan-node: the packaged bundle runs --version and check-config on Node 20 (the 24.10 feed ships node 20.20.2)', (t) => {
  if (!feed) {
    unavailable(t, 'no OpenWRT feed in dist/: run npm run build');
    return;
  }
  const ipk = ipkFor(feed, 'edgewan-node', 'all');
  assert.ok(ipk);
  const u = unpackIpk(ipk);
  try {
    // The wrapper is what procd runs; it must point at the bundle the package ships.
    assert.equal(
      readFileSync(join(u.root, 'usr/bin/edgewan'), 'utf8'),
      '#!/bin/sh\nexec /usr/bin/node /usr/lib/edgewan/edgewan.cjs "$@"\n',
    );
    const bundle = join(u.root, 'usr/lib/edgewan/edgewan.cjs');
    const v = spawnSync(process.execPath, [bundle, '--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /\d+\.\d+\.\d+/);
    const uci = spawnSync(
      'sh',
      [
        '-c',
        `. ${STUBS}/functions.sh; logger() { :; }; . ${u.root}/usr/share/edgewan/uci2json.sh; uci2json_load edgewan && uci2json_write -`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, UCI_CONFIG_DIR: join(u.root, 'etc/config') } },
    );
    assert.equal(uci.status, 0, uci.stderr);
    writeFileSync(join(u.work, 'edgewan.json'), uci.stdout);
    const cc = spawnSync(process.execPath, [bundle, 'check-config', join(u.work, 'edgewan.json')], {
      encoding: 'utf8',
    });
    assert.equal(cc.status, 0, cc.stdout + cc.stderr);
  } finally {
    cleanup(u.work);
  }
});
