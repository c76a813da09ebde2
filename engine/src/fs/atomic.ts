// Atomic file writes for everything the engine persists (keys and certificates, the fleet CA,
// the chunk store's identity, the DNS snapshot): a temp file beside the target, created fresh
// with its final mode (a stale temp from a crash is removed first, so it never lends its own
// mode), written, fsynced, renamed over the target; on any error the temp is removed and the
// target is untouched.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

export interface AtomicOptions {
  /** mode of the new file (default 0644) */
  mode?: number;
  /** a writer of its own: two writers of one file in one process never share a temp name */
  tag?: string;
}

const tempFor = (path: string, tag?: string) => `${path}.tmp-${process.pid}${tag ? `-${tag}` : ''}`;

export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicOptions = {}): void {
  const tmp = tempFor(path, opts.tag);
  rmSync(tmp, { force: true });
  try {
    const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The same without blocking the event loop on the disk (an fsync on a busy SD card can take tens of ms). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: AtomicOptions = {},
): Promise<void> {
  const tmp = tempFor(path, opts.tag);
  await rm(tmp, { force: true });
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
