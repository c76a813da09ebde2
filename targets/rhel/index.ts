// The `rhel` Target (RHEL, Rocky, Alma, CentOS Stream, Fedora; EL 8 and 9): the standalone
// executable as .rpm for x86_64 and aarch64 (targets/rhel/package.ts), in one signed dnf
// repository dist/rhel (targets/rhel/repo.ts), signed with the same OpenPGP key as the apt
// repository (docs/rhel.md). Every check runs before anything is written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ARCHES, type Arch } from '../arch.ts';
import { noticesFor, type Artifact, type BuildInputs, type HostNeed, type Target } from '../target.ts';
import { loadSigner } from '../formats/apt/sign.ts';
import { sha256 } from '../formats/hash.ts';
import { heapCapMiB, MIN_HEAP_CAP_MIB } from '../../engine/contract.ts';
import type { BuilderErrorCode } from '../error-codes.ts';
import { RHEL_READERS } from './inspect.ts';
import { checkRpmName, checkRpmVersion } from './rpm.ts';
import { buildServiceRpm, splitRpmVersion } from './package.ts';
import { writeRepo, type RepoPackage } from './repo.ts';

export class RpmInputError extends Error {
  readonly code: BuilderErrorCode = 'EDGEWAN_ERR_RPM_INPUT';
}

export const RHEL_ARCHES: readonly Arch[] = ['x64', 'arm64'];
/** dist/ subdirectory of the repository */
export const RHEL_DIR = 'rhel';

export interface RhelBuildOptions {
  /** payload compression (default xz; tests use gzip for quick throw-away versions) */
  compression?: 'xz' | 'gzip';
}

interface Planned {
  arch: Arch;
  rpmArch: string;
  executable: string;
}

/** Every check that can fail on bad input, before anything is written. */
export function planRhel(inputs: BuildInputs): Planned[] {
  const { info } = inputs;
  const wrap = (f: () => void) => {
    try {
      f();
    } catch (e) {
      throw new RpmInputError((e as Error).message);
    }
  };
  wrap(() => checkRpmName(info.name));
  if (!/^[A-Za-z0-9@_.-]+$/.test(info.serviceName))
    throw new RpmInputError(
      `branding.serviceName "${info.serviceName}" is not a valid systemd unit name: use letters, digits and @ _ . -`,
    );
  if (!info.versions.rpm)
    throw new RpmInputError(
      `no rpm version for "${info.versions.semver}" (PackageInfo.versions.rpm): map it with targets/version.ts mapVersion`,
    );
  const { version, release } = splitRpmVersion(info.versions.rpm);
  wrap(() => checkRpmVersion(`version "${info.versions.semver}": RPM Version`, version));
  wrap(() => checkRpmVersion(`version "${info.versions.semver}": RPM Release`, release));
  if (!Number.isInteger(info.memoryMaxBytes) || heapCapMiB(info.memoryMaxBytes) < MIN_HEAP_CAP_MIB) {
    throw new RpmInputError(
      `service.memoryMax (${info.memoryMaxBytes} bytes) is too small for a Node heap: use at least 32MiB`,
    );
  }
  if (!inputs.keys.openpgpPrivate?.includes('BEGIN PGP PRIVATE KEY BLOCK')) {
    throw new RpmInputError(
      "signing.openpgpPrivateKey: no armored OpenPGP private key to sign the RPMs and the dnf repository: set EDGEWAN_OPENPGP_KEY or the manifest's signing.openpgpPrivateKey to an unencrypted key file, or let the build create the development key",
    );
  }
  const plan: Planned[] = [];
  for (const arch of RHEL_ARCHES) {
    const exe = inputs.executables[arch];
    if (exe === undefined) continue; // not built in this run (--arch)
    if (!existsSync(exe))
      throw new RpmInputError(
        `executables.${arch}: ${exe} (the ${arch} executable for the rhel ${ARCHES[arch].rpm} package) does not exist: build it first (edgewan-build build --arch ${arch} --target rhel)`,
      );
    plan.push({ arch, rpmArch: ARCHES[arch].rpm!, executable: exe });
  }
  if (plan.length === 0) {
    const built = Object.keys(inputs.executables);
    throw new RpmInputError(
      `executables: the rhel target packages the x64 and arm64 executables (x86_64, aarch64 RPMs), and this build made ${built.length ? `only ${built.join(', ')}` : 'none'}: add --arch x64 or --arch arm64`,
    );
  }
  return plan;
}

const RSA_ALGOS = new Set([1, 3]); // OpenPGP rsaEncryptSign, rsaSign

/** Binary OpenPGP signature over an RPM header, and whether the key is RSA (RPMSIGTAG_RSA). */
export function headerSigner(detachSign: (data: Buffer) => Promise<string>) {
  return async (header: Buffer) => {
    const sig = await openpgp.readSignature({ armoredSignature: await detachSign(header) });
    const algo = Number(sig.packets[0]?.publicKeyAlgorithm);
    return { signature: Buffer.from(sig.write()), rsa: RSA_ALGOS.has(algo) };
  };
}

export async function buildRhel(inputs: BuildInputs, opts: RhelBuildOptions = {}): Promise<Artifact[]> {
  const plan = planRhel(inputs);
  const { info, mtime } = inputs;
  const signer = await loadSigner(inputs.keys.openpgpPrivate, mtime);
  const sign = headerSigner((d) => signer.detachSign(d));
  const packages: RepoPackage[] = [];
  const artifacts: Artifact[] = [];
  for (const p of plan) {
    inputs.log(`rhel: packaging ${info.name} ${info.versions.rpm} ${p.rpmArch}`);
    const r = await buildServiceRpm({
      info,
      mtime,
      rpmArch: p.rpmArch,
      executable: p.executable,
      notices: noticesFor(inputs, p.arch),
      cacheDir: inputs.cacheDir,
      compression: opts.compression,
      sign,
    });
    packages.push({
      fileName: r.fileName,
      rpm: r.rpm,
      headerStart: r.headerStart,
      headerEnd: r.headerEnd,
      archiveSize: r.archiveSize,
    });
    artifacts.push({
      type: 'rpm',
      path: `${RHEL_DIR}/Packages/${r.fileName}`,
      arch: p.arch,
      platform: p.rpmArch,
      target: 'rhel',
      sha256: sha256(r.rpm),
      size: r.rpm.length,
    });
  }
  const repo = await writeRepo({
    dir: join(inputs.outDir, RHEL_DIR),
    name: info.name,
    title: `${info.vendor} ${info.name} (EL 8/9: ${plan.map((p) => p.rpmArch).join(', ')})`,
    packages,
    mtime,
    publicArmored: signer.publicArmored,
    detachSign: (d) => signer.detachSign(d),
  });
  inputs.log(`rhel: signed dnf repository ${RHEL_DIR}/ with key ${signer.fingerprint}`);
  artifacts.push({
    type: 'rpm-repo',
    path: RHEL_DIR,
    platforms: plan.map((p) => p.rpmArch).sort(),
    target: 'rhel',
    sha256: sha256(repo.repomd),
    size: repo.size,
    index: 'repodata/repomd.xml',
  });
  return artifacts;
}

/** payload compression: xz (targets/formats/xz.ts) */
export function rhelNeeds(): HostNeed[] {
  return [{ kind: 'cmd', what: 'xz', pkg: 'xz-utils', for: 'rhel target' }];
}

export const rhelTarget: Target = {
  name: 'rhel',
  arches: RHEL_ARCHES,
  readers: RHEL_READERS,
  provides: ['rpm', 'rpm-repo'],
  hostNeeds: rhelNeeds,
  validate(inputs: BuildInputs) {
    planRhel(inputs);
  },
  build(inputs: BuildInputs) {
    return buildRhel(inputs);
  },
};
