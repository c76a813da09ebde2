// The Target interface (like nfpm's Packager): each OS target receives what the build made
// — executables, the bundle, version, mtime, branding — and writes its packages, returning
// artifacts.json entries. Targets never import engine source, scripts/, or each other.
import { existsSync, readFileSync } from 'node:fs';
import type { Arch, AnyArch } from './arch.ts';
import type { TargetVersions } from './version.ts';

/** Branding and service facts from the build manifest (OEM partners rename the product). */
export interface PackageInfo {
  /** package name, e.g. "edgewan" */
  name: string;
  /** service / unit / init script name */
  serviceName: string;
  vendor: string;
  maintainer: string;
  homepage: string;
  description: string;
  license: string;
  versions: TargetVersions;
  /** service.memoryMax in bytes (default 128 MiB) */
  memoryMaxBytes: number;
  /** the default engine config shipped as /etc/<name>/<name>.json, already schema-validated */
  defaultConfig: Record<string, unknown>;
}

export interface BuildInputs {
  info: PackageInfo;
  /** SOURCE_DATE_EPOCH, seconds */
  mtime: number;
  /**
   * absolute path of the directory this target writes into: in a build, its staging
   * directory, which the build publishes to dist/ when every target has succeeded
   * (scripts/publish.ts); paths in the artifacts it returns are relative to it
   */
  outDir: string;
  /** dist/ as earlier builds published it, read-only: a target may reuse unchanged outputs from it */
  distDir?: string;
  /** artifacts of the types in Target.needs that targets before it made in this build */
  needed?: readonly { artifact: Artifact; root: string }[];
  /** absolute paths of the built executables, per arch that was built */
  executables: Partial<Record<Arch, string>>;
  /** absolute path of the CJS bundle (runs on Node >= 18) and of its license notices */
  bundle: string;
  licenses: string;
  /** SBOM documents to reference or ship, per arch and for the bundle ("noarch") */
  sboms: Partial<Record<AnyArch, string>>;
  /** the build cache directory (downloads, sysroots), outside the repo */
  cacheDir: string;
  /** private glibc set dirs per built arch (scripts/glibc.ts prepareGlibc: loader + libraries) */
  glibc?: Partial<Record<Arch, string>>;
  /**
   * License notices of an executable per arch: the bundle's plus the embedded Node runtime's
   * LICENSE (dist/bin/<executable>.LICENSES.txt). Packages that ship the executable ship this
   * instead of `licenses`; absent (older callers, tests) → `licenses`.
   */
  executableNotices?: Partial<Record<Arch, string>>;
  /** the private glibc set's Debian copyright files per arch, for packages that ship the set */
  glibcNotices?: Partial<Record<Arch, string>>;
  /** git commit the build is from (OCI label org.opencontainers.image.revision); optional, additive */
  commit?: string;
  /** signing material resolved by the build (dev keys or the user's) */
  keys: SigningKeys;
  /** progress and warnings */
  log: (msg: string) => void;
}

export interface SigningKeys {
  /** armored OpenPGP private key (apt) */
  openpgpPrivate?: string;
  /** PKCS#8 PEM Ed25519 private key (usign / opkg) */
  usignPrivatePem?: string;
  /** PKCS#8 PEM P-256 private key (apk v3) */
  apkPrivatePem?: string;
}

export type ArtifactType =
  | 'bundle'
  | 'executable'
  | 'sbom'
  | 'checksums'
  | 'deb'
  | 'apt-repo'
  | 'ipk'
  | 'opkg-feed'
  | 'apk'
  | 'apk-feed'
  | 'oci-layout'
  | 'oci-archive'
  | 'docker-archive'
  | 'disk-image'
  | 'rpm'
  | 'rpm-repo';

/** One dist/artifacts.json entry (docs/contract.md; schema in targets/artifacts.schema.json). */
export interface Artifact {
  type: ArtifactType;
  /** relative to dist/ */
  path: string;
  arch?: AnyArch;
  platform?: string;
  platforms?: string[];
  /** the name of the Target that made it (scripts/targets.ts lists them) */
  target?: string;
  sha256: string;
  size: number;
  /** for directory artifacts: the signed index file the sha256 is of */
  index?: string;
  runtime?: { node: string; eol: boolean };
}

/**
 * A host command, file or binfmt handler a build step or test stage needs, with the Debian
 * package that provides it (scripts/hosttools.ts installs what is missing before work starts).
 */
export interface HostNeed {
  kind: 'cmd' | 'file' | 'binfmt';
  /** command name, absolute path, or binfmt_misc handler name (qemu-aarch64) */
  what: string;
  /** the Debian package that provides it */
  pkg: string;
  /** Ubuntu's package where the name differs; null where Ubuntu has no .deb for it */
  ubuntu?: string | null;
  /** who needs it, for messages ("disk target", "acceptance tests") */
  for: string;
}

/** One kind of file or directory `edgewan-build inspect` can describe (scripts/inspect.ts). */
export interface Reader {
  name: string;
  /** `head`: the first 512 bytes of a file (empty for a directory) */
  match: (path: string, head: Buffer, isDir: boolean) => boolean;
  read: (path: string) => Promise<unknown>;
}

/** `edgewan-build push` for one target: receives dist/ and the remaining arguments. */
export type Pusher = (opts: {
  outDir: string;
  args: string[];
  json: boolean;
  log: (m: string) => void;
}) => Promise<unknown>;

export interface Target {
  /** artifacts.json `target` name, also what --target accepts */
  readonly name: string;
  /** inspect readers for the formats it writes (shared formats may appear in several targets) */
  readonly readers?: readonly Reader[];
  /** its publisher for `edgewan-build push`, if it has one */
  readonly push?: Pusher;
  /** ships the private glibc set: the build prepares it for every built arch (scripts/glibc.ts) */
  readonly glibc?: boolean;
  /** artifact types other targets may need from it */
  readonly provides?: readonly ArtifactType[];
  /** artifact types it needs from other targets of the same build: they run first (BuildInputs.needed) */
  readonly needs?: readonly ArtifactType[];
  /**
   * dist/-relative paths its output replaces whole when published, so what an earlier build
   * left there goes (directory artifacts are always replaced whole)
   */
  readonly owns?: readonly string[];
  /** which arches it can package (it is skipped for others) */
  readonly arches: readonly Arch[];
  /** host tools it needs for these arches (installed before the first step) */
  hostNeeds?(ctx: { arches: readonly Arch[]; info: PackageInfo }): HostNeed[];
  /** fail before anything is written when inputs cannot be packaged */
  validate(inputs: BuildInputs): void;
  build(inputs: BuildInputs): Promise<Artifact[]>;
}

/**
 * The license notices a package ships: for a package carrying the `arch` executable, the
 * executable's (bundle + Node runtime), else the bundle's; with `glibc`, followed by the
 * private glibc set's copyright files. undefined when the build made none (test fixtures).
 */
export function noticesFor(inputs: BuildInputs, arch: Arch | 'noarch', glibc = false): Buffer | undefined {
  const read = (p: string | undefined) => (p && existsSync(p) ? readFileSync(p) : undefined);
  const main =
    (arch !== 'noarch' ? read(inputs.executableNotices?.[arch]) : undefined) ?? read(inputs.licenses);
  const extra = glibc && arch !== 'noarch' ? read(inputs.glibcNotices?.[arch]) : undefined;
  if (!main) return extra;
  return extra ? Buffer.concat([main, Buffer.from('\n'), extra]) : main;
}
