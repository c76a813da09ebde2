// The signed dnf/yum repository in dist/rhel (what createrepo_c writes, by our own code):
//   Packages/<name>-<version>-<release>.<arch>.rpm
//   repodata/repomd.xml            index of the three metadata files (sha256, sizes, open-*)
//   repodata/repomd.xml.asc        detached armored OpenPGP signature (repo_gpgcheck=1)
//   repodata/<sha256>-{primary,filelists,other}.xml.gz
//   RPM-GPG-KEY-<name>             the public key (gpgkey=)
//   <name>.repo                    the one file a user drops into /etc/yum.repos.d/
// Every file name under repodata/ carries its checksum, so a mirror never serves a mix of
// two builds. The whole directory is built under a temporary name and renamed into place.

import { join } from 'node:path';
import { writeDirAtomic } from '../formats/atomic.ts';
import { gzip } from '../formats/gzip.ts';
import { sha256 } from '../formats/hash.ts';
import { readHeader } from './header.ts';
import { SENSE, TAG } from './rpm.ts';

export interface RepoPackage {
  fileName: string;
  rpm: Buffer;
  headerStart: number;
  headerEnd: number;
  archiveSize: number;
}

export interface RepoSpec {
  dir: string;
  /** repo id and key/.repo file name (the package name) */
  name: string;
  /** human name for the .repo file */
  title: string;
  packages: readonly RepoPackage[];
  mtime: number;
  publicArmored: string;
  detachSign: (data: Buffer) => Promise<string>;
}

export interface RepoResult {
  repomd: Buffer;
  /** bytes of every file of the repository */
  size: number;
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const FLAG_NAMES: Array<[number, string]> = [
  [SENSE.LESS | SENSE.EQUAL, 'LE'],
  [SENSE.GREATER | SENSE.EQUAL, 'GE'],
  [SENSE.EQUAL, 'EQ'],
  [SENSE.LESS, 'LT'],
  [SENSE.GREATER, 'GT'],
];
// pre="1": needed before the package's files are in place (createrepo_c: legacy PreReq or an
// install-time scriptlet); %preun/%postun needs are ordinary requires
const PRE = SENSE.SCRIPT_PRE | SENSE.SCRIPT_POST | 0x40; // 0x40: RPMSENSE_PREREQ

/** The header of one package as repodata needs it. */
function describe(p: RepoPackage) {
  const h = readHeader(p.rpm, p.headerStart).tags;
  const str = (t: number) => String(h.get(t)?.value ?? '');
  const arr = (t: number) => (h.get(t)?.value ?? []) as string[];
  const num = (t: number) => (h.get(t)?.value ?? []) as number[];
  const deps = (names: number, flags: number, versions: number) =>
    arr(names).map((name, i) => ({ name, flags: num(flags)[i] ?? 0, version: arr(versions)[i] ?? '' }));
  const dirs = arr(TAG.DIRNAMES);
  const modes = num(TAG.FILEMODES);
  const files = arr(TAG.BASENAMES).map((b, i) => ({
    path: dirs[num(TAG.DIRINDEXES)[i]] + b,
    dir: (modes[i] & 0o170000) === 0o040000,
  }));
  return {
    name: str(TAG.NAME),
    arch: str(TAG.ARCH),
    ver: str(TAG.VERSION),
    rel: str(TAG.RELEASE),
    summary: str(TAG.SUMMARY),
    description: str(TAG.DESCRIPTION),
    packager: str(TAG.PACKAGER),
    url: str(TAG.URL),
    buildtime: num(TAG.BUILDTIME)[0] ?? 0,
    size: num(TAG.SIZE)[0] ?? 0,
    license: str(TAG.LICENSE),
    vendor: str(TAG.VENDOR),
    group: str(TAG.GROUP),
    buildhost: str(TAG.BUILDHOST),
    sourcerpm: str(TAG.SOURCERPM),
    provides: deps(TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION),
    requires: deps(TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION),
    files,
    changelog: { time: num(TAG.CHANGELOGTIME), name: arr(TAG.CHANGELOGNAME), text: arr(TAG.CHANGELOGTEXT) },
  };
}

function entry(d: { name: string; flags: number; version: string }, pre: boolean): string {
  const flag = FLAG_NAMES.find(
    ([bits]) => (d.flags & (SENSE.LESS | SENSE.GREATER | SENSE.EQUAL)) === bits,
  )?.[1];
  let evr = '';
  if (flag && d.version) {
    const cut = d.version.lastIndexOf('-');
    const [ver, rel] = cut < 0 ? [d.version, undefined] : [d.version.slice(0, cut), d.version.slice(cut + 1)];
    evr = ` flags="${flag}" epoch="0" ver="${xml(ver)}"${rel !== undefined ? ` rel="${xml(rel)}"` : ''}`;
  }
  return `        <rpm:entry name="${xml(d.name)}"${evr}${pre ? ' pre="1"' : ''}/>`;
}

// createrepo_c puts these in primary.xml (dnf resolves file requires on them without filelists)
const PRIMARY_FILE = /^(\/etc\/|\/usr\/lib\/sendmail$|.*bin\/)/;

export function renderMetadata(packages: readonly RepoPackage[]): {
  primary: string;
  filelists: string;
  other: string;
} {
  const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
  const pkgs = [...packages]
    .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0))
    .map((p) => ({ p, d: describe(p), id: sha256(p.rpm) }));
  const fileLine = (f: { path: string; dir: boolean }) =>
    `    <file${f.dir ? ' type="dir"' : ''}>${xml(f.path)}</file>`;
  const version = (d: ReturnType<typeof describe>) =>
    `<version epoch="0" ver="${xml(d.ver)}" rel="${xml(d.rel)}"/>`;
  const primary = `${head}<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${pkgs.length}">
${pkgs
  .map(({ p, d, id }) => {
    // as createrepo_c: no rpmlib() features, nothing the package provides itself, one entry
    // per name/flags/version/pre
    const own = new Set(d.provides.map((p) => `${p.name}\0${p.version}`));
    const requires = d.requires.filter(
      (r) => !r.name.startsWith('rpmlib(') && !own.has(`${r.name}\0${r.version}`),
    );
    const seen = new Map<string, { name: string; flags: number; version: string; pre: boolean }>();
    for (const r of requires) {
      const pre = (r.flags & PRE) !== 0;
      const k = `${r.name}\0${r.flags & 0xe}\0${r.version}\0${pre}`;
      if (!seen.has(k)) seen.set(k, { ...r, pre });
    }
    return `<package type="rpm">
  <name>${xml(d.name)}</name>
  <arch>${xml(d.arch)}</arch>
  ${version(d)}
  <checksum type="sha256" pkgid="YES">${id}</checksum>
  <summary>${xml(d.summary)}</summary>
  <description>${xml(d.description)}</description>
  <packager>${xml(d.packager)}</packager>
  <url>${xml(d.url)}</url>
  <time file="${d.buildtime}" build="${d.buildtime}"/>
  <size package="${p.rpm.length}" installed="${d.size}" archive="${p.archiveSize}"/>
  <location href="Packages/${xml(p.fileName)}"/>
  <format>
    <rpm:license>${xml(d.license)}</rpm:license>
    <rpm:vendor>${xml(d.vendor)}</rpm:vendor>
    <rpm:group>${xml(d.group)}</rpm:group>
    <rpm:buildhost>${xml(d.buildhost)}</rpm:buildhost>
    <rpm:sourcerpm>${xml(d.sourcerpm)}</rpm:sourcerpm>
    <rpm:header-range start="${p.headerStart}" end="${p.headerEnd}"/>
    <rpm:provides>
${d.provides.map((e) => entry(e, false)).join('\n')}
    </rpm:provides>
    <rpm:requires>
${[...seen.values()].map((e) => entry(e, e.pre)).join('\n')}
    </rpm:requires>
${d.files
  .filter((f) => PRIMARY_FILE.test(f.path))
  .map(fileLine)
  .join('\n')}
  </format>
</package>
`;
  })
  .join('')}</metadata>
`;
  const filelists = `${head}<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${pkgs.length}">
${pkgs
  .map(
    ({ d, id }) => `<package pkgid="${id}" name="${xml(d.name)}" arch="${xml(d.arch)}">
  ${version(d)}
${d.files.map(fileLine).join('\n')}
</package>
`,
  )
  .join('')}</filelists>
`;
  const other = `${head}<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="${pkgs.length}">
${pkgs
  .map(
    ({ d, id }) => `<package pkgid="${id}" name="${xml(d.name)}" arch="${xml(d.arch)}">
  ${version(d)}
${d.changelog.text.map((t, i) => `  <changelog author="${xml(d.changelog.name[i] ?? '')}" date="${d.changelog.time[i] ?? 0}">${xml(t)}</changelog>`).join('\n')}
</package>
`,
  )
  .join('')}</otherdata>
`;
  return { primary, filelists, other };
}

/** The .repo file: one per repository, gpgcheck and repo_gpgcheck on. */
export function repoFile(name: string, title: string, uri = 'https://REPLACE-WITH-YOUR-HOST/rhel'): string {
  return `# ${name}: copy this file to /etc/yum.repos.d/${name}.repo, with baseurl and gpgkey
# set to where dist/rhel is published. dnf checks the repository metadata signature
# (repo_gpgcheck) and every package's signature (gpgcheck) with the key below.
[${name}]
name=${title}
baseurl=${uri}
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=${uri}/RPM-GPG-KEY-${name}
`;
}

// fixed modes, not the builder's umask (a repo built under umask 077 must still be served)
export async function writeRepo(spec: RepoSpec): Promise<RepoResult> {
  const md = renderMetadata(spec.packages);
  const files: Array<[string, Buffer | string]> = [];
  let size = 0;
  const put = (rel: string, data: Buffer | string) => {
    files.push([rel, data]);
    size += Buffer.byteLength(data);
  };
  for (const p of spec.packages) put(`Packages/${p.fileName}`, p.rpm);
  const data = (['primary', 'filelists', 'other'] as const).map((type) => {
    const open = Buffer.from(md[type]);
    const gz = gzip(open);
    const href = `repodata/${sha256(gz)}-${type}.xml.gz`;
    put(href, gz);
    return `  <data type="${type}">
    <checksum type="sha256">${sha256(gz)}</checksum>
    <open-checksum type="sha256">${sha256(open)}</open-checksum>
    <location href="${href}"/>
    <timestamp>${spec.mtime}</timestamp>
    <size>${gz.length}</size>
    <open-size>${open.length}</open-size>
  </data>
`;
  });
  const repomd = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>${spec.mtime}</revision>
${data.join('')}</repomd>
`);
  put('repodata/repomd.xml', repomd);
  put('repodata/repomd.xml.asc', await spec.detachSign(repomd));
  put(`RPM-GPG-KEY-${spec.name}`, spec.publicArmored);
  put(`${spec.name}.repo`, repoFile(spec.name, spec.title));
  writeDirAtomic(spec.dir, files);
  return { repomd, size };
}
