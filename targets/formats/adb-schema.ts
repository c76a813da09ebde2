// Field numbering of apk-tools' APK v3 schemas (src/apk_adb.h ADBI_* and the schema tables
// of src/apk_adb.c), shared by our writer (adb-package.ts, adb-index.ts) and reader
// (adb-read.ts). Field i of an object lives in slot i; slot 0 holds the slot count.

export type Kind =
  | { k: 'string' }
  | { k: 'hex' }
  | { k: 'int' }
  | { k: 'oct' }
  | { k: 'xattr' }
  | { k: 'obj'; s: ObjSchema }
  | { k: 'arr'; item: Kind };

export interface ObjSchema {
  name: string;
  /** fields[i] describes slot i (index 0 unused) */
  fields: readonly ({ name: string; kind: Kind } | undefined)[];
}

const str: Kind = { k: 'string' };
const hex: Kind = { k: 'hex' };
const int: Kind = { k: 'int' };
const oct: Kind = { k: 'oct' };

function schema(name: string, list: [number, string, Kind][]): ObjSchema {
  const fields: ({ name: string; kind: Kind } | undefined)[] = [];
  for (const [i, n, kind] of list) fields[i] = { name: n, kind };
  return { name, fields };
}

/* Dependency: ADBI_DEP_NAME 1, ADBI_DEP_VERSION 2, ADBI_DEP_MATCH 3 */
export const DEP = { NAME: 1, VERSION: 2, MATCH: 3 } as const;
export const schemaDependency = schema('dependency', [
  [1, 'name', str],
  [2, 'version', str],
  [3, 'match', int],
]);

/* Package info: ADBI_PI_* */
export const PI = {
  NAME: 1,
  VERSION: 2,
  HASHES: 3,
  DESCRIPTION: 4,
  ARCH: 5,
  LICENSE: 6,
  ORIGIN: 7,
  MAINTAINER: 8,
  URL: 9,
  REPO_COMMIT: 10,
  BUILD_TIME: 11,
  INSTALLED_SIZE: 12,
  FILE_SIZE: 13,
  PROVIDER_PRIORITY: 14,
  DEPENDS: 15,
  PROVIDES: 16,
  REPLACES: 17,
  INSTALL_IF: 18,
  RECOMMENDS: 19,
  LAYER: 20,
  TAGS: 21,
  MAX: 22,
} as const;
const deps: Kind = { k: 'arr', item: { k: 'obj', s: schemaDependency } };
export const schemaPkginfo = schema('pkginfo', [
  [PI.NAME, 'name', str],
  [PI.VERSION, 'version', str],
  [PI.HASHES, 'hashes', hex],
  [PI.DESCRIPTION, 'description', str],
  [PI.ARCH, 'arch', str],
  [PI.LICENSE, 'license', str],
  [PI.ORIGIN, 'origin', str],
  [PI.MAINTAINER, 'maintainer', str],
  [PI.URL, 'url', str],
  [PI.REPO_COMMIT, 'repo-commit', hex],
  [PI.BUILD_TIME, 'build-time', int],
  [PI.INSTALLED_SIZE, 'installed-size', int],
  [PI.FILE_SIZE, 'file-size', int],
  [PI.PROVIDER_PRIORITY, 'provider-priority', int],
  [PI.DEPENDS, 'depends', deps],
  [PI.PROVIDES, 'provides', deps],
  [PI.REPLACES, 'replaces', deps],
  [PI.INSTALL_IF, 'install-if', deps],
  [PI.RECOMMENDS, 'recommends', deps],
  [PI.LAYER, 'layer', int],
  [PI.TAGS, 'tags', { k: 'arr', item: str }],
]);

/* ACL: ADBI_ACL_MODE 1, USER 2, GROUP 3, XATTRS 4 */
export const ACL = { MODE: 1, USER: 2, GROUP: 3, XATTRS: 4 } as const;
export const schemaAcl = schema('acl', [
  [1, 'mode', oct],
  [2, 'user', str],
  [3, 'group', str],
  [4, 'xattrs', { k: 'arr', item: { k: 'xattr' } }],
]);

/* File: ADBI_FI_NAME 1, ACL 2, SIZE 3, MTIME 4, HASHES 5, TARGET 6 */
export const FI = { NAME: 1, ACL: 2, SIZE: 3, MTIME: 4, HASHES: 5, TARGET: 6 } as const;
export const schemaFile = schema('file', [
  [1, 'name', str],
  [2, 'acl', { k: 'obj', s: schemaAcl }],
  [3, 'size', int],
  [4, 'mtime', int],
  [5, 'hash', hex],
  [6, 'target', hex],
]);

/* Directory: ADBI_DI_NAME 1, ACL 2, FILES 3 */
export const DI = { NAME: 1, ACL: 2, FILES: 3 } as const;
export const schemaDir = schema('dir', [
  [1, 'name', str],
  [2, 'acl', { k: 'obj', s: schemaAcl }],
  [3, 'files', { k: 'arr', item: { k: 'obj', s: schemaFile } }],
]);

/* Scripts: ADBI_SCRPT_TRIGGER 1 … POSTUPGRADE 7 */
export const SCRPT = {
  TRIGGER: 1,
  PREINST: 2,
  POSTINST: 3,
  PREDEINST: 4,
  POSTDEINST: 5,
  PREUPGRADE: 6,
  POSTUPGRADE: 7,
} as const;
export const SCRIPT_NAMES = [
  '',
  'trigger',
  'pre-install',
  'post-install',
  'pre-deinstall',
  'post-deinstall',
  'pre-upgrade',
  'post-upgrade',
] as const;
export const schemaScripts = schema(
  'scripts',
  SCRIPT_NAMES.slice(1).map((n, i) => [i + 1, n, str] as [number, string, Kind]),
);

/* Package: ADBI_PKG_PKGINFO 1, PATHS 2, SCRIPTS 3, TRIGGERS 4, REPLACES_PRIORITY 5 */
export const PKG = { PKGINFO: 1, PATHS: 2, SCRIPTS: 3, TRIGGERS: 4, REPLACES_PRIORITY: 5 } as const;
export const schemaPackage = schema('package', [
  [PKG.PKGINFO, 'info', { k: 'obj', s: schemaPkginfo }],
  [PKG.PATHS, 'paths', { k: 'arr', item: { k: 'obj', s: schemaDir } }],
  [PKG.SCRIPTS, 'scripts', { k: 'obj', s: schemaScripts }],
  [PKG.TRIGGERS, 'triggers', { k: 'arr', item: str }],
  [PKG.REPLACES_PRIORITY, 'replaces-priority', int],
]);

/* Index: ADBI_NDX_DESCRIPTION 1, PACKAGES 2, PKGNAME_SPEC 3 */
export const NDX = { DESCRIPTION: 1, PACKAGES: 2, PKGNAME_SPEC: 3 } as const;
export const schemaIndex = schema('index', [
  [NDX.DESCRIPTION, 'description', str],
  [NDX.PACKAGES, 'packages', { k: 'arr', item: { k: 'obj', s: schemaPkginfo } }],
  [NDX.PKGNAME_SPEC, 'pkgname-spec', str],
]);

/** struct stat file type bits used in a file's "target" blob (le16 mode then data). */
export const S_IFLNK = 0o120000;
