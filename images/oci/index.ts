// The `oci` Target: turns the built executables into one multi-platform image and writes
// dist/oci/ (layout, oci-archive, a docker-archive per platform, compose.yaml, README.md).
// Everything is built in memory first and written with temp-name-and-rename, so a failure
// for one platform leaves nothing half-written.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ALL_ARCHES, ARCHES, ociPlatformString, type Arch } from '../../targets/arch.ts';
import { noticesFor, type Artifact, type BuildInputs, type Target } from '../../targets/target.ts';
import { DEFAULT_GRACE_S } from '../../engine/contract.ts';
import { sha256 } from './blobs.ts';
import { composeYaml, runReadme, type RunFacts } from './compose.ts';
import { buildPlatformImage, type ImageMeta, type PlatformImage } from './image.ts';
import { inspectOci } from './inspect.ts';
import { pushOci } from './push-cli.ts';
import { writeDirAtomic, writeFileAtomicSync } from '../../targets/formats/atomic.ts';
import { dockerArchiveFiles, layoutFiles, tarOf } from './layout.ts';
import { appEntries, baseEntries, imageConfig } from './rootfs.ts';

type OciInputs = BuildInputs;

export class OciBuildError extends Error {
  readonly code = 'EDGEWAN_ERR_OCI_BUILD';
}

export interface OciResult {
  images: PlatformImage[];
  indexDigest: string;
  artifacts: Artifact[];
}

function glibcDirFor(inputs: OciInputs, arch: Arch): string {
  const dir = inputs.glibc?.[arch];
  if (dir) return dir;
  // Stand-in until the pinned set is wired: Debian's cross sysroots (same release as the host).
  const fallback =
    arch === 'x64' && process.arch === 'x64' ? '/lib/x86_64-linux-gnu' : `/usr/${ARCHES[arch].triplet}/lib`;
  inputs.log(
    `oci: WARNING no pinned glibc set for ${arch} in BuildInputs.glibc; using the host's ${fallback} (not pinned)`,
  );
  return fallback;
}

function graceOf(cfg: Record<string, unknown>): number {
  const s = (cfg.supervisor ?? {}) as { graceS?: unknown };
  return typeof s.graceS === 'number' ? s.graceS : DEFAULT_GRACE_S;
}

function archesOf(inputs: BuildInputs): Arch[] {
  return ALL_ARCHES.filter((a) => inputs.executables[a] !== undefined);
}

export async function buildOci(inputs: OciInputs, level = 9): Promise<OciResult> {
  const arches = archesOf(inputs);
  const { info, mtime } = inputs;
  const outDir = join(inputs.outDir, 'oci');
  const cfg = imageConfig(info.defaultConfig);
  const meta: ImageMeta = {
    version: info.versions.oci,
    revision: inputs.commit ?? 'unknown',
    mtime,
    source: info.homepage,
    licenses: info.license,
    title: info.name,
    description: info.description,
    vendor: info.vendor,
    graceS: graceOf(cfg),
  };
  // Platforms compress in parallel: zlib runs on libuv's thread pool.
  const images: PlatformImage[] = await Promise.all(
    arches.map(async (arch) => {
      const exe = readFileSync(inputs.executables[arch]!);
      const base = baseEntries(arch, exe, glibcDirFor(inputs, arch), 'edgewan');
      const img = await buildPlatformImage(
        arch,
        base,
        appEntries(exe, cfg, noticesFor(inputs, arch, true), info.name),
        meta,
        level,
        inputs.cacheDir,
      );
      inputs.log(
        `oci: ${ociPlatformString(arch)} ${(img.layers.reduce((n, l) => n + l.blob.size, 0) / 1048576).toFixed(1)} MiB compressed`,
      );
      return img;
    }),
  );
  const ref = `${info.name}:${meta.version}`;
  const layout = layoutFiles(images, meta, ref);
  const names = {
    layout: 'layout',
    ociArchive: `${info.name}-${meta.version}.oci.tar`,
    docker: (a: Arch) =>
      `${info.name}-${meta.version}-${ociPlatformString(a).replace(/\//g, '-')}.docker.tar`,
  };
  // Remove what an earlier build of another version left, so dist/oci holds one build.
  if (existsSync(outDir)) {
    for (const f of readdirSync(outDir)) if (/\.(oci|docker)\.tar$/.test(f)) rmSync(join(outDir, f));
  }
  const artifacts: Artifact[] = [];
  const platforms = arches.map(ociPlatformString);
  writeDirAtomic(join(outDir, names.layout), layout.files);
  artifacts.push({
    type: 'oci-layout',
    path: `oci/${names.layout}`,
    target: 'oci',
    platforms,
    index: 'index.json',
    sha256: sha256(layout.indexJson),
    size: [...layout.files.values()].reduce((n, b) => n + b.length, 0),
  });
  const ociTar = await tarOf(layout.files, mtime);
  writeFileAtomicSync(join(outDir, names.ociArchive), ociTar);
  artifacts.push({
    type: 'oci-archive',
    path: `oci/${names.ociArchive}`,
    target: 'oci',
    platforms,
    sha256: sha256(ociTar),
    size: ociTar.length,
  });
  const dockerArchives: Record<string, string> = {};
  for (const img of images) {
    const tar = await tarOf(dockerArchiveFiles(img, ref), mtime);
    const file = names.docker(img.arch);
    writeFileAtomicSync(join(outDir, file), tar);
    dockerArchives[ociPlatformString(img.arch)] = file;
    artifacts.push({
      type: 'docker-archive',
      path: `oci/${file}`,
      target: 'oci',
      arch: img.arch,
      platform: ociPlatformString(img.arch),
      sha256: sha256(tar),
      size: tar.length,
    });
  }
  const facts: RunFacts = {
    image: ref,
    name: info.name,
    memoryMaxBytes: info.memoryMaxBytes,
    graceS: meta.graceS,
    version: meta.version,
    files: { layout: names.layout, ociArchive: names.ociArchive, dockerArchives },
  };
  writeFileAtomicSync(join(outDir, 'compose.yaml'), composeYaml(facts));
  writeFileAtomicSync(join(outDir, 'README.md'), runReadme(facts));
  return { images, indexDigest: layout.index.digest, artifacts };
}

export const ociTarget: Target = {
  name: 'oci',
  arches: ALL_ARCHES,
  glibc: true,
  owns: ['oci'],
  readers: [
    {
      name: 'oci',
      match: (p, _h, dir) => (dir ? existsSync(join(p, 'oci-layout')) : /\.(oci|docker)\.tar$/.test(p)),
      read: inspectOci,
    },
  ],
  push: pushOci,
  validate(inputs: BuildInputs): void {
    const arches = archesOf(inputs);
    if (arches.length === 0)
      throw new OciBuildError(
        'oci: no executable was built for any of x64, arm64, armv7: build with --arch or drop --target oci',
      );
    for (const a of arches) {
      const p = inputs.executables[a]!;
      if (!existsSync(p) || !statSync(p).isFile()) {
        throw new OciBuildError(
          `oci: executable for ${ociPlatformString(a)} missing: ${relative(process.cwd(), p) || p} (run the build for --arch ${a})`,
        );
      }
    }
  },
  async build(inputs: BuildInputs): Promise<Artifact[]> {
    return (await buildOci(inputs)).artifacts;
  },
};
