// Cached Debian roots for acceptance tests (docs/platform-notes.md §3: mmdebstrap takes ~150 s
// per root, so a run builds each root at most once and later runs reuse it). A root is cached
// under ${XDG_CACHE_HOME:-~/.cache}/edgewan/rootfs/<key>, the key being a hash of everything
// that goes into it (suite, arch, variant, sources, package list, recipe version). Tests never
// touch the cached tree: they get a private copy (cp -a --reflink=auto) and delete it after.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishRoot, removeRootTree } from '../../images/disk/root-tree.ts';

export interface RootfsSpec {
  /** dpkg architecture */
  arch: 'arm64' | 'armhf' | 'amd64';
  suite: string;
  /** apt source lines (one-line format) */
  sources: readonly string[];
  /** extra packages preinstalled so tests need no mirror after the root is made */
  include: readonly string[];
}

const MIRROR = 'http://deb.debian.org/debian';
// Bump when the recipe below changes in a way the key does not capture.
const RECIPE = 1;

/** bookworm arm64: what our arm64 .deb depends on, so `apt-get install` needs only our repo. */
export const ARM64_ROOT: RootfsSpec = {
  arch: 'arm64',
  suite: 'bookworm',
  sources: [`deb ${MIRROR} bookworm main`, `deb ${MIRROR} bookworm-updates main`],
  include: ['adduser', 'init-system-helpers', 'libc6', 'libgcc-s1', 'libstdc++6'],
};

/** bookworm armhf with Debian's nodejs 18: only bookworm and bookworm-updates (docs/platform-notes.md §3) */
export const ARMHF_NODE_ROOT: RootfsSpec = {
  arch: 'armhf',
  suite: 'bookworm',
  sources: [`deb ${MIRROR} bookworm main`, `deb ${MIRROR} bookworm-updates main`],
  include: ['adduser', 'init-system-helpers', 'nodejs'],
};

/**
 * bookworm amd64 booted with systemd as PID 1 (in podman, test/acceptance/43-deb-resolved):
 * systemd-resolved and dig for the DNS coexistence test, nftables and conntrack for the
 * transparent interception test (44-deb-intercept), and what our amd64 .deb depends on.
 */
export const AMD64_SYSTEMD_ROOT: RootfsSpec = {
  arch: 'amd64',
  suite: 'bookworm',
  sources: [`deb ${MIRROR} bookworm main`, `deb ${MIRROR} bookworm-updates main`],
  include: [
    'adduser',
    'bind9-dnsutils',
    'conntrack',
    'dbus',
    'init-system-helpers',
    'libc6',
    'libgcc-s1',
    'libstdc++6',
    'nftables',
    'systemd',
    'systemd-resolved',
    'systemd-sysv',
  ],
};

export function rootfsCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'edgewan', 'rootfs');
}

export function rootfsKey(spec: RootfsSpec): string {
  const canon = JSON.stringify({
    RECIPE,
    arch: spec.arch,
    suite: spec.suite,
    sources: spec.sources,
    include: [...spec.include].sort(),
    variant: 'minbase',
  });
  return `${spec.suite}-${spec.arch}-${createHash('sha256').update(canon).digest('hex').slice(0, 16)}`;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(
      `${what} failed (exit ${r.status ?? r.signal}): ${cmd} ${args.join(' ')}\n${(r.stderr || '').slice(-4000)}`,
    );
  }
}

/** Path of the cached root for spec, building it with mmdebstrap when absent (needs root). */
export function cachedRootfs(spec: RootfsSpec): string {
  const dir = join(rootfsCacheDir(), rootfsKey(spec));
  if (existsSync(join(dir, '.complete'))) return dir;
  mkdirSync(rootfsCacheDir(), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  removeRootTree(tmp);
  run(
    'mmdebstrap',
    [
      '--variant=minbase',
      `--architectures=${spec.arch}`,
      `--include=${spec.include.join(',')}`,
      // mmdebstrap drops apt's lists and archives at the end: the cached root stays small
      spec.suite,
      tmp,
      ...spec.sources,
    ],
    `mmdebstrap ${spec.suite} ${spec.arch}`,
  );
  return publishRoot(tmp, dir, rootfsKey(spec));
}

export interface RootCopy {
  dir: string;
  /** run a command inside the root (chroot; foreign arches run through binfmt qemu) */
  chroot(
    args: string[],
    env?: Record<string, string>,
  ): { status: number | null; stdout: string; stderr: string };
  cleanup(): void;
}

/** A private, writable copy of the cached root for one test file. */
export function copyRootfs(spec: RootfsSpec): RootCopy {
  const src = cachedRootfs(spec);
  const parent = mkdtempSync(join(tmpdir(), 'ewE-root-'));
  const dir = join(parent, 'root');
  run('cp', ['-a', '--reflink=auto', src, dir], 'copying the cached root');
  return {
    dir,
    chroot(args, env = {}) {
      const r = spawnSync('chroot', [dir, ...args], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        env: {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          LC_ALL: 'C.UTF-8',
          DEBIAN_FRONTEND: 'noninteractive',
          ...env,
        },
      });
      return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    cleanup() {
      removeRootTree(parent);
    },
  };
}
