// APK v3 package writer: builds the "pckg" ADB tree in the order apk-tools' `apk mkpkg`
// writes it (src/app_mkpkg.c mkpkg_main / mkpkg_process_directory / mkpkg_process_dirent),
// signs it (adb-sign.ts), appends one DATA block per non-empty regular file
// (struct adb_data_package {path_idx, file_idx} + content, apk_adb.h) and compresses the
// whole stream like adb_compress() does by default. Inputs are validated before any byte
// is produced: a version apk would reject, a bad name, an unknown owner are clear errors.
import { createHash } from 'node:crypto';
import {
  AdbWriter,
  ADB_BLOCK_ADB,
  ADB_BLOCK_DATA,
  ADB_BLOCK_SIG,
  ADB_NULL,
  ADB_SCHEMA_PACKAGE,
  blobContentOffset,
  blobSort,
  compressAdb,
  compressAdbSplit,
  fileBlock,
  fileHeader,
  AdbFormatError,
  type AdbVal,
} from './adb.ts';
import { ACL, DEP, DI, FI, PI, PKG, S_IFLNK, SCRIPT_NAMES } from './adb-schema.ts';
import { signAdb, type ApkSigningKey } from './adb-sign.ts';
import { normPath, type FileEntry } from './tar.ts';

export interface ApkInfo {
  name: string;
  version: string;
  description?: string;
  /** OpenWRT arch name or "noarch" */
  arch: string;
  license?: string;
  origin?: string;
  maintainer?: string;
  url?: string;
  buildTime?: number;
  /** "name", "name>=1.2", "!name" */
  depends?: string[];
  provides?: string[];
  replaces?: string[];
}

export type ApkScriptName = (typeof SCRIPT_NAMES)[number];

export interface ApkPackageInput {
  info: ApkInfo;
  entries: readonly FileEntry[];
  /** SOURCE_DATE_EPOCH for every file's mtime */
  mtime: number;
  scripts?: Partial<Record<Exclude<ApkScriptName, ''>, string>>;
}

export class ApkInputError extends Error {
  readonly code = 'EDGEWAN_ERR_APK_INPUT';
}

// apk-tools src/version.c: digits{.digits}[letter]{_suffix[digits]}[-rDIGITS] (Gentoo style).
const APK_VERSION = /^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(-r[0-9]+)?$/;
// apk_adb.c name_fromstring: alnum first, then the APK_CTYPE_PACKAGE_NAME set.
const APK_NAME = /^[A-Za-z0-9][A-Za-z0-9+_.-]*$/;

export function validateApkVersion(v: string): void {
  if (!APK_VERSION.test(v))
    throw new ApkInputError(
      `version "${v}" is not an apk version (digits.digits[letter][_rc1][-r1], apk-tools src/version.c): fix the package version mapping`,
    );
}

export function validateApkName(n: string): void {
  if (!APK_NAME.test(n))
    throw new ApkInputError(
      `package name "${n}" is invalid for apk (a letter or digit, then letters, digits, + _ . -)`,
    );
}

const OPS: Record<string, number> = { '=': 1, '<': 2, '<=': 3, '>': 4, '>=': 5, '~': 9 };

/** dependency_fromstring: [!]name[op version] → {name, version?, match?}. */
function writeDependency(w: AdbWriter, dep: string): AdbVal {
  const m = /^(!?)([A-Za-z0-9][A-Za-z0-9+_.:/-]*)(?:(<=|>=|=|<|>|~)(.+))?$/.exec(dep);
  if (!m) throw new ApkInputError(`dependency "${dep}" is not of the form [!]name[op version]`);
  let op = m[3] ? OPS[m[3]] : 7; // APK_DEPMASK_ANY
  if (m[4]) validateApkVersion(m[4]);
  if (m[1]) op |= 16; // APK_VERSION_CONFLICT
  const slots: AdbVal[] = [];
  slots[DEP.NAME] = w.blob(m[2]);
  if (op !== 7) {
    slots[DEP.VERSION] = w.blob(m[4]);
    if (op !== 1) slots[DEP.MATCH] = w.int(op);
  }
  return w.obj(fill(slots, 4));
}

function fill(slots: AdbVal[], n: number): AdbVal[] {
  const out = new Array<AdbVal>(n).fill(ADB_NULL);
  slots.forEach((v, i) => {
    if (v !== undefined) out[i] = v;
  });
  return out;
}

/** Sorted, unique dependency array (schema_dependency_array pre_commit adb_wa_sort_unique). */
function writeDeps(w: AdbWriter, deps: readonly string[] | undefined): AdbVal {
  if (!deps || deps.length === 0) return ADB_NULL;
  const sorted = [...new Set(deps)].sort((a, b) => blobSort(a.replace(/^!/, ''), b.replace(/^!/, '')));
  return w.arr(sorted.map((d) => writeDependency(w, d)));
}

interface Dir {
  name: string;
  mode: number;
  files: FileEntry[];
}

function ownerName(id: number | undefined, path: string): string {
  if (id === undefined || id === 0) return 'root';
  throw new ApkInputError(
    `${path}: owner id ${id} has no name; APK v3 stores owner names (use 0 = root, create service users in post-install)`,
  );
}

/** Group entries into directories (every ancestor and the root "" get an entry, as mkpkg walks a tree). */
function collectDirs(entries: readonly FileEntry[]): Dir[] {
  const dirs = new Map<string, Dir>([['', { name: '', mode: 0o755, files: [] }]]);
  const ensure = (name: string): Dir => {
    let d = dirs.get(name);
    if (!d) {
      d = { name, mode: 0o755, files: [] };
      dirs.set(name, d);
      if (name) ensure(name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '');
    }
    return d;
  };
  const seen = new Set<string>();
  for (const e of entries) {
    const path = normPath(e.path);
    if (seen.has(path)) throw new ApkInputError(`duplicate path in package: ${path}`);
    seen.add(path);
    if (e.type === 'dir') {
      ensure(path).mode = e.mode & 0o7777;
      ownerName(e.uid, path);
      ownerName(e.gid, path);
      continue;
    }
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    ensure(parent).files.push({ ...e, path });
  }
  for (const d of dirs.values()) {
    for (const f of d.files)
      if (dirs.has(f.path)) throw new ApkInputError(`${f.path} is both a file and a directory`);
  }
  return [...dirs.values()];
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

export interface BuiltApk {
  /** the .apk file bytes (compressed) */
  file: Buffer;
  /** ADB block payload (what is signed and what the index hashes) */
  adb: Buffer;
}

export interface BuildApkOptions {
  /** share compressed DATA parts between packages with the same files (see compressAdbSplit) */
  dataCache?: Map<string, Buffer>;
  /** with dataCache: also keep the compressed DATA parts on disk between builds */
  cacheDir?: string;
}

/** Build, sign (when a key is given) and compress one APK v3 package. */
export function buildApkPackage(
  input: ApkPackageInput,
  key?: ApkSigningKey,
  opts: BuildApkOptions = {},
): BuiltApk {
  const { info } = input;
  validateApkName(info.name);
  validateApkVersion(info.version);
  if (!info.arch || !/^[A-Za-z0-9_.-]+$/.test(info.arch))
    throw new ApkInputError(`arch "${info.arch}" is not a valid apk arch name`);
  const dirs = collectDirs(input.entries);
  const w = new AdbWriter();

  // assign_fields(): info fields in schema index order, before the tree is scanned.
  const pi: AdbVal[] = fill([], PI.MAX);
  pi[PI.NAME] = w.blob(info.name);
  pi[PI.VERSION] = w.blob(info.version);
  pi[PI.DESCRIPTION] = w.blob(info.description);
  pi[PI.ARCH] = w.blob(info.arch);
  pi[PI.LICENSE] = w.blob(info.license);
  pi[PI.ORIGIN] = w.blob(info.origin);
  pi[PI.MAINTAINER] = w.blob(info.maintainer);
  pi[PI.URL] = w.blob(info.url);
  pi[PI.BUILD_TIME] = w.int(info.buildTime);
  pi[PI.DEPENDS] = writeDeps(w, info.depends);
  pi[PI.PROVIDES] = writeDeps(w, info.provides);
  pi[PI.REPLACES] = writeDeps(w, info.replaces);

  // mkpkg_process_directory / _dirent: per directory its name and acl, its files, then the
  // files array (sorted by name) and the directory object; the paths array is sorted too.
  let installedSize = 0;
  const sortedDirs = [...dirs].sort((a, b) => blobSort(a.name, b.name));
  const dirVals: AdbVal[] = [];
  const dataOrder: { pathIdx: number; fileIdx: number; data: Buffer }[] = [];
  sortedDirs.forEach((d, di) => {
    const dv = fill([], 4);
    dv[DI.NAME] = w.blob(d.name);
    dv[DI.ACL] = w.obj(fill([0, w.int(d.mode), w.blob('root'), w.blob('root')], 5));
    const files = [...d.files].sort((a, b) => blobSort(baseName(a.path), baseName(b.path)));
    const fileVals = files.map((f, fi) => {
      const fv = fill([], 7);
      fv[FI.NAME] = w.blob(baseName(f.path));
      let size: number;
      let mode: number;
      if (f.type === 'file') {
        size = f.data.length;
        mode = f.mode & 0o7777;
        fv[FI.HASHES] = w.blob(createHash('sha256').update(f.data).digest());
        installedSize += size; // mkpkg_process_dirent: the plain sum of the regular files' sizes
        if (size > 0) dataOrder.push({ pathIdx: di + 1, fileIdx: fi + 1, data: f.data });
      } else if (f.type === 'symlink') {
        const t = Buffer.from(f.target, 'utf8');
        const hdr = Buffer.alloc(2);
        hdr.writeUInt16LE(S_IFLNK);
        fv[FI.TARGET] = w.blob(Buffer.concat([hdr, t]));
        size = t.length;
        mode = 0o777;
      } else throw new ApkInputError(`${f.path}: unsupported entry type`);
      fv[FI.MTIME] = w.int(input.mtime);
      fv[FI.SIZE] = w.int(size);
      fv[FI.ACL] = w.obj(
        fill([0, w.int(mode), w.blob(ownerName(f.uid, f.path)), w.blob(ownerName(f.gid, f.path))], 5),
      );
      return w.obj(fv);
    });
    dv[DI.FILES] = w.arr(fileVals);
    dirVals.push(w.obj(dv));
  });
  if (installedSize === 0) installedSize = 1; // mkpkg_main: an empty package still reports 1

  pi[PI.INSTALLED_SIZE] = w.int(installedSize);
  // The package hash is a 20-byte placeholder filled with SHA-256(ADB)[0..20] at the end.
  const hashVal = w.blob(Buffer.alloc(20));
  pi[PI.HASHES] = hashVal;
  const pkg = fill([], 6);
  pkg[PKG.PKGINFO] = w.obj(pi);
  pkg[PKG.PATHS] = w.arr(dirVals);
  if (input.scripts && Object.keys(input.scripts).length) {
    const sc = fill([], 8);
    SCRIPT_NAMES.forEach((n, i) => {
      if (i > 0) sc[i] = w.blob(input.scripts?.[n as Exclude<ApkScriptName, ''>]);
    });
    pkg[PKG.SCRIPTS] = w.obj(sc);
  }
  w.setRoot(w.obj(pkg));
  w.patch(blobContentOffset(hashVal), createHash('sha256').update(w.bytes()).digest().subarray(0, 20));
  const adb = w.bytes();

  const head: Buffer[] = [fileHeader(ADB_SCHEMA_PACKAGE), ...fileBlock(ADB_BLOCK_ADB, adb)];
  if (key) head.push(...fileBlock(ADB_BLOCK_SIG, signAdb(ADB_SCHEMA_PACKAGE, adb, key)));
  const data: Buffer[] = [];
  for (const d of dataOrder) {
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32LE(d.pathIdx, 0);
    hdr.writeUInt32LE(d.fileIdx, 4);
    data.push(...fileBlock(ADB_BLOCK_DATA, [hdr, d.data]));
  }
  if (adb.length > 0x3fffffff) throw new AdbFormatError('ADB block too large');
  return {
    file: opts.dataCache
      ? compressAdbSplit(head, data, opts.dataCache, opts.cacheDir)
      : compressAdb([...head, ...data]),
    adb,
  };
}
