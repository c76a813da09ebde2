// The `openwrt-24.10` Target: .ipk packages in one signed opkg feed per OpenWRT arch, plus the
// Image Builder recipe in dist/openwrt/imagebuilder/ (docs/openwrt.md):
//   dist/openwrt/24.10/<owrt-arch>/  edgewan_<v>_<owrt-arch>.ipk and edgewan-node_<v>_all.ipk,
//                                    Packages*, the key, customfeeds.conf (its src/gz line)
//   dist/openwrt/24.10/all/          edgewan-node alone, for routers of any other arch
//   dist/openwrt/24.10/<keynum>, customfeeds.conf   the key and every feed's line, commented
// as OpenWRT's own downloads are laid out (packages/<arch>/<feed>/, `all` packages inside each
// arch's feed): a router reads only its own arch's feed, so opkg never meets a foreign
// architecture ("has no valid architecture, ignoring.").
//   edgewan       one per OpenWRT arch name of the default set (targets/arch.ts): the same
//                 patched executable + private glibc packed once per name (opkg refuses
//                 arch names that are not in its list);
//   edgewan-node  Architecture: all, Depends: node — the bundle alone for small flash.
// Everything is built in memory, then written with temp-name-and-rename.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, type Arch } from '../arch.ts';
import type { Artifact, BuildInputs, PackageInfo, Target } from '../target.ts';
import {
  buildFeed,
  feedsTemplate,
  inspectOpkgFeed,
  inspectOpkgFeeds,
  isOpkgFeedsRoot,
  type FeedPackage,
} from './feed.ts';
import {
  OpenwrtPayloadError,
  openwrtPayload,
  patchExecutable,
  glibcEntries,
  type OpenwrtPayload,
  type Variant,
} from '../formats/openwrt/files.ts';
import { imageBuilderFiles } from './imagebuilder.ts';
import { buildIpk, controlText, dataTarGz, inspectIpk, ipkInstalledSize, type IpkControl } from './ipk.ts';
import { keyNumHex, usignKey, usignPublicFile } from './usign.ts';
import { sha256 } from '../formats/hash.ts';
import { writeFileAtomicSync } from '../formats/atomic.ts';

/** dist/-relative root of the 24.10 feeds: one directory per OpenWRT arch, plus ALL_FEED. */
export const FEED_DIR = 'openwrt/24.10';
/** The feed of the Architecture: all packages alone, for routers without an arch feed of ours. */
export const ALL_FEED = 'all';
/** The budget for edgewan-node: routers with little flash. */
export const NODE_PACKAGE_MAX = 200 * 1024;

export function ipkFileName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version}_${arch}.ipk`;
}

function control(
  info: PackageInfo,
  pkg: string,
  arch: string,
  variant: Variant,
  requireUser: string,
): IpkControl {
  const node = variant === 'node';
  return {
    Package: pkg,
    Version: info.versions.ipk,
    ...(node ? { Depends: 'node', Conflicts: info.name } : { Conflicts: `${info.name}-node` }),
    'Require-User': requireUser,
    Source: `feeds/${info.name}/${info.name}`,
    SourceName: info.name,
    License: info.license,
    Section: 'net',
    URL: info.homepage,
    Maintainer: info.maintainer,
    Architecture: arch,
    Description: node
      ? `${info.description}\nThis variant runs the JavaScript bundle on the feed's node package (small flash).`
      : `${info.description}\nStandalone executable with a private glibc; needs nothing else on the router.`,
  };
}

function builtArches(inputs: BuildInputs): Arch[] {
  return ALL_ARCHES.filter((a) => inputs.executables[a] !== undefined);
}

export const openwrtIpkTarget: Target = {
  name: 'openwrt-24.10',
  arches: ALL_ARCHES,
  glibc: true,
  owns: [FEED_DIR, 'openwrt/imagebuilder'],
  readers: [
    {
      name: 'ipk',
      match: (p, h, dir) => !dir && p.endsWith('.ipk') && h[0] === 0x1f && h[1] === 0x8b,
      read: inspectIpk,
    },
    {
      name: 'opkg-feed',
      match: (p, _h, dir) => dir && existsSync(join(p, 'Packages')) && existsSync(join(p, 'Packages.sig')),
      read: inspectOpkgFeed,
    },
    { name: 'opkg-feeds', match: (p, _h, dir) => dir && isOpkgFeedsRoot(p), read: inspectOpkgFeeds },
  ],
  validate(inputs) {
    if (!inputs.keys.usignPrivatePem) {
      throw new OpenwrtPayloadError(
        'EDGEWAN_ERR_OPENWRT_KEY',
        'the opkg feed needs a usign (Ed25519 PKCS#8 PEM) key: set signing.usignPrivateKey in the manifest or EDGEWAN_USIGN_KEY',
      );
    }
    usignKey(inputs.keys.usignPrivatePem);
    for (const a of builtArches(inputs)) {
      if (!inputs.glibc?.[a]) {
        throw new OpenwrtPayloadError(
          'EDGEWAN_ERR_OPENWRT_INPUT',
          `no private glibc set for ${a} (BuildInputs.glibc): the build must run scripts/glibc.ts prepareGlibc for every built arch`,
        );
      }
    }
  },
  async build(inputs) {
    const { info, mtime, outDir } = inputs;
    const root = join(outDir, FEED_DIR);
    mkdirSync(root, { recursive: true });
    const artifacts: Artifact[] = [];
    /** feed directory name → its packages and the canonical arch of its standalone package */
    const feeds = new Map<string, { arch: Arch | 'noarch'; pkgs: FeedPackage[] }>();
    const ipk = async (
      pkg: string,
      archName: string,
      variant: Variant,
      payload: OpenwrtPayload,
      dataGz?: Buffer,
    ) => {
      const ctl = control(info, pkg, archName, variant, payload.requireUser);
      const data = await buildIpk({
        control: ctl,
        files: payload.files,
        conffiles: payload.conffiles,
        scripts: payload.scripts,
        mtime,
        data: dataGz,
      });
      const filename = ipkFileName(pkg, info.versions.ipk, archName);
      inputs.log(`openwrt: ${filename} ${(data.length / 1048576).toFixed(2)} MiB`);
      return { filename, data, control: controlText(ctl, mtime, ipkInstalledSize(payload.files)) };
    };
    for (const arch of builtArches(inputs)) {
      const libs = glibcEntries(inputs.glibc![arch]!, arch, info.name).map((l) => l.path.split('/').pop()!);
      // Patch and compress once per arch: the packages per OpenWRT name differ only in control.
      const payload = openwrtPayload(
        inputs,
        { arch },
        patchExecutable(inputs.executables[arch]!, arch, libs, info.name),
      );
      const dataGz = await dataTarGz(payload.files, mtime, inputs.cacheDir);
      for (const name of ARCHES[arch].openwrt)
        feeds.set(name, { arch, pkgs: [await ipk(info.name, name, { arch }, payload, dataGz)] });
    }
    const nodePkg = await ipk(`${info.name}-node`, 'all', 'node', openwrtPayload(inputs, 'node'));
    if (nodePkg.data.length > NODE_PACKAGE_MAX)
      inputs.log(
        `openwrt: WARNING ${info.name}-node is ${nodePkg.data.length} bytes, over the ${NODE_PACKAGE_MAX}-byte budget for small flash`,
      );
    // As in OpenWRT's own feeds the `all` package sits in every arch's feed; the all/ feed
    // serves routers of the other arches whose feeds have node (docs/openwrt.md).
    for (const f of feeds.values()) f.pkgs.push(nodePkg);
    feeds.set(ALL_FEED, { arch: 'noarch', pkgs: [nodePkg] });

    const base = `${info.homepage.replace(/\/+$/, '')}/${FEED_DIR}`;
    const key = usignKey(inputs.keys.usignPrivatePem!);
    const keyFile = keyNumHex(key);
    const feedName = (dir: string) => (dir === ALL_FEED ? `${info.name}_all` : info.name);
    // Remove what earlier builds left (the old single-directory feed, arches not built now,
    // other versions) so every feed lists exactly this build.
    for (const f of readdirSync(root))
      if (!feeds.has(f)) rmSync(join(root, f), { recursive: true, force: true });
    for (const [dirName, { arch, pkgs }] of feeds) {
      const dir = join(root, dirName);
      mkdirSync(dir, { recursive: true });
      const keep = new Set(pkgs.map((p) => p.filename));
      for (const f of readdirSync(dir)) if (f.endsWith('.ipk') && !keep.has(f)) rmSync(join(dir, f));
      for (const p of pkgs) {
        writeFileAtomicSync(join(dir, p.filename), p.data);
        const node = p === nodePkg;
        artifacts.push({
          type: 'ipk',
          path: `${FEED_DIR}/${dirName}/${p.filename}`,
          arch: node ? 'noarch' : arch,
          platform: node ? 'all' : dirName,
          target: 'openwrt-24.10',
          sha256: sha256(p.data),
          size: p.data.length,
        });
      }
      const { files } = buildFeed(pkgs, key, {
        name: feedName(dirName),
        keyName: info.name,
        url: `${base}/${dirName}`,
      });
      for (const [name, data] of Object.entries(files)) writeFileAtomicSync(join(dir, name), data);
      const size = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      const platforms = [...new Set(pkgs.map((p) => parseArch(p.control)))].sort();
      artifacts.push({
        type: 'opkg-feed',
        path: `${FEED_DIR}/${dirName}`,
        arch,
        target: 'openwrt-24.10',
        index: 'Packages',
        sha256: sha256(files.Packages),
        size,
        platforms,
      });
    }
    const publicKey = Buffer.from(usignPublicFile(key, info.name));
    writeFileAtomicSync(join(root, keyFile), publicKey);
    writeFileAtomicSync(
      join(root, 'customfeeds.conf'),
      Buffer.from(
        feedsTemplate(
          info.name,
          keyFile,
          base,
          [...feeds.keys()].filter((d) => d !== ALL_FEED).sort(),
          ALL_FEED,
        ),
      ),
    );

    const ib = join(outDir, 'openwrt', 'imagebuilder');
    rmSync(ib, { recursive: true, force: true });
    for (const [rel, f] of Object.entries(imageBuilderFiles(info, publicKey, keyFile, base))) {
      mkdirSync(join(ib, rel, '..'), { recursive: true });
      writeFileSync(join(ib, rel), f.data, { mode: f.mode });
    }
    return artifacts;
  },
};

const parseArch = (control: string) => /^Architecture: (.*)$/m.exec(control)![1];
