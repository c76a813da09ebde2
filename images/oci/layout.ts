// Writers for the three on-disk forms of the image, all built from the same blob values:
//   OCI image layout (a directory), oci-archive (a tar of that layout) and one
//   docker-archive ("docker save" format: manifest.json with RepoTags) per platform.
// Each is written to a temporary name and renamed when complete, so a failed build never
// leaves a layout that looks whole. Spec: image-spec v1.1 image-layout.md; docker-archive:
// moby image/spec/v1.2.md and image/tarexport.
import { buildTar, type FileEntry } from '../../targets/formats/tar.ts';
import { blobPath, descriptor, MT, sha256, type Blob } from './blobs.ts';
import { buildIndex, type ImageMeta, type PlatformImage } from './image.ts';

export const OCI_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

export interface LayoutFiles {
  /** relative path → bytes, for every file of the layout */
  files: Map<string, Buffer>;
  index: Blob;
  indexJson: Buffer;
}

/** All files of the OCI layout, in memory (blobs de-duplicated by digest). */
export function layoutFiles(images: PlatformImage[], meta: ImageMeta, refName: string): LayoutFiles {
  const files = new Map<string, Buffer>();
  const add = (b: Blob) => files.set(blobPath(b.digest), b.data);
  for (const img of images) {
    for (const l of img.layers) add(l.blob);
    add(img.config);
    add(img.manifest);
  }
  const index = buildIndex(images, meta);
  add(index);
  const indexJson = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: [
        descriptor(index, {
          annotations: {
            'org.opencontainers.image.ref.name': refName,
            // containerd (and `docker load` with the containerd store) names the image from this.
            'io.containerd.image.name': `docker.io/library/${refName}`,
          },
        }),
      ],
    }),
  );
  files.set('index.json', indexJson);
  files.set('oci-layout', Buffer.from(OCI_LAYOUT_FILE));
  return { files, index, indexJson };
}

export function tarOf(files: Map<string, Buffer>, mtime: number): Promise<Buffer> {
  const entries: FileEntry[] = [...files].map(([path, data]) => ({ type: 'file', path, mode: 0o644, data }));
  return buildTar(entries, { mtime, implicitDirs: true });
}

/**
 * docker-archive for one platform. Layers stay gzip'd (docker and podman load detect the
 * compression), named by digest, so the archive is about the size of the OCI blobs.
 */
export function dockerArchiveFiles(img: PlatformImage, repoTag: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const cfgName = `${sha256(img.dockerConfig.data)}.json`;
  files.set(cfgName, img.dockerConfig.data);
  const layerNames: string[] = [];
  for (const l of img.layers) {
    const name = `${l.blob.digest.slice('sha256:'.length)}.tar.gz`;
    files.set(name, l.blob.data);
    layerNames.push(name);
  }
  files.set(
    'manifest.json',
    Buffer.from(JSON.stringify([{ Config: cfgName, RepoTags: [repoTag], Layers: layerNames }])),
  );
  return files;
}

export function splitTag(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  if (i <= ref.lastIndexOf('/')) return [ref, 'latest'];
  return [ref.slice(0, i), ref.slice(i + 1)];
}
