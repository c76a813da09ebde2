// Content-addressed blobs and descriptors shared by the image builder, the layout and
// archive writers, the reader and the registry client.
// Spec: https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md
import { sha256 } from '../../targets/formats/hash.ts';

export const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export { sha256 };

export function digestOf(data: Buffer): string {
  return `sha256:${sha256(data)}`;
}

export function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: digestOf(data), size: data.length, data };
}

/** JSON blobs are written once, compactly, with keys in the order given: the bytes are what the digest covers. */
export function jsonBlob(mediaType: string, value: unknown): Blob {
  return blob(mediaType, Buffer.from(JSON.stringify(value)));
}

export function descriptor(b: Blob, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra };
}

export interface Layer {
  blob: Blob;
  diffId: string;
}

/** "sha256:abc" → "blobs/sha256/abc", refusing anything that is not a sha256 digest. */
export function blobPath(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`unsupported digest "${digest}": only sha256 is written or read`);
  return `blobs/sha256/${m[1]}`;
}
