// The `openwrt-24.10` Target: .ipk packages and a signed opkg feed in dist/openwrt/24.10/,
// plus the Image Builder recipe in dist/openwrt/imagebuilder/ (docs/openwrt.md).
//   edgewan       one per OpenWRT arch name of the default set (targets/arch.ts): the same
//                 patched executable + private glibc packed once per name (opkg rejects
//                 names not in its list, FACTS §5);
//   edgewan-node  Architecture: all, Depends: node — the bundle alone for small flash.
// Everything is built in memory, then written with temp-name-and-rename.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, type Arch } from '../arch.ts';
import type { Artifact, BuildInputs, PackageInfo, Target } from '../target.ts';
import { buildFeed, type FeedPackage } from './feed.ts';
import { OpenwrtPayloadError, openwrtPayload, patchExecutable, glibcEntries, type OpenwrtPayload, type Variant } from './files.ts';
import { imageBuilderFiles } from './imagebuilder.ts';
import { buildIpk, controlText, dataTarGz, installedSize, type IpkControl } from './ipk.ts';
import { usignKey } from './usign.ts';

export const FEED_DIR = 'openwrt/24.10';
/** The budget for edgewan-node: routers with little flash. */
export const NODE_PACKAGE_MAX = 200 * 1024;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function ipkFileName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version}_${arch}.ipk`;
}

function control(info: PackageInfo, pkg: string, arch: string, variant: Variant, requireUser: string): IpkControl {
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

function writeAtomic(path: string, data: Buffer): void {
  writeFileSync(`${path}.tmp`, data, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

function builtArches(inputs: BuildInputs): Arch[] {
  return ALL_ARCHES.filter((a) => inputs.executables[a] !== undefined);
}

export const openwrtIpkTarget: Target = {
  name: 'openwrt-24.10',
  arches: ALL_ARCHES,
  validate(inputs) {
    if (!inputs.keys.usignPrivatePem) {
      throw new OpenwrtPayloadError('EDGEWAN_ERR_OPENWRT_KEY', 'the opkg feed needs a usign (Ed25519 PKCS#8 PEM) key: set signing.usignPrivateKey in the manifest or EDGEWAN_USIGN_KEY');
    }
    usignKey(inputs.keys.usignPrivatePem);
    for (const a of builtArches(inputs)) {
      if (!inputs.glibc?.[a]) {
        throw new OpenwrtPayloadError('EDGEWAN_ERR_OPENWRT_INPUT', `no private glibc set for ${a} (BuildInputs.glibc): the build must run scripts/glibc.ts prepareGlibc for every built arch`);
      }
    }
  },
  async build(inputs) {
    const { info, mtime, outDir } = inputs;
    const dir = join(outDir, FEED_DIR);
    mkdirSync(dir, { recursive: true });
    const artifacts: Artifact[] = [];
    const feed: FeedPackage[] = [];
    const platforms = new Set<string>();
    const emit = async (pkg: string, archName: string, arch: Arch | 'noarch', variant: Variant, payload: OpenwrtPayload, dataGz?: Buffer) => {
      const ctl = control(info, pkg, archName, variant, payload.requireUser);
      const data = await buildIpk({ control: ctl, files: payload.files, conffiles: payload.conffiles, scripts: payload.scripts, mtime, data: dataGz });
      const filename = ipkFileName(pkg, info.versions.ipk, archName);
      writeAtomic(join(dir, filename), data);
      platforms.add(archName);
      feed.push({ filename, data, control: controlText(ctl, mtime, installedSize(payload.files)) });
      artifacts.push({ type: 'ipk', path: `${FEED_DIR}/${filename}`, arch, platform: archName, target: 'openwrt-24.10', sha256: sha256(data), size: data.length });
      inputs.log(`openwrt: ${filename} ${(data.length / 1048576).toFixed(2)} MiB`);
      return data;
    };
    for (const arch of builtArches(inputs)) {
      const libs = glibcEntries(inputs.glibc![arch]!, arch, info.name).map((l) => l.path.split('/').pop()!);
      // Patch and compress once per arch: the packages per OpenWRT name differ only in control.
      const payload = openwrtPayload(inputs, { arch }, patchExecutable(inputs.executables[arch]!, arch, libs, info.name));
      const dataGz = await dataTarGz(payload.files, mtime, inputs.cacheDir);
      for (const name of ARCHES[arch].openwrt) await emit(info.name, name, arch, { arch }, payload, dataGz);
    }
    const nodePkg = await emit(`${info.name}-node`, 'all', 'noarch', 'node', openwrtPayload(inputs, 'node'));
    if (nodePkg.length > NODE_PACKAGE_MAX) inputs.log(`openwrt: WARNING ${info.name}-node is ${nodePkg.length} bytes, over the ${NODE_PACKAGE_MAX}-byte budget for small flash`);

    // Remove packages of earlier builds (other versions) so the feed lists exactly this build.
    const keep = new Set(feed.map((f) => f.filename));
    for (const f of readdirSync(dir)) if (f.endsWith('.ipk') && !keep.has(f)) rmSync(join(dir, f));

    const url = `${info.homepage.replace(/\/+$/, '')}/openwrt/24.10`;
    const key = usignKey(inputs.keys.usignPrivatePem!);
    const { files, keyFile } = buildFeed(feed, key, { name: info.name, url });
    for (const [name, data] of Object.entries(files)) writeAtomic(join(dir, name), data);
    const size = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    artifacts.push({ type: 'opkg-feed', path: FEED_DIR, target: 'openwrt-24.10', index: 'Packages', sha256: sha256(files.Packages), size,
      platforms: [...platforms].sort() });

    const ib = join(outDir, 'openwrt', 'imagebuilder');
    rmSync(ib, { recursive: true, force: true });
    for (const [rel, f] of Object.entries(imageBuilderFiles(info, files[keyFile], keyFile, url))) {
      mkdirSync(join(ib, rel, '..'), { recursive: true });
      writeFileSync(join(ib, rel), f.data, { mode: f.mode });
    }
    return artifacts;
  },
};

