// Real-tool checks. TEST_NEEDS says, per test stage, which host tools the stage's tests call
// (with the Debian package); `npm test` (scripts/test-runner.ts) installs the missing ones in
// one apt-get call before the first stage, through scripts/hosttools.ts like the build.
// needTool()/needRoot() in a test then FAIL when the tool is still missing — a skip is
// allowed only when the user asked for it: EDGEWAN_TEST_SKIP_TOOLS=1, or a subset run
// (`npm test -- --only …` / `--grep …`, which sets EDGEWAN_TEST_SUBSET=1), and the runner's
// summary names every skip loudly.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { HostNeed } from '../../targets/target.ts';

export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${JSON.stringify(cmd)}`], { stdio: 'ignore' }).status === 0;
}

/** True when the user asked for a partial run, where a missing tool may skip instead of fail. */
export function skipsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.EDGEWAN_TEST_SKIP_TOOLS === '1' || env.EDGEWAN_TEST_SUBSET === '1';
}

/** Fail the test with `msg`, or skip it where the user asked for a partial run. Returns false. */
export function unavailable(t: TestContext, msg: string): false {
  if (!skipsAllowed())
    throw new Error(`${msg} (npm test installs every test tool as root; see docs/build.md, "Host tools")`);
  t.skip(msg);
  return false;
}

/** Returns true when the tool exists; otherwise fails (or skips in a partial run). */
export function needTool(t: TestContext, cmd: string, aptPackage = cmd): boolean {
  return haveTool(cmd) || unavailable(t, `${cmd} not found: apt-get install ${aptPackage}`);
}

/** Root is needed for chroot, ip netns, mounts, cgroups: same rule as tools. */
export function needRoot(t: TestContext): boolean {
  return process.getuid?.() === 0 || unavailable(t, 'this test needs root');
}

const cmd = (what: string, pkg: string, stage: string, ubuntu?: string | null): HostNeed => ({
  kind: 'cmd',
  what,
  pkg,
  for: `${stage} tests`,
  ...(ubuntu !== undefined ? { ubuntu } : {}),
});
const file = (what: string, pkg: string, stage: string): HostNeed => ({
  kind: 'file',
  what,
  pkg,
  for: `${stage} tests`,
});

/** What each stage's tests call, beyond what the build itself installs. */
export const TEST_NEEDS: Record<string, HostNeed[]> = {
  unit: [
    cmd('patchelf', 'patchelf', 'unit'),
    cmd('readelf', 'binutils', 'unit'),
    cmd('sha256sum', 'coreutils', 'unit'),
    // RPM writer (test/unit/rpm-writer.test.ts): rpm reads and verifies our packages
    cmd('rpm', 'rpm', 'unit'),
    // OpenWRT's uci2json.sh under busybox ash as well as dash (test/unit/openwrt-uci.test.ts)
    cmd('busybox', 'busybox-static', 'unit'),
  ],
  integration: [
    cmd('patchelf', 'patchelf', 'integration'),
    cmd('xz', 'xz-utils', 'integration'),
    cmd('apt-get', 'apt', 'integration'),
    cmd('python3', 'python3', 'integration'),
    // transparent interception (intercept-netns): namespaces, nftables, conntrack, a plain client
    cmd('ip', 'iproute2', 'integration'),
    cmd('nft', 'nftables', 'integration'),
    cmd('conntrack', 'conntrack', 'integration'),
    cmd('curl', 'curl', 'integration'),
  ],
  acceptance: [
    // engine admin endpoint: promtool parses /metrics; chromium renders the status page
    cmd('promtool', 'prometheus', 'acceptance'),
    // Ubuntu ships chromium only as a snap: install it with `snap install chromium`
    cmd('chromium', 'chromium', 'acceptance', null),
    // DNS: dig, a dnsmasq binary (no system service on :53), dnsperf
    cmd('dig', 'bind9-dnsutils', 'acceptance'),
    cmd('dnsmasq', 'dnsmasq-base', 'acceptance'),
    cmd('dnsperf', 'dnsperf', 'acceptance'),
    // Debian/Raspbian packages
    cmd('lintian', 'lintian', 'acceptance'),
    cmd('dpkg-deb', 'dpkg', 'acceptance'),
    cmd('systemd-analyze', 'systemd', 'acceptance'),
    cmd('gpgv', 'gpgv', 'acceptance'),
    cmd('mmdebstrap', 'mmdebstrap', 'acceptance'),
    cmd('arch-test', 'arch-test', 'acceptance'),
    cmd('qemu-aarch64-static', 'qemu-user-static', 'acceptance'),
    cmd('qemu-arm-static', 'qemu-user-static', 'acceptance'),
    { kind: 'binfmt', what: 'qemu-aarch64', pkg: 'qemu-user-static', for: 'acceptance tests' },
    { kind: 'binfmt', what: 'qemu-arm', pkg: 'qemu-user-static', for: 'acceptance tests' },
    cmd('nsenter', 'util-linux', 'acceptance'),
    cmd('ip', 'iproute2', 'acceptance'),
    // interception from the installed .deb (44-deb-intercept): the dc's nft drop rule, a
    // plain client, a real HTTP server (nftables and conntrack are inside the booted root)
    cmd('nft', 'nftables', 'acceptance'),
    cmd('curl', 'curl', 'acceptance'),
    cmd('python3', 'python3', 'acceptance'),
    // OpenWRT: init/uci scripts, usign feed signatures, a static shell for the musl-only root,
    // strace for what an offline-root install reads outside the root
    cmd('busybox', 'busybox-static', 'acceptance'),
    cmd('shellcheck', 'shellcheck', 'acceptance'),
    cmd('signify-openbsd', 'signify-openbsd', 'acceptance'),
    cmd('strace', 'strace', 'acceptance'),
    // OCI: image tools, a registry, podman with runc
    cmd('skopeo', 'skopeo', 'acceptance'),
    cmd('umoci', 'umoci', 'acceptance'),
    cmd('oci-image-tool', 'oci-image-tool', 'acceptance'),
    cmd('docker-registry', 'docker-registry', 'acceptance'),
    cmd('htpasswd', 'apache2-utils', 'acceptance'),
    cmd('podman', 'podman', 'acceptance'),
    cmd('runc', 'runc', 'acceptance'),
    cmd('openssl', 'openssl', 'acceptance'),
    cmd('gzip', 'gzip', 'acceptance'),
    // disk images: boot under qemu-system with UEFI firmware, read the filesystems
    cmd('qemu-system-x86_64', 'qemu-system-x86', 'acceptance'),
    cmd('qemu-system-aarch64', 'qemu-system-arm', 'acceptance'),
    file('/usr/share/OVMF/OVMF_CODE_4M.fd', 'ovmf', 'acceptance'),
    file('/usr/share/AAVMF/AAVMF_CODE.fd', 'qemu-efi-aarch64', 'acceptance'),
    cmd('mdir', 'mtools', 'acceptance'),
    cmd('debugfs', 'e2fsprogs', 'acceptance'),
    cmd('sfdisk', 'fdisk', 'acceptance'),
    // RPMs and the dnf repository (rhel target): rpm -K, rpmlint, createrepo_c as a reference, dnf --installroot
    cmd('rpm', 'rpm', 'acceptance'),
    cmd('rpmlint', 'rpmlint', 'acceptance'),
    cmd('createrepo_c', 'createrepo-c', 'acceptance'),
    cmd('dnf', 'dnf', 'acceptance'),
  ],
};
