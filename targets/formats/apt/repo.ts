// One suite of the signed apt repository in dist/apt (Debian wiki "DebianRepository/Format"):
//   pool/<suite>/<pkg>_<version>_<arch>.deb
//   dists/<suite>/main/binary-<arch>/Packages, Packages.gz
//   dists/<suite>/Release, InRelease (clearsigned), Release.gpg (detached)
//   <name>-archive-keyring.gpg/.asc (public key), <name>-<suite>.sources (user snippet)
// Suites are independent (the debian target writes `bookworm`, raspbian `rpi`), so two
// targets never write the same index; the pool is split per suite so the same
// name_version_arch can never mean two different files. Everything is rewritten from
// scratch per build, in temp names renamed into place.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirPublic, writeFileAtomicSync, writePublic } from '../atomic.ts';
import { gzip } from '../gzip.ts';
import { renderControl } from '../deb-control.ts';
import type { AptSigner } from './sign.ts';

export interface SuitePackage {
  /** the binary-<arch> index this package is listed in (an `all` package names its arch) */
  indexArch: string;
  fileName: string;
  deb: Buffer;
  /** the package's control file text */
  control: string;
}

export interface SuiteSpec {
  aptDir: string;
  /** the suite and codename, e.g. bookworm, rpi */
  suite: string;
  origin: string;
  label: string;
  description: string;
  /** public key and sources file base name (the package name) */
  name: string;
  packages: readonly SuitePackage[];
  signer: AptSigner;
  mtime: number;
}

export interface SuiteResult {
  /** dist-relative directory of the suite's indexes */
  distsDir: string;
  inRelease: Buffer;
  /** bytes of the suite: its indexes plus its pool files */
  size: number;
  poolFiles: string[];
}

const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

/** Release date format apt expects (RFC 2822 in UTC). */
export function releaseDate(mtime: number): string {
  return new Date(mtime * 1000).toUTCString().replace('GMT', 'UTC');
}

function packagesEntry(p: SuitePackage, filename: string): string {
  // Filename/Size/hashes go before Description, where dpkg-scanpackages puts them.
  const at = p.control.search(/^Description:/m);
  const extra = renderControl([
    ['Filename', filename],
    ['Size', p.deb.length],
    ['MD5sum', sha('md5', p.deb)],
    ['SHA256', sha('sha256', p.deb)],
  ]);
  return at < 0 ? p.control + extra : p.control.slice(0, at) + extra + p.control.slice(at);
}

export async function writeSuite(spec: SuiteSpec): Promise<SuiteResult> {
  const { aptDir, suite } = spec;
  const indexArches = [...new Set(spec.packages.map((p) => p.indexArch))].sort();
  const poolFiles: string[] = [];
  const byArch = new Map<string, string[]>(indexArches.map((a) => [a, []]));
  let size = 0;
  for (const p of [...spec.packages].sort((a, b) =>
    a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0,
  )) {
    const rel = `pool/${suite}/${p.fileName}`;
    if (poolFiles.includes(rel) && byArch.get(p.indexArch)!.some((e) => e.includes(`Filename: ${rel}\n`))) {
      throw new Error(`apt suite ${suite}: ${rel} listed twice in binary-${p.indexArch}`);
    }
    if (!poolFiles.includes(rel)) {
      writeFileAtomicSync(join(aptDir, rel), p.deb);
      poolFiles.push(rel);
      size += p.deb.length;
    }
    byArch.get(p.indexArch)!.push(packagesEntry(p, rel));
  }

  // The pool of a suite holds exactly this build's packages (an older version left there
  // would be served by no index but still published).
  const poolDir = join(aptDir, 'pool', suite);
  if (existsSync(poolDir)) {
    for (const f of readdirSync(poolDir))
      if (!poolFiles.includes(`pool/${suite}/${f}`))
        rmSync(join(poolDir, f), { recursive: true, force: true });
  }

  // Build the suite's indexes in a temp dir, then swap it in whole.
  const finalDir = join(aptDir, 'dists', suite);
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  const indexes: Array<[string, Buffer]> = [];
  for (const arch of indexArches) {
    const text = Buffer.from(byArch.get(arch)!.join('\n'));
    indexes.push([`main/binary-${arch}/Packages`, text], [`main/binary-${arch}/Packages.gz`, gzip(text)]);
  }
  const hashes = (alg: string) =>
    indexes.map(([n, b]) => ` ${sha(alg, b)} ${String(b.length).padStart(8)} ${n}`).join('\n');
  const release =
    renderControl([
      ['Origin', spec.origin],
      ['Label', spec.label],
      ['Suite', suite],
      ['Codename', suite],
      ['Date', releaseDate(spec.mtime)],
      ['Architectures', indexArches.join(' ')],
      ['Components', 'main'],
      ['Description', spec.description],
    ]) + `MD5Sum:\n${hashes('md5')}\nSHA256:\n${hashes('sha256')}\n`;
  const inRelease = Buffer.from(await spec.signer.clearsign(release));
  const releaseGpg = Buffer.from(await spec.signer.detachSign(Buffer.from(release)));
  for (const [n, b] of [
    ...indexes,
    ['Release', Buffer.from(release)],
    ['InRelease', inRelease],
    ['Release.gpg', releaseGpg],
  ] as Array<[string, Buffer]>) {
    writePublic(join(tmpDir, n), b);
    size += b.length;
  }
  rmSync(finalDir, { recursive: true, force: true });
  mkdirPublic(dirname(finalDir));
  renameSync(tmpDir, finalDir);

  writeFileAtomicSync(join(aptDir, `${spec.name}-archive-keyring.gpg`), spec.signer.publicBinary);
  writeFileAtomicSync(join(aptDir, `${spec.name}-archive-keyring.asc`), spec.signer.publicArmored);
  writeFileAtomicSync(join(aptDir, `${spec.name}-${suite}.sources`), sourcesSnippet(spec.name, suite));
  return { distsDir: `apt/dists/${suite}`, inRelease, size, poolFiles };
}

/** The deb822 sources file a user drops into /etc/apt/sources.list.d/. */
export function sourcesSnippet(
  name: string,
  suite: string,
  uri = 'https://REPLACE-WITH-YOUR-HOST/apt',
): string {
  return `# ${name} (${suite}): copy ${name}-archive-keyring.gpg to /usr/share/keyrings/ and this file to
# /etc/apt/sources.list.d/${name}.sources, with URIs set to where dist/apt is published.
Types: deb
URIs: ${uri}
Suites: ${suite}
Components: main
Signed-By: /usr/share/keyrings/${name}-archive-keyring.gpg
`;
}
