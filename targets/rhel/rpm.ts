// The .rpm writer (RPM v4 binary package, no rpmbuild): lead, signature header, main header,
// compressed cpio payload — byte-identical for the same inputs (one mtime, sorted files,
// fixed compressors, deterministic OpenPGP signature). What rpm 4.18 and EL 8/9 check:
// - main header (region 63): the tags rpmbuild writes for a binary package (names, file
//   list in compressed form DIRNAMES/BASENAMES/DIRINDEXES, SHA-256 file digests, owners by
//   name, flags for %config(noreplace)/%doc/%license), scriptlets with their interpreter,
//   dependencies, and the payload digests (PAYLOADDIGEST of the compressed payload,
//   PAYLOADDIGESTALT of the cpio);
// - signature header (region 62): SHA-1 and SHA-256 of the main header, MD5 and size of
//   header + payload, the cpio size, and an OpenPGP v4 signature over the main header
//   (RPMSIGTAG_RSA for RSA keys, RPMSIGTAG_DSA for EdDSA — the tags rpmsign uses).
import { createHash } from 'node:crypto';
import { compressXz } from '../formats/xz.ts';
import { sha256 } from '../formats/hash.ts';
import { gzipCached } from '../formats/gzip.ts';
import { buildCpio } from './cpio.ts';
import {
  RpmFormatError,
  TYPE,
  writeHeader,
  writeLead,
  writeSignatureHeader,
  REGION,
  type HeaderEntry,
  type HeaderValue,
} from './header.ts';

export const TAG = {
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  PREIN: 1023,
  POSTIN: 1024,
  PREUN: 1025,
  POSTUN: 1026,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILERDEVS: 1033,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  FILEVERIFYFLAGS: 1045,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CHANGELOGTIME: 1080,
  CHANGELOGNAME: 1081,
  CHANGELOGTEXT: 1082,
  PREINPROG: 1085,
  POSTINPROG: 1086,
  PREUNPROG: 1087,
  POSTUNPROG: 1088,
  FILEDEVICES: 1095,
  FILEINODES: 1096,
  FILELANGS: 1097,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  FILEDIGESTALGO: 5011,
  ENCODING: 5062,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
  PAYLOADDIGESTALT: 5097,
} as const;

export const SIGTAG = {
  DSA: 267,
  RSA: 268,
  SHA1: 269,
  SHA256: 273,
  SIZE: 1000,
  MD5: 1004,
  PAYLOADSIZE: 1007,
} as const;

/** rpmsenseFlags (rpm's rpmds.h). */
export const SENSE = {
  LESS: 0x02,
  GREATER: 0x04,
  EQUAL: 0x08,
  INTERP: 0x100,
  SCRIPT_PRE: 0x200,
  SCRIPT_POST: 0x400,
  SCRIPT_PREUN: 0x1000,
  SCRIPT_POSTUN: 0x2000,
  FIND_REQUIRES: 0x4000,
  RPMLIB: 0x1000000,
  CONFIG: 0x10000000,
} as const;

/** rpmfileAttrs. */
export const FILEFLAG = { CONFIG: 1, DOC: 2, NOREPLACE: 16, LICENSE: 128 } as const;

const PGPHASHALGO_SHA256 = 8;
const S_IFDIR = 0o040000,
  S_IFREG = 0o100000,
  S_IFLNK = 0o120000;

export interface RpmFile {
  /** absolute path */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** permission bits (0o755…) */
  mode: number;
  data?: Buffer;
  target?: string;
  user?: string;
  group?: string;
  /** FILEFLAG bits */
  flags?: number;
}

export interface Dependency {
  name: string;
  flags?: number;
  version?: string;
}

export interface RpmSpec {
  name: string;
  version: string;
  release: string;
  /** rpm arch: x86_64, aarch64 */
  arch: string;
  summary: string;
  description: string;
  license: string;
  vendor: string;
  packager: string;
  url: string;
  group?: string;
  buildHost?: string;
  /** SOURCE_DATE_EPOCH: BUILDTIME, file mtimes, changelog */
  mtime: number;
  files: readonly RpmFile[];
  requires?: readonly Dependency[];
  provides?: readonly Dependency[];
  scripts?: Partial<Record<'pre' | 'post' | 'preun' | 'postun', string>>;
  changelog?: { name: string; text: string };
  compression?: 'xz' | 'gzip';
  cacheDir?: string;
  /** OpenPGP detached binary signature over the main header; its public-key algorithm picks the tag */
  sign?: (header: Buffer) => Promise<{ signature: Buffer; rsa: boolean }>;
}

export interface RpmResult {
  rpm: Buffer;
  /** byte range of the main header in the file (repodata header-range) */
  headerStart: number;
  headerEnd: number;
  /** sum of the file sizes (SIZE tag) and the cpio size */
  installedSize: number;
  archiveSize: number;
  fileName: string;
}

const hash = (alg: string, b: Buffer) => createHash(alg).update(b).digest();
const s = (value: string): HeaderValue => ({ type: TYPE.STRING, value });
const i18n = (value: string): HeaderValue => ({ type: TYPE.I18NSTRING, value });
const sa = (value: readonly string[]): HeaderValue => ({ type: TYPE.STRING_ARRAY, value });
const i32 = (value: readonly number[]): HeaderValue => ({ type: TYPE.INT32, value });
const i16 = (value: readonly number[]): HeaderValue => ({ type: TYPE.INT16, value });

/**
 * Version and release may hold what rpmvercmp orders: letters, digits and . _ + ~ ^.
 * `what` names the field for the message, e.g. 'Version' or 'version "1.2.0" → Release'.
 */
export function checkRpmVersion(what: string, value: string): void {
  if (!/^[A-Za-z0-9._+~^]+$/.test(value) || !/^[A-Za-z0-9]/.test(value)) {
    throw new RpmFormatError(
      `${what} "${value}" cannot be carried by rpm: only letters, digits and . _ + ~ ^ are allowed (no "-"), starting with a letter or digit; fix "version" in package.json or the build manifest`,
    );
  }
}

export function checkRpmName(value: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(value)) {
    throw new RpmFormatError(
      `package name "${value}" is not a valid RPM name: use letters, digits and . _ + - (branding.packageName in the build manifest)`,
    );
  }
}

export function rpmFileName(name: string, version: string, release: string, arch: string): string {
  return `${name}-${version}-${release}.${arch}.rpm`;
}

/**
 * xz preset of the payload: -1, not rpmbuild's -6 (measured on the ~110 MB x64 payload, 2
 * cores at load 6-9, docs/rhel.md "Payload compression": -6 58 s CPU and 27.3 MB, -1 12.5 s and
 * 31.8 MB; -T2 and -T4 give the same bytes).
 */
export const XZ_PRESET = 1;

function compress(cpio: Buffer, how: 'xz' | 'gzip', cacheDir?: string): Promise<Buffer> {
  if (how === 'xz') return compressXz(cpio, cacheDir, XZ_PRESET);
  return Promise.resolve(gzipCached(cpio, 9, cacheDir));
}

export async function buildRpm(spec: RpmSpec): Promise<RpmResult> {
  checkRpmName(spec.name);
  checkRpmVersion('RPM Version', spec.version);
  checkRpmVersion('RPM Release', spec.release);
  const files = [...spec.files]
    .map((f) => {
      if (
        !f.path.startsWith('/') ||
        f.path.endsWith('/') ||
        f.path
          .split('/')
          .slice(1)
          .some((c) => c === '' || c === '.' || c === '..')
      ) {
        throw new RpmFormatError(`invalid file path "${f.path}" in the package`);
      }
      return f;
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < files.length; i++)
    if (files[i].path === files[i - 1].path)
      throw new RpmFormatError(`duplicate path in the package: ${files[i].path}`);

  const typeBits = (f: RpmFile) => (f.type === 'dir' ? S_IFDIR : f.type === 'symlink' ? S_IFLNK : S_IFREG);
  const contents = (f: RpmFile) =>
    f.type === 'file'
      ? (f.data ?? Buffer.alloc(0))
      : f.type === 'symlink'
        ? Buffer.from(f.target ?? '')
        : Buffer.alloc(0);
  const sizes = files.map((f) => (f.type === 'dir' ? 4096 : contents(f).length));
  const installedSize = files.reduce((n, f, i) => n + (f.type === 'dir' ? 0 : sizes[i]), 0);
  const cpio = buildCpio(
    files.map((f, i) => ({
      path: f.path.slice(1),
      mode: typeBits(f) | f.mode,
      mtime: spec.mtime,
      data: f.type === 'dir' ? undefined : contents(f),
      ino: i + 1,
    })),
  );
  const compression = spec.compression ?? 'xz';
  const payload = await compress(cpio, compression, spec.cacheDir);

  // compressed file names: directory list + basename + directory index per file
  const dirnames: string[] = [];
  const dirIndex = new Map<string, number>();
  const basenames: string[] = [];
  const dirIndexes: number[] = [];
  for (const f of files) {
    const cut = f.path.lastIndexOf('/');
    const dir = f.path.slice(0, cut + 1);
    if (!dirIndex.has(dir)) {
      dirIndex.set(dir, dirnames.length);
      dirnames.push(dir);
    }
    basenames.push(f.path.slice(cut + 1));
    dirIndexes.push(dirIndex.get(dir)!);
  }

  const evr = `${spec.version}-${spec.release}`;
  const rpmlib = (name: string, version: string): Dependency => ({
    name: `rpmlib(${name})`,
    flags: SENSE.RPMLIB | SENSE.LESS | SENSE.EQUAL,
    version,
  });
  const requires: Dependency[] = [
    ...(spec.requires ?? []),
    rpmlib('CompressedFileNames', '3.0.4-1'),
    rpmlib('FileDigests', '4.6.0-1'),
    rpmlib('PayloadFilesHavePrefix', '4.0-1'),
    ...(compression === 'xz' ? [rpmlib('PayloadIsXz', '5.2-1')] : []),
  ];
  const scriptTag = {
    pre: [TAG.PREIN, TAG.PREINPROG, SENSE.SCRIPT_PRE],
    post: [TAG.POSTIN, TAG.POSTINPROG, SENSE.SCRIPT_POST],
    preun: [TAG.PREUN, TAG.PREUNPROG, SENSE.SCRIPT_PREUN],
    postun: [TAG.POSTUN, TAG.POSTUNPROG, SENSE.SCRIPT_POSTUN],
  } as const;
  const entries: HeaderEntry[] = [];
  const put = (tag: number, v: HeaderValue) => entries.push({ tag, v });
  for (const [k, body] of Object.entries(spec.scripts ?? {}) as Array<
    [keyof typeof scriptTag, string | undefined]
  >) {
    if (!body) continue;
    const [t, prog, sense] = scriptTag[k];
    put(t, s(body));
    put(prog, s('/bin/sh'));
    requires.push({ name: '/bin/sh', flags: SENSE.INTERP | sense });
  }
  const configFiles = files.some((f) => (f.flags ?? 0) & FILEFLAG.CONFIG);
  if (configFiles)
    requires.push({ name: `config(${spec.name})`, flags: SENSE.CONFIG | SENSE.EQUAL, version: evr });
  const provides: Dependency[] = [
    ...(spec.provides ?? []),
    { name: spec.name, flags: SENSE.EQUAL, version: evr },
    ...(configFiles
      ? [{ name: `config(${spec.name})`, flags: SENSE.CONFIG | SENSE.EQUAL, version: evr }]
      : []),
  ];
  const depOrder = (a: Dependency, b: Dependency) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : (a.flags ?? 0) - (b.flags ?? 0);
  requires.sort(depOrder);
  provides.sort(depOrder);

  put(TAG.HEADERI18NTABLE, sa(['C']));
  put(TAG.NAME, s(spec.name));
  put(TAG.VERSION, s(spec.version));
  put(TAG.RELEASE, s(spec.release));
  put(TAG.SUMMARY, i18n(spec.summary));
  put(TAG.DESCRIPTION, i18n(spec.description));
  put(TAG.BUILDTIME, i32([spec.mtime]));
  put(TAG.BUILDHOST, s(spec.buildHost ?? 'reproducible'));
  put(TAG.SIZE, i32([installedSize]));
  put(TAG.VENDOR, s(spec.vendor));
  put(TAG.LICENSE, s(spec.license));
  put(TAG.PACKAGER, s(spec.packager));
  put(TAG.GROUP, i18n(spec.group ?? 'Unspecified'));
  put(TAG.URL, s(spec.url));
  put(TAG.OS, s('linux'));
  put(TAG.ARCH, s(spec.arch));
  if (files.length) {
    put(TAG.FILESIZES, i32(sizes));
    put(TAG.FILEMODES, i16(files.map((f) => typeBits(f) | f.mode)));
    put(TAG.FILERDEVS, i16(files.map(() => 0)));
    put(TAG.FILEMTIMES, i32(files.map(() => spec.mtime)));
    put(TAG.FILEDIGESTS, sa(files.map((f) => (f.type === 'file' ? sha256(contents(f)) : ''))));
    put(TAG.FILELINKTOS, sa(files.map((f) => (f.type === 'symlink' ? (f.target ?? '') : ''))));
    put(TAG.FILEFLAGS, i32(files.map((f) => f.flags ?? 0)));
    put(TAG.FILEUSERNAME, sa(files.map((f) => f.user ?? 'root')));
    put(TAG.FILEGROUPNAME, sa(files.map((f) => f.group ?? 'root')));
  }
  put(TAG.SOURCERPM, s(`${spec.name}-${evr}.src.rpm`));
  if (files.length) put(TAG.FILEVERIFYFLAGS, i32(files.map(() => 0xffffffff)));
  put(TAG.PROVIDENAME, sa(provides.map((d) => d.name)));
  put(TAG.PROVIDEFLAGS, i32(provides.map((d) => d.flags ?? 0)));
  put(TAG.PROVIDEVERSION, sa(provides.map((d) => d.version ?? '')));
  put(TAG.REQUIRENAME, sa(requires.map((d) => d.name)));
  put(TAG.REQUIREFLAGS, i32(requires.map((d) => d.flags ?? 0)));
  put(TAG.REQUIREVERSION, sa(requires.map((d) => d.version ?? '')));
  if (spec.changelog) {
    put(TAG.CHANGELOGTIME, i32([spec.mtime]));
    put(TAG.CHANGELOGNAME, sa([spec.changelog.name]));
    put(TAG.CHANGELOGTEXT, sa([spec.changelog.text]));
  }
  if (files.length) {
    put(TAG.FILEDEVICES, i32(files.map(() => 1)));
    put(TAG.FILEINODES, i32(files.map((_, i) => i + 1)));
    put(TAG.FILELANGS, sa(files.map(() => '')));
    put(TAG.DIRINDEXES, i32(dirIndexes));
    put(TAG.BASENAMES, sa(basenames));
    put(TAG.DIRNAMES, sa(dirnames));
  }
  put(TAG.PAYLOADFORMAT, s('cpio'));
  put(TAG.PAYLOADCOMPRESSOR, s(compression));
  put(TAG.PAYLOADFLAGS, s(compression === 'xz' ? String(XZ_PRESET) : '9'));
  if (files.length) put(TAG.FILEDIGESTALGO, i32([PGPHASHALGO_SHA256]));
  put(TAG.ENCODING, s('utf-8'));
  put(TAG.PAYLOADDIGEST, sa([sha256(payload)]));
  put(TAG.PAYLOADDIGESTALGO, i32([PGPHASHALGO_SHA256]));
  put(TAG.PAYLOADDIGESTALT, sa([sha256(cpio)]));
  const header = writeHeader(entries, REGION.IMMUTABLE);

  const sig: HeaderEntry[] = [
    { tag: SIGTAG.SHA1, v: s(hash('sha1', header).toString('hex')) },
    { tag: SIGTAG.SHA256, v: s(sha256(header)) },
    { tag: SIGTAG.SIZE, v: i32([header.length + payload.length]) },
    {
      tag: SIGTAG.MD5,
      v: { type: TYPE.BIN, value: createHash('md5').update(header).update(payload).digest() },
    },
    { tag: SIGTAG.PAYLOADSIZE, v: i32([cpio.length]) },
  ];
  if (header.length + payload.length > 0xffffffff || cpio.length > 0xffffffff)
    throw new RpmFormatError(`${spec.name}: packages over 4 GiB are not supported`);
  if (spec.sign) {
    const { signature, rsa } = await spec.sign(header);
    sig.push({ tag: rsa ? SIGTAG.RSA : SIGTAG.DSA, v: { type: TYPE.BIN, value: signature } });
  }
  const lead = writeLead(`${spec.name}-${evr}`, spec.arch === 'aarch64' ? 19 : 1);
  const sigHeader = writeSignatureHeader(sig);
  const headerStart = lead.length + sigHeader.length;
  return {
    rpm: Buffer.concat([lead, sigHeader, header, payload]),
    headerStart,
    headerEnd: headerStart + header.length,
    installedSize,
    archiveSize: cpio.length,
    fileName: rpmFileName(spec.name, spec.version, spec.release, spec.arch),
  };
}
