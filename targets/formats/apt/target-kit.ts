// What the debian and raspbian Targets share: plan (every check before any write), build
// each package, write the suite, return artifacts.json entries. A target only says which
// suite it fills and which packages go in which binary-<arch> index; it never imports
// the other target (test/unit/import-rules.test.ts), both import this kit.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, UnknownArchError, type Arch, type AnyArch } from '../../arch.ts';
import { noticesFor, type Artifact, type BuildInputs, type HostNeed } from '../../target.ts';
import { checkDebVersion, checkMaintainer, checkPackageName } from '../deb-control.ts';
import { buildServiceDeb, debFileName, type Payload } from './package.ts';
import { writeSuite, type SuitePackage } from './repo.ts';
import { loadSigner } from './sign.ts';
import { heapCapMiB } from './systemd.ts';
import { MIN_HEAP_CAP_MIB } from '../../../engine/contract.ts';
import { sha256 } from '../hash.ts';

export class DebInputError extends Error {
  readonly code = 'EDGEWAN_ERR_DEB_INPUT';
}

export interface PlannedPackage {
  arch: AnyArch;
  /** dpkg Architecture of the package */
  debArch: string;
  /** the binary-<arch> index listing it (`all` packages are listed under one real arch) */
  indexArch: string;
  payload: Payload;
}

export interface SuiteConfig {
  target: 'debian' | 'raspbian';
  suite: string;
  /** human description of the suite for its Release file */
  description: string;
  /** arches whose standalone executable gets a package here */
  executableArches: readonly Arch[];
  /** dpkg arch the bundle (`Architecture: all`) package is listed for, if any */
  bundleIndexArch?: string;
}

/** Host tools a suite's packages need: xz for data.tar.xz (targets/formats/xz.ts). */
export function suiteNeeds(suite: SuiteConfig): HostNeed[] {
  return [{ kind: 'cmd', what: 'xz', pkg: 'xz-utils', for: `${suite.target} target` }];
}

/** The dpkg architecture of a canonical arch; a clear error for anything else. */
export function debArchOf(arch: string): string {
  if (!(ALL_ARCHES as readonly string[]).includes(arch)) {
    throw new UnknownArchError(
      `unknown architecture "${arch}" in the build's executables: Debian packages exist for ${ALL_ARCHES.filter((a) => ARCHES[a].deb).join(', ')}`,
    );
  }
  const deb = ARCHES[arch as Arch].deb;
  if (!deb)
    throw new DebInputError(
      `architecture ${arch} has no Debian standalone package (armhf gets the "all" bundle package)`,
    );
  return deb;
}

/** Every check that can fail, before anything is written. */
export function planSuite(inputs: BuildInputs, cfg: SuiteConfig): PlannedPackage[] {
  const { info } = inputs;
  checkPackageName(info.name);
  checkPackageName(info.serviceName);
  checkDebVersion(info.versions.deb);
  checkMaintainer(info.maintainer);
  if (!Number.isInteger(info.memoryMaxBytes) || heapCapMiB(info.memoryMaxBytes) < MIN_HEAP_CAP_MIB) {
    throw new DebInputError(
      `service.memoryMax (${info.memoryMaxBytes} bytes) is too small for a Node heap: use at least 32MiB`,
    );
  }
  if (!inputs.keys.openpgpPrivate?.includes('BEGIN PGP PRIVATE KEY BLOCK')) {
    throw new DebInputError(
      "no armored OpenPGP private key (BuildInputs.keys.openpgpPrivate) to sign the apt repository: set EDGEWAN_OPENPGP_KEY or the manifest's openpgpPrivateKey, or let the build create the development key",
    );
  }
  for (const a of Object.keys(inputs.executables)) {
    if (!(ALL_ARCHES as readonly string[]).includes(a)) debArchOf(a);
  }
  const plan: PlannedPackage[] = [];
  for (const arch of cfg.executableArches) {
    const exe = inputs.executables[arch];
    if (exe === undefined) continue; // not built in this run (--arch)
    const debArch = debArchOf(arch);
    if (!existsSync(exe))
      throw new DebInputError(
        `${exe} (the ${arch} executable for the ${cfg.target} ${debArch} package) does not exist: build it first`,
      );
    plan.push({ arch, debArch, indexArch: debArch, payload: { kind: 'executable', path: exe } });
  }
  if (cfg.bundleIndexArch) {
    if (!inputs.bundle || !existsSync(inputs.bundle)) {
      throw new DebInputError(
        `${inputs.bundle || '(none)'} (the bundle for the ${cfg.target} "all" package) does not exist: build it first`,
      );
    }
    plan.push({
      arch: 'noarch',
      debArch: 'all',
      indexArch: cfg.bundleIndexArch,
      payload: { kind: 'bundle', path: inputs.bundle },
    });
  }
  if (plan.length === 0) {
    throw new DebInputError(
      `the ${cfg.target} target packages the ${cfg.executableArches.join('/')} executables, and this build made none: add --arch ${cfg.executableArches[0]}`,
    );
  }
  return plan;
}

export interface SuiteBuildOptions {
  /** data.tar compression (default xz; tests use gzip for quick throw-away versions) */
  dataCompression?: 'xz' | 'gzip';
}

export async function buildSuite(
  inputs: BuildInputs,
  cfg: SuiteConfig,
  opts: SuiteBuildOptions = {},
): Promise<Artifact[]> {
  const plan = planSuite(inputs, cfg);
  const { info, mtime } = inputs;
  const signer = await loadSigner(inputs.keys.openpgpPrivate, mtime);
  const aptDir = join(inputs.outDir, 'apt');
  const packages: SuitePackage[] = [];
  const artifacts: Artifact[] = [];
  for (const p of plan) {
    inputs.log(`${cfg.target}: packaging ${info.name} ${info.versions.deb} ${p.debArch}`);
    const r = await buildServiceDeb({
      info,
      mtime,
      debArch: p.debArch,
      payload: p.payload,
      cacheDir: inputs.cacheDir,
      dataCompression: opts.dataCompression,
      notices: noticesFor(inputs, p.arch),
    });
    const fileName = debFileName(info, p.debArch);
    packages.push({ indexArch: p.indexArch, fileName, deb: r.deb, control: r.control });
    artifacts.push({
      type: 'deb',
      path: `apt/pool/${cfg.suite}/${fileName}`,
      arch: p.arch,
      platform: p.debArch,
      target: cfg.target,
      sha256: sha256(r.deb),
      size: r.deb.length,
    });
  }
  const suite = await writeSuite({
    aptDir,
    suite: cfg.suite,
    origin: info.vendor,
    label: info.name,
    description: cfg.description,
    name: info.name,
    packages,
    signer,
    mtime,
  });
  inputs.log(`${cfg.target}: signed apt suite ${cfg.suite} with key ${signer.fingerprint}`);
  artifacts.push({
    type: 'apt-repo',
    path: suite.distsDir,
    platforms: [...new Set(plan.map((p) => p.indexArch))].sort(),
    target: cfg.target,
    sha256: sha256(suite.inRelease),
    size: suite.size,
    index: 'InRelease',
  });
  return artifacts;
}
