// A signed opkg feed, as OpenWRT's package/Makefile writes one:
// Packages.manifest = every package's control + Filename, Size, SHA256sum (before
// Description); Packages = the same without Maintainer, LicenseFiles, Source*, Require*,
// SourceDateEpoch; Packages.gz (`gzip -9n`); Packages.sig (usign over Packages); the public
// key named by its key number (what /etc/opkg/keys/ expects); a customfeeds.conf line.
// One feed per OpenWRT arch (targets/openwrt-24.10/index.ts lays them out, docs/openwrt.md).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzip } from '../formats/gzip.ts';
import { parseControl } from './ipk.ts';
import { keyNumHex, usignPublicFile, usignSign, usignVerify, type UsignKey } from './usign.ts';
import { sha256 } from '../formats/hash.ts';

export interface FeedPackage {
  filename: string;
  data: Buffer;
  control: string;
}

const DROP = /^(Maintainer|LicenseFiles|Source|SourceName|Require|Require-User|SourceDateEpoch)$/;

function paragraph(p: FeedPackage): { manifest: string; packages: string } {
  const c = parseControl(p.control);
  const extra: Record<string, string> = {
    Filename: p.filename,
    Size: String(p.data.length),
    SHA256sum: sha256(p.data),
  };
  const lines: [string, string][] = [];
  for (const [k, v] of Object.entries(c)) {
    if (k === 'Description') for (const [ek, ev] of Object.entries(extra)) lines.push([ek, ev]);
    lines.push([k, v]);
  }
  if (!('Description' in c)) for (const [ek, ev] of Object.entries(extra)) lines.push([ek, ev]);
  const fmt = (ls: [string, string][]) =>
    ls.map(([k, v]) => `${k}: ${v.split('\n').join('\n ')}\n`).join('') + '\n';
  return { manifest: fmt(lines), packages: fmt(lines.filter(([k]) => !DROP.test(k))) };
}

export interface FeedFiles {
  files: Record<string, Buffer>;
  keyFile: string;
}

/**
 * Every feed file by name (relative to the feed directory). Packages sorted by name, arch.
 * name: the feed's name in its src/gz line; keyName: the name in the public key's comment.
 */
export function buildFeed(
  pkgs: readonly FeedPackage[],
  key: UsignKey,
  opts: { name: string; keyName: string; url: string },
): FeedFiles {
  const sorted = [...pkgs].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  const paras = sorted.map(paragraph);
  const packages = Buffer.from(paras.map((p) => p.packages).join(''));
  const keyFile = keyNumHex(key);
  const files: Record<string, Buffer> = {
    Packages: packages,
    'Packages.gz': gzip(packages),
    'Packages.manifest': Buffer.from(paras.map((p) => p.manifest).join('')),
    'Packages.sig': Buffer.from(usignSign(packages, key)),
    [keyFile]: Buffer.from(usignPublicFile(key, opts.keyName)),
    'customfeeds.conf': Buffer.from(
      `# ${opts.name}: append to /etc/opkg/customfeeds.conf; install the key with\n` +
        `#   wget -O /etc/opkg/keys/${keyFile} ${opts.url}/${keyFile}\nsrc/gz ${opts.name} ${opts.url}\n`,
    ),
  };
  return { files, keyFile };
}

/** The feeds root's customfeeds.conf: the key step, then every feed's line, commented out. */
export function feedsTemplate(
  name: string,
  keyFile: string,
  base: string,
  arches: readonly string[],
  allFeed: string,
): string {
  return (
    `# ${name} opkg feeds for OpenWRT 24.10, one per router arch. On the router:\n` +
    `#  1. install the signing key: wget -O /etc/opkg/keys/${keyFile} ${base}/${keyFile}\n` +
    "#  2. uncomment the line of the router's arch (DISTRIB_ARCH in /etc/openwrt_release)\n" +
    '#     and append it to /etc/opkg/customfeeds.conf. Each arch feed has\n' +
    `#     ${name} and ${name}-node; the ${allFeed} feed has only ${name}-node, for routers of\n` +
    '#     other arches whose feeds have the node package.\n' +
    `#  3. opkg update && opkg install ${name}\n` +
    arches.map((a) => `# src/gz ${name} ${base}/${a}\n`).join('') +
    `# src/gz ${name}_${allFeed} ${base}/${allFeed}\n`
  );
}

/** Our reader for an opkg feed directory: packages listed, files checked, signature verified. */
export async function inspectOpkgFeed(dir: string): Promise<unknown> {
  const packages = readFileSync(join(dir, 'Packages'));
  const keyFile = readdirSync(dir).find((n) => /^[0-9a-f]{16}$/.test(n));
  const sigOk =
    keyFile && existsSync(join(dir, 'Packages.sig'))
      ? usignVerify(
          packages,
          readFileSync(join(dir, 'Packages.sig'), 'utf8'),
          readFileSync(join(dir, keyFile), 'utf8'),
        )
      : false;
  const entries = packages
    .toString()
    .trim()
    .split('\n\n')
    .filter(Boolean)
    .map(parseControl)
    .map((p) => {
      const file = join(dir, p.Filename);
      const data = existsSync(file) ? readFileSync(file) : undefined;
      return {
        package: p.Package,
        version: p.Version,
        architecture: p.Architecture,
        filename: p.Filename,
        size: Number(p.Size),
        fileMatches: !!data && data.length === Number(p.Size) && sha256(data) === p.SHA256sum,
      };
    });
  return { format: 'opkg-feed', path: dir, key: keyFile ?? null, signatureValid: sigOk, packages: entries };
}

/** True for the root of per-arch feeds: a directory whose subdirectories hold signed feeds. */
export function isOpkgFeedsRoot(dir: string): boolean {
  return (
    !existsSync(join(dir, 'Packages')) &&
    readdirSync(dir).some((n) => {
      const d = join(dir, n);
      return (
        statSync(d).isDirectory() && existsSync(join(d, 'Packages')) && existsSync(join(d, 'Packages.sig'))
      );
    })
  );
}

/** Our reader for the feeds root (dist/openwrt/24.10): every arch feed read as above. */
export async function inspectOpkgFeeds(dir: string): Promise<unknown> {
  const names = readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, 'Packages')))
    .sort();
  return {
    format: 'opkg-feeds',
    path: dir,
    feeds: await Promise.all(names.map((n) => inspectOpkgFeed(join(dir, n)))),
  };
}
