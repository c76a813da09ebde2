// `edgewan-build push`: send an OCI layout (directory or oci-archive) to a registry —
// blobs first (skipping what the registry has, mounting from --mount-from when it can),
// then each platform manifest by digest, then the index under the tag. Idempotent: a
// second push finds every blob and manifest and uploads nothing.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { dockerConfigCredentials, PushError, type Credentials } from './auth.ts';
import { blobPath, digestOf, MT, type Blob, type Descriptor } from './blobs.ts';
import { RegistryClient } from './registry.ts';
import { readTar } from '../../targets/formats/tar-read.ts';

export interface PushOptions {
  /** OCI layout directory or oci-archive file */
  layout: string;
  /** registry/repository[:tag], e.g. 127.0.0.1:5000/edgewan:0.1.0 */
  ref: string;
  /** which ref.name in index.json to push when it holds several (default: the only one) */
  sourceRef?: string;
  plainHttp?: boolean;
  credentials?: Credentials;
  /** Docker config.json to read auths from when no credentials are given */
  dockerConfig?: string;
  /** repository on the same registry to mount existing blobs from */
  mountFrom?: string;
  /** blobs larger than this go up in PATCH chunks of this size (default 16 MiB) */
  chunkSize?: number;
  retries?: number;
  backoffMs?: number;
  log?: (msg: string) => void;
  fetchFn?: typeof fetch;
}

export interface PushResult {
  ref: string;
  digest: string;
  stats: RegistryClient['stats'];
}

export function parseRef(ref: string): { registry: string; repository: string; tag: string } {
  const slash = ref.indexOf('/');
  const host = slash > 0 ? ref.slice(0, slash) : '';
  if (!host || !(host.includes('.') || host.includes(':') || host === 'localhost')) {
    throw new PushError(
      'EDGEWAN_ERR_PUSH_REF',
      `"${ref}" names no registry: write REGISTRY/REPOSITORY[:TAG], e.g. registry.example.com/edgewan:1.0.0`,
    );
  }
  let rest = ref.slice(slash + 1);
  let tag = 'latest';
  const c = rest.lastIndexOf(':');
  if (c > 0) {
    tag = rest.slice(c + 1);
    rest = rest.slice(0, c);
  }
  if (
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(rest) ||
    !/^[\w][\w.-]{0,127}$/.test(tag)
  ) {
    throw new PushError(
      'EDGEWAN_ERR_PUSH_REF',
      `"${ref}": repository must be lower-case path components and the tag [A-Za-z0-9_.-]`,
    );
  }
  return { registry: host, repository: rest, tag };
}

type Files = (rel: string) => Buffer | undefined;

function openLayout(path: string): Files {
  if (!existsSync(path))
    throw new PushError(
      'EDGEWAN_ERR_PUSH_LAYOUT',
      `${path} does not exist: build first (npm run build) or pass --layout`,
    );
  if (statSync(path).isDirectory())
    return (rel) => (existsSync(join(path, rel)) ? readFileSync(join(path, rel)) : undefined);
  const m = new Map<string, Buffer>();
  for (const e of readTar(readFileSync(path), path))
    if (e.type === 'file') m.set(e.path.replace(/^\.\//, ''), e.data);
  return (rel) => m.get(rel);
}

function loadBlob(files: Files, d: Descriptor, layout: string): Blob {
  const data = files(blobPath(d.digest));
  if (!data)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_LAYOUT',
      `${layout}: blob ${d.digest} is missing: the layout is incomplete, rebuild it`,
    );
  if (digestOf(data) !== d.digest)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_LAYOUT',
      `${layout}: blob ${d.digest} has content ${digestOf(data)}: the layout is corrupt, rebuild it`,
    );
  return { mediaType: d.mediaType, digest: d.digest, size: data.length, data };
}

export async function push(o: PushOptions): Promise<PushResult> {
  const log = o.log ?? (() => {});
  const { registry, repository, tag } = parseRef(o.ref);
  const files = openLayout(o.layout);
  const top = JSON.parse(files('index.json')?.toString() ?? 'null') as { manifests: Descriptor[] } | null;
  if (!top) throw new PushError('EDGEWAN_ERR_PUSH_LAYOUT', `${o.layout}: no index.json: not an OCI layout`);
  const root = o.sourceRef
    ? top.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === o.sourceRef)
    : top.manifests.length === 1
      ? top.manifests[0]
      : undefined;
  if (!root)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_LAYOUT',
      `${o.layout}: ${o.sourceRef ? `no image named ${o.sourceRef}` : `${top.manifests.length} images in index.json`}: pass --source-ref`,
    );
  const credentials =
    o.credentials ??
    dockerConfigCredentials(registry, o.dockerConfig ?? join(homedir(), '.docker', 'config.json'));
  const client = new RegistryClient({
    registry,
    repository,
    plainHttp: o.plainHttp,
    credentials,
    retries: o.retries,
    backoffMs: o.backoffMs,
    log,
    fetchFn: o.fetchFn,
  });
  const chunkSize = o.chunkSize ?? 16 * 1024 * 1024;
  const done = new Set<string>();

  const pushBlob = async (b: Blob) => {
    if (done.has(b.digest)) return;
    done.add(b.digest);
    if (await client.hasBlob(b.digest)) {
      client.stats.blobsSkipped++;
      return;
    }
    log(`push: ${b.digest.slice(0, 19)} ${(b.size / 1048576).toFixed(1)} MiB`);
    await client.mountOrUpload(b, o.mountFrom, chunkSize);
  };
  const accept = [MT.index, MT.manifest, MT.dockerList, MT.dockerManifest];
  const pushManifest = async (d: Descriptor): Promise<void> => {
    const m = loadBlob(files, d, o.layout);
    const doc = JSON.parse(m.data.toString()) as {
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    };
    if (doc.manifests) for (const c of doc.manifests) await pushManifest(c);
    else for (const b of [doc.config!, ...doc.layers!]) await pushBlob(loadBlob(files, b, o.layout));
    if (d === root) return;
    if ((await client.manifestDigest(d.digest, accept)) === d.digest) client.stats.manifestsSkipped++;
    else await client.putManifest(d.digest, m);
  };
  await pushManifest(root);
  const rootBlob = loadBlob(files, root, o.layout);
  if ((await client.manifestDigest(tag, accept)) === root.digest) client.stats.manifestsSkipped++;
  else await client.putManifest(tag, rootBlob);
  log(
    `push: ${registry}/${repository}:${tag}@${root.digest} (${client.stats.blobsUploaded} blobs, ${(client.stats.bytesUploaded / 1048576).toFixed(1)} MiB uploaded; ${client.stats.blobsSkipped} present, ${client.stats.blobsMounted} mounted)`,
  );
  return { ref: `${registry}/${repository}:${tag}`, digest: root.digest, stats: client.stats };
}
