// The image's base root: mmdebstrap (FACTS §3), cached under
// ${cacheDir}/rootfs/disk-<suite>-<arch>-<key> like test/helpers/rootfs.ts, the key being a
// hash of every input (suite, arch, mirror, package set, dpkg filters, recipe version). The
// cached tree holds only Debian's packages; our .deb goes into a private copy per build, so
// a new engine build never rebuilds the ~5–15 min root. Needs root (chroot, device nodes).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDefinition } from './definition.ts';
import { DiskError } from './errors.ts';
import { publishRoot, removeRootTree } from './root-tree.ts';

// Bump when the recipe below changes in a way the key does not capture.
const RECIPE = 1;
// The cached root is made with this fixed epoch so its key does not depend on the build's
// SOURCE_DATE_EPOCH; the image step clamps every newer mtime to the build's epoch.
export const ROOT_EPOCH = 1700000000;

/** What every branch box needs to boot from UEFI and run our package (its Depends). */
export function basePackages(debArch: string): string[] {
  return ['systemd', 'systemd-sysv', 'udev', 'dbus', 'initramfs-tools', `linux-image-${debArch}`,
    `grub-efi-${debArch}-bin`, 'e2fsprogs', 'fdisk', 'adduser', 'init-system-helpers', 'libc6', 'libgcc-s1', 'libstdc++6'];
}

// Docs, man pages and translations are dead weight on a headless box (copyright stays).
const DPKG_OPTS = ['path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright', 'path-exclude=/usr/share/locale/*', 'path-exclude=/usr/share/info/*'];

export interface RootSpec { suite: string; debArch: string; mirror: string; packages: string[]; sources: string[] }

export function rootSpec(d: ImageDefinition): RootSpec {
  const packages = [...new Set([...basePackages(d.debArch), ...d.packages])].sort();
  const sources = [`deb ${d.mirror} ${d.suite} main`, `deb ${d.mirror} ${d.suite}-updates main`];
  return { suite: d.suite, debArch: d.debArch, mirror: d.mirror, packages, sources };
}

export function rootKey(s: RootSpec): string {
  const canon = JSON.stringify({ RECIPE, ROOT_EPOCH, DPKG_OPTS, ...s, variant: 'minbase' });
  return `disk-${s.suite}-${s.debArch}-${createHash('sha256').update(canon).digest('hex').slice(0, 16)}`;
}

/** The cached root for the definition, built when absent. Returns its path. */
export function cachedRoot(d: ImageDefinition, cacheDir: string, log: (s: string) => void): string {
  const spec = rootSpec(d);
  const parent = join(cacheDir, 'rootfs');
  const dir = join(parent, rootKey(spec));
  if (existsSync(join(dir, '.complete'))) {
    log(`disk: cached root ${dir}`);
    return dir;
  }
  mkdirSync(parent, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  removeRootTree(tmp);
  log(`disk: building the ${spec.debArch} root with mmdebstrap (${spec.packages.length} packages; several minutes, cached afterwards)`);
  const args = ['--variant=minbase', `--architectures=${spec.debArch}`, `--include=${spec.packages.join(',')}`,
    ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`), spec.suite, tmp, ...spec.sources];
  const r = spawnSync('mmdebstrap', args, { encoding: 'utf8', maxBuffer: 256 << 20,
    env: { ...process.env, SOURCE_DATE_EPOCH: String(ROOT_EPOCH), LC_ALL: 'C.UTF-8' } });
  if (r.status !== 0) {
    removeRootTree(tmp);
    const err = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
    const missing = [...err.matchAll(/Unable to locate package (\S+)/g)].map((m) => m[1]);
    if (missing.length) {
      const idx = missing.map((p) => d.packages.indexOf(p)).map((i, n) => (i >= 0 ? `/packages/${i}` : `(base package ${missing[n]})`));
      throw new DiskError('PACKAGE', `${d.file}: ${idx.join(', ')}: unknown Debian package ${missing.map((m) => `"${m}"`).join(', ')} in ${spec.suite}/${spec.debArch} (check the name with apt-cache policy; the root was not built)`);
    }
    throw new DiskError('ROOTFS', `mmdebstrap ${spec.suite} ${spec.debArch} failed (exit ${r.status ?? r.signal}); root needed, binfmt qemu-aarch64 for arm64:\n${err.slice(-3000)}`);
  }
  return publishRoot(tmp, dir, rootKey(spec));
}
