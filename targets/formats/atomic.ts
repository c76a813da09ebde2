// Writes that go to a temporary name beside the destination and are renamed into place when
// complete, so an interrupted build never leaves a file or directory that looks finished, and
// that give published files fixed modes (0644, directories 0755) instead of the builder's
// umask: under umask 077 a repository was unreadable by the web server serving it, and two
// builds differed (test/integration/deb-repro.test.ts). The targets, images/ and scripts/
// all use these; the engine has its own for devices (engine/src/fs/atomic.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temp path in the destination's directory (same filesystem, so rename is atomic). */
export function tempPathFor(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** mkdir -p where every directory it creates is 0755. */
export function mkdirPublic(dir: string): void {
  const first = mkdirSync(dir, { recursive: true });
  if (!first) return;
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, 0o755);
    if (d === first || d === dirname(d)) break;
  }
}

/** Write a file (its directories made public) with an explicit mode. */
export function writePublic(path: string, data: Buffer | string, mode = 0o644): void {
  mkdirPublic(dirname(path));
  writeFileSync(path, data, { mode });
  chmodSync(path, mode);
}

/** writePublic to a temporary name, then rename into place. */
export function writeFileAtomicSync(dest: string, data: Buffer | string, mode = 0o644): void {
  const tmp = tempPathFor(dest);
  try {
    writePublic(tmp, data, mode);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Replace dir with exactly these files (paths relative to it), in one rename. */
export function writeDirAtomic(dir: string, files: Iterable<readonly [string, Buffer | string]>): void {
  const tmp = tempPathFor(dir);
  try {
    mkdirPublic(tmp);
    for (const [rel, data] of files) writePublic(join(tmp, rel), data);
    rmSync(dir, { recursive: true, force: true });
    mkdirPublic(dirname(dir));
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Async writeFileAtomicSync, for the build's own steps. */
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
