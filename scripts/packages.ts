// Third-party npm packages that actually ended up in the bundle, read from esbuild's metafile
// (the output's inputs with bytesInOutput > 0), with name, version and license from each
// package's own package.json and its license files. Feeds the license notices and the SBOM.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';

export interface BundledPackage {
  name: string;
  version: string;
  /** SPDX expression from package.json ("NOASSERTION" when absent) */
  license: string;
  /** repository-relative directory, e.g. node_modules/lru-cache */
  dir: string;
  homepage?: string;
  /** license/notice files: [file name, text] */
  licenseFiles: [string, string][];
  /** bytes this package contributes to the output */
  bytes: number;
}

/** "node_modules/@scope/name/lib/x.js" → "node_modules/@scope/name" (the innermost package). */
export function packageDirOf(input: string): string | undefined {
  const parts = input.split('/');
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const n = parts[i + 1].startsWith('@') ? 3 : 2;
  return parts.slice(0, i + n).join('/');
}

function licenseOf(pkg: Record<string, unknown>): string {
  const l = pkg.license;
  if (typeof l === 'string' && l.trim()) return l.trim();
  if (l && typeof l === 'object' && typeof (l as { type?: unknown }).type === 'string')
    return (l as { type: string }).type;
  if (Array.isArray(pkg.licenses)) {
    const types = pkg.licenses.map((x: { type?: string }) => x?.type).filter(Boolean);
    if (types.length) return types.length === 1 ? String(types[0]) : `(${types.join(' OR ')})`;
  }
  return 'NOASSERTION';
}

/** Packages in the bundle, sorted by name then dir; root is the esbuild absWorkingDir. */
export function bundledPackages(meta: Metafile, root: string): BundledPackage[] {
  const bytes = new Map<string, number>();
  for (const out of Object.values(meta.outputs)) {
    for (const [input, info] of Object.entries(out.inputs)) {
      const dir = packageDirOf(input);
      if (dir && info.bytesInOutput > 0) bytes.set(dir, (bytes.get(dir) ?? 0) + info.bytesInOutput);
    }
  }
  const out: BundledPackage[] = [];
  for (const [dir, n] of bytes) {
    const pj = join(root, dir, 'package.json');
    if (!existsSync(pj)) continue;
    const pkg = JSON.parse(readFileSync(pj, 'utf8')) as Record<string, unknown>;
    const files = readdirSync(join(root, dir))
      .filter((f) => /^(licen[cs]e|copying|notice)/i.test(f))
      .sort()
      .map((f): [string, string] => [f, readFileSync(join(root, dir, f), 'utf8')]);
    out.push({
      name: String(pkg.name ?? dir),
      version: String(pkg.version ?? '0.0.0'),
      license: licenseOf(pkg),
      dir,
      homepage: typeof pkg.homepage === 'string' ? pkg.homepage : undefined,
      licenseFiles: files,
      bytes: n,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.dir < b.dir ? -1 : 1));
}

/** The license notices shipped beside the bundle (edgewan.cjs.LICENSES.txt). */
export function licenseNotices(self: { name: string; license: string }, pkgs: BundledPackage[]): string {
  const lines = [
    `${self.name} is licensed under ${self.license}.`,
    `It bundles the following ${pkgs.length} third-party package(s); their notices follow.`,
    '',
  ];
  for (const p of pkgs) {
    lines.push(
      '='.repeat(78),
      `${p.name}@${p.version} — ${p.license}`,
      p.homepage ? `${p.homepage}` : '',
      '',
    );
    if (p.licenseFiles.length === 0)
      lines.push(`(the package ships no license file; package.json declares ${p.license})`, '');
    for (const [f, text] of p.licenseFiles) lines.push(`--- ${f} ---`, text.trimEnd(), '');
  }
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

/**
 * Sections appended to the bundle's notices for what a package ships besides the bundle: the
 * Node runtime inside each executable (its LICENSE covers Node and what it embeds: V8,
 * OpenSSL, ICU, libuv, …) and, where a package carries it, the private glibc set's Debian
 * copyright files. Each section is headed like the bundle's.
 */
export function appendNotices(
  base: string,
  sections: ReadonlyArray<{ title: string; text: string }>,
): string {
  const lines = [base.trimEnd(), ''];
  for (const s of sections) lines.push('='.repeat(78), s.title, '', s.text.trimEnd(), '');
  return `${lines.join('\n').trimEnd()}\n`;
}
