// Removing and publishing cached Debian root trees (mmdebstrap output) safely. An interrupted
// mmdebstrap leaves the host's /proc, /sys, /dev/pts and /dev/shm bind-mounted inside its
// directory; a plain recursive delete then empties the host's /dev/shm (it happened once).
// So: lazily unmount everything below the tree, deepest first, then delete without crossing
// into another filesystem. Shared by the disk target and the test roots (test/helpers/rootfs.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Mount points at or below `path`, deepest first (from /proc/self/mounts; octal escapes decoded). */
function mountsBelow(path: string): string[] {
  const base = resolve(path);
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) =>
      (l.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter((m) => m === base || m.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
}

/** Delete a root tree: unmount leftovers first, never cross a filesystem boundary. */
export function removeRootTree(path: string): void {
  if (!existsSync(path)) return;
  for (const m of mountsBelow(path)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  const r = spawnSync('rm', ['-rf', '--one-file-system', path], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `cannot remove ${path}: ${r.stderr || r.error} (unmount anything below it and delete it by hand)`,
    );
}

/** Mark a finished root complete and move it into place; a concurrent finisher's root wins. */
export function publishRoot(tmp: string, dir: string, key: string): string {
  writeFileSync(join(tmp, '.complete'), `${key}\n`);
  removeRootTree(dir);
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // another process finished the same root first: use theirs
    removeRootTree(tmp);
    if (!existsSync(join(dir, '.complete'))) throw err;
  }
  return dir;
}
