// The Raspberry Pi image's root, cached like every root but built as a layer: a copy of the
// root its UEFI twin would get (same suite, arch, packages — shared with branch-box-arm64
// when the package lists match), plus Debian's raspi-firmware (non-free-firmware) and
// systemd-timesyncd (a Pi has no real-time clock). A second mmdebstrap of the same arm64
// packages cost ~27 min under qemu-user; this layer costs a few. raspi-firmware's postinst
// lays out /boot/firmware from the kernel and initramfs the twin already built; the
// initramfs trigger it fires is suppressed (the twin's initramfs already has the Pi's SD
// drivers, files/initramfs-hook.sh). Its scripts need /proc to see they run in a chroot:
// mounted in a private mount namespace (unshare -m), gone when the layer step ends.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDefinition } from './definition.ts';
import { DiskError } from './errors.ts';
import { publishRoot, removeRootTree } from './root-tree.ts';
import { cachedBaseRoot, PI_LAYER, ROOT_EPOCH, rootKey, rootSpec, UPDATE_INITRAMFS } from './rootfs.ts';
import { sha256 } from '../../targets/formats/hash.ts';

// Bump when the layer script changes.
const PI_RECIPE = 1;

/** The UEFI definition whose root the Pi root starts from. */
export function piTwin(d: ImageDefinition): ImageDefinition {
  return { ...d, board: 'uefi' };
}

export function piRootName(d: ImageDefinition): string {
  const s = rootSpec(d);
  const h = sha256(
    JSON.stringify({ PI_RECIPE, PI_LAYER, twin: rootKey(rootSpec(piTwin(d))), sources: s.sources }),
  );
  return `disk-${s.suite}-${s.debArch}-rpi-${h.slice(0, 16)}`;
}

function layerScript(sources: string[]): string {
  const apt = 'chroot "$R" apt-get -o APT::Sandbox::User=root';
  return [
    'set -eu',
    'R="$1"',
    'mount -t proc proc "$R/proc"',
    // the root's resolv.conf (a systemd-resolved link) is no use here: the host's, for apt only
    'K="$R/etc/resolv.conf.edgewan-keep"',
    'if [ -e "$R/etc/resolv.conf" ] || [ -L "$R/etc/resolv.conf" ]; then mv "$R/etc/resolv.conf" "$K"; fi',
    'cp -L /etc/resolv.conf "$R/etc/resolv.conf"',
    `printf '%s\\n' ${sources.map((x) => `'${x}'`).join(' ')} > "$R/etc/apt/sources.list"`,
    `chroot "$R" dpkg-divert --quiet --local --rename --divert ${UPDATE_INITRAMFS}.edgewan-image --add ${UPDATE_INITRAMFS}`,
    `printf '#!/bin/sh\\nexit 0\\n' > "$R${UPDATE_INITRAMFS}"`,
    `chmod 0755 "$R${UPDATE_INITRAMFS}"`,
    `${apt} update`,
    `${apt} install -y --no-install-recommends ${PI_LAYER.join(' ')}`,
    `rm -f "$R${UPDATE_INITRAMFS}"`,
    `chroot "$R" dpkg-divert --quiet --local --rename --remove ${UPDATE_INITRAMFS}`,
    `${apt} clean`,
    'rm -f "$R/etc/resolv.conf"',
    'if [ -e "$K" ] || [ -L "$K" ]; then mv "$K" "$R/etc/resolv.conf"; fi',
    'umount "$R/proc"',
  ].join('\n');
}

/** The cached Pi root for the definition, layered onto its twin's root when absent. */
export function cachedPiRoot(d: ImageDefinition, cacheDir: string, log: (s: string) => void): string {
  const dir = join(cacheDir, 'rootfs', piRootName(d));
  if (existsSync(join(dir, '.complete'))) {
    log(`disk: cached root ${dir}`);
    return dir;
  }
  const base = cachedBaseRoot(piTwin(d), cacheDir, log);
  const tmp = `${dir}.tmp-${process.pid}`;
  removeRootTree(tmp);
  log(`disk: Raspberry Pi root: ${PI_LAYER.join(', ')} on a copy of ${base}`);
  const cp = spawnSync('cp', ['-a', '--reflink=auto', base, tmp], { encoding: 'utf8' });
  if (cp.status !== 0)
    throw new DiskError('EDGEWAN_ERR_DISK_ROOTFS', `copying ${base} to ${tmp} failed: ${cp.stderr}`);
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', layerScript(rootSpec(d).sources), 'sh', tmp],
    {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        LC_ALL: 'C.UTF-8',
        DEBIAN_FRONTEND: 'noninteractive',
        SOURCE_DATE_EPOCH: String(ROOT_EPOCH),
      },
    },
  );
  if (r.status !== 0) {
    removeRootTree(tmp);
    throw new DiskError(
      'EDGEWAN_ERR_DISK_ROOTFS',
      `${d.file}: installing ${PI_LAYER.join(', ')} into the Pi root failed (exit ${r.status ?? r.signal}; needs root, unshare, and the mirror's non-free-firmware component):\n${`${r.stderr}${r.error ?? ''}`.slice(-3000)}`,
    );
  }
  for (const f of ['config.txt', 'cmdline.txt', 'start4.elf']) {
    if (!existsSync(join(tmp, 'boot/firmware', f))) {
      removeRootTree(tmp);
      throw new DiskError(
        'EDGEWAN_ERR_DISK_ROOTFS',
        `${d.file}: raspi-firmware did not write /boot/firmware/${f} in the Pi root (its kernel hook found no /boot/vmlinuz-* or /boot/initrd.img-*?)`,
      );
    }
  }
  return publishRoot(tmp, dir, piRootName(d));
}
