// The builder's error catalogue: every code `edgewan-build` (and the targets and image
// writers it runs) can print, written out in full so grep finds each use, with when it
// happens and what to do. Error classes take their code from this table (the type
// BuilderErrorCode); docs/build.md's "Error codes" table is rendered from it, and
// test/unit/error-codes.test.ts fails on a code used but not catalogued, a catalogued code
// no longer used, or a doc out of date (node --import tsx scripts/gen-error-docs.ts). The
// engine's own codes are in engine/src/errors.ts.
// It sits in targets/ because the targets, images/ and scripts/ all import it.

export interface ErrorEntry {
  /** when it happens */
  when: string;
  /** what to do */
  fix: string;
}

export const BUILDER_ERRORS = {
  EDGEWAN_ERR_BUILD: {
    when: 'an error without a code of its own reached the CLI',
    fix: 'a bug: report it with the message',
  },
  EDGEWAN_ERR_BUILD_USAGE: {
    when: 'bad verb, flag, arch, target or SOURCE_DATE_EPOCH (exit 2)',
    fix: 'see `edgewan-build --help`',
  },
  EDGEWAN_ERR_BUILD_ARCH: {
    when: 'an architecture name that is not x64, arm64, armv7 or an alias',
    fix: 'use a name the message lists',
  },
  EDGEWAN_ERR_BUILD_MANIFEST: {
    when: 'the build manifest is unreadable, not JSON, fails its schema or names a missing key file',
    fix: 'fix the file and JSON pointer the message names',
  },
  EDGEWAN_ERR_BUILD_DEFAULT_CONFIG: {
    when: "the manifest's defaultConfig merged onto the engine defaults fails the engine schema",
    fix: 'fix the pointer named under defaultConfig',
  },
  EDGEWAN_ERR_BUILD_VERSION: {
    when: 'the version cannot be mapped to deb, ipk, apk and OCI versions',
    fix: 'use a semantic version (1.2.3, 1.2.3-rc.1)',
  },
  EDGEWAN_ERR_BUILD_RUNTIME_LOCK: {
    when: 'scripts/runtimes.lock.json is unreadable or has no pin for an arch',
    fix: 'restore the lock from git or add the pin',
  },
  EDGEWAN_ERR_BUILD_RUNTIME_FETCH: {
    when: '`npm pack` of a pinned Node runtime failed or its tarball lacks the binary',
    fix: 'check the npm registry is reachable',
  },
  EDGEWAN_ERR_BUILD_RUNTIME_HASH: {
    when: 'a downloaded runtime does not match its pinned sha256',
    fix: 'nothing was used; check the registry or the pin',
  },
  EDGEWAN_ERR_BUILD_RUNTIME_CORRUPT: {
    when: 'a cached runtime changed since it was checked',
    fix: 'run the `rm -r` the message gives',
  },
  EDGEWAN_ERR_BUILD_HOST_TOOLS: {
    when: 'host tools are missing and cannot be installed (not root, EDGEWAN_NO_APT, apt-get failed)',
    fix: 'run the apt-get command the message gives',
  },
  EDGEWAN_ERR_BUILD_BUNDLE: {
    when: 'esbuild could not bundle the engine',
    fix: 'fix the file:line:col esbuild reports',
  },
  EDGEWAN_ERR_BUILD_SEA: {
    when: 'a single-executable step (blob, strip, postject) failed',
    fix: 'check the host tools for that arch (qemu, binutils)',
  },
  EDGEWAN_ERR_BUILD_SMOKE: {
    when: 'an executable failed its smoke run or has the wrong ELF machine or arch',
    fix: 'check qemu-user-static and the runtime pin',
  },
  EDGEWAN_ERR_BUILD_TARGET: {
    when: 'a target is not implemented, targets need each other in a circle, or a target listed a file it did not write',
    fix: 'a target bug unless the message names your input',
  },
  EDGEWAN_ERR_BUILD_ARTIFACTS: {
    when: 'artifacts.json would not match its schema, or two artifacts claim one path',
    fix: 'a target bug: report it',
  },
  EDGEWAN_ERR_BUILD_KEYS: {
    when: 'a signing key file cannot be read',
    fix: "fix the path in EDGEWAN_*_KEY or the manifest's signing",
  },
  EDGEWAN_ERR_BUILD_INSPECT: {
    when: '`inspect` got a path that does not exist or that no reader knows',
    fix: 'pass a file the build writes',
  },
  EDGEWAN_ERR_GLIBC_APT: {
    when: 'apt-get, needed to fetch the private glibc set, cannot run or its update failed',
    fix: 'run on Debian/Ubuntu with the mirror reachable',
  },
  EDGEWAN_ERR_GLIBC_UNAVAILABLE: {
    when: 'a pinned glibc package version is not on the mirror',
    fix: 'update scripts/glibc.lock.json (--update-lock)',
  },
  EDGEWAN_ERR_GLIBC_CHECKSUM: {
    when: 'a downloaded glibc package does not match its pin',
    fix: 'nothing was used; check the mirror',
  },
  EDGEWAN_ERR_GLIBC_UNPACK: {
    when: 'dpkg-deb could not unpack a glibc package or a library is missing from it',
    fix: 'check dpkg-deb and the lock',
  },
  EDGEWAN_ERR_GLIBC_LOCK: {
    when: "scripts/glibc.lock.json has no pin for an arch's package",
    fix: 'run --update-lock',
  },
  EDGEWAN_ERR_DEB_INPUT: {
    when: 'the debian or raspbian target cannot package its inputs (name, memoryMax, key, missing executable)',
    fix: 'fix what the message names, often --arch',
  },
  EDGEWAN_ERR_APT_SIGNING: {
    when: 'the OpenPGP key for the apt repository is missing, unreadable or passphrase-protected',
    fix: 'give an unencrypted armored key',
  },
  EDGEWAN_ERR_FORMAT_CONTROL: {
    when: 'a Debian control field is invalid (package name, version, maintainer)',
    fix: 'fix the manifest field named',
  },
  EDGEWAN_ERR_FORMAT_AR: {
    when: 'an ar archive (.deb) is malformed',
    fix: 'rebuild the file',
  },
  EDGEWAN_ERR_FORMAT_DEB: {
    when: 'a .deb is malformed (members, control or data tar)',
    fix: 'rebuild the file',
  },
  EDGEWAN_ERR_FORMAT_DUPLICATE_PATH: {
    when: 'two entries of one tar have the same path',
    fix: 'a target bug: the message names the path',
  },
  EDGEWAN_ERR_FORMAT_XZ: {
    when: 'xz is missing or failed compressing a package payload',
    fix: 'apt-get install xz-utils',
  },
  EDGEWAN_ERR_OPENWRT_KEY: {
    when: 'the opkg feed has no usign key',
    fix: 'set signing.usignPrivateKey or EDGEWAN_USIGN_KEY',
  },
  EDGEWAN_ERR_OPENWRT_INPUT: {
    when: 'the OpenWRT payload lacks an input (glibc set, executable)',
    fix: 'build the arch named (--arch)',
  },
  EDGEWAN_ERR_OPENWRT_GLIBC_SET: {
    when: 'the private glibc set lacks a library the executable needs',
    fix: 'add the Debian package to scripts/glibc.ts and re-pin',
  },
  EDGEWAN_ERR_OPENWRT_PATCHELF: {
    when: 'patchelf could not point the executable at the private glibc',
    fix: 'check patchelf is installed',
  },
  EDGEWAN_ERR_APK_INPUT: {
    when: 'the openwrt-25.12 target cannot package its inputs (name, version, key, arch name)',
    fix: 'fix what the message names',
  },
  EDGEWAN_ERR_APK_KEY: {
    when: 'the APK signing key is unreadable or not EC P-256',
    fix: 'make one with the openssl command the message gives',
  },
  EDGEWAN_ERR_APK_FORMAT: {
    when: 'an APK v3 (ADB) file is malformed',
    fix: 'rebuild the file',
  },
  EDGEWAN_ERR_RPM_INPUT: {
    when: 'the rhel target cannot package this input: a version or name rpm cannot carry, no OpenPGP key, no x64/arm64 executable, memoryMax too small',
    fix: 'fix the manifest field or --arch the message names (docs/rhel.md)',
  },
  EDGEWAN_ERR_FORMAT_RPM: {
    when: 'an RPM header value the writer cannot encode, or an .rpm read back that is malformed',
    fix: 'a writer bug unless the message names your input; for inspect, rebuild the package',
  },
  EDGEWAN_ERR_OCI_BUILD: {
    when: 'the oci target has no executable to put in an image',
    fix: 'build with --arch or leave out --target oci',
  },
  EDGEWAN_ERR_OCI_ROOTFS: {
    when: "an executable does not fit the image's base layer (wrong ELF machine, no interpreter, a library the glibc set lacks)",
    fix: "rebuild the executable or add the library's package to scripts/glibc.ts",
  },
  EDGEWAN_ERR_FORMAT_ELF: {
    when: 'an executable the build checks, inspects or puts in an image is not ELF, or is truncated',
    fix: 'rebuild the executable',
  },
  EDGEWAN_ERR_FORMAT_TAR: {
    when: 'a tar read back from an image or archive is malformed',
    fix: 'rebuild the archive',
  },
  EDGEWAN_ERR_PUSH_USAGE: {
    when: 'bad arguments to `push --target oci`',
    fix: 'see the usage the message prints',
  },
  EDGEWAN_ERR_PUSH_REF: {
    when: 'the image reference names no registry or is malformed',
    fix: 'write REGISTRY/REPOSITORY[:TAG]',
  },
  EDGEWAN_ERR_PUSH_LAYOUT: {
    when: 'the OCI layout to push is missing or incomplete',
    fix: 'build first or pass --layout',
  },
  EDGEWAN_ERR_PUSH_CONFIG: {
    when: 'the Docker config with registry credentials cannot be read',
    fix: 'fix or remove the file',
  },
  EDGEWAN_ERR_PUSH_AUTH: {
    when: 'the registry or its token service refused the credentials',
    fix: 'pass --username/--password-stdin or docker login',
  },
  EDGEWAN_ERR_PUSH_UNREACHABLE: {
    when: 'the registry or its token service cannot be reached',
    fix: 'check the address and network',
  },
  EDGEWAN_ERR_PUSH_HTTP: {
    when: 'the registry answered an upload step with an HTTP error',
    fix: "read the registry's answer in the message",
  },
  EDGEWAN_ERR_PUSH_DIGEST: {
    when: 'the registry stored a blob or manifest under another digest',
    fix: 'nothing was tagged; retry, check proxies',
  },
  EDGEWAN_ERR_DISK_DEFINITION: {
    when: 'an image definition (images/*.json) is unreadable or fails its schema',
    fix: 'fix the file and pointer named',
  },
  EDGEWAN_ERR_DISK_CONFIG: {
    when: "an image's engine config (defaults + the definition's overlay) fails the engine schema",
    fix: 'fix the definition\'s "config"',
  },
  EDGEWAN_ERR_DISK_ROOT: {
    when: 'the disk target runs without root',
    fix: 'run the build as root or leave out --target disk',
  },
  EDGEWAN_ERR_DISK_TOOL: {
    when: 'a tool the disk target runs is missing or failed (mmdebstrap, binfmt, chroot steps)',
    fix: 'run the apt-get / update-binfmts command given',
  },
  EDGEWAN_ERR_DISK_INPUT: {
    when: 'the apt repo the image installs from is missing',
    fix: 'build it in the same run (--target debian,disk)',
  },
  EDGEWAN_ERR_DISK_PACKAGE: {
    when: 'a definition names a Debian package the suite does not have',
    fix: 'check the name with apt-cache policy',
  },
  EDGEWAN_ERR_DISK_ROOTFS: {
    when: 'building or layering a cached root failed',
    fix: 'read the tool output in the message',
  },
  EDGEWAN_ERR_DISK_TOO_SMALL: {
    when: 'a partition is smaller than what goes in it',
    fix: 'raise the /sizes value named',
  },
  EDGEWAN_ERR_DISK_ASSEMBLE: {
    when: 'making the filesystems or partition table failed or found the root incomplete',
    fix: 'read the step named in the message',
  },
} as const satisfies Record<string, ErrorEntry>;

export type BuilderErrorCode = keyof typeof BUILDER_ERRORS;
