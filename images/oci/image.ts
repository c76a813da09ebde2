// One platform's image as plain values: two gzip'd layers, an OCI config, a Docker-format
// config (the same plus a Healthcheck, which only Docker's format carries) and the OCI
// manifest. Building returns values; writers and the registry client consume them (ko's
// build/publish split). Spec: image-spec v1.1 config.md and manifest.md.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { gzipAsync } from '../../targets/formats/gzip.ts';
import { buildTar, type FileEntry } from '../../targets/formats/tar.ts';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { blob, descriptor, digestOf, jsonBlob, MT, type Blob, type Layer, type Platform } from './blobs.ts';
import { CONFIG_PATH, EXE_PATH, IMAGE_UID, STATE_DIR } from './rootfs.ts';
import { killTimeoutS } from '../../engine/contract.ts';

const gunzipAsync = promisify(gunzip);

export interface ImageMeta {
  /** OCI tag, e.g. 1.2.0-rc.1 */
  version: string;
  /** git commit the executable was built from */
  revision: string;
  /** SOURCE_DATE_EPOCH, seconds */
  mtime: number;
  source: string;
  licenses: string;
  title: string;
  description: string;
  vendor: string;
  /** supervisor grace, seconds (StopTimeout = grace + 5) */
  graceS: number;
}

export interface PlatformImage {
  arch: Arch;
  platform: Platform;
  layers: Layer[];
  config: Blob;
  dockerConfig: Blob;
  manifest: Blob;
}

export const ENTRYPOINT = [EXE_PATH, 'run', '--config', CONFIG_PATH];
/** Ports a core listens on; the admin port stays on the container's loopback and is not exposed. */
export const EXPOSED_PORTS = ['9618/tcp'];
export const HEALTHCHECK = {
  test: [EXE_PATH, 'healthcheck'],
  intervalS: 30,
  timeoutS: 5,
  startPeriodS: 10,
  retries: 3,
};

export function isoDate(mtime: number): string {
  return new Date(mtime * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * Tar and gzip one layer. gzip -9 of a 100 MB executable costs ~15 s, so compressed layers
 * are cached under cacheDir by the uncompressed digest, the level and the zlib version (the
 * bytes depend on all three); a cache entry is used only if it decompresses to that digest.
 */
export async function layerFrom(
  entries: FileEntry[],
  mtime: number,
  level: number,
  cacheDir?: string,
): Promise<Layer> {
  const tar = await buildTar(entries, { mtime, implicitDirs: true });
  const diffId = digestOf(tar);
  const cached =
    cacheDir && join(cacheDir, 'oci-layers', `${diffId.slice(7)}-gz${level}-zlib${process.versions.zlib}.gz`);
  if (cached && existsSync(cached)) {
    const gz = readFileSync(cached);
    const ok = await gunzipAsync(gz).then(
      (t) => digestOf(t) === diffId,
      () => false,
    );
    if (ok) return { blob: blob(MT.layerGzip, gz), diffId };
  }
  const gz = await gzipAsync(tar, level, 9);
  if (cached) {
    mkdirSync(join(cacheDir, 'oci-layers'), { recursive: true });
    writeFileSync(`${cached}.tmp-${process.pid}`, gz);
    renameSync(`${cached}.tmp-${process.pid}`, cached);
  }
  return { blob: blob(MT.layerGzip, gz), diffId };
}

function runConfig(meta: ImageMeta, docker: boolean): Record<string, unknown> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.created': isoDate(meta.mtime),
    'org.opencontainers.image.description': meta.description,
    'org.opencontainers.image.licenses': meta.licenses,
    'org.opencontainers.image.revision': meta.revision,
    'org.opencontainers.image.source': meta.source,
    'org.opencontainers.image.title': meta.title,
    'org.opencontainers.image.vendor': meta.vendor,
    'org.opencontainers.image.version': meta.version,
  };
  const c: Record<string, unknown> = {
    User: `${IMAGE_UID}:${IMAGE_UID}`,
    ExposedPorts: Object.fromEntries(EXPOSED_PORTS.map((p) => [p, {}])),
    // No NODE_OPTIONS heap flag: with memory.limit "auto" the engine reads the cgroup limit
    // and re-execs itself with --max-old-space-size (docs/contract.md, "Memory limit and heap cap").
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Entrypoint: ENTRYPOINT,
    Volumes: { [STATE_DIR]: {} },
    WorkingDir: STATE_DIR,
    Labels: labels,
    StopSignal: 'SIGTERM',
  };
  if (docker) {
    const ns = (s: number) => s * 1e9;
    c.Healthcheck = {
      Test: ['CMD', ...HEALTHCHECK.test],
      Interval: ns(HEALTHCHECK.intervalS),
      Timeout: ns(HEALTHCHECK.timeoutS),
      StartPeriod: ns(HEALTHCHECK.startPeriodS),
      Retries: HEALTHCHECK.retries,
    };
    c.StopTimeout = killTimeoutS(meta.graceS);
  }
  return c;
}

export async function buildPlatformImage(
  arch: Arch,
  base: FileEntry[],
  app: FileEntry[],
  meta: ImageMeta,
  level = 9,
  cacheDir?: string,
): Promise<PlatformImage> {
  const platform: Platform = { ...ARCHES[arch].oci };
  const layers = await Promise.all([
    layerFrom(base, meta.mtime, level, cacheDir),
    layerFrom(app, meta.mtime, level, cacheDir),
  ]);
  const created = isoDate(meta.mtime);
  const cfg = (docker: boolean) => ({
    created,
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: runConfig(meta, docker),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      {
        created,
        created_by: 'edgewan-build: base (glibc closure, passwd, state dir)',
        comment: 'version-independent',
      },
      { created, created_by: `edgewan-build: ${EXE_PATH} ${meta.version} and default config` },
    ],
  });
  const config = jsonBlob(MT.config, cfg(false));
  const dockerConfig = jsonBlob(MT.dockerConfig, cfg(true));
  const manifest = jsonBlob(MT.manifest, {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: descriptor(config),
    layers: layers.map((l) => descriptor(l.blob)),
    annotations: { 'org.opencontainers.image.created': created },
  });
  return { arch, platform, layers, config, dockerConfig, manifest };
}

export function buildIndex(images: PlatformImage[], meta: ImageMeta): Blob {
  return jsonBlob(MT.index, {
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: images.map((i) => descriptor(i.manifest, { platform: i.platform })),
    annotations: {
      'org.opencontainers.image.created': isoDate(meta.mtime),
      'org.opencontainers.image.version': meta.version,
      'org.opencontainers.image.revision': meta.revision,
      'org.opencontainers.image.source': meta.source,
    },
  });
}
