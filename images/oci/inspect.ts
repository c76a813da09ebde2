// Our own reader for everything images/oci writes: an OCI layout directory, an oci-archive
// (a tar of a layout) and a docker-archive. It re-checks what the real tools check — blob
// digests and sizes, config diff_ids against the uncompressed layers, duplicate tar paths —
// and reports every problem instead of stopping at the first. `edgewan-build inspect FILE`
// prints the result as JSON.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { blobPath, type Descriptor } from './blobs.ts';
import { duplicatePaths, readTar } from '../../targets/formats/tar-read.ts';
import { sha256 } from '../../targets/formats/hash.ts';

export interface InspectedLayer {
  digest?: string;
  size: number;
  diffId: string;
  entries: number;
  paths: string[];
  duplicates: string[];
}
export interface InspectedImage {
  platform: string;
  manifest?: string;
  config: string;
  user: string;
  entrypoint: string[];
  env: string[];
  exposedPorts: string[];
  volumes: string[];
  stopSignal?: string;
  labels: Record<string, string>;
  healthcheck?: string[];
  layers: InspectedLayer[];
  compressedSize: number;
}
export interface OciInspection {
  format: 'oci-layout' | 'oci-archive' | 'docker-archive';
  path: string;
  refs: string[];
  index?: { digest: string; mediaType: string };
  images: InspectedImage[];
  problems: string[];
  ok: boolean;
}

type Files = (rel: string) => Buffer | undefined;

const sha = (b: Buffer) => `sha256:${sha256(b)}`;

function openFiles(path: string): { files: Files; isDir: boolean } {
  if (!existsSync(path)) throw new Error(`inspect: ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    return {
      isDir: true,
      files: (rel) => (existsSync(join(path, rel)) ? readFileSync(join(path, rel)) : undefined),
    };
  }
  const map = new Map<string, Buffer>();
  for (const e of readTar(readFileSync(path), path))
    if (e.type === 'file') map.set(e.path.replace(/^\.\//, ''), e.data);
  return { isDir: false, files: (rel) => map.get(rel) };
}

function layerInfo(
  data: Buffer,
  diffId: string | undefined,
  where: string,
  problems: string[],
): InspectedLayer {
  let tar: Buffer;
  try {
    tar = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  } catch (e) {
    problems.push(`${where}: cannot decompress: ${(e as Error).message}`);
    return { size: data.length, diffId: '', entries: 0, paths: [], duplicates: [] };
  }
  const actual = sha(tar);
  if (diffId && diffId !== actual)
    problems.push(`${where}: diff_id ${diffId} but the uncompressed layer is ${actual}`);
  let entries: ReturnType<typeof readTar>;
  try {
    entries = readTar(tar, where);
  } catch (e) {
    problems.push((e as Error).message);
    entries = [];
  }
  const duplicates = duplicatePaths(entries);
  if (duplicates.length) problems.push(`${where}: duplicate paths ${duplicates.join(', ')}`);
  return {
    size: data.length,
    diffId: actual,
    entries: entries.length,
    paths: entries.map((e) => e.path),
    duplicates,
  };
}

function imageFrom(
  cfgBytes: Buffer,
  cfgName: string,
  layerData: { data: Buffer; digest?: string }[],
  problems: string[],
): InspectedImage {
  const cfg = JSON.parse(cfgBytes.toString()) as {
    architecture: string;
    os: string;
    variant?: string;
    rootfs: { diff_ids: string[] };
    config?: {
      User?: string;
      Entrypoint?: string[];
      Env?: string[];
      ExposedPorts?: object;
      Volumes?: object;
      StopSignal?: string;
      Labels?: Record<string, string>;
      Healthcheck?: { Test?: string[] };
    };
  };
  const platform = `${cfg.os}/${cfg.architecture}${cfg.variant ? `/${cfg.variant}` : ''}`;
  const c = cfg.config ?? {};
  if (cfg.rootfs.diff_ids.length !== layerData.length)
    problems.push(`${cfgName}: ${cfg.rootfs.diff_ids.length} diff_ids for ${layerData.length} layers`);
  const layers = layerData.map((l, i) => ({
    ...layerInfo(l.data, cfg.rootfs.diff_ids[i], `${platform} layer ${i}`, problems),
    digest: l.digest,
  }));
  return {
    platform,
    config: cfgName,
    user: c.User ?? '',
    entrypoint: c.Entrypoint ?? [],
    env: c.Env ?? [],
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
    volumes: Object.keys(c.Volumes ?? {}),
    stopSignal: c.StopSignal,
    labels: c.Labels ?? {},
    healthcheck: c.Healthcheck?.Test,
    layers,
    compressedSize: layerData.reduce((n, l) => n + l.data.length, 0) + cfgBytes.length,
  };
}

function readBlob(files: Files, d: Descriptor, problems: string[]): Buffer | undefined {
  const data = files(blobPath(d.digest));
  if (!data) {
    problems.push(`missing blob ${d.digest} (${d.mediaType})`);
    return undefined;
  }
  if (data.length !== d.size)
    problems.push(`blob ${d.digest}: size ${data.length}, descriptor says ${d.size}`);
  if (sha(data) !== d.digest) problems.push(`blob ${d.digest}: content digest is ${sha(data)}`);
  return data;
}

function inspectLayout(files: Files, problems: string[]): Pick<OciInspection, 'refs' | 'index' | 'images'> {
  const layout = files('oci-layout');
  if (!layout || JSON.parse(layout.toString()).imageLayoutVersion !== '1.0.0')
    problems.push('oci-layout missing or not version 1.0.0');
  const top = JSON.parse(files('index.json')!.toString()) as { manifests: Descriptor[] };
  const refs = top.manifests
    .map((d) => d.annotations?.['org.opencontainers.image.ref.name'])
    .filter((r): r is string => !!r);
  const images: InspectedImage[] = [];
  let index: OciInspection['index'];
  const visit = (d: Descriptor) => {
    const data = readBlob(files, d, problems);
    if (!data) return;
    const doc = JSON.parse(data.toString()) as {
      mediaType?: string;
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    };
    if (doc.manifests) {
      index ??= { digest: d.digest, mediaType: d.mediaType };
      for (const m of doc.manifests) visit(m);
      return;
    }
    const cfg = readBlob(files, doc.config!, problems);
    if (!cfg) return;
    const layers = doc.layers!.map((l) => ({
      data: readBlob(files, l, problems) ?? Buffer.alloc(0),
      digest: l.digest,
    }));
    const img = imageFrom(cfg, doc.config!.digest, layers, problems);
    images.push({ ...img, manifest: d.digest, compressedSize: img.compressedSize + data.length });
  };
  for (const d of top.manifests) visit(d);
  return { refs, index, images };
}

function inspectDocker(files: Files, problems: string[]): Pick<OciInspection, 'refs' | 'images'> {
  const list = JSON.parse(files('manifest.json')!.toString()) as {
    Config: string;
    RepoTags?: string[];
    Layers: string[];
  }[];
  const refs: string[] = [];
  const images: InspectedImage[] = [];
  for (const m of list) {
    refs.push(...(m.RepoTags ?? []));
    const cfg = files(m.Config);
    if (!cfg) {
      problems.push(`manifest.json names missing config ${m.Config}`);
      continue;
    }
    const layers = m.Layers.map((l) => {
      const data = files(l);
      if (!data) problems.push(`manifest.json names missing layer ${l}`);
      return { data: data ?? Buffer.alloc(0), digest: data ? sha(data) : undefined };
    });
    images.push(imageFrom(cfg, sha(cfg), layers, problems));
  }
  return { refs, images };
}

export async function inspectOci(path: string): Promise<OciInspection> {
  const { files, isDir } = openFiles(path);
  const problems: string[] = [];
  let body: Pick<OciInspection, 'refs' | 'images'> & { index?: OciInspection['index'] };
  let format: OciInspection['format'];
  if (files('oci-layout') || files('index.json')) {
    format = isDir ? 'oci-layout' : 'oci-archive';
    body = inspectLayout(files, problems);
  } else if (files('manifest.json')) {
    format = 'docker-archive';
    body = inspectDocker(files, problems);
  } else {
    throw new Error(
      `inspect: ${path} is neither an OCI layout (no oci-layout/index.json) nor a docker-archive (no manifest.json)`,
    );
  }
  return { format, path, ...body, problems, ok: problems.length === 0 };
}
