// File helpers every build step uses: sha256 (targets/formats/hash.ts, re-exported), and writes that go to a temporary
// name beside the destination and are renamed into place when complete, so an interrupted
// build never leaves a file that looks finished.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export { sha256, sha256File } from '../targets/formats/hash.ts';

/** A temp path in the destination's directory (same filesystem, so rename is atomic). */
export function tempPathFor(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write data to dest atomically with an explicit mode (umask does not decide). */
export async function writeAtomic(dest: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Copy src to dest atomically with an explicit mode. */
export async function copyAtomic(src: string, dest: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    await copyFile(src, tmp);
    await chmod(tmp, mode);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Stable JSON (sorted keys) for cache keys. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(
        Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return val;
  });
}
