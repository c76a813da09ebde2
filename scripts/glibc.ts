// The private glibc set per architecture (docs/platform-notes.md §1, §3, §7): OpenWRT is musl,
// so the official (glibc) Node executable ships with its own loader and the few libraries it
// needs, taken from pinned Debian bookworm packages. Packages are fetched with an ISOLATED apt
// config (own sources.list, lists and cache dirs; dpkg's architecture list is never touched),
// each checked against the version + sha256 in scripts/glibc.lock.json, and extracted into
// <cacheDir>/glibc/<arch>/ holding only the loader and the libraries. The OCI images use the
// same set as their base layer, so the result also names the Debian packages (SBOM/licences).
//
// `node --import tsx scripts/glibc.ts --update-lock` re-pins to the mirror's current versions.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, type Arch } from '../targets/arch.ts';
import { appendNotices } from './packages.ts';
import type { BuilderErrorCode } from '../targets/error-codes.ts';
import { sha256 } from '../targets/formats/hash.ts';

export const LOCK_PATH = join(import.meta.dirname, 'glibc.lock.json');
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
// no security suite: its armhf index is broken (docs/platform-notes.md §3)
const SUITES = ['bookworm', 'bookworm-updates'];

/** Debian dpkg arch per canonical arch (armv7 = Debian armhf, ARMv7 + VFPv3-D16 userland). */
export const DEB_ARCH: Readonly<Record<Arch, string>> = { x64: 'amd64', arm64: 'arm64', armv7: 'armhf' };

/** Which sonames each package contributes (the loader comes from libc6). */
const SONAMES: Readonly<Record<string, readonly string[]>> = {
  libc6: ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0'],
  'libstdc++6': ['libstdc++.so.6'],
  'libgcc-s1': ['libgcc_s.so.1'],
  libatomic1: ['libatomic.so.1'],
  // no library: libstdc++6, libgcc-s1 and libatomic1 keep their copyright file in this
  // package's doc dir (/usr/share/doc/<pkg> is a symlink to gcc-12-base), so it is fetched
  // for the licence notices that ship beside the libraries
  'gcc-12-base': [],
};
const LICENSES: Readonly<Record<string, string>> = {
  libc6: 'LGPL-2.1-or-later',
  'libstdc++6': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  'libgcc-s1': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  libatomic1: 'GPL-3.0-or-later WITH GCC-exception-3.1',
  'gcc-12-base': 'GPL-3.0-or-later WITH GCC-exception-3.1',
};

export function packagesFor(arch: Arch): string[] {
  return arch === 'armv7'
    ? ['libc6', 'libstdc++6', 'libgcc-s1', 'libatomic1', 'gcc-12-base']
    : ['libc6', 'libstdc++6', 'libgcc-s1', 'gcc-12-base'];
}

export interface LockedDeb {
  name: string;
  version: string;
  sha256: string;
}
export type GlibcLock = { suite: string; mirror: string } & Record<Arch, LockedDeb[]>;

export interface GlibcFile {
  path: string;
  data: Buffer;
  mode: number;
}
export interface GlibcPackage {
  name: string;
  version: string;
  debArch: string;
  sha256: string;
  license: string;
}
export interface GlibcSet {
  arch: Arch;
  /** <cacheDir>/glibc/<arch>: only the loader and the libraries */
  dir: string;
  /** loader file name inside dir (e.g. ld-linux-armhf.so.3) */
  loader: string;
  /** the loader and libraries (regular files named by soname, sorted) */
  files: GlibcFile[];
  /** where they came from, for SBOMs and licence notices */
  packages: GlibcPackage[];
  /** each package's /usr/share/doc/<pkg>/copyright, to ship beside the libraries */
  notices: { package: string; data: Buffer }[];
}

export class GlibcError extends Error {
  constructor(
    readonly code: BuilderErrorCode,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

export function readLock(path = LOCK_PATH): GlibcLock {
  return JSON.parse(readFileSync(path, 'utf8')) as GlibcLock;
}

/** Index dirs refreshed by this process: one `apt-get update` per build, not per package. */
const UPDATED = new Set<string>();

/** Isolated apt: own sources, lists and cache under <cacheDir>/glibc/apt. */
class IsolatedApt {
  private readonly base: string;
  constructor(
    cacheDir: string,
    private readonly mirror: string,
  ) {
    this.base = join(cacheDir, 'glibc', 'apt');
    for (const d of ['lists/partial', 'cache/archives/partial', 'dl'])
      mkdirSync(join(this.base, d), { recursive: true });
    const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
    // Without Debian's keyring (e.g. an Ubuntu host) the index is unsigned for us, but every
    // .deb is still checked against the sha256 in the lock file.
    const opt = existsSync(keyring) ? `signed-by=${keyring}` : 'trusted=yes';
    writeFileSync(
      join(this.base, 'sources.list'),
      SUITES.map((s) => `deb [${opt}] ${mirror} ${s} main\n`).join(''),
    );
  }
  private args(): string[] {
    const b = this.base;
    return [
      '-o',
      `Dir::Etc::SourceList=${b}/sources.list`,
      '-o',
      'Dir::Etc::SourceParts=/dev/null',
      '-o',
      `Dir::State::Lists=${b}/lists`,
      '-o',
      `Dir::Cache=${b}/cache`,
      '-o',
      'Debug::NoLocking=1',
      '-o',
      'APT::Sandbox::User=root',
      '-o',
      'Acquire::Languages=none',
      ...Object.values(DEB_ARCH).flatMap((a) => ['-o', `APT::Architectures::=${a}`]),
    ];
  }
  private run(cmd: string, argv: string[], cwd?: string) {
    const r = spawnSync(cmd, [...this.args(), ...argv], { cwd, encoding: 'utf8' });
    if (r.error)
      throw new GlibcError(
        'EDGEWAN_ERR_GLIBC_APT',
        `cannot run ${cmd}: ${r.error.message} (install apt, or run on Debian/Ubuntu)`,
      );
    return r;
  }
  update(): void {
    if (UPDATED.has(this.base)) return;
    const r = this.run('apt-get', ['-q', 'update']);
    if (r.status !== 0) {
      throw new GlibcError(
        'EDGEWAN_ERR_GLIBC_APT',
        `apt-get update against ${this.mirror} (${SUITES.join(', ')}) failed:\n${r.stderr.trim()}`,
      );
    }
    UPDATED.add(this.base);
  }
  candidate(pkg: string): string {
    const r = this.run('apt-cache', ['policy', pkg]);
    const v = /Candidate:\s*(\S+)/.exec(r.stdout)?.[1];
    if (!v || v === '(none)')
      throw new GlibcError(
        'EDGEWAN_ERR_GLIBC_UNAVAILABLE',
        `${pkg} is not on ${this.mirror} (${SUITES.join(', ')})`,
      );
    return v;
  }
  /** Download name:arch=version; returns the .deb bytes or a clear error when it is gone. */
  download(name: string, debArch: string, version: string): Buffer {
    this.update();
    const dl = mkdtempSync(join(this.base, 'dl', 'x-'));
    try {
      const r = this.run('apt-get', ['-q', 'download', `${name}:${debArch}=${version}`], dl);
      const debs = readdirSync(dl).filter((f) => f.endsWith('.deb'));
      if (r.status !== 0 || debs.length !== 1) {
        throw new GlibcError(
          'EDGEWAN_ERR_GLIBC_UNAVAILABLE',
          `the Debian mirror ${this.mirror} no longer has ${name}:${debArch} ${version} pinned in ${LOCK_PATH} ` +
            `(Debian drops superseded versions at point releases). Re-pin with ` +
            `\`node --import tsx scripts/glibc.ts --update-lock\`, review the diff and commit it.\napt said: ${r.stderr.trim()}`,
        );
      }
      return readFileSync(join(dl, debs[0]));
    } finally {
      rmSync(dl, { recursive: true, force: true });
    }
  }
}

/** The pinned .deb, from <cacheDir>/glibc/debs when present and intact, else downloaded. */
function fetchDeb(apt: () => IsolatedApt, debsDir: string, arch: Arch, d: LockedDeb): Buffer {
  const debArch = DEB_ARCH[arch];
  const file = join(debsDir, `${d.name}_${d.version.replace(/:/g, '%3a')}_${debArch}.deb`);
  if (existsSync(file)) {
    const b = readFileSync(file);
    if (sha256(b) === d.sha256) return b;
  }
  const b = apt().download(d.name, debArch, d.version);
  const got = sha256(b);
  if (got !== d.sha256) {
    throw new GlibcError(
      'EDGEWAN_ERR_GLIBC_CHECKSUM',
      `${d.name}:${debArch} ${d.version} from the mirror has sha256 ${got}, but ${LOCK_PATH} pins ${d.sha256}: refusing it (a changed package under the same version is suspicious; re-pin only after checking why)`,
    );
  }
  mkdirSync(debsDir, { recursive: true });
  writeFileSync(`${file}.tmp`, b);
  renameSync(`${file}.tmp`, file);
  return b;
}

/** Unpack a .deb's data into dir with dpkg-deb (present on every Debian/Ubuntu host). */
function unpackDeb(deb: Buffer, dir: string): void {
  const tmp = join(dir, '..', `deb-${process.pid}.deb`);
  writeFileSync(tmp, deb);
  try {
    const r = spawnSync('dpkg-deb', ['-x', tmp, dir], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new GlibcError('EDGEWAN_ERR_GLIBC_UNPACK', `dpkg-deb -x failed: ${r.stderr || r.error?.message}`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Find a soname in an unpacked package and return the real file's bytes (symlinks resolved). */
function pick(root: string, triplet: string, soname: string): Buffer {
  for (const d of [`lib/${triplet}`, `usr/lib/${triplet}`, 'lib', 'lib64', 'usr/lib']) {
    const p = join(root, d, soname);
    if (existsSync(p)) return readFileSync(realpathSync(p));
  }
  throw new GlibcError(
    'EDGEWAN_ERR_GLIBC_UNPACK',
    `${soname} not found in the unpacked Debian packages under ${root}`,
  );
}

export interface PrepareOptions {
  mirror?: string;
  lock?: GlibcLock;
}

/** Make (or reuse) <cacheDir>/glibc/<arch>/ and return its files and provenance. */
export async function prepareGlibc(
  arch: Arch,
  cacheDir: string,
  opts: PrepareOptions = {},
): Promise<GlibcSet> {
  const lock = opts.lock ?? readLock();
  const info = ARCHES[arch];
  const pinned = lock[arch];
  const want = packagesFor(arch);
  const missing = want.filter((n) => !pinned?.some((d) => d.name === n));
  if (missing.length)
    throw new GlibcError(
      'EDGEWAN_ERR_GLIBC_LOCK',
      `${LOCK_PATH} has no ${arch} pin for ${missing.join(', ')}: run --update-lock`,
    );
  const debs = want.map((n) => pinned.find((d) => d.name === n)!);
  const dir = join(cacheDir, 'glibc', arch);
  const stamp = join(cacheDir, 'glibc', `${arch}.json`);
  const key = JSON.stringify(debs);
  const packages: GlibcPackage[] = debs.map((d) => ({
    ...d,
    debArch: DEB_ARCH[arch],
    license: LICENSES[d.name],
  }));

  let fresh = false;
  try {
    fresh = existsSync(dir) && JSON.parse(readFileSync(stamp, 'utf8')).key === key;
  } catch {
    fresh = false;
  }
  if (!fresh) {
    let apt: IsolatedApt | undefined;
    const getApt = () => (apt ??= new IsolatedApt(cacheDir, opts.mirror ?? lock.mirror ?? DEFAULT_MIRROR));
    mkdirSync(join(cacheDir, 'glibc'), { recursive: true }); // a fresh machine has no cache yet
    const work = mkdtempSync(join(cacheDir, 'glibc', `.${arch}-`));
    try {
      const root = join(work, 'root');
      const out = join(work, 'out');
      mkdirSync(out, { recursive: true });
      const notices: Record<string, string> = {};
      for (const d of debs) unpackDeb(fetchDeb(getApt, join(cacheDir, 'glibc', 'debs'), arch, d), root);
      // after unpacking all: some doc dirs are symlinks into another package's (gcc-12-base)
      for (const d of debs) {
        const copyright = join(root, 'usr/share/doc', d.name, 'copyright');
        if (existsSync(copyright)) notices[d.name] = readFileSync(copyright, 'utf8');
      }
      // The loader must be executable (the kernel execs it as PT_INTERP; images run it directly).
      for (const so of [info.loader, ...want.flatMap((n) => SONAMES[n])]) {
        writeFileSync(join(out, so), pick(root, info.triplet, so), {
          mode: so === info.loader ? 0o755 : 0o644,
        });
      }
      rmSync(dir, { recursive: true, force: true });
      renameSync(out, dir);
      writeFileSync(`${stamp}.tmp`, JSON.stringify({ key, notices }));
      renameSync(`${stamp}.tmp`, stamp);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const notices = JSON.parse(readFileSync(stamp, 'utf8')).notices as Record<string, string>;
  const files = readdirSync(dir)
    .sort()
    .map((name) => ({
      path: name,
      data: readFileSync(join(dir, name)),
      mode: name === info.loader ? 0o755 : 0o644,
    }));
  return {
    arch,
    dir,
    loader: info.loader,
    files,
    packages,
    notices: Object.keys(notices)
      .sort()
      .map((p) => ({ package: p, data: Buffer.from(notices[p]) })),
  };
}

/** Re-pin every package to the mirror's current candidate (a maintainer action, reviewed in git). */
export async function updateLock(cacheDir: string, mirror = DEFAULT_MIRROR): Promise<GlibcLock> {
  const apt = new IsolatedApt(cacheDir, mirror);
  apt.update();
  const lock = { suite: SUITES.join(' '), mirror } as GlibcLock;
  for (const arch of ALL_ARCHES) {
    lock[arch] = packagesFor(arch).map((name) => {
      const version = apt.candidate(`${name}:${DEB_ARCH[arch]}`);
      return { name, version, sha256: sha256(apt.download(name, DEB_ARCH[arch], version)) };
    });
  }
  writeFileSync(`${LOCK_PATH}.tmp`, `${JSON.stringify(lock, null, 2)}\n`);
  renameSync(`${LOCK_PATH}.tmp`, LOCK_PATH);
  return lock;
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(process.env.HOME ?? '/root', '.cache'), 'edgewan');
}

const isMain = (() => {
  try {
    return realpathSync(process.argv[1]) === realpathSync(import.meta.filename);
  } catch {
    return false;
  }
})();
if (isMain) {
  const cacheDir = defaultCacheDir();
  if (process.argv.includes('--update-lock')) {
    const lock = await updateLock(cacheDir);
    process.stdout.write(`${JSON.stringify(lock, null, 2)}\n`);
  } else {
    for (const arch of ALL_ARCHES) {
      const s = await prepareGlibc(arch, cacheDir);
      process.stdout.write(
        `${arch}: ${s.dir} ${s.files.map((f) => `${f.path}(${f.data.length})`).join(' ')}\n`,
      );
    }
  }
}

/**
 * The licence notices of a glibc set, shipped beside it (OpenWRT, OCI): which Debian packages
 * it came from, then one section per distinct copyright file (libstdc++6, libgcc-s1 and
 * libatomic1 share gcc-12-base's).
 */
export function glibcNoticesText(set: GlibcSet): string {
  const byText = new Map<string, string[]>();
  for (const n of set.notices) {
    const t = n.data.toString('utf8');
    byText.set(t, [...(byText.get(t) ?? []), n.package]);
  }
  return appendNotices(
    `The private C runtime shipped beside the ${set.arch} executable comes from these Debian packages: ` +
      `${set.packages.map((d) => `${d.name} ${d.version} (${d.license})`).join(', ')}. Their copyright files follow.`,
    [...byText].map(([text, pkgs]) => ({
      title: `Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(', ')} — /usr/share/doc/${pkgs[0]}/copyright`,
      text,
    })),
  );
}
