// Helpers for the OpenWRT acceptance tests: find (or, outside CI, make) the real .ipk
// packages (dist/openwrt/24.10/<arch>/, one feed per OpenWRT arch), unpack one into a root
// that holds ONLY the package's files plus a static busybox and the procd/UCI stand-ins
// (test/acceptance/5x-openwrt-stubs), and run commands in it with chroot — foreign arches
// through qemu-user with an explicit QEMU_CPU (qemu's default CPU would hide instructions
// the router's CPU lacks).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, type Arch } from '../../targets/arch.ts';
import { ALL_FEED, FEED_DIR, openwrtIpkTarget } from '../../targets/openwrt-24.10/index.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DIST = join(ROOT, 'dist');
const STUBS = join(import.meta.dirname, '5x-openwrt-stubs');

/** The feeds root of the real build; outside CI it is built here from dist/bin when missing. */
export async function feedsRoot(): Promise<string | undefined> {
  const dir = join(DIST, FEED_DIR);
  if (existsSync(join(dir, ALL_FEED, 'Packages'))) return dir;
  if (process.env.CI)
    throw new Error(`${dir}/${ALL_FEED}/Packages missing: the build stage must write the OpenWRT feeds`);
  const exes: Partial<Record<Arch, string>> = {};
  for (const a of ALL_ARCHES) {
    const p = join(DIST, 'bin', ARCHES[a].executable);
    if (existsSync(p)) exes[a] = p;
  }
  if (!Object.keys(exes).length) return undefined;
  const { prepareGlibc } = await import('../../scripts/glibc.ts');
  const { defaultCacheDir } = await import('../../scripts/glibc.ts');
  const { standInInputs } = await import('../unit/openwrt-fixture.ts');
  // Reused across test files while dist/bin is unchanged (local runs only; CI uses dist/).
  const stamp = createHash('sha256')
    .update(JSON.stringify(Object.values(exes).map((p) => [p, statSync(p).mtimeMs, statSync(p).size])))
    .digest('hex')
    .slice(0, 16);
  const out = join(tmpdir(), `edgewan-openwrt-test-${stamp}`);
  if (existsSync(join(out, FEED_DIR, ALL_FEED, 'Packages'))) return join(out, FEED_DIR);
  const inputs = {
    ...standInInputs({ outDir: out }),
    executables: exes,
    glibc: {} as Partial<Record<Arch, string>>,
  };
  if (existsSync(join(DIST, 'bin/edgewan.cjs'))) {
    inputs.bundle = join(DIST, 'bin/edgewan.cjs');
    inputs.licenses = `${inputs.bundle}.LICENSES.txt`;
  }
  for (const a of Object.keys(exes) as Arch[])
    inputs.glibc[a] = (await prepareGlibc(a, defaultCacheDir())).dir;
  await openwrtIpkTarget.build(inputs);
  return join(out, FEED_DIR);
}

/** Every arch feed directory under the root (and all/), sorted. */
export function feedDirs(root: string): string[] {
  return readdirSync(root)
    .filter((n) => existsSync(join(root, n, 'Packages')))
    .sort()
    .map((n) => join(root, n));
}

/** Every .ipk of every feed, as paths relative to the root (<feed>/<file>), sorted. */
export function allIpks(root: string): string[] {
  return feedDirs(root)
    .flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.ipk'))
        .map((f) => join(d.slice(root.length + 1), f)),
    )
    .sort();
}

/** The package for an OpenWRT arch name from that arch's feed (`all`: from the all/ feed). */
export function ipkFor(root: string, pkg: string, archName: string): string | undefined {
  const dir = join(root, archName === 'all' ? ALL_FEED : archName);
  const f = existsSync(dir)
    ? readdirSync(dir).find((n) => n.startsWith(`${pkg}_`) && n.endsWith(`_${archName}.ipk`))
    : undefined;
  return f && join(dir, f);
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Unpack with the system tar (which also proves tar reads our archives). */
export function unpackIpk(ipk: string): { root: string; control: string; work: string } {
  const work = mkdtempSync(join(tmpdir(), 'ewF-root-'));
  const root = join(work, 'root');
  const ctl = join(work, 'control');
  mkdirSync(root);
  mkdirSync(ctl);
  sh('tar', ['-xzf', ipk, '-C', work, './debian-binary', './data.tar.gz', './control.tar.gz']);
  sh('tar', ['-xzf', join(work, 'data.tar.gz'), '-C', root]);
  sh('tar', ['-xzf', join(work, 'control.tar.gz'), '-C', ctl]);
  return { root, control: ctl, work };
}

/** Add a static busybox, the stand-ins, device nodes and the qemu interpreter to a root. */
export function makeRunnable(root: string, arch: Arch): void {
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'tmp',
    'dev',
    'proc',
    'lib/functions',
    'var/etc',
    'usr/libexec/qemu-binfmt',
  ])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  sh('chroot', [root, '/bin/busybox', '--install', '-s']);
  copyFileSync(join(STUBS, 'rc.common'), join(root, 'etc/rc.common'));
  copyFileSync(join(STUBS, 'functions.sh'), join(root, 'lib/functions.sh'));
  copyFileSync(join(STUBS, 'procd.sh'), join(root, 'lib/functions/procd.sh'));
  // busybox's own logger runs (its shell prefers applets); with -s it also prints to stderr.
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nedgewan:x:32768:32768:edgewan:/var/run/edgewan:/bin/false\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nedgewan:x:32768:edgewan\n');
  spawnSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  spawnSync('mknod', ['-m', '666', join(root, 'dev/urandom'), 'c', '1', '9']);
  const q = ARCHES[arch].qemu;
  if (arch !== 'x64') {
    const bin = arch === 'arm64' ? 'aarch64' : 'arm';
    copyFileSync(`/usr/bin/${q}`, join(root, `usr/libexec/qemu-binfmt/${bin}-binfmt-P`));
    copyFileSync(`/usr/bin/${q}`, join(root, `usr/bin/${q}`));
  }
}

/** Every path of a glibc loader or libc in the root (only the package's private set may exist). */
export function glibcFiles(root: string): string[] {
  const out = sh('find', [root, '(', '-name', 'libc.so*', '-o', '-name', 'ld-linux*', ')']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((p) => p.slice(root.length));
}

/** chroot with /proc mounted for the run; env is the whole environment inside. */
export function chrootRun(
  root: string,
  argv: string[],
  env: Record<string, string> = {},
): SpawnSyncReturns<string> {
  const proc = join(root, 'proc');
  const mounted = spawnSync('mount', ['-t', 'proc', 'proc', proc]).status === 0;
  try {
    return spawnSync('chroot', [root, ...argv], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    });
  } finally {
    if (mounted) spawnSync('umount', [proc]);
  }
}

export const procdLog = (root: string) =>
  existsSync(join(root, 'tmp/procd.log')) ? readFileSync(join(root, 'tmp/procd.log'), 'utf8') : '';
export const cleanup = (work: string) => rmSync(work, { recursive: true, force: true });
