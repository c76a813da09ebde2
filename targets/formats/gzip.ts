// The one gzip writer. zlib writes no file name, mtime 0 and a fixed OS byte, so the output
// depends only on the input, the level, memLevel and the zlib inside this Node: the same as
// `gzip -n` would give, and stable across rebuilds. Levels in use: 9 for indexes, man pages and
// .deb members (`gzip -9n`), 6 for .ipk members (as OpenWRT's ipkg-build), 1 for the outer
// .ipk, 9 with memLevel 9 for OCI layers.
import { promisify } from 'node:util';
import { gzip as zlibGzip, gzipSync } from 'node:zlib';
import { memoBytesSync } from './memo.ts';

const zlibGzipAsync = promisify(zlibGzip);

export function gzip(data: Buffer, level = 9, memLevel = 8): Buffer {
  return gzipSync(data, { level, memLevel });
}

/** Off the event loop's thread, for the ~100 MB layers and payloads. */
export function gzipAsync(data: Buffer, level = 9, memLevel = 8): Promise<Buffer> {
  return zlibGzipAsync(data, { level, memLevel });
}

/** gzip once per input: with a cacheDir, later calls read the stored bytes (formats/memo.ts). */
export function gzipCached(data: Buffer, level: number, cacheDir: string | undefined): Buffer {
  return memoBytesSync(cacheDir, 'gzip', [`zlib ${process.versions.zlib}`, `level ${level}`, data], () =>
    gzip(data, level),
  );
}
