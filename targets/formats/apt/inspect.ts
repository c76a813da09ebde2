// `edgewan-build inspect dist/apt/dists/<suite>`: our reader for one apt suite. Verifies
// InRelease with the repository's public key (dist/apt/*-archive-keyring.gpg), checks that
// Release's SHA256 list matches every index file, and that every Packages entry's pool file
// has the listed size and SHA256 — what apt itself checks before installing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as openpgp from 'openpgp';
import type { Reader } from '../../target.ts';
import { parseControl } from '../deb-control.ts';
import { inspectDeb } from '../deb-inspect.ts';
import { sha256 } from '../hash.ts';

export interface AptSuiteInspection {
  format: 'apt-suite';
  path: string;
  suite: string;
  signature: { verified: boolean; keyFingerprint: string | null; created: string | null; error?: string };
  release: Record<string, string>;
  indexes: Array<{ path: string; size: number; sha256Ok: boolean }>;
  packages: Array<{
    index: string;
    package: string;
    version: string;
    architecture: string;
    filename: string;
    size: number;
    sha256Ok: boolean;
  }>;
  allVerified: boolean;
}

export async function inspectAptSuite(dir: string): Promise<AptSuiteInspection> {
  const repo = resolve(dir, '..', '..');
  const inRelease = readFileSync(join(dir, 'InRelease'), 'utf8');
  const keyFile = readdirSync(repo).find((f) => f.endsWith('-archive-keyring.gpg'));
  const signature: AptSuiteInspection['signature'] = { verified: false, keyFingerprint: null, created: null };
  let text: string;
  const msg = await openpgp.readCleartextMessage({ cleartextMessage: inRelease });
  text = msg.getText();
  if (!keyFile) signature.error = `no *-archive-keyring.gpg in ${repo}`;
  else {
    const key = await openpgp.readKey({ binaryKey: readFileSync(join(repo, keyFile)) });
    signature.keyFingerprint = key.getFingerprint().toUpperCase();
    try {
      const v = await openpgp.verify({ message: msg, verificationKeys: key, expectSigned: true });
      text = String(v.data);
      const sig = await v.signatures[0].signature;
      signature.verified = true;
      signature.created = sig.packets[0].created?.toISOString() ?? null;
    } catch (e) {
      signature.error = (e as Error).message;
    }
  }
  const release = parseControl(text)[0] ?? {};
  const indexes = (release.SHA256 ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [hash, size, path] = l.split(/\s+/);
      const f = join(dir, path);
      const data = existsSync(f) ? readFileSync(f) : undefined;
      return {
        path,
        size: Number(size),
        sha256Ok: !!data && data.length === Number(size) && sha256(data) === hash,
      };
    });
  const packages: AptSuiteInspection['packages'] = [];
  for (const ix of indexes.filter((i) => i.path.endsWith('/Packages'))) {
    for (const p of parseControl(readFileSync(join(dir, ix.path), 'utf8'))) {
      const f = join(repo, p.Filename);
      const data = existsSync(f) ? readFileSync(f) : undefined;
      packages.push({
        index: ix.path,
        package: p.Package,
        version: p.Version,
        architecture: p.Architecture,
        filename: p.Filename,
        size: Number(p.Size),
        sha256Ok: !!data && data.length === Number(p.Size) && sha256(data) === p.SHA256,
      });
    }
  }
  return {
    format: 'apt-suite',
    path: dir,
    suite: release.Suite ?? '',
    signature,
    release: Object.fromEntries(Object.entries(release).filter(([k]) => !['MD5Sum', 'SHA256'].includes(k))),
    indexes,
    packages,
    allVerified:
      signature.verified &&
      indexes.length > 0 &&
      indexes.every((i) => i.sha256Ok) &&
      packages.every((p) => p.sha256Ok),
  };
}

/** The inspect readers of the formats the debian and raspbian targets write. */
export const APT_READERS: readonly Reader[] = [
  {
    name: 'deb',
    match: (p, h, dir) => !dir && h.toString('latin1', 0, 21) === '!<arch>\ndebian-binary',
    read: inspectDeb,
  },
  {
    name: 'apt-suite',
    match: (p, _h, dir) => dir && existsSync(join(p, 'InRelease')),
    read: inspectAptSuite,
  },
];
