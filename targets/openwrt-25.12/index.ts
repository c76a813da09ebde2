// The `openwrt-25.12` Target: the standalone package (the SAME payload as the 24.10 .ipk,
// ../files.ts) as signed APK v3 packages, one per default OpenWRT arch name, each arch dir a
// feed with a signed packages.adb, plus the public key and a customfeeds.list template:
//   dist/openwrt/25.12/<owrt-arch>/<name>-<apk version>.apk
//   dist/openwrt/25.12/<owrt-arch>/packages.adb
//   dist/openwrt/25.12/<name>.pem                     → /etc/apk/keys/<name>.pem on the router
//   dist/openwrt/25.12/customfeeds.list               → /etc/apk/repositories.d/customfeeds.list
// Everything is validated (version, name, arch names, key type, inputs) before any write;
// each file is written to a temp name and renamed. OpenWRT 25.12's feeds carry no `node`, so
// the bundle package (`edgewan-node`) stays ipk-only and there is no `noarch` apk today.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, archForOpenwrt, type Arch } from '../arch.ts';
import type { Artifact, BuildInputs, Target } from '../target.ts';
import { buildApkIndex } from '../formats/adb-index.ts';
import {
  buildApkPackage,
  validateApkName,
  validateApkVersion,
  ApkInputError,
} from '../formats/adb-package.ts';
import { loadApkKey, type ApkSigningKey } from '../formats/adb-sign.ts';
import { openwrtPayload, type OpenwrtPayload } from '../formats/openwrt/files.ts';
import { inspectApk } from './inspect.ts';
import { apkEntries, apkScripts } from './package.ts';
import { sha256 } from '../formats/hash.ts';
import { writeFileAtomicSync } from '../formats/atomic.ts';

export const APK_DIST = 'openwrt/25.12';

export interface ApkBuildOptions {
  /** build only these OpenWRT arch names (default: every default name of every built arch) */
  openwrtArches?: readonly string[];
  /** payload provider (tests inject one; the build uses ../files.ts) */
  payload?: (inputs: BuildInputs, arch: Arch) => OpenwrtPayload;
}

interface Plan {
  key: ApkSigningKey;
  arches: { arch: Arch; names: string[] }[];
}

/** Every check that can fail, before anything is written. */
export function planApk(inputs: BuildInputs, opts: ApkBuildOptions = {}): Plan {
  const { info } = inputs;
  validateApkName(info.name);
  validateApkVersion(info.versions.apk);
  const pem = inputs.keys.apkPrivatePem;
  if (!pem)
    throw new ApkInputError(
      "no APK signing key (BuildInputs.keys.apkPrivatePem): set EDGEWAN_APK_KEY or the manifest's apkPrivateKey, or let the build create the development key",
    );
  const key = loadApkKey(pem, 'the APK v3 signing key (keys.apkPrivatePem)');
  const built = ALL_ARCHES.filter((a) => inputs.executables[a]);
  let wanted: { arch: Arch; names: string[] }[];
  if (opts.openwrtArches) {
    const known = ALL_ARCHES.flatMap((a) => ARCHES[a].openwrt);
    wanted = [];
    for (const n of opts.openwrtArches) {
      const arch = archForOpenwrt(n);
      if (!arch)
        throw new ApkInputError(
          `unknown OpenWRT arch name "${n}": the standalone apk is built for ${known.join(', ')} (docs/contract.md, "Architectures")`,
        );
      if (!built.includes(arch))
        throw new ApkInputError(
          `OpenWRT arch "${n}" needs the ${arch} executable, which this build did not make: add --arch ${arch}`,
        );
      const e = wanted.find((w) => w.arch === arch);
      if (e) {
        if (!e.names.includes(n)) e.names.push(n);
      } else wanted.push({ arch, names: [n] });
    }
  } else wanted = built.map((arch) => ({ arch, names: [...ARCHES[arch].openwrt] }));
  for (const w of wanted) {
    for (const n of w.names)
      if (!/^[a-z0-9][a-z0-9_.-]*$/.test(n))
        throw new ApkInputError(`OpenWRT arch name "${n}" is not a valid apk arch`);
    if (!opts.payload) {
      const exe = inputs.executables[w.arch]!;
      if (!existsSync(exe))
        throw new ApkInputError(`${exe} (the ${w.arch} executable) does not exist: build it first`);
      const glibc = inputs.glibc?.[w.arch];
      if (!glibc || !existsSync(glibc))
        throw new ApkInputError(
          `the ${w.arch} OpenWRT apk needs the private glibc set (BuildInputs.glibc.${w.arch}, scripts/glibc.ts)`,
        );
    }
  }
  return { key, arches: wanted };
}

export function customfeedsList(name: string, names: readonly string[]): string {
  return (
    `# ${name} feed for OpenWRT 25.12 (apk-tools 3). On the router:\n` +
    `#  1. install the signing key: wget -O /etc/apk/keys/${name}.pem BASE/${name}.pem\n` +
    '#  2. replace BASE below with the URL this directory (dist/openwrt/25.12) is served from,\n' +
    "#     uncomment the line of the router's arch (cat /etc/apk/arch) and save this file as\n" +
    '#     /etc/apk/repositories.d/customfeeds.list (a URL ending in .adb is an index, apk-repositories(5))\n' +
    `#  3. apk update && apk add ${name}\n` +
    names.map((n) => `# BASE/${n}/packages.adb\n`).join('')
  );
}

export async function buildOpenwrtApk(inputs: BuildInputs, opts: ApkBuildOptions = {}): Promise<Artifact[]> {
  const plan = planApk(inputs, opts);
  const { info, mtime } = inputs;
  const root = join(inputs.outDir, APK_DIST);
  mkdirSync(root, { recursive: true });
  const artifacts: Artifact[] = [];
  const fileName = `${info.name}-${info.versions.apk}.apk`;
  for (const { arch, names } of plan.arches) {
    // One payload per canonical arch (the executable is patched once), one package per name.
    const payload = opts.payload ? opts.payload(inputs, arch) : openwrtPayload(inputs, { arch });
    const entries = apkEntries(info.name, payload);
    const dataCache = new Map<string, Buffer>(); // the arch's names share the compressed files
    for (const owrt of names) {
      const pkg = buildApkPackage(
        {
          info: {
            name: info.name,
            version: info.versions.apk,
            arch: owrt,
            description: info.description,
            license: info.license,
            origin: info.name,
            maintainer: info.maintainer,
            url: info.homepage,
            buildTime: mtime,
          },
          entries,
          mtime,
          scripts: apkScripts(info.name),
        },
        plan.key,
        { dataCache, cacheDir: inputs.cacheDir },
      );
      const ndx = buildApkIndex(
        {
          description: `${info.name} ${info.versions.apk} for OpenWRT 25.12 ${owrt}`,
          packages: [{ file: pkg.file }],
        },
        plan.key,
      );
      const dir = join(root, owrt);
      mkdirSync(dir, { recursive: true });
      writeFileAtomicSync(join(dir, fileName), pkg.file);
      writeFileAtomicSync(join(dir, 'packages.adb'), ndx.file);
      // Packages of earlier versions would not be in the new index: remove them.
      for (const f of readdirSync(dir))
        if (f !== fileName && f.startsWith(`${info.name}-`) && f.endsWith('.apk')) rmSync(join(dir, f));
      artifacts.push({
        type: 'apk',
        path: `${APK_DIST}/${owrt}/${fileName}`,
        arch,
        platform: owrt,
        target: 'openwrt-25.12',
        sha256: sha256(pkg.file),
        size: pkg.file.length,
      });
      const size = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      artifacts.push({
        type: 'apk-feed',
        path: `${APK_DIST}/${owrt}`,
        arch,
        platforms: [owrt],
        target: 'openwrt-25.12',
        index: 'packages.adb',
        sha256: sha256(ndx.file),
        size,
      });
      inputs.log(
        `openwrt-25.12: ${owrt}/${fileName} ${(pkg.file.length / 1048576).toFixed(1)} MiB, signed with key id ${plan.key.keyId.toString('hex')}`,
      );
    }
  }
  writeFileAtomicSync(join(root, `${info.name}.pem`), plan.key.publicPem);
  writeFileAtomicSync(
    join(root, 'customfeeds.list'),
    customfeedsList(
      info.name,
      plan.arches.flatMap((a) => a.names),
    ),
  );
  return artifacts;
}

/**
 * The composition root must hand over the pinned private glibc sets (BuildInputs.glibc, from
 * scripts/glibc.ts). Until a build provides that field at all, this target checks everything
 * else (key, version, name) and skips with a loud warning instead of failing every build.
 */
const glibcWired = (inputs: BuildInputs) => inputs.glibc !== undefined;

export const apkTarget: Target = {
  name: 'openwrt-25.12',
  arches: ALL_ARCHES,
  glibc: true,
  readers: [
    {
      name: 'apk',
      match: (p, h, dir) =>
        dir ? existsSync(join(p, 'packages.adb')) : h.toString('latin1', 0, 3) === 'ADB',
      read: inspectApk,
    },
  ],
  validate: (inputs) => {
    planApk(
      inputs,
      glibcWired(inputs)
        ? {}
        : {
            payload: () => {
              throw new Error('unreachable');
            },
          },
    );
  },
  build: async (inputs) => {
    if (!glibcWired(inputs)) {
      inputs.log(
        'openwrt-25.12: WARNING skipped: the build provides no BuildInputs.glibc (scripts/glibc.ts prepareGlibc) for the private glibc set the OpenWRT payload ships',
      );
      return [];
    }
    return buildOpenwrtApk(inputs);
  },
};
