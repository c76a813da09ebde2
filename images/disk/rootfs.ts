// The image's base (UEFI) root: mmdebstrap (docs/platform-notes.md §3), cached under
// ${cacheDir}/rootfs/disk-<suite>-<arch>-<key> like test/helpers/rootfs.ts, the key being a
// hash of every input (suite, arch, mirror, package set, dpkg filters, recipe version). The
// cached tree holds only Debian's packages; our .deb goes into a private copy per build, so
// a new engine build never rebuilds the ~5–15 min root. Needs root (chroot, device nodes).
// The initramfs is built exactly once, at the end, with a short module list (files/initramfs.*):
// during the package installation update-initramfs is diverted to a no-op, because the
// kernel's postinst and the initramfs-tools trigger each ran mkinitramfs (MODULES=most), ~25
// min apiece under qemu-user for arm64.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDefinition } from './definition.ts';
import { DiskError } from './errors.ts';
import { publishRoot, removeRootTree } from './root-tree.ts';
import { sha256 } from '../../targets/formats/hash.ts';

// Bump when the recipe below changes in a way the key does not capture.
const RECIPE = 2;
const FILES = join(import.meta.dirname, 'files');
const INITRAMFS_CONF = join(FILES, 'initramfs.conf');
const INITRAMFS_HOOK = join(FILES, 'initramfs-hook.sh');
// The cached root is made with this fixed epoch so its key does not depend on the build's
// SOURCE_DATE_EPOCH; the image step clamps every newer mtime to the build's epoch.
export const ROOT_EPOCH = 1700000000;

/** What the Pi layer (rpi-root.ts) installs on top of its UEFI twin's packages. */
export const PI_LAYER = ['raspi-firmware', 'systemd-timesyncd'];

/** What every branch box needs to boot from UEFI and run our package (its Depends); a Pi root adds PI_LAYER. */
export function basePackages(debArch: string): string[] {
  return [
    'systemd',
    'systemd-sysv',
    'udev',
    'dbus',
    'initramfs-tools',
    `linux-image-${debArch}`,
    `grub-efi-${debArch}-bin`,
    'e2fsprogs',
    'fdisk',
    'adduser',
    'init-system-helpers',
    'libc6',
    'libgcc-s1',
    'libstdc++6',
  ];
}

// Docs, man pages and translations are dead weight on a headless box (copyright stays).
const DPKG_OPTS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/info/*',
];

export interface RootSpec {
  suite: string;
  debArch: string;
  mirror: string;
  packages: string[];
  sources: string[];
}

export function rootSpec(d: ImageDefinition): RootSpec {
  const packages = [
    ...new Set([...basePackages(d.debArch), ...d.packages, ...(d.board === 'rpi' ? PI_LAYER : [])]),
  ].sort();
  // raspi-firmware (the Pi's GPU firmware and boot loader) is in non-free-firmware
  // (docs/platform-notes.md §7)
  const comps = d.board === 'rpi' ? 'main non-free-firmware' : 'main';
  const sources = [`deb ${d.mirror} ${d.suite} ${comps}`, `deb ${d.mirror} ${d.suite}-updates ${comps}`];
  return { suite: d.suite, debArch: d.debArch, mirror: d.mirror, packages, sources };
}

export function rootKey(s: RootSpec): string {
  const initramfs = createHash('sha256')
    .update(readFileSync(INITRAMFS_CONF))
    .update(readFileSync(INITRAMFS_HOOK))
    .digest('hex');
  const canon = JSON.stringify({ RECIPE, ROOT_EPOCH, DPKG_OPTS, ...s, variant: 'minbase', initramfs });
  return `disk-${s.suite}-${s.debArch}-${sha256(canon).slice(0, 16)}`;
}

export const UPDATE_INITRAMFS = '/usr/sbin/update-initramfs';

/**
 * mmdebstrap hooks (shell, $1 = the root): divert update-initramfs to a no-op before the
 * non-essential packages are installed, then restore it, add our initramfs config and build
 * one initramfs per installed kernel (raspi-firmware's post-update hook then fills
 * /boot/firmware). Hook paths are the repo's files; their contents are part of the key.
 */
function initramfsOnce(): string[] {
  const q = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  return [
    `--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --divert ${UPDATE_INITRAMFS}.edgewan-image --add ${UPDATE_INITRAMFS}` +
      ` && printf '#!/bin/sh\\nexit 0\\n' > "$1${UPDATE_INITRAMFS}" && chmod 0755 "$1${UPDATE_INITRAMFS}"`,
    `--customize-hook=install -m 0644 ${q(INITRAMFS_CONF)} "$1/etc/initramfs-tools/conf.d/edgewan-image"` +
      ` && install -m 0755 ${q(INITRAMFS_HOOK)} "$1/etc/initramfs-tools/hooks/edgewan-image"`,
    `--customize-hook=rm -f "$1${UPDATE_INITRAMFS}" && chroot "$1" dpkg-divert --quiet --local --rename --remove ${UPDATE_INITRAMFS}`,
    '--customize-hook=for v in $(ls "$1/lib/modules"); do chroot "$1" update-initramfs -c -k "$v" || exit 1; done',
  ];
}

/** The cached base root for a UEFI definition, built when absent. Returns its path (roots.ts picks base or Pi). */
export function cachedBaseRoot(d: ImageDefinition, cacheDir: string, log: (s: string) => void): string {
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
  log(
    `disk: building the ${spec.debArch} root with mmdebstrap (${spec.packages.length} packages; several minutes, cached afterwards)`,
  );
  const args = [
    '--variant=minbase',
    `--architectures=${spec.debArch}`,
    `--include=${spec.packages.join(',')}`,
    ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
    ...initramfsOnce(),
    spec.suite,
    tmp,
    ...spec.sources,
  ];
  const r = spawnSync('mmdebstrap', args, {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, SOURCE_DATE_EPOCH: String(ROOT_EPOCH), LC_ALL: 'C.UTF-8' },
  });
  if (r.status !== 0) {
    removeRootTree(tmp);
    const err = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
    const missing = [...err.matchAll(/Unable to locate package (\S+)/g)].map((m) => m[1]);
    if (missing.length) {
      const idx = missing
        .map((p) => d.packages.indexOf(p))
        .map((i, n) => (i >= 0 ? `/packages/${i}` : `(base package ${missing[n]})`));
      throw new DiskError(
        'EDGEWAN_ERR_DISK_PACKAGE',
        `${d.file}: ${idx.join(', ')}: unknown Debian package ${missing.map((m) => `"${m}"`).join(', ')} in ${spec.suite}/${spec.debArch} (check the name with apt-cache policy; the root was not built)`,
      );
    }
    throw new DiskError(
      'EDGEWAN_ERR_DISK_ROOTFS',
      `mmdebstrap ${spec.suite} ${spec.debArch} failed (exit ${r.status ?? r.signal}); root needed, binfmt qemu-aarch64 for arm64:\n${err.slice(-3000)}`,
    );
  }
  return publishRoot(tmp, dir, rootKey(spec));
}
